"""Recipe loading: the YAML dialect, positions, bases, overrides and the resolved YAML."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest
import yaml

from zoo import UserError
from zoo.recipe import Recipe, dump_value, load_recipe


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def error_of(path, overrides=()) -> str:
    with pytest.raises(UserError) as info:
        load_recipe(path, overrides)
    message = str(info.value)
    assert "\n" not in message
    return message


CIFAR = """
    # a recipe like the ones users copy
    name: cifar10_cnn
    seed: 0
    task: {name: classification, epochs: 30, batch_size: 20, valid_fraction: 0.2, device: auto}
    data:
      name: cifar10
      root: data
      augment: [hflip, {rotate: 10}]
      normalize: {mean: [.5, .5, .5], std: [.5, .5, .5]}
    model: {name: cnn}
    loss: {name: cross_entropy}
    optimizer:
      name: sgd
      lr: 0.01
"""


# -- the YAML dialect ------------------------------------------------------------------------


def test_design_recipe_loads_with_its_types(tmp_path):
    recipe = load_recipe(write(tmp_path, "r.yaml", CIFAR))
    assert recipe.name == "cifar10_cnn"
    assert recipe.data["task"] == {"name": "classification", "epochs": 30, "batch_size": 20,
                                   "valid_fraction": 0.2, "device": "auto"}
    assert recipe.data["data"]["augment"] == ["hflip", {"rotate": 10}]
    assert recipe.data["data"]["normalize"]["mean"] == [0.5, 0.5, 0.5]
    assert recipe.path == tmp_path / "r.yaml" and recipe.files == [tmp_path / "r.yaml"]
    assert recipe.overrides == []


def test_yaml12_numbers_are_floats_and_ints(tmp_path):
    path = write(tmp_path, "r.yaml", """
        a: 1e-3
        b: 1e6
        c: .5
        d: -2.5E+3
        e: 1.
        f: .inf
        g: -.inf
        h: 010
        i: 0x1f
        j: 0o17
        k: -7
        l: 3.0e-4
    """)
    data = load_recipe(path).data
    assert data["a"] == 1e-3 and isinstance(data["a"], float)
    assert data["b"] == 1e6 and isinstance(data["b"], float)
    assert (data["c"], data["d"], data["e"]) == (0.5, -2500.0, 1.0)
    assert data["f"] == math.inf and data["g"] == -math.inf
    assert (data["h"], data["i"], data["j"], data["k"]) == (10, 31, 15, -7)
    assert data["l"] == 3e-4


def test_only_true_and_false_are_booleans(tmp_path):
    path = write(tmp_path, "r.yaml", """
        t1: true
        t2: TRUE
        t3: True
        f1: false
        f2: FALSE
        s1: yes
        s2: no
        s3: on
        s4: off
        s5: y
        n1: null
        n2: ~
        n3:
    """)
    data = load_recipe(path).data
    assert [data[k] for k in ("t1", "t2", "t3", "f1", "f2")] == [True, True, True, False, False]
    assert [data[k] for k in ("s1", "s2", "s3", "s4", "s5")] == ["yes", "no", "on", "off", "y"]
    assert data["n1"] is data["n2"] is data["n3"] is None


def test_dates_and_sexagesimals_stay_strings(tmp_path):
    data = load_recipe(write(tmp_path, "r.yaml", "day: 2024-01-31\ntime: 1:30\n")).data
    assert data == {"day": "2024-01-31", "time": "1:30"}


def test_python_object_tags_are_refused(tmp_path):
    path = write(tmp_path, "r.yaml", """
        model: {name: cnn}
        evil: !!python/object/apply:os.system ["echo hi"]
    """)
    message = error_of(path)
    assert message.startswith(f"{path}:2:")
    assert "python/object/apply:os.system" in message


def test_merge_keys_work(tmp_path):
    path = write(tmp_path, "r.yaml", """
        defaults: &d {lr: 0.1, momentum: 0.9}
        optimizer:
          <<: *d
          name: sgd
          lr: 0.5
    """)
    assert load_recipe(path).data["optimizer"] == {"lr": 0.5, "momentum": 0.9, "name": "sgd"}


def test_recursive_alias_is_an_error(tmp_path):
    path = write(tmp_path, "r.yaml", "a: &x [1, *x]\n")
    assert "recursive alias" in error_of(path)


def test_duplicate_key_names_file_line_and_key_path(tmp_path):
    path = write(tmp_path, "r.yaml", """
        name: r
        optimizer:
          name: sgd
          lr: 0.1
          momentum: 0.9
          lr: 0.2
    """)
    message = error_of(path)
    assert message.startswith(f"{path}:6:")
    assert "duplicate key optimizer.lr" in message and "line 4" in message


def test_duplicate_top_level_key(tmp_path):
    path = write(tmp_path, "r.yaml", "seed: 1\nmodel: {name: a}\nseed: 2\n")
    message = error_of(path)
    assert message.startswith(f"{path}:3:") and "duplicate key seed" in message


def test_syntax_error_is_file_line_col(tmp_path):
    path = write(tmp_path, "r.yaml", """
        name: r
        task:
          epochs: 3
           batch_size: 2
    """)
    message = error_of(path)
    assert message.startswith(f"{path}:4:")
    assert "mapping values are not allowed here" in message


def test_unclosed_flow_list_is_a_syntax_error(tmp_path):
    path = write(tmp_path, "r.yaml", "data: {name: x, augment: [hflip}\n")
    message = error_of(path)
    assert message.startswith(f"{path}:1:")


@pytest.mark.parametrize("text, got", [("", "an empty file"), ("- a\n- b\n", "a list"),
                                       ("just words\n", "a string")])
def test_top_level_must_be_a_mapping(tmp_path, text, got):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    message = error_of(path)
    assert message.startswith(f"{path}:1: a recipe is a mapping") and got in message


def test_missing_recipe_file(tmp_path):
    message = error_of(tmp_path / "nope.yaml")
    assert message == f"recipe not found: {tmp_path / 'nope.yaml'}"


def test_non_utf8_file(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_bytes(b"name: r\nx: caf\xe9\n")
    message = error_of(path)
    assert message.startswith(f"{path}:2: not UTF-8")


# -- positions -------------------------------------------------------------------------------


def test_where_gives_the_line_of_each_key(tmp_path):
    path = write(tmp_path, "r.yaml", CIFAR)
    recipe = load_recipe(path)
    assert recipe.where(("optimizer", "lr")) == f"{path}:14"
    assert recipe.where(("task", "epochs")) == f"{path}:4"
    assert recipe.where(("data", "augment", 1)) == f"{path}:8"
    assert recipe.where(("model",)) == f"{path}:10"


def test_where_falls_back_to_the_nearest_ancestor(tmp_path):
    path = write(tmp_path, "r.yaml", CIFAR)
    recipe = load_recipe(path)
    assert recipe.where(("optimizer", "momentum")) == f"{path}:12"
    assert recipe.where(("nothing", "here")) == recipe.where(()) == f"{path}:2"


def test_where_is_relative_as_given(tmp_path, monkeypatch):
    write(tmp_path, "recipes/r.yaml", CIFAR)
    monkeypatch.chdir(tmp_path)
    recipe = load_recipe("recipes/r.yaml")
    assert recipe.where(("optimizer", "lr")) == "recipes/r.yaml:14"


# -- bases -----------------------------------------------------------------------------------


BASE = """
    name: base
    seed: 1
    task: {name: classification, epochs: 30, batch_size: 20}
    data:
      name: cifar10
      augment: [hflip, {rotate: 10}]
      normalize: {mean: [.5, .5, .5], std: [.5, .5, .5]}
    optimizer: {name: sgd, lr: 0.01, momentum: 0.9}
"""


def test_base_is_deep_merged_under_the_file(tmp_path):
    write(tmp_path, "recipes/base.yaml", BASE)
    child = write(tmp_path, "experiments/child.yaml", """
        base: ../recipes/base.yaml
        task: {epochs: 5}
        data:
          augment: [vflip]
          normalize: {mean: [0, 0, 0]}
        model: {name: cnn}
    """)
    recipe = load_recipe(child)
    assert "base" not in recipe.data
    assert recipe.data["task"] == {"name": "classification", "epochs": 5, "batch_size": 20}
    assert recipe.data["data"]["augment"] == ["vflip"]  # lists replace
    assert recipe.data["data"]["normalize"] == {"mean": [0, 0, 0], "std": [0.5, 0.5, 0.5]}
    assert recipe.data["optimizer"] == {"name": "sgd", "lr": 0.01, "momentum": 0.9}
    assert recipe.data["seed"] == 1
    assert recipe.files == [child, tmp_path / "experiments/../recipes/base.yaml"]
    base_display = str(Path(tmp_path / "recipes/base.yaml"))
    assert recipe.where(("task", "epochs")) == f"{child}:2"
    assert recipe.where(("task", "batch_size")) == f"{base_display}:3"
    assert recipe.where(("optimizer", "momentum")) == f"{base_display}:8"
    # a replaced subtree forgets the base's lines inside it
    assert recipe.where(("data", "augment", 1)) == f"{child}:4"


def test_base_name_is_not_inherited(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "my_run.yaml", "base: base.yaml\nmodel: {name: cnn}\n")
    recipe = load_recipe(child)
    assert recipe.name == "my_run" and "name" not in recipe.data


def test_bases_list_and_any_depth(tmp_path):
    write(tmp_path, "a.yaml", "seed: 1\ntask: {name: t, epochs: 1}\n")
    write(tmp_path, "b.yaml", "base: a.yaml\ntask: {epochs: 2, batch_size: 8}\n")
    write(tmp_path, "c.yaml", "task: {batch_size: 16}\nmodel: {name: mlp}\n")
    main = write(tmp_path, "main.yaml", "base: [b.yaml, c.yaml]\nseed: 3\n")
    recipe = load_recipe(main)
    assert recipe.data == {"seed": 3, "task": {"name": "t", "epochs": 2, "batch_size": 16},
                           "model": {"name": "mlp"}}
    assert [f.name for f in recipe.files] == ["main.yaml", "b.yaml", "a.yaml", "c.yaml"]


def test_base_cycle_names_the_files(tmp_path):
    write(tmp_path, "a.yaml", "base: b.yaml\nseed: 1\n")
    write(tmp_path, "b.yaml", "seed: 2\nbase: a.yaml\n")
    message = error_of(tmp_path / "a.yaml")
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert message == f"{b}:2: base: cycle {a} -> {b} -> {a}"


def test_base_naming_itself_is_a_cycle(tmp_path):
    path = write(tmp_path, "a.yaml", "base: a.yaml\n")
    assert f"cycle {path} -> {path}" in error_of(path)


def test_missing_base_names_the_file_and_referencing_line(tmp_path):
    path = write(tmp_path, "r.yaml", "seed: 1\nbase: [gone.yaml]\n")
    message = error_of(path)
    assert message == f"{path}:2: base file not found: {tmp_path / 'gone.yaml'}"


def test_base_of_wrong_type(tmp_path):
    path = write(tmp_path, "r.yaml", "base: 5\n")
    assert error_of(path).startswith(f"{path}:1: base: expected a file name")


def test_error_inside_a_base_names_the_base(tmp_path):
    base = write(tmp_path, "base.yaml", "seed: 1\nseed: 2\n")
    path = write(tmp_path, "r.yaml", "base: base.yaml\n")
    assert error_of(path).startswith(f"{base}:2:")


# -- overrides -------------------------------------------------------------------------------


def test_overrides_are_parsed_as_yaml(tmp_path):
    path = write(tmp_path, "r.yaml", CIFAR)
    recipe = load_recipe(path, ["optimizer.lr=1e-3", "data.augment=[hflip]", "task.device=",
                                "task.epochs=2", "model.name=mlp", "data.shuffle=yes", "seed=7"])
    assert recipe.data["optimizer"]["lr"] == 1e-3 and isinstance(recipe.data["optimizer"]["lr"], float)
    assert recipe.data["data"]["augment"] == ["hflip"]
    assert recipe.data["task"]["device"] == ""
    assert recipe.data["task"]["epochs"] == 2
    assert recipe.data["model"] == {"name": "mlp"}
    assert recipe.data["data"]["shuffle"] == "yes"
    assert recipe.data["seed"] == 7
    assert recipe.overrides[0] == "optimizer.lr=1e-3"
    assert recipe.where(("optimizer", "lr")) == "command line (optimizer.lr=1e-3)"
    assert recipe.where(("data", "augment", 0)) == "command line (data.augment=[hflip])"
    assert recipe.where(("optimizer", "name")) == f"{path}:13"


def test_override_may_add_keys_and_sections(tmp_path):
    path = write(tmp_path, "r.yaml", CIFAR)
    recipe = load_recipe(path, ["optimizer.momentum=0.9", "scheduler.name=step", "model.head.width=8"])
    assert recipe.data["optimizer"]["momentum"] == 0.9
    assert recipe.data["scheduler"] == {"name": "step"}
    assert recipe.data["model"]["head"] == {"width": 8}
    assert recipe.where(("model", "head")) == "command line (model.head.width=8)"


def test_override_list_item_by_index(tmp_path):
    recipe = load_recipe(write(tmp_path, "r.yaml", CIFAR), ["data.augment.0=vflip"])
    assert recipe.data["data"]["augment"] == ["vflip", {"rotate": 10}]
    message = error_of(tmp_path / "r.yaml", ["data.augment.5=vflip"])
    assert "data.augment is a list of 2" in message


def test_override_through_a_scalar_is_an_error(tmp_path):
    path = write(tmp_path, "r.yaml", CIFAR)
    message = error_of(path, ["task.epochs.x=1"])
    assert message.startswith("override 'task.epochs.x=1': task.epochs is 30")
    assert f"{path}:4" in message


def test_override_of_unknown_top_level_section(tmp_path):
    message = error_of(write(tmp_path, "r.yaml", CIFAR), ["modle.name=x"])
    assert message.startswith("override 'modle.name=x': unknown top-level key 'modle'")
    assert "did you mean 'model'" in message


@pytest.mark.parametrize("override", ["optimizer.lr", "=1", "a..b=1", ".a=1", "a.=1", " =2"])
def test_malformed_override(tmp_path, override):
    message = error_of(write(tmp_path, "r.yaml", CIFAR), [override])
    assert message.startswith(f"override {override!r}:")


def test_override_with_bad_yaml_value(tmp_path):
    message = error_of(write(tmp_path, "r.yaml", CIFAR), ["data.augment=[hflip"])
    assert message.startswith("command line (data.augment=[hflip):")


def test_override_cannot_change_base(tmp_path):
    assert "base can't be changed" in error_of(write(tmp_path, "r.yaml", CIFAR), ["base=x.yaml"])


# -- the resolved recipe ---------------------------------------------------------------------


def test_to_yaml_orders_keys_and_reloads_identically(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    path = write(tmp_path, "r.yaml", """
        extra: {note: kept}
        optimizer: {lr: 1e-3}
        model: {name: cnn}
        base: base.yaml
        description: 'yes'
    """)
    recipe = load_recipe(path, ["task.epochs=2"])
    text = recipe.to_yaml()
    keys = [line.split(":")[0] for line in text.splitlines() if line and not line.startswith(" ")]
    assert keys == ["name", "seed", "description", "task", "data", "model", "optimizer", "extra"]
    assert "base" not in text
    out = tmp_path / "run" / "recipe.yaml"
    out.parent.mkdir()
    out.write_text(text)
    again = load_recipe(out)
    assert again.data == {**recipe.data, "name": "r"}
    assert again.name == "r"
    assert again.data["optimizer"]["lr"] == 1e-3 and again.data["description"] == "yes"


def test_to_yaml_quotes_strings_other_readers_would_misread(tmp_path):
    recipe = Recipe.from_dict({"data": {"name": "x", "a": "yes", "b": "1e-3", "c": "2024-01-01", "d": "on"}})
    text = recipe.to_yaml()
    assert yaml.safe_load(text)["data"] == {"name": "x", "a": "yes", "b": "1e-3", "c": "2024-01-01", "d": "on"}


def test_section_returns_a_copy_or_empty(tmp_path):
    recipe = load_recipe(write(tmp_path, "r.yaml", textwrap.dedent(CIFAR) + "scheduler: null\n"))
    section = recipe.section("optimizer")
    section["lr"] = 5
    assert recipe.data["optimizer"]["lr"] == 0.01
    assert recipe.section("scheduler") == {} and recipe.section("absent") == {}


def test_from_dict(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    recipe = Recipe.from_dict({"base": "base.yaml", "model": {"name": "cnn"}}, path=tmp_path / "x.yaml")
    assert recipe.name == "x"
    assert recipe.data["optimizer"]["lr"] == 0.01 and recipe.data["model"] == {"name": "cnn"}
    plain = Recipe.from_dict({"name": "mine", "seed": 2})
    assert plain.name == "mine" and plain.where(("seed",)) == "recipe" and plain.path is None


def test_dump_value_is_what_an_override_reads_back(tmp_path):
    path = write(tmp_path, "r.yaml", CIFAR)
    for value in ["yes", "1e-3", 1e-3, [1, "a, b"], {"k": [True, None]}, "line\nbreak", "", "#x"]:
        recipe = load_recipe(path, [f"data.value={dump_value(value)}"])
        assert recipe.data["data"]["value"] == value

"""Properties of recipe loading (Hypothesis): round trips and overrides that never crash."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo import UserError
from zoo.recipe import TOP_LEVEL_KEYS, Recipe, dump_value, load_recipe

SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])

keys = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["yes", "no", "on", "off", "1e-3", ".5", "2024-01-01", "1:30", "~", "null", "true",
                     "010", "0x1f", "-", "- a", "#", "a: b", "[x]", "{y}", "'q'", "\"d\"", " lead", "trail ",
                     "<<", "&a", "*a", "!tag", "%", "@", "`", "|", ">", "\n", "a\nb\n", "\t", "\ufeff"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(keys, inner, max_size=3)),
                      max_leaves=8)
sections = st.dictionaries(keys, values, max_size=4)
top_keys = st.sampled_from([k for k in TOP_LEVEL_KEYS if k not in ("base", "name")]) | keys.filter(
    lambda k: k not in ("base", "name"))
recipes = st.dictionaries(top_keys, st.one_of(sections, values), max_size=5)


@SETTINGS
@given(data=recipes)
def test_to_yaml_round_trips_through_load_recipe(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("rt")
    recipe = Recipe.from_dict(data, path=folder / "case.yaml")
    path = folder / "resolved.yaml"
    path.write_text(recipe.to_yaml(), encoding="utf-8")
    again = load_recipe(path)
    assert again.data == {**data, "name": "case"}
    assert again.to_yaml() == recipe.to_yaml()


@SETTINGS
@given(value=values)
def test_a_dumped_value_overrides_to_itself(tmp_path_factory, value):
    path = tmp_path_factory.mktemp("ov") / "r.yaml"
    path.write_text("optimizer: {name: sgd, lr: 0.1}\n")
    recipe = load_recipe(path, [f"optimizer.lr={dump_value(value)}"])
    assert recipe.data["optimizer"]["lr"] == value


path_parts = st.one_of(st.sampled_from(["task", "data", "model", "optimizer", "epochs", "lr", "augment", "0", "9",
                                        "name", "base", "seed", "modle", ""]),
                       st.text(alphabet=string.ascii_letters + string.digits + "._- =", max_size=6))
override_strings = st.one_of(
    st.text(max_size=30),
    st.builds(lambda parts, value: ".".join(parts) + "=" + value,
              st.lists(path_parts, min_size=0, max_size=4),
              st.one_of(st.text(max_size=15), values.map(dump_value))),
)


@SETTINGS
@given(overrides=st.lists(override_strings, min_size=1, max_size=3))
def test_any_override_applies_or_is_a_user_error(tmp_path_factory, overrides):
    path = tmp_path_factory.mktemp("any") / "r.yaml"
    path.write_text("task: {name: classification, epochs: 3}\ndata: {name: digits, augment: [hflip, vflip]}\n"
                    "optimizer: {name: sgd, lr: 0.1}\n")
    try:
        recipe = load_recipe(path, overrides)
    except UserError as exc:
        assert "\n" not in str(exc)
        return
    assert recipe.overrides == overrides
    assert load_recipe_text(tmp_path_factory, recipe.to_yaml()).data == {"name": "r", **recipe.data}
    # the last override is where its key now comes from
    node, key = recipe.data, []
    for part in (p.strip() for p in overrides[-1].partition("=")[0].split(".")):
        step = int(part) if isinstance(node, list) else part
        key.append(step)
        node = node[step]
    assert recipe.where(tuple(key)).startswith("command line (")


def load_recipe_text(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("again") / "r.yaml"
    path.write_text(text, encoding="utf-8")
    return load_recipe(path)


VALID = ("task: {name: classification, epochs: 2, batch_size: 8}\n"
         "data: {name: digits, normalize: {mean: [0.5], std: [0.5]}, augment: [hflip]}\n"
         "model: {name: mlp, hidden: [16]}\nloss: {name: cross_entropy}\noptimizer: {name: adam, lr: 0.01}\n")
known_keys = st.sampled_from([
    "seed", "name", "description", "task", "task.name", "task.epochs", "task.batch_size", "task.valid_fraction",
    "task.amp", "task.device", "task.nan_policy", "task.clip_grad_norm", "task.patience", "data", "data.name",
    "data.normalize", "data.normalize.mean", "data.augment", "data.augment.0", "data.image_size",
    "data.test_fraction", "model", "model.name", "model.hidden", "model.hidden.0", "model.dropout",
    "model.num_classes", "loss.name", "loss.weight", "loss.label_smoothing", "optimizer.name", "optimizer.lr",
    "optimizer.betas", "optimizer.params", "optimizer.weight_decay", "scheduler", "scheduler.name",
    "scheduler.step_size", "modle.hidden", "optimizer.lrr",
])
override_values = st.one_of(values.map(dump_value), st.sampled_from([
    "0", "-1", "1e-3", ".nan", ".inf", "-.inf", "[]", "{}", "null", "sgd", "mlp", "cnn", "bf16", "fp16", "step",
    "[0.5, 0.5, 0.5]", "{mean: [0.5], std: [0]}", "[hflip, {rotate: 10}]", "[1, 2]", "2.5", "true", "'3'",
]))


@SETTINGS
@given(overrides=st.lists(st.builds(lambda k, v: f"{k}={v}", known_keys, override_values), min_size=1, max_size=3))
def test_any_override_of_a_valid_recipe_validates_or_is_a_user_error(tmp_path_factory, overrides):
    """Loading and then validating against the real factories: one-line UserError or nothing, never a crash."""
    from zoo.plugins import get_manager
    from zoo.run import check_recipe

    path = tmp_path_factory.mktemp("valid") / "r.yaml"
    path.write_text(VALID)
    try:
        check_recipe(load_recipe(path, overrides), get_manager(quiet=True).registries)
    except UserError as exc:
        assert "\n" not in str(exc) and str(exc).strip()

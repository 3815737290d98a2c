"""Validating recipe sections against factory signatures (the signature is the schema)."""

from __future__ import annotations  # every annotation below is a string: get_type_hints must resolve them

import textwrap
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

import pytest
import torch
from annotated_types import Ge, Lt
from pydantic import Field

from zoo import UserError
from zoo.recipe import load_recipe
from zoo.registry import Registry
from zoo.type_text import describe_type
from zoo.validation import lookup_entry, validate_recipe_shape, validate_section

TOP_LEVEL = ("name", "seed", "base", "description", "task", "data", "model", "loss", "optimizer", "scheduler")


# -- small typed factories, registered per test ----------------------------------------------


def sgd(params, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False):
    """Plain SGD."""
    return ("sgd", params, lr, momentum, nesterov)


def step(optimizer, step_size: int = 10, gamma: float = 0.1):
    return ("step", optimizer, step_size, gamma)


def classification(epochs: int = 3, batch_size: int = 20, valid_fraction: float = 0.2,
                   device: str = "auto", amp: bool = False):
    return {}


def imagefolder(root: str, image_size: int = 32, augment: list[Union[str, dict]] = (),
                mean: tuple[float, float, float] = (0.5, 0.5, 0.5), split: Literal["train", "test"] = "train",
                limit: Optional[int] = None, weights: dict[str, float] = None, anything=None):
    return {}


def cnn(num_classes: int, in_channels: int = 3, width: Annotated[int, Field(ge=1)] = 8):
    return {}


def wide(depth: int = 2, **kwargs):
    return {}


def mystery(size: NotDefinedAnywhere = 1):  # noqa: F821 (an annotation nobody can resolve)
    return size


def registry(kind: str, **factories) -> Registry:
    reg = Registry(kind)
    for name, factory in factories.items():
        reg.register(name, factory)
    return reg


OPTIMIZERS = registry("optimizers", sgd=sgd, torch_sgd=torch.optim.SGD)
TASKS = registry("tasks", classification=classification)
DATASETS = registry("datasets", imagefolder=imagefolder)
MODELS = registry("models", cnn=cnn, wide=wide, mystery=mystery)
SCHEDULERS = registry("schedulers", step=step)


def recipe_file(tmp_path: Path, text: str, overrides=()):
    path = tmp_path / "r.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path, load_recipe(path, overrides)


def failure(call) -> str:
    with pytest.raises(UserError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    return message


BASIC = """
    task: {name: classification, epochs: 3}
    data:
      name: imagefolder
      root: data
    model: {name: cnn, num_classes: 4}
    optimizer:
      name: sgd
      lr: 0.1
"""


# -- the rules, one by one -------------------------------------------------------------------


def test_valid_sections_give_the_kwargs(tmp_path):
    _, recipe = recipe_file(tmp_path, BASIC)
    assert validate_section(recipe, "task", TASKS.get("classification")) == {"epochs": 3}
    assert validate_section(recipe, "data", DATASETS.get("imagefolder")) == {"root": "data"}
    kwargs = validate_section(recipe, "optimizer", OPTIMIZERS.get("sgd"), supplied=("params",))
    assert kwargs == {"lr": 0.1}
    assert OPTIMIZERS.get("sgd").load()("P", **kwargs) == ("sgd", "P", 0.1, 0.0, False)


def test_unknown_key_names_line_suggestion_and_accepted(tmp_path):
    path, recipe = recipe_file(tmp_path, """
        task: {name: classification}
        optimizer:
          name: sgd
          lrr: 0.1
    """)
    message = failure(lambda: validate_section(recipe, "optimizer", OPTIMIZERS.get("sgd"), supplied=("params",)))
    assert message == (f"{path}:4: optimizer.lrr: unknown key for optimizer 'sgd' (did you mean 'lr'?); "
                       f"accepted: lr, momentum, nesterov")


def test_unknown_key_from_an_override_points_at_the_command_line(tmp_path):
    _, recipe = recipe_file(tmp_path, BASIC, ["optimizer.momentun=0.9"])
    message = failure(lambda: validate_section(recipe, "optimizer", OPTIMIZERS.get("sgd"), supplied=("params",)))
    assert message.startswith("command line (optimizer.momentun=0.9): optimizer.momentun: unknown key")
    assert "did you mean 'momentum'?" in message


def test_override_of_an_accepted_new_key_is_kept(tmp_path):
    _, recipe = recipe_file(tmp_path, BASIC, ["optimizer.momentum=0.9", "optimizer.nesterov=true"])
    kwargs = validate_section(recipe, "optimizer", OPTIMIZERS.get("sgd"), supplied=("params",))
    assert kwargs == {"lr": 0.1, "momentum": 0.9, "nesterov": True}


def test_missing_required_key(tmp_path):
    path, recipe = recipe_file(tmp_path, """
        task: {name: classification}
        data:
          name: imagefolder
          image_size: 28
    """)
    message = failure(lambda: validate_section(recipe, "data", DATASETS.get("imagefolder")))
    assert message == (f"{path}:2: data: missing required key 'root' for dataset 'imagefolder'; "
                       f"accepted: root, image_size, augment, mean, split, limit, weights, anything")


def test_wrong_type(tmp_path):
    path, recipe = recipe_file(tmp_path, """
        name: r
        task:
          name: classification
          epochs: ten
    """)
    message = failure(lambda: validate_section(recipe, "task", TASKS.get("classification")))
    assert message == f"{path}:4: task.epochs: expected int, got 'ten' (str)"


def test_wrong_type_from_override(tmp_path):
    _, recipe = recipe_file(tmp_path, BASIC, ["optimizer.lr=fast"])
    message = failure(lambda: validate_section(recipe, "optimizer", OPTIMIZERS.get("sgd"), supplied=("params",)))
    assert message == "command line (optimizer.lr=fast): optimizer.lr: expected float, got 'fast' (str)"


def test_lax_conversions_follow_the_annotations(tmp_path):
    _, recipe = recipe_file(tmp_path, """
        task: {name: classification, epochs: "3", valid_fraction: 1, amp: yes, batch_size: 8.0}
    """)
    kwargs = validate_section(recipe, "task", TASKS.get("classification"))
    assert kwargs == {"epochs": 3, "valid_fraction": 1.0, "amp": True, "batch_size": 8}
    assert type(kwargs["epochs"]) is int and type(kwargs["valid_fraction"]) is float


def test_yes_is_not_a_float(tmp_path):
    path, recipe = recipe_file(tmp_path, "optimizer: {name: sgd, lr: yes}\n")
    message = failure(lambda: validate_section(recipe, "optimizer", OPTIMIZERS.get("sgd"), supplied=("params",)))
    assert message == f"{path}:1: optimizer.lr: expected float, got 'yes' (str)"


def test_fractional_float_is_not_an_int(tmp_path):
    path, recipe = recipe_file(tmp_path, "task: {name: classification, epochs: 2.5}\n")
    assert failure(lambda: validate_section(recipe, "task", TASKS.get("classification"))) == \
        f"{path}:1: task.epochs: expected int, got 2.5 (float)"


def test_containers_literals_and_optionals(tmp_path):
    _, recipe = recipe_file(tmp_path, """
        data:
          name: imagefolder
          root: data
          augment: [hflip, {rotate: 10}]
          mean: [0.4, 0.5, 0.6]
          split: test
          limit: null
          weights: {a: 1, b: 0.5}
          anything: {whatever: [1, 2]}
    """)
    kwargs = validate_section(recipe, "data", DATASETS.get("imagefolder"))
    assert kwargs["augment"] == ["hflip", {"rotate": 10}] and type(kwargs["augment"]) is list
    assert kwargs["mean"] == (0.4, 0.5, 0.6)
    assert kwargs["split"] == "test" and kwargs["limit"] is None
    assert kwargs["weights"] == {"a": 1.0, "b": 0.5}  # default None: null is accepted too
    assert kwargs["anything"] == {"whatever": [1, 2]}  # no annotation: anything goes, unchanged


def test_literal_error_lists_the_choices(tmp_path):
    path, recipe = recipe_file(tmp_path, "data: {name: imagefolder, root: d, split: valid}\n")
    message = failure(lambda: validate_section(recipe, "data", DATASETS.get("imagefolder")))
    assert message == f"{path}:1: data.split: expected one of 'train', 'test', got 'valid' (str)"


def test_bad_list_item_points_at_its_line(tmp_path):
    path, recipe = recipe_file(tmp_path, """
        data:
          name: imagefolder
          root: d
          mean:
            - 0.5
            - half
            - 0.5
    """)
    message = failure(lambda: validate_section(recipe, "data", DATASETS.get("imagefolder")))
    assert message.startswith(f"{path}:6: data.mean: expected tuple[float, float, float], got [0.5, 'half', 0.5]")
    assert "item 1: input should be a valid number" in message


def test_constraint_errors_say_which_constraint(tmp_path):
    path, recipe = recipe_file(tmp_path, "model: {name: cnn, num_classes: 2, width: 0}\n")
    message = failure(lambda: validate_section(recipe, "model", MODELS.get("cnn")))
    assert message == f"{path}:1: model.width: expected int >= 1, got 0 (int)"


@pytest.mark.parametrize("value", [".inf", "-.inf", "1e400", ".nan", "[0.9, .inf]"])
def test_floats_are_finite(tmp_path, value):
    """``lr: .inf`` or ``1e400`` (which YAML reads as inf) is refused like ``.nan``: a float is finite."""
    if "[" in value:  # inside a container: the item at fault is named
        _, recipe = recipe_file(tmp_path, f"optimizer: {{name: adam, betas: {value}}}\n")
        optimizers = Registry("optimizers")
        optimizers.register("adam", adam_like)
        message = failure(lambda: validate_section(recipe, "optimizer", optimizers.get("adam"), supplied=("params",)))
        assert message.endswith("item 1: input should be a finite number, got inf")
        return
    _, recipe = recipe_file(tmp_path, "optimizer: {name: sgd, lr: 0.1}\n", [f"optimizer.lr={value}"])
    message = failure(lambda: validate_section(recipe, "optimizer", OPTIMIZERS.get("sgd"), supplied=("params",)))
    assert message.startswith(f"command line (optimizer.lr={value}): optimizer.lr: expected float, got ")
    assert message.endswith(": input should be a finite number")


def test_a_factory_may_accept_infinity(tmp_path):
    from pydantic import AllowInfNan

    def clip(params, max_norm: Annotated[float, AllowInfNan(True)] = 1.0):
        return None

    optimizers = Registry("optimizers")
    optimizers.register("clip", clip)
    _, recipe = recipe_file(tmp_path, "optimizer: {name: clip, max_norm: .inf}\n")
    assert validate_section(recipe, "optimizer", optimizers.get("clip"), supplied=("params",)) == {
        "max_norm": float("inf")}


def test_integers_beyond_64_bits_are_refused(tmp_path):
    """torch and numpy hold 64-bit integers: 10**40 anywhere in a value is a user's mistake, not a crash."""
    path, recipe = recipe_file(tmp_path, f"model: {{name: cnn, num_classes: {10 ** 40}}}\n")
    message = failure(lambda: validate_section(recipe, "model", MODELS.get("cnn")))
    assert message == (f"{path}:1: model.num_classes: expected int, got {10 ** 40} (int): it does not fit in "
                       f"64 bits (integers lie in [-2**63, 2**63 - 1])")
    path, recipe = recipe_file(tmp_path, f"data:\n  name: imagefolder\n  root: d\n"
                                         f"  augment: [hflip, {{rotate: {2 ** 70}}}]\n")
    message = failure(lambda: validate_section(recipe, "data", DATASETS.get("imagefolder")))
    assert message.startswith(f"{path}:4: data.augment: expected list[str or dict], got ")
    assert message.endswith(f"(list): item 1.rotate: {2 ** 70} does not fit in 64 bits "
                            f"(integers lie in [-2**63, 2**63 - 1])")


Unit = Annotated[float, Ge(0), Lt(1)]


def adam_like(params, lr: Annotated[float, Ge(0)] = 0.001, betas: tuple[Unit, Unit] = (0.9, 0.999)):
    return None


def test_a_bound_inside_a_container_names_the_item(tmp_path):
    """betas: [2, 3] -> the first item at fault and its bound, on the recipe line."""
    optimizers = Registry("optimizers")
    optimizers.register("adam", adam_like)
    path, recipe = recipe_file(tmp_path, "optimizer:\n  name: adam\n  betas: [2, 3]\n")
    message = failure(lambda: validate_section(recipe, "optimizer", optimizers.get("adam"), supplied=("params",)))
    assert message == (f"{path}:3: optimizer.betas: expected tuple[float in [0, 1), float in [0, 1)], "
                       f"got [2, 3] (list): item 0: input should be less than 1, got 2")


def test_section_not_a_mapping(tmp_path):
    path, recipe = recipe_file(tmp_path, "task: {name: classification}\nmodel: cnn\n")
    message = failure(lambda: validate_section(recipe, "model", MODELS.get("cnn")))
    assert message.startswith(f"{path}:2: model: expected a mapping naming the model")
    assert "got 'cnn' (str)" in message


def test_section_without_name(tmp_path):
    path, recipe = recipe_file(tmp_path, "task: {name: classification}\nloss:\n  weight: 2\n")
    message = failure(lambda: validate_section(recipe, "loss", MODELS.get("cnn")))
    assert message.startswith(f"{path}:2: loss: missing name (which loss to use")


def test_supplied_parameter_may_not_be_set(tmp_path):
    path, recipe = recipe_file(tmp_path, "scheduler: {name: step, optimizer: adam, step_size: 3}\n")
    message = failure(lambda: validate_section(recipe, "scheduler", SCHEDULERS.get("step"), supplied=("optimizer",)))
    assert message == (f"{path}:1: scheduler.optimizer: set by zoo itself for scheduler 'step', not by the "
                       f"recipe; accepted: step_size, gamma")


def test_ignored_runner_keys_are_accepted_but_not_passed(tmp_path):
    _, recipe = recipe_file(tmp_path, "optimizer: {name: sgd, lr: 0.5, params: head}\n")
    kwargs = validate_section(recipe, "optimizer", OPTIMIZERS.get("sgd"), supplied=("params",), ignore=("params",))
    assert kwargs == {"lr": 0.5}


def test_fill_only_where_accepted_and_unset(tmp_path):
    _, recipe = recipe_file(tmp_path, "model: {name: cnn}\n")
    fill = {"num_classes": 10, "in_channels": 1, "image_size": 28}
    assert validate_section(recipe, "model", MODELS.get("cnn"), fill=fill) == {"num_classes": 10, "in_channels": 1}
    _, recipe = recipe_file(tmp_path, "model: {name: cnn, num_classes: 5}\n")
    assert validate_section(recipe, "model", MODELS.get("cnn"), fill=fill)["num_classes"] == 5


def test_partial_check_tolerates_what_the_runner_fills(tmp_path):
    path, recipe = recipe_file(tmp_path, "model: {name: cnn}\n")
    assert validate_section(recipe, "model", MODELS.get("cnn"), fillable=("num_classes",)) == {}
    message = failure(lambda: validate_section(recipe, "model", MODELS.get("cnn")))
    assert message == (f"{path}:1: model: missing required key 'num_classes' for model 'cnn'; "
                       f"accepted: num_classes, in_channels, width")


def test_var_keyword_lets_unknown_keys_through(tmp_path):
    _, recipe = recipe_file(tmp_path, "model: {name: wide, depth: '4', drop_rate: 0.1, act: [gelu]}\n")
    assert validate_section(recipe, "model", MODELS.get("wide")) == {"depth": 4, "drop_rate": 0.1, "act": ["gelu"]}
    _, recipe = recipe_file(tmp_path, "model: {name: wide, depth: deep}\n")
    assert "model.depth: expected int" in failure(lambda: validate_section(recipe, "model", MODELS.get("wide")))


def test_unresolvable_annotation_accepts_anything(tmp_path):
    _, recipe = recipe_file(tmp_path, "model: {name: mystery, size: [1, 2]}\n")
    assert validate_section(recipe, "model", MODELS.get("mystery")) == {"size": [1, 2]}


def test_a_real_torch_optimizer_class(tmp_path):
    path, recipe = recipe_file(tmp_path, "optimizer:\n  name: torch_sgd\n  lr: 1e-3\n  momentum: 0.9\n")
    entry = OPTIMIZERS.get("torch_sgd")
    kwargs = validate_section(recipe, "optimizer", entry, supplied=("params",))
    weight = torch.nn.Parameter(torch.zeros(2))
    optimizer = entry.load()([weight], **kwargs)
    assert optimizer.param_groups[0]["lr"] == 1e-3 and optimizer.param_groups[0]["momentum"] == 0.9
    _, recipe = recipe_file(tmp_path, "optimizer:\n  name: torch_sgd\n  lr: 1e-3\n  momentun: 0.9\n")
    message = failure(lambda: validate_section(recipe, "optimizer", entry, supplied=("params",)))
    assert message.startswith(f"{path}:4: optimizer.momentun: unknown key for optimizer 'torch_sgd' "
                              f"(did you mean 'momentum'?); accepted: lr, momentum, dampening, weight_decay, nesterov")


def test_namespace_entry_drops_the_bound_name(tmp_path):
    def create(name: str, pretrained: bool = False, drop_rate: float = 0.0):
        return name

    reg = Registry("models")
    reg.register_namespace("acme", create, lister=lambda: ["tiny"])
    _, recipe = recipe_file(tmp_path, "model: {name: acme/tiny, drop_rate: 0.5}\n")
    entry = reg.get("acme/tiny")
    assert validate_section(recipe, "model", entry) == {"drop_rate": 0.5}
    _, recipe = recipe_file(tmp_path, "model: {name: acme/tiny, name_: x}\n")
    assert "accepted: pretrained, drop_rate" in failure(lambda: validate_section(recipe, "model", entry))


# -- the top level ---------------------------------------------------------------------------


def test_shape_unknown_top_level_key(tmp_path):
    path, recipe = recipe_file(tmp_path, "name: r\nmodle: {name: cnn}\n")
    message = failure(lambda: validate_recipe_shape(recipe, TOP_LEVEL))
    assert message == (f"{path}:2: unknown top-level key 'modle' (did you mean 'model'?); "
                       f"allowed: {', '.join(TOP_LEVEL)}")


@pytest.mark.parametrize("seed, shown", [("abc", "'abc' (str)"), ("true", "True (bool)"), ("1.5", "1.5 (float)"),
                                         (str(10 ** 40), f"{10 ** 40} (int)"), (str(2 ** 63), f"{2 ** 63} (int)"),
                                         ("-1", "-1 (int)")])
def test_shape_seed_must_be_an_int_of_63_bits(tmp_path, seed, shown):
    """torch.manual_seed overflows past 64 bits (and its generators add the epoch): refused here, exit 2."""
    path, recipe = recipe_file(tmp_path, f"name: r\nseed: {seed}\n")
    assert failure(lambda: validate_recipe_shape(recipe, TOP_LEVEL)) == (
        f"{path}:2: seed: expected an int from 0 to 2**63 - 1, got {shown}")
    _, recipe = recipe_file(tmp_path, f"name: r\nseed: {2 ** 63 - 1}\n")
    validate_recipe_shape(recipe, TOP_LEVEL)


@pytest.mark.parametrize("name", ["a/../../../../elsewhere", "..", "a/./b", "a//b", "a/"])
def test_shape_name_is_a_folder_name_not_a_path(tmp_path, name):
    path, recipe = recipe_file(tmp_path, f"seed: 1\nname: '{name}'\n")
    message = failure(lambda: validate_recipe_shape(recipe, TOP_LEVEL))
    assert message.startswith(f"{path}:2: name: {name!r} is not a valid recipe name")
    assert "it names the run's folder under runs/" in message
    _, recipe = recipe_file(tmp_path, "seed: 1\nname: acme/quick.v2\n")  # the namespaced form
    validate_recipe_shape(recipe, TOP_LEVEL)


def test_shape_name_must_be_valid(tmp_path):
    path, recipe = recipe_file(tmp_path, "seed: 1\nname: My Recipe\n")
    message = failure(lambda: validate_recipe_shape(recipe, TOP_LEVEL))
    assert message.startswith(f"{path}:2: name: 'My Recipe' is not a valid recipe name")


def test_shape_sections_must_be_named_mappings(tmp_path):
    path, recipe = recipe_file(tmp_path, "task: {name: classification}\ndata: [a]\n")
    assert failure(lambda: validate_recipe_shape(recipe, TOP_LEVEL)).startswith(f"{path}:2: data: expected a mapping")
    path, recipe = recipe_file(tmp_path, "task: {name: classification}\ndata: {root: d}\n")
    assert failure(lambda: validate_recipe_shape(recipe, TOP_LEVEL)).startswith(f"{path}:2: data: missing name")
    path, recipe = recipe_file(tmp_path, "task: {name: Classification}\n")
    message = failure(lambda: validate_recipe_shape(recipe, TOP_LEVEL))
    assert message.startswith(f"{path}:1: task.name: 'Classification' is not a task name")


def test_shape_accepts_a_good_recipe_and_null_sections(tmp_path):
    _, recipe = recipe_file(tmp_path, textwrap.dedent(BASIC) + "seed: 3\ndescription: a test\nscheduler: null\n")
    validate_recipe_shape(recipe, TOP_LEVEL)


def test_lookup_entry_unknown_name_points_at_the_line(tmp_path):
    path, recipe = recipe_file(tmp_path, "task: {name: classification}\nmodel:\n  name: cnnn\n")
    message = failure(lambda: lookup_entry(recipe, "model", MODELS))
    assert message.startswith(f"{path}:3: model.name: unknown model 'cnnn' (did you mean 'cnn'")
    _, recipe = recipe_file(tmp_path, "model: {name: cnn}\n")
    assert lookup_entry(recipe, "model", MODELS).name == "cnn"


def test_describe_type():
    assert describe_type(int) == "int"
    assert describe_type(Optional[float]) == "float or null"
    assert describe_type(list[int]) == "list[int]"
    assert describe_type(Literal["a", "b"]) == "one of 'a', 'b'"
    assert describe_type(tuple[int, ...]) == "tuple[int, ...]"


@pytest.mark.parametrize("annotation, text", [
    ("Annotated[Optional[int], Gt(0)]", "int > 0 or null"),
    ("Optional[Annotated[int, Gt(0)]]", "int > 0 or null"),
    ("Annotated[int, Field(ge=1), Lt(9)]", "int in [1, 9)"),
    ("Annotated[float, Ge(0), Lt(1)]", "float in [0, 1)"),
    ("list[Annotated[float, Gt(0)]]", "list[float > 0]"),
    ("Literal['off', 'bf16']", "one of 'off', 'bf16'"),
])
def test_types_are_described_with_their_bounds(annotation, text):
    from annotated_types import Gt

    from zoo.type_text import describe_type

    assert describe_type(eval(annotation)) == text  # noqa: S307 (the test's own literals)

"""``zoo schema``: the JSON Schema of recipes that editors use, checked with the jsonschema package."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from tests.conftest import REPO
from tests.test_example_plugin import acme_site  # noqa: F401 (the fixture)

SHIPPED = sorted(REPO.glob("recipes/*.yaml")) + sorted(REPO.glob("examples/acme-zoo/acme_zoo/recipes/*.yaml"))
VALID = {"task": {"name": "classification", "epochs": 2}, "data": {"name": "digits"}, "model": {"name": "cnn"},
         "loss": {"name": "cross_entropy"}, "optimizer": {"name": "adam", "lr": 0.01}}


@pytest.fixture(scope="module")
def schema(acme_site, tmp_path_factory):  # noqa: F811
    """The schema ``zoo schema --output`` writes with the acme plugin installed."""
    from tests.conftest import run_zoo

    out = tmp_path_factory.mktemp("schema") / "recipe.schema.json"
    done = run_zoo("schema", "--output", str(out), extra_path=[acme_site])
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


def validator(schema):
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def problems(schema, recipe: dict) -> list:
    """Every message jsonschema gives for ``recipe``, those of the alternatives inside included."""
    found, pending = [], list(validator(schema).iter_errors(recipe))
    while pending:
        error = pending.pop()
        found.append(error.message)
        pending.extend(error.context or ())
    return found


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_recipe_matches_the_schema(schema, path):
    validator(schema).validate(yaml.safe_load(path.read_text()))


def test_the_schema_is_draft_07_with_the_installed_names(schema):
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    names = schema["definitions"]["model"]["properties"]["name"]["anyOf"]
    assert "cnn" in names[0]["enum"]
    assert {"type": "string", "pattern": "^timm/"}.items() <= names[1].items()
    assert "acme/tinynet" in names[0]["enum"]  # a third-party plugin's entry
    validator(schema).validate(dict(VALID, model={"name": "timm/resnet18", "pretrained": False}))


def test_a_key_shows_its_type_bounds_default_and_description(schema):
    adam = next(b["then"] for b in schema["definitions"]["optimizer"]["allOf"]
                if b["if"]["properties"]["name"].get("const") == "adam")
    assert adam["properties"]["lr"] == {"type": "number", "exclusiveMinimum": 0, "default": 0.001,
                                        "description": "learning rate (float > 0)"}
    assert adam["additionalProperties"] is False


@pytest.mark.parametrize("mistake, words", [
    ({"optimizer": {"name": "adam", "lrr": 0.01}}, "'lrr' was unexpected"),
    ({"task": {"name": "classification", "epochs": "ten"}}, "'ten' is not of type 'integer'"),
    ({"model": {"name": "resnt18"}}, "'resnt18' is not one of"),
    ({"optimizer": {"name": "adam", "lr": -1}}, "-1 is less than or equal to the minimum of 0"),
    ({"optimizer": {"name": "adam", "betas": [0.9, 1.5]}}, "1.5 is greater than or equal to the maximum of 1"),
    ({"seeds": 1}, "'seeds' was unexpected"),
    ({"model": {"pretrained": True}}, "'name' is a required property"),
], ids=["unknown key", "wrong type", "unknown name", "out of bounds", "item out of bounds", "unknown top-level key",
        "no name"])
def test_the_common_mistakes_are_refused(schema, mistake, words):
    found = problems(schema, dict(VALID, **mistake))
    assert any(words in message for message in found), found


def test_a_recipe_with_a_base_may_leave_sections_to_it(schema):
    validator(schema).validate({"base": "quickstart.yaml", "optimizer": {"lr": 0.1}})
    assert problems(schema, {"optimizer": {"lr": 0.1}})  # without base: no task, no optimizer name


def test_without_output_it_prints_the_schema(capsys, tmp_path):
    from zoo.cli import main

    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["title"] == "zoo recipe"
    (tmp_path / "recipe.schema.json").write_text("old")
    assert main(["schema", "--output", str(tmp_path / "recipe.schema.json")]) == 0
    assert json.loads((tmp_path / "recipe.schema.json").read_text()) == printed
    assert [p.name for p in tmp_path.iterdir()] == ["recipe.schema.json"]  # no temporary file left

"""A recipe is checked once per run: each section's keys are converted, and its notes printed, once,
before anything is built; ``Run.build`` only adds what the task fills and checks nothing required
is still missing."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import AfterValidator

from tests.conftest import register_in_process
from zoo.cli import main
from zoo.task import Task

CONVERSIONS: list = []


def counted(value: int) -> int:
    CONVERSIONS.append(value)
    return value


def wide(width: Annotated[int, AfterValidator(counted)] = 1, num_classes: int = 2):
    """A model that takes a width (each conversion of the recipe's value is counted)."""
    return {"model": "wide", "width": width, "num_classes": num_classes}


def narrow(num_classes: int, depth: int = 1):
    """A model that takes no width and needs a number of classes."""
    return {"model": "narrow", "num_classes": num_classes, "depth": depth}


class Builder(Task):
    """Builds its model, filling ``num_classes`` when ``fill`` is set; reports what it built."""

    sections = ("model",)
    optional_sections = ()

    def __init__(self, fill: bool):
        self.fill = fill

    def run(self, run) -> dict:
        return {"built": run.build("model", fill={"num_classes": 7} if self.fill else None)}


def builder(fill: bool = True) -> Builder:
    """A task that builds a model (tests only)."""
    return Builder(fill)


@pytest.fixture
def recipe(tmp_path):
    CONVERSIONS.clear()
    register_in_process("models", "wide", wide, plugin="acme-wide")
    register_in_process("models", "narrow", narrow, plugin="acme-narrow")
    register_in_process("tasks", "builder", builder, plugin="acme-builder")
    path = tmp_path / "r.yaml"
    path.write_text("name: build\ntask: {name: builder}\nmodel: {name: wide, width: '5'}\n")
    return path


def run_report(*args, capsys) -> tuple:
    import json

    status = main([str(a) for a in args])
    out = capsys.readouterr()
    assert status == 0, out.err
    folder = next(line for line in out.out.splitlines() if line.startswith("run folder: ")).removeprefix("run folder: ")
    with open(f"{folder}/report.json") as f:
        return json.load(f), out.err


def test_a_section_is_converted_once_and_built_with_the_fill(recipe, tmp_path, capsys):
    report, _ = run_report("run", recipe, "--output", tmp_path / "run", capsys=capsys)
    assert report["built"] == {"model": "wide", "width": 5, "num_classes": 7}
    assert CONVERSIONS == [5]  # the recipe's "5" was checked and converted once, not again at build


def test_the_override_note_is_printed_once(recipe, tmp_path, capsys):
    report, err = run_report("run", recipe, "model.name=narrow", "--output", tmp_path / "run", capsys=capsys)
    assert report["built"] == {"model": "narrow", "num_classes": 7, "depth": 1}
    note = "zoo: note: model.name was overridden; dropping model.width (not keys of model 'narrow')"
    assert err.count(note) == 1, err


def test_a_required_key_the_task_leaves_unfilled_is_refused_when_built(recipe, tmp_path, capsys):
    recipe.write_text("name: build\ntask: {name: builder}\nmodel: {name: narrow}\n")
    # num_classes is a key a task may fill (zoo.kinds): the check lets it through, the build needs it
    assert main(["run", str(recipe), "task.fill=false", "--output", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"zoo: error: {recipe}:3: model: missing required key 'num_classes' for model "
                           f"'narrow'; accepted: num_classes, depth")
    assert not (tmp_path / "run" / "report.json").exists()


def test_a_required_key_nobody_may_fill_is_refused_before_the_run(recipe, tmp_path, capsys):
    register_in_process("models", "sized", needs_size, plugin="acme-sized")
    recipe.write_text("name: build\ntask: {name: builder}\nmodel: {name: sized}\n")
    assert main(["run", str(recipe), "--output", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert f"{recipe}:3: model: missing required key 'size' for model 'sized'" in err
    assert not (tmp_path / "run").exists()  # refused before the run folder was made


def needs_size(size: int, num_classes: int = 2):
    """A model whose size no task fills."""
    return {"model": "sized", "size": size}

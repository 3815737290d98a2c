"""A third-party task declares where it keeps its checkpoints, how it counts and what its headline is
(zoo.task): ``zoo run``, Ctrl-C, ``--resume``, ``zoo eval`` and ``zoo predict`` follow the declaration,
with nothing in the core knowing the task."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import pytest
import torch

from tests.conftest import register_in_process
from zoo.cli import main
from zoo.task import Checkpoints, Task


class Counter(Task):
    """Adds 1 + 2 + ... + rounds, one round at a time, keeping its state in ``checkpoints/latest.pt``
    and its best result in ``checkpoints/top.pt``; a Ctrl-C arrives when round ``stop_in`` begins (after
    the last round when ``stop_in`` is ``rounds + 1``)."""

    sections = ()
    optional_sections = ()
    checkpoints = Checkpoints(resume="checkpoints/latest.pt", best="checkpoints/top.pt", progress="round",
                              unit="round", total="rounds")

    def __init__(self, rounds: int, stop_in: Optional[int]):
        self.rounds, self.stop_in = rounds, stop_in

    def run(self, run) -> dict:
        done, total = 0, 0
        if run.resumed:
            saved = run.load_checkpoint("latest.pt")
            done, total = saved["round"], saved["total"]
        for number in range(done + 1, self.rounds + 1):
            if number == self.stop_in:
                raise KeyboardInterrupt  # what Ctrl-C raises
            total += number
            run.save_checkpoint("top.pt", {"total": total})
            run.save_checkpoint("latest.pt", {"round": number, "total": total})
        if self.stop_in == self.rounds + 1:
            raise KeyboardInterrupt  # after the last round, before the report
        return {"total": total, "resumed_after": done}

    def headline(self, report: dict) -> str:
        return f"counted to {report['total']}"

    def evaluate(self, run) -> dict:
        return {"total": run.load_checkpoint("top.pt")["total"]}

    def predict(self, run, paths: list, top_k: int) -> list:
        total = run.load_checkpoint("top.pt")["total"]
        return [{"path": str(p), "top": [{"class": f"total {total}", "probability": 1.0}][:top_k]} for p in paths]


def counter(rounds: int = 4, stop_in: Optional[int] = None) -> Counter:
    """A task that counts (tests only)."""
    return Counter(rounds, stop_in)


class Sketch(Task):
    """A task that keeps no checkpoint (as the style transfer): nothing to resume, evaluate or predict with."""

    sections = ()
    optional_sections = ()
    checkpoints = None

    def __init__(self, stop: bool):
        self.stop = stop

    def run(self, run) -> dict:
        if self.stop:
            raise KeyboardInterrupt
        return {"drawn": True}

    def evaluate(self, run) -> dict:
        return {}


def sketch(stop: bool = False) -> Sketch:
    """A task without checkpoints (tests only)."""
    return Sketch(stop)


def zoo(*args, capsys) -> tuple:
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.fixture
def recipes(tmp_path) -> Path:
    register_in_process("tasks", "counter", counter, plugin="acme-counter")
    register_in_process("tasks", "sketch", sketch, plugin="acme-sketch")
    (tmp_path / "counting.yaml").write_text("name: counting\ntask: {name: counter, rounds: 4, stop_in: 3}\n")
    (tmp_path / "sketching.yaml").write_text("name: sketching\ntask: {name: sketch}\n")
    return tmp_path


def test_a_task_s_own_checkpoints_drive_ctrl_c_resume_eval_predict_and_the_headline(recipes, tmp_path, capsys):
    folder = tmp_path / "run"
    status, out, err = zoo("run", recipes / "counting.yaml", "--output", folder, capsys=capsys)
    assert status == 130
    assert err.strip() == f"zoo: interrupted during round 3; resume with: zoo run --resume {folder}"
    assert torch.load(folder / "checkpoints" / "latest.pt", weights_only=True) == {"round": 2, "total": 3}

    status, out, err = zoo("eval", folder, capsys=capsys)  # the best checkpoint is the task's own file
    assert status == 0, err
    evaluation = json.loads(next((folder / "evaluations").iterdir()).read_text())
    assert evaluation["total"] == 3

    status, out, err = zoo("run", "--resume", folder, "task.stop_in=null", capsys=capsys)
    assert status == 0, err
    assert out.splitlines() == [f"recipe {folder / 'recipe.yaml'} with overrides: task.stop_in=null",
                                f"run folder: {folder}", "counted to 10"]  # 1 + 2 + 3 + 4
    assert json.loads((folder / "report.json").read_text()) == {"total": 10, "resumed_after": 2}

    picture = tmp_path / "anything.png"
    picture.write_bytes(b"not read by this task")
    status, out, err = zoo("predict", folder, picture, "--top-k", "1", capsys=capsys)
    assert status == 0, err
    assert out.strip() == f"{picture}: total 10 (100.0%)"


def test_ctrl_c_after_the_last_round_says_the_report_is_missing(recipes, tmp_path, capsys):
    folder = tmp_path / "run"
    status, _, err = zoo("run", recipes / "counting.yaml", "task.rounds=2", "--output", folder, capsys=capsys)
    assert status == 130 and not (folder / "report.json").exists()
    assert err.strip() == (f"zoo: interrupted after the last round (2), before the report was written; "
                           f"resume with: zoo run --resume {folder}")


def test_eval_needs_the_file_the_task_declares_and_resume_without_one_starts_again(recipes, tmp_path, capsys):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "recipe.yaml").write_text((recipes / "counting.yaml").read_text())
    status, _, err = zoo("eval", folder, capsys=capsys)
    assert status == 2 and f"{folder}: no checkpoints/top.pt to evaluate from" in err
    status, out, err = zoo("run", "--resume", folder, "task.stop_in=null", capsys=capsys)
    assert status == 0, err
    assert out.splitlines()[0] == (f"{folder}: the run stopped before it saved its first checkpoint "
                                   f"(checkpoints/latest.pt is not there): starting it from the beginning")
    assert json.loads((folder / "report.json").read_text()) == {"total": 10, "resumed_after": 0}


def test_a_task_without_checkpoints_refuses_resume_eval_and_predict(recipes, tmp_path, capsys):
    folder = tmp_path / "run"
    status, out, err = zoo("run", recipes / "sketching.yaml", "--output", folder, capsys=capsys)
    assert status == 0, err
    assert out.splitlines() == [f"run folder: {folder}"]  # no headline declared: none printed
    status, _, err = zoo("run", "--resume", folder, capsys=capsys)
    assert status == 2 and err.strip() == "zoo: error: task 'sketch' keeps no checkpoint to resume from"
    status, _, err = zoo("eval", folder, capsys=capsys)
    assert status == 2 and err.strip() == "zoo: error: task 'sketch' keeps no checkpoint to evaluate from"
    picture = tmp_path / "anything.png"
    picture.write_bytes(b"")
    status, _, err = zoo("predict", folder, picture, capsys=capsys)
    assert status == 2 and err.strip() == "zoo: error: task 'sketch' cannot predict (it has no predict method)"
    status, _, err = zoo("run", recipes / "sketching.yaml", "task.stop=true", "--output", tmp_path / "again",
                         capsys=capsys)
    assert status == 130 and err.strip() == "zoo: interrupted; task 'sketch' cannot resume: run the recipe again"


class Legacy:
    """A task written before zoo.task, as a plain object: it builds a loss that needs
    ``num_classes`` and fills it itself, as zoo let any task do then."""

    def __init__(self, classes: int):
        self.classes = classes

    def run(self, run) -> dict:
        loss = run.build("loss", fill={"num_classes": self.classes})
        return {"classes": loss.classes}


class Weighted:
    def __init__(self, num_classes: int, smoothing: float = 0.0):
        self.classes = num_classes


def test_a_task_that_declares_no_fills_may_fill_what_zoo_filled_before(tmp_path, capsys):
    register_in_process("tasks", "legacy", lambda classes=3: Legacy(classes), plugin="acme-legacy")
    register_in_process("losses", "acme/weighted", Weighted, plugin="acme-weighted")
    (tmp_path / "legacy.yaml").write_text("task: {name: legacy}\nloss: {name: acme/weighted}\n"
                                          "data: {name: digits}\nmodel: {name: mlp}\noptimizer: {name: sgd}\n")
    status, out, err = zoo("run", tmp_path / "legacy.yaml", "--output", tmp_path / "run", capsys=capsys)
    assert status == 0, err
    assert json.loads((tmp_path / "run" / "report.json").read_text()) == {"classes": 3}


@pytest.mark.parametrize("attribute, value, expected", [
    ("checkpoints", 3, "a zoo.task.Checkpoints or None"),
    ("sections", "data", "a list of names"),
    ("sections", ["data", "modle"], "recipe sections: data, model, loss, optimizer, scheduler"),
    ("fills", ["layers"], "a mapping of section to key names"),
])
def test_a_declaration_of_the_wrong_shape_is_one_line_naming_the_task(tmp_path, capsys, attribute, value, expected):
    task = type("Odd", (Sketch,), {attribute: value})(False)
    register_in_process("tasks", "odd", lambda: task, plugin="acme-odd")
    (tmp_path / "odd.yaml").write_text("task: {name: odd}\n")
    status, _, err = zoo("run", tmp_path / "odd.yaml", "--output", tmp_path / "run", capsys=capsys)
    assert status == 2
    assert err.strip() == f"zoo: error: task 'odd' declares {attribute} = {value!r}; expected {expected} (see docs/tasks.md)"


def test_a_headline_that_raises_is_a_warning_not_a_failed_run(recipes, tmp_path, capsys):
    class Careless(Counter):
        def headline(self, report: dict) -> str:
            return f"counted to {report['sum']}"

    register_in_process("tasks", "careless", lambda: Careless(4, None), plugin="acme-careless")
    (tmp_path / "careless.yaml").write_text("task: {name: careless}\n")
    folder = tmp_path / "run"
    status, out, err = zoo("run", tmp_path / "careless.yaml", "--output", folder, capsys=capsys)
    assert status == 0
    assert out.splitlines() == [f"run folder: {folder}"]
    assert err.strip() == "zoo: warning: task 'careless' could not write its headline: KeyError: 'sum'"
    assert json.loads((folder / "report.json").read_text()) == {"total": 10, "resumed_after": 0}

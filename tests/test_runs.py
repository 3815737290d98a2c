"""run.json in every run folder and ``zoo runs``: the state of each run as it starts, ends, is
resumed, fails, is stopped or killed; runs from before run.json; listing, sorting and filtering a
runs tree or a sweep folder, from the files alone (no torch imported)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, default_sigint, register_in_process, run_zoo
from zoo.cli import main
from zoo.task import Task

QUICKSTART = REPO / "recipes" / "quickstart.yaml"


def zoo(*args, capsys) -> tuple:
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def record(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text())


def run_in_process(cache: Path, *args) -> None:
    """``zoo ARGS`` in this process (which must succeed), with the catalog cache ``cache`` and a
    fresh plugin manager before and after (for module-scoped fixtures)."""
    from zoo.plugins import reset_manager

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOO_CACHE_DIR", str(cache))
        reset_manager()
        try:
            assert main([str(a) for a in args]) == 0
        finally:
            reset_manager()


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A quickstart run of 2 epochs with an override, then resumed to 3 epochs."""
    folder = tmp_path_factory.mktemp("trained") / "run"
    cache = tmp_path_factory.mktemp("cache")
    run_in_process(cache, "run", QUICKSTART, "task.epochs=2", "--output", folder)
    first = record(folder)
    run_in_process(cache, "run", "--resume", folder, "task.epochs=3")
    return folder, first


def test_a_finished_run_records_its_start_end_state_and_facts(trained):
    folder, first = trained
    assert first["state"] == "finished"
    assert first["overrides"] == ["task.epochs=2"] and first["recipe"].endswith("quickstart.yaml")
    assert first["name"] == "quickstart" and first["host"] == socket.gethostname() and isinstance(first["pid"], int)
    assert first["started"] <= first["ended"] and first["seconds"] > 0 and first["error"] is None
    assert first["headline"].startswith("test accuracy ") and first["device"] == "cpu"
    assert set(first["versions"]) == {"zoo", "python", "torch"}


def test_a_resumed_run_keeps_its_start_and_adds_its_overrides(trained):
    folder, first = trained
    again = record(folder)
    assert again["state"] == "finished"
    assert again["started"] == first["started"] and again["ended"] >= first["ended"]
    assert again["overrides"] == ["task.epochs=2", "task.epochs=3"]
    assert len(again["resumed"]) == 1 and again["seconds"] > first["seconds"]


class Stopping(Task):
    """A task that stops with ``error`` (an exception instance) after writing one metrics line."""

    sections = ()
    optional_sections = ()
    checkpoints = None

    def __init__(self, error):
        self.error = error

    def run(self, run) -> dict:
        run.epoch_end(1, {"valid_loss": 0.5})
        if self.error is not None:
            raise self.error
        return {"done": True}


class Pruned(Exception):
    run_state = "pruned"


@pytest.mark.parametrize("error, state, status", [
    (RuntimeError("the loss is\nNaN"), "failed", 1),
    (KeyboardInterrupt(), "interrupted", 130),
    (Pruned("pruned at epoch 1"), "pruned", 1),
])
def test_a_stopped_run_records_the_state_its_exception_says(tmp_path, capsys, error, state, status):
    register_in_process("tasks", "stopping", lambda: Stopping(error), plugin="acme-stopping")
    (tmp_path / "r.yaml").write_text("task: {name: stopping}\n")
    code, _, _ = zoo("run", tmp_path / "r.yaml", "--output", tmp_path / "run", capsys=capsys)
    assert code == status
    written = record(tmp_path / "run")
    assert written["state"] == state and written["ended"] is not None
    if state == "failed":
        assert written["error"] == "RuntimeError: the loss is NaN"
        assert (tmp_path / "run" / "report.html").is_file()  # a failed run's page shows how far it got
    if state == "interrupted":
        assert not (tmp_path / "run" / "report.html").exists()


def wait_for(condition, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_run_whose_process_is_killed_is_never_shown_running(tmp_path):
    folder = tmp_path / "runs" / "quickstart" / "20261130-100000"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    child = subprocess.Popen([sys.executable, "-m", "zoo", "run", str(QUICKSTART), "task.epochs=200",
                              "--output", str(folder)], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, preexec_fn=default_sigint)
    try:
        wait_for(lambda: (folder / "metrics.jsonl").is_file() and (folder / "metrics.jsonl").stat().st_size > 0)
        listed = json.loads(run_zoo("runs", "--json", cwd=tmp_path).stdout)
        assert [r["state"] for r in listed] == ["running"]
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert record(folder)["state"] == "running"  # as the process left it
    listed = json.loads(run_zoo("runs", "--json", cwd=tmp_path).stdout)
    assert [(r["state"], r["name"]) for r in listed] == [("killed", "quickstart")]
    assert listed[0]["epochs"] >= 1 and listed[0]["valid_loss"] is not None  # read from metrics.jsonl


def make_run(folder: Path, *, name: str = "quickstart", state: str = "finished", started: str = "2026-11-30T10:00:00",
             losses=(0.9, 0.5, 0.4), accuracy: float = 0.9, overrides=(), with_record: bool = True,
             with_report: bool = True) -> Path:
    """A run folder as zoo run leaves it: recipe.yaml, metrics.jsonl, report.json, run.json."""
    folder.mkdir(parents=True)
    (folder / "recipe.yaml").write_text(f"name: {name}\nseed: 0\ntask:\n  name: classification\n  epochs: {len(losses)}\n"
                                        "optimizer:\n  name: adam\n  lr: 0.002\n")
    with open(folder / "metrics.jsonl", "w") as f:
        for epoch, loss in enumerate(losses, 1):
            f.write(json.dumps({"epoch": epoch, "time": started, "train_loss": loss + 0.1, "valid_loss": loss,
                                "valid_accuracy": accuracy, "lr": 0.002, "seconds": 1.5}) + "\n")
    best = min(range(len(losses)), key=lambda i: losses[i])
    if with_report:
        (folder / "report.json").write_text(json.dumps({
            "best": {"epoch": best + 1, "valid_loss": losses[best], "checkpoint": "x"}, "epochs_run": len(losses),
            "classes": ["0", "1"], "test": {"loss": losses[best] + 0.05, "accuracy": accuracy}}))
    if with_record:
        (folder / "run.json").write_text(json.dumps({
            "state": state, "name": name, "started": started, "ended": started, "seconds": 12.5, "pid": 1,
            "host": "elsewhere", "overrides": list(overrides), "recipe": "recipes/quickstart.yaml",
            "error": "RuntimeError: boom" if state == "failed" else None, "headline": None}))
    return folder


@pytest.fixture
def tree(tmp_path) -> Path:
    runs = tmp_path / "runs"
    make_run(runs / "quickstart" / "20261130-100000", started="2026-11-30T10:00:00", losses=(0.9, 0.3),
             accuracy=0.95, overrides=["optimizer.lr=0.01"])
    make_run(runs / "quickstart" / "20261130-110000", started="2026-11-30T11:00:00", losses=(0.9, 0.6, 0.5),
             accuracy=0.85)
    make_run(runs / "cifar" / "20261130-120000", name="cifar", state="failed", started="2026-11-30T12:00:00",
             losses=(2.0,), with_report=False)
    make_run(runs / "quickstart" / "20251001-090000", with_record=False, losses=(0.8, 0.7))  # before run.json
    make_run(runs / "quickstart" / "20251001-080000", with_record=False, with_report=False, losses=(0.8,))
    (runs / "notes").mkdir()
    (runs / "notes" / "recipe.yaml").write_text("name: scratch\n")  # no run files: not a run
    return tmp_path


def listed(tree: Path, *args) -> list:
    result = run_zoo("runs", *args, "--json", cwd=tree)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_runs_lists_every_run_newest_first_with_its_figures(tree):
    runs = listed(tree)
    assert [(r["name"], r["state"], r["started"]) for r in runs] == [
        ("cifar", "failed", "2026-11-30T12:00:00"), ("quickstart", "finished", "2026-11-30T11:00:00"),
        ("quickstart", "finished", "2026-11-30T10:00:00"), ("quickstart", "finished", "2025-10-01T09:00:00"),
        ("quickstart", "unknown", "2025-10-01T08:00:00")]
    newest_quickstart = runs[1]
    assert newest_quickstart["epochs"] == 3 and newest_quickstart["valid_loss"] == 0.5
    assert newest_quickstart["test_accuracy"] == 0.85 and newest_quickstart["seconds"] == 12.5
    assert runs[2]["overrides"] == ["optimizer.lr=0.01"]
    assert runs[0]["error"] == "RuntimeError: boom" and runs[0]["valid_loss"] == 2.0  # from metrics.jsonl
    assert runs[4]["epochs"] == 1 and runs[4]["valid_loss"] == 0.8


def test_runs_sorts_filters_and_limits(tree):
    assert [r["valid_loss"] for r in listed(tree, "--sort", "valid_loss")] == [0.3, 0.5, 0.7, 0.8, 2.0]
    assert [r["test_accuracy"] for r in listed(tree, "--sort", "test_accuracy", "--limit", "2")] == [0.95, 0.9]
    assert [r["valid_loss"] for r in listed(tree, "--sort", "valid_loss", "--reverse", "--limit", "1")] == [2.0]
    assert [r["name"] for r in listed(tree, "--state", "failed")] == ["cifar"]
    assert sorted(r["state"] for r in listed(tree, "--state", "failed,unknown")) == ["failed", "unknown"]
    assert {r["name"] for r in listed(tree, "--name", "quick*")} == {"quickstart"}
    one = listed(tree, str(tree / "runs" / "cifar" / "20261130-120000"))
    assert [r["name"] for r in one] == ["cifar"]


def test_a_run_json_of_the_wrong_types_does_not_stop_the_listing(tree):
    odd = tree / "runs" / "quickstart" / "20261130-130000"
    make_run(odd, started="2026-11-30T13:00:00", losses=(0.4,))
    (odd / "run.json").write_text(json.dumps({"state": "finished", "started": 12345, "overrides": "lr=1",
                                              "headline": 7, "error": ["x"]}))
    runs = listed(tree)
    assert len(runs) == 6
    mine = next(r for r in runs if r["folder"].endswith("20261130-130000"))
    assert mine["started"] == "2026-11-30T13:00:00" and mine["overrides"] == [] and mine["error"] is None


def test_runs_prints_a_table(tree):
    result = run_zoo("runs", cwd=tree)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:5] == ["STARTED", "STATE", "EPOCHS", "VALID", "LOSS"]
    assert "0.3000" in lines[3] and "95.00%" in lines[3] and "optimizer.lr=0.01" in lines[3]
    assert "runs/quickstart/20261130-100000" in lines[3]
    assert lines[-1] == "5 runs: 1 failed, 3 finished, 1 unknown"


@pytest.mark.parametrize("args, message", [
    (("missing",), "zoo: error: missing: no such folder"),
    (("--sort", "speed"), "zoo: error: --sort speed: expected one of started, name"),
    (("--state", "done"), "zoo: error: --state done: expected one of running, finished"),
    (("--limit", "0"), "zoo: error: --limit: expected at least 1, got 0"),
])
def test_runs_mistakes_are_one_line(tree, args, message):
    result = run_zoo("runs", *args, cwd=tree)
    assert result.returncode == 2
    assert result.stderr.startswith(message) and len(result.stderr.splitlines()) == 1


def test_runs_of_a_sweep_folder_lists_its_trials_also_those_run_elsewhere(tmp_path):
    sweep = tmp_path / "sweeps" / "quickstart" / "20261130-100000"
    make_run(sweep / "trials" / "0000", losses=(0.4,))
    make_run(sweep / "trials" / "0001", losses=(0.2,))
    joined = make_run(tmp_path / "elsewhere" / "0002", losses=(0.3,))  # a trial another machine ran
    (sweep / "sweep.json").write_text(json.dumps({"name": "quickstart", "trials": [
        {"number": 0, "runs": ["trials/0000"]}, {"number": 1, "runs": ["trials/0001"]},
        {"number": 2, "runs": [str(joined)]}]}))
    runs = listed(tmp_path, str(sweep), "--sort", "valid_loss")
    assert [Path(r["folder"]).name for r in runs] == ["0001", "0002", "0000"]


def test_runs_imports_no_torch_and_no_plugin(tree):
    code = ("import sys; from zoo.cli import main; status = main(['runs', '--json']); "
            "loaded = [m for m in sys.modules if m.split('.')[0] in ('torch', 'yaml', 'matplotlib') "
            "or m.startswith('zoo_')]; print(loaded, file=sys.stderr); sys.exit(status or bool(loaded))")
    result = subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_table_shows_what_tells_runs_apart_and_says_once_the_overrides_they_all_share(tmp_path):
    sweep = tmp_path / "sweep" / "trials"
    for number, lr in enumerate(("0.01", "0.005", "0.001")):
        make_run(sweep / f"{number:04d}", started=f"2026-11-30T10:0{number}:00",
                 overrides=["task.epochs=4", "task.plots=false", "data.root=/a/long/path/to/the/data", f"optimizer.lr={lr}"])
    table = run_zoo("runs", str(tmp_path / "sweep"), cwd=tmp_path, env={"COLUMNS": "100"})
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert [line.split()[-1] for line in lines[1:4]] == ["optimizer.lr=0.001", "optimizer.lr=0.005", "optimizer.lr=0.01"]
    assert lines[-1] == ("overrides of every run listed (not repeated above): task.epochs=4 task.plots=false "
                         "data.root=/a/long/path/to/the/data")
    one = run_zoo("runs", str(sweep / "0000"), cwd=tmp_path, env={"COLUMNS": ""}).stdout.splitlines()  # piped: all of it
    assert one[1].endswith("task.epochs=4 task.plots=false data.root=/a/long/path/to/the/data optimizer.lr=0.01")

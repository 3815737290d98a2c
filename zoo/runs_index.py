"""Finding run folders and reading what ``zoo runs`` and ``zoo compare`` show of each, from the
files alone: run.json (``zoo.run_record``), report.json, the end of metrics.jsonl and the
recipe's ``name:`` line. No YAML parser, no torch, no plugin: listing hundreds of runs is quick.

A run folder holds recipe.yaml and at least one of run.json, report.json, metrics.jsonl. A runs
tree is searched for them (hidden folders and a run folder's own subfolders are not entered); a
sweep folder (sweep.json) also brings the trial folders its sweep.json names outside it.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from zoo.metrics_file import as_number, last_metrics, lowest
from zoo.run_record import live_state, read_record

RUN_FILES = ("run.json", "report.json", "metrics.jsonl")
SWEEP_FILE = "sweep.json"
NOT_SEARCHED = frozenset({"checkpoints", "tensorboard", "snapshots", "evaluations", "exported", "__pycache__"})
STAMP = re.compile(r"^(\d{8})-(\d{6})(?:-\d+)?$")
NAME_LINE = re.compile(r"^name:[ \t]*['\"]?([^'\"#\n]*?)['\"]?[ \t]*(?:#.*)?$", re.MULTILINE)


@dataclass
class RunSummary:
    """What ``zoo runs`` shows of one run folder. ``started``: ISO local time; ``epochs``: units
    completed; ``valid_loss``: the best validation loss; ``test_accuracy``: a fraction;
    ``seconds``: wall time over every session (None when unknown)."""

    folder: Path
    name: str
    started: Optional[str]
    state: str
    epochs: Optional[int]
    valid_loss: Optional[float]
    test_accuracy: Optional[float]
    test_loss: Optional[float] = None
    best_epoch: Optional[int] = None
    seconds: Optional[float] = None
    overrides: list = field(default_factory=list)
    headline: Optional[str] = None
    error: Optional[str] = None

    def as_json(self) -> dict:
        """The summary as a JSON object (``folder`` a string)."""
        return {"folder": str(self.folder), "name": self.name, "started": self.started, "state": self.state,
                "epochs": self.epochs, "best_epoch": self.best_epoch, "valid_loss": self.valid_loss,
                "test_loss": self.test_loss, "test_accuracy": self.test_accuracy, "seconds": self.seconds,
                "overrides": self.overrides, "headline": self.headline, "error": self.error}


def is_run_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a run: recipe.yaml and run.json, report.json or metrics.jsonl."""
    folder = Path(folder)
    return (folder / "recipe.yaml").is_file() and any((folder / name).is_file() for name in RUN_FILES)


def find_runs(root: Path) -> list:
    """Every run folder at or under ``root`` (a runs tree, a sweep folder, one run folder), each
    once, with the trials a sweep.json names outside its folder."""
    root = Path(root)
    if is_run_folder(root):
        return [root]
    found: dict = {}
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        names = {e.name for e in entries}
        if "recipe.yaml" in names and names.intersection(RUN_FILES):
            found[os.path.realpath(folder)] = Path(folder)
            continue
        if SWEEP_FILE in names:
            for trial in sweep_trials(Path(folder)):
                if is_run_folder(trial):
                    found.setdefault(os.path.realpath(trial), trial)
        pending += [Path(e.path) for e in entries
                    if e.name not in NOT_SEARCHED and not e.name.startswith(".") and e.is_dir()]
    return list(found.values())


def sweep_trials(sweep: Path) -> list:
    """The run folders sweep.json in ``sweep`` names (its trials' ``runs``: relative to the sweep
    folder, or absolute), in trial order; [] when sweep.json is missing or unreadable."""
    try:
        with open(Path(sweep) / SWEEP_FILE, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return []
    trials = data.get("trials") if isinstance(data, dict) else None
    folders = []
    for trial in trials if isinstance(trials, list) else []:
        for run in (trial.get("runs") or []) if isinstance(trial, dict) else []:
            if isinstance(run, str) and run:
                folders.append(Path(run) if os.path.isabs(run) else Path(sweep) / run)
    return folders


def summarize(folder: Path) -> RunSummary:
    """Read the run in ``folder`` (see the module docstring). A run from before run.json is
    ``finished`` when it has report.json, else ``unknown``; a run whose process died is ``killed``."""
    folder = Path(folder)
    record = read_record(folder) or {}
    report = read_object(folder / "report.json") or {}
    state = live_state(record) if record else ("finished" if report else "unknown")
    best = report.get("best") if isinstance(report.get("best"), dict) else {}
    test = report.get("test") if isinstance(report.get("test"), dict) else {}
    epochs = report.get("epochs_run")
    if not isinstance(epochs, int):
        last = last_metrics(folder) or {}
        epochs = last.get("epoch") if isinstance(last.get("epoch"), int) else None
    valid_loss = as_number(best.get("valid_loss")) if best else None
    if valid_loss is None and not report:  # still running, or stopped: the best line so far
        valid_loss = lowest(folder, "valid_loss")
    seconds = record.get("seconds") if isinstance(record.get("seconds"), (int, float)) and record.get("ended") else None
    overrides = record.get("overrides") if isinstance(record.get("overrides"), list) else []
    return RunSummary(
        folder=folder, name=str(record.get("name") or recipe_name(folder)),
        started=text_or_none(record.get("started")) or started_from_folder(folder), state=state, epochs=epochs,
        valid_loss=valid_loss, test_accuracy=as_number(test.get("accuracy")), test_loss=as_number(test.get("loss")),
        best_epoch=best.get("epoch") if isinstance(best.get("epoch"), int) else None, seconds=seconds,
        overrides=[str(o) for o in overrides], headline=text_or_none(record.get("headline")),
        error=text_or_none(record.get("error")))


def text_or_none(value: Any) -> Optional[str]:
    """``value`` when it is a string, else None: a run.json edited by hand, or by another tool,
    must not stop the listing of every other run."""
    return value if isinstance(value, str) else None


def read_object(path: Path) -> Optional[dict]:
    """The JSON object in ``path``; None when missing, unreadable or not an object."""
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def recipe_name(folder: Path) -> str:
    """The ``name:`` of the resolved recipe.yaml in ``folder`` (read as text: zoo writes it on one
    top-level line); the folder above a timestamped run folder when there is none."""
    try:
        with open(folder / "recipe.yaml", encoding="utf-8", errors="replace") as f:
            match = NAME_LINE.search(f.read(65536))
    except OSError:
        match = None
    if match and match.group(1).strip():
        return match.group(1).strip()
    return folder.parent.name if STAMP.match(folder.name) else folder.name


def started_from_folder(folder: Path) -> Optional[str]:
    """When a run without run.json started: its timestamped folder name (``20261130-100000``),
    else its recipe.yaml's modification time; ISO local time, or None."""
    match = STAMP.match(folder.name)
    if match:
        try:
            return _dt.datetime.strptime(match.group(1) + match.group(2), "%Y%m%d%H%M%S").isoformat()
        except ValueError:
            pass
    try:
        return _dt.datetime.fromtimestamp((folder / "recipe.yaml").stat().st_mtime).isoformat(timespec="seconds")
    except OSError:
        return None

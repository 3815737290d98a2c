"""``zoo runs [DIR] [--json] [--sort COL] [--reverse] [--state STATE] [--name PATTERN] [--limit N]``.

Every run folder under ``runs/`` (or DIR: a runs tree, a sweep folder, one run folder), one line
each: when it started, its state (finished, failed, interrupted, pruned, running, killed: its
process is gone; unknown: a run from before run.json that left no report), the epochs done, the
best validation loss, the test accuracy, the wall time, the recipe's name, the folder and the
overrides (those every listed run shares, such as a sweep's fixed ones, said once below the
table). Newest first unless ``--sort`` says otherwise. It reads files only (``zoo.runs_index``)
and imports neither torch nor a plugin.
"""

from __future__ import annotations

import fnmatch
import json
import os
from pathlib import Path
from typing import Optional, Sequence

from zoo.commands.table import render
from zoo.errors import UserError
from zoo.run_record import STATES, duration_text
from zoo.runs_index import RunSummary, find_runs, summarize

# each column --sort takes, and whether its natural order is the largest first
SORTS = {"started": True, "name": False, "state": False, "epochs": True, "valid_loss": False,
         "test_accuracy": True, "test_loss": False, "seconds": False}


def runs_command(root: Optional[str], *, as_json: bool = False, sort: str = "started", reverse: bool = False,
                 states: Sequence[str] = (), name: Optional[str] = None, limit: Optional[int] = None) -> int:
    """Print the runs under ``root`` (default ``runs``) as a table, or a JSON array with ``as_json``:
    sorted by ``sort`` in its natural order (newest, lowest loss, highest accuracy first;
    ``reverse`` flips it), only those in ``states`` and whose name matches the glob ``name``,
    at most ``limit``. Raises ``zoo.UserError`` for a folder that is not there or a bad option."""
    folder = Path(root or "runs")
    if not folder.is_dir():
        hint = " (zoo run RECIPE makes runs/<name>/<timestamp>/; or name a folder: zoo runs DIR)" if root is None else ""
        raise UserError(f"{folder}: no such folder{hint}")
    if sort not in SORTS:
        raise UserError(f"--sort {sort}: expected one of {', '.join(SORTS)}")
    wanted = [s.strip() for group in states for s in group.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in STATES]
    if unknown:
        raise UserError(f"--state {unknown[0]}: expected one of {', '.join(STATES)}")
    if limit is not None and limit < 1:
        raise UserError(f"--limit: expected at least 1, got {limit}")
    runs = [summarize(f) for f in find_runs(folder)]
    runs = [r for r in runs if (not wanted or r.state in wanted) and (name is None or fnmatch.fnmatchcase(r.name, name))]
    runs = sorted_runs(runs, sort, reverse)[:limit]
    if as_json:
        print(json.dumps([r.as_json() for r in runs], indent=2))
        return 0
    if not runs:
        print(f"no runs under {folder}" + (" matching the filters" if wanted or name else ""))
        return 0
    common = shared_overrides(runs)
    print(render(("STARTED", "STATE", "EPOCHS", "VALID LOSS", "TEST ACC", "TIME", "NAME", "FOLDER", "OVERRIDES"),
                 [row(r, common) for r in runs]))
    counts: dict = {}
    for r in runs:
        counts[r.state] = counts.get(r.state, 0) + 1
    print(f"{len(runs)} run{'' if len(runs) == 1 else 's'}: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    if common:
        print(f"overrides of every run listed (not repeated above): {' '.join(o for o in runs[0].overrides if o in common)}")
    return 0


def shared_overrides(runs: list) -> set:
    """The overrides every one of ``runs`` has, when there are two or more (a sweep's fixed ones):
    the table shows each run's others, those that tell the runs apart."""
    if len(runs) < 2:
        return set()
    return set.intersection(*(set(r.overrides) for r in runs))


def sorted_runs(runs: list, column: str, reverse: bool = False) -> list:
    """``runs`` (``RunSummary``) sorted by ``column`` in its natural order (``SORTS``), flipped
    by ``reverse``; runs without a value for it last either way, newest first among equals."""
    by_start = sorted(runs, key=lambda r: r.started or "", reverse=True)
    present = [r for r in by_start if getattr(r, column) is not None]
    missing = [r for r in by_start if getattr(r, column) is None]
    return sorted(present, key=lambda r: getattr(r, column), reverse=SORTS[column] != reverse) + missing


def row(run: RunSummary, common: set = frozenset()) -> list:
    """The table's cells for ``run``, its overrides without those in ``common``."""
    return [(run.started or "-").replace("T", " ")[:16], run.state, "-" if run.epochs is None else run.epochs,
            "-" if run.valid_loss is None else f"{run.valid_loss:.4f}",
            "-" if run.test_accuracy is None else f"{run.test_accuracy:.2%}",
            "-" if run.seconds is None else duration_text(run.seconds), run.name, shown_path(run.folder),
            " ".join(o for o in run.overrides if o not in common)]


def shown_path(folder: Path) -> str:
    """``folder`` relative to the working folder when it is inside it, else as given."""
    try:
        relative = os.path.relpath(folder)
    except ValueError:
        return str(folder)
    return str(folder) if relative.startswith("..") else relative

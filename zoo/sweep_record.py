"""``sweep.json``: the sweep as its folder records it, read from the study.

Written atomically (``zoo.atomic``) as each trial starts and ends, by the process that runs it,
and at the end; ``zoo runs``, ``zoo compare`` and the report page read it. It holds the recipe's
name and file, when the sweep was made and updated, its command, the study's name, storage,
sampler, pruner and direction, the objective, the space, the seeds, one entry per trial (state
``complete``/``pruned``/``failed``/``running``/``waiting``, params, the value of each seed's
run, their mean and spread, seconds, run folders relative to the sweep folder or absolute
outside it, the error of a failed trial, the machine), the best trial (null until one
completes) and the pictures.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any, Optional

from zoo.atomic import write_text
from zoo.run_folder import json_text
from zoo.sweep_space import Space
from zoo.sweep_study import Settings, direction_of

PICTURES = {"objective": "objective.png", "params": "params.png", "curves": "curves.png"}
_STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running", "WAITING": "waiting"}


def relative_runs(paths: list, folder: Path) -> list:
    """Run folder ``paths`` relative to the sweep ``folder`` when inside it, else as they are."""
    base = folder.resolve()
    shown = []
    for path in paths:
        try:
            shown.append(Path(path).relative_to(base).as_posix())
        except ValueError:
            shown.append(str(path))
    return shown


def trial_entry(trial: Any, folder: Path) -> dict:
    """One ``trials`` entry of sweep.json for the Optuna ``trial`` (a ``FrozenTrial``)."""
    attrs = trial.user_attrs
    state = _STATES.get(trial.state.name, trial.state.name.lower())
    seconds = attrs.get("seconds")
    if seconds is None and trial.datetime_start is not None and trial.datetime_complete is not None:
        seconds = round((trial.datetime_complete - trial.datetime_start).total_seconds(), 3)
    return {"number": trial.number, "state": state, "params": dict(trial.params),
            "value": trial.value if state == "complete" else None, "values": list(attrs.get("values") or []),
            "spread": attrs.get("spread"), "seconds": seconds,
            "runs": relative_runs(attrs.get("runs") or [], folder), "error": attrs.get("error"),
            "host": attrs.get("host")}


def best_entry(entries: list, direction: str) -> Optional[dict]:
    """The best complete trial of ``entries`` (sweep.json's ``best``); None before one completes."""
    done = [e for e in entries if e["state"] == "complete" and e["value"] is not None]
    if not done:
        return None
    best = (max if direction == "maximize" else min)(done, key=lambda e: e["value"])
    return {k: best[k] for k in ("number", "value", "params", "runs")}


def sweep_document(study: Any, settings: Settings, space: Space, folder: Path, storage: str) -> dict:
    """The whole of sweep.json for ``study`` as seen from the sweep ``folder``."""
    direction = direction_of(settings.objective)
    entries = [trial_entry(t, folder) for t in study.get_trials(deepcopy=False)]
    pictures = {k: v for k, v in PICTURES.items() if (folder / v).is_file()}
    return {"name": settings.recipe_name,
            "recipe": settings.recipe, "created": settings.created,
            "updated": _dt.datetime.now().isoformat(timespec="seconds"), "command": settings.command,
            "study": {"name": settings.name, "storage": storage, "sampler": settings.sampler,
                      "pruner": settings.pruner, "direction": direction},
            "objective": settings.objective, "space": space.describe(), "seeds": settings.seeds,
            "trials": entries, "best": best_entry(entries, direction), "pictures": pictures}


def write_sweep_json(study: Any, settings: Settings, space: Space, folder: Path, storage: str) -> dict:
    """Write ``folder/sweep.json`` atomically; returns what it wrote."""
    return write_document(sweep_document(study, settings, space, folder, storage), folder)


def write_document(document: dict, folder: Path) -> dict:
    """Write ``document`` (``sweep_document``'s) as ``folder/sweep.json``, atomically; returns it."""
    write_text(folder / "sweep.json", json_text(document))
    return document


def read_sweep_json(folder: Path) -> dict:
    """``folder/sweep.json`` as a dict. Raises ``zoo.UserError`` naming the folder when it is not
    a sweep folder or its sweep.json is not what zoo writes."""
    from zoo.errors import UserError

    path = folder / "sweep.json"
    if not path.is_file():
        raise UserError(f"{folder}: not a sweep folder (no sweep.json there)")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not readable as JSON: {exc}") from None
    study = document.get("study") if isinstance(document, dict) else None
    if not isinstance(study, dict) or not isinstance(study.get("name"), str) or not isinstance(study.get("storage"), str):
        raise UserError(f"{path}: not a sweep.json written by zoo sweep (no study name and storage)")
    return document


def stored_storage(folder: Path, document: dict) -> str:
    """The storage URL of the sweep in ``folder``: its own ``study.db`` when it has one (the folder
    may have moved since sweep.json was written), else what sweep.json names."""
    from zoo.sweep_study import default_storage

    if (folder / "study.db").is_file() and document["study"]["storage"].startswith("sqlite:"):
        return default_storage(folder)
    return document["study"]["storage"]

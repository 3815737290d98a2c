"""A sweep folder's ``report.html``, rendered from its sweep.json and pictures.

The page: the sweep's name, its best trial (value, parameters, a link to its run's page), the
study's facts (command, sampler, pruner, objective and direction, seeds, trials by state), the
trials sorted by the objective (best first; those without a value after, by number) with their
parameters, state, value ± spread, seconds and a link to each run's report.html, the search
space, and the pictures sweep.json names (objective, parameters, curves). sweep.json's layout
is fixed by the sweep command; any key it lacks is simply not shown.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

from zoo.errors import UserError
from zoo.html_page import Heading, Link, Paragraph, Picture, Table, cell_text, write_page
from zoo.report_page import PAGE

PICTURE_TITLES = (("objective", "Objective per trial"), ("params", "Parameters against the objective"),
                  ("curves", "Validation curves of every trial"))


def write_sweep_page(sweep_dir: Path) -> Path:
    """Write ``sweep_dir``/report.html from ``sweep_dir``/sweep.json; return its path. Raises
    ``zoo.UserError`` when sweep.json is missing or is not a JSON object."""
    sweep_dir = Path(sweep_dir)
    try:
        sweep = json.loads((sweep_dir / "sweep.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{sweep_dir / 'sweep.json'}: can't be read ({exc})") from None
    if not isinstance(sweep, dict):
        raise UserError(f"{sweep_dir / 'sweep.json'}: expected a JSON object")
    study = sweep.get("study") or {}
    direction = study.get("direction") or "minimize"
    objective = sweep.get("objective") or "valid_loss"
    trials = [t for t in sweep.get("trials") or [] if isinstance(t, dict)]
    params = list(dict.fromkeys([*(sweep.get("space") or {}), *(k for t in trials for k in t.get("params") or {})]))
    sections: list = [best_paragraph(sweep_dir, sweep.get("best"), objective)]
    sections += [Table((), facts(sweep, study, objective, direction, trials))]
    sections += [Heading(f"Trials, best {objective} first"),
                 Table(["trial", *params, "state", objective, "seconds", "runs", "error"],
                       [trial_row(sweep_dir, t, params) for t in sorted_trials(trials, direction)])]
    space = sweep.get("space") or {}
    if space:
        sections += [Heading("Search space", 3), Table(("key", "kind", "values or range"),
                                                       [(k, (v or {}).get("kind"), space_text(v or {})) for k, v in space.items()])]
    for key, title in PICTURE_TITLES:
        name = (sweep.get("pictures") or {}).get(key)
        if name and (sweep_dir / name).is_file():
            sections += [Heading(title), Picture(sweep_dir / name, name, width=1000)]
    return write_page(sweep_dir / PAGE, f"sweep {sweep.get('name') or sweep_dir.parent.name} \u00b7 {sweep_dir.name}",
                      sections)


def best_paragraph(sweep_dir: Path, best: Any, objective: str) -> Any:
    """The headline: the best trial's number, value and parameters, or that none has completed."""
    if not isinstance(best, dict):
        return Paragraph("no trial has completed yet", strong=True)
    values = ", ".join(f"{k}={cell_text(v)}" for k, v in (best.get("params") or {}).items())
    return Paragraph(f"best: trial {best.get('number')}, {objective} {cell_text(best.get('value'))}"
                     f"{' with ' + values if values else ''}", strong=True)


def facts(sweep: dict, study: dict, objective: str, direction: str, trials: list) -> list:
    """The facts table's rows of a sweep."""
    counts: dict = {}
    for trial in trials:
        counts[trial.get("state")] = counts.get(trial.get("state"), 0) + 1
    rows = [("command", sweep.get("command")), ("recipe", sweep.get("recipe")),
            ("objective", f"{objective} ({direction})"),
            ("sampler", study.get("sampler")), ("pruner", study.get("pruner") or "none"),
            ("seeds per setting", sweep.get("seeds")),
            ("trials", ", ".join(f"{n} {s}" for s, n in counts.items()) or "none yet"),
            ("created", sweep.get("created")), ("updated", sweep.get("updated")),
            ("study", study.get("name")), ("storage", study.get("storage"))]
    return [(k, v) for k, v in rows if v is not None]


def sorted_trials(trials: list, direction: str) -> list:
    """The trials best first by ``value`` (``direction``: minimize or maximize); those without a
    value after them, by number."""
    scored = [t for t in trials if isinstance(t.get("value"), (int, float))]
    others = [t for t in trials if not isinstance(t.get("value"), (int, float))]
    scored.sort(key=lambda t: t["value"], reverse=direction == "maximize")
    return scored + sorted(others, key=lambda t: t.get("number") if isinstance(t.get("number"), int) else 0)


def trial_row(sweep_dir: Path, trial: dict, params: list) -> list:
    """A trial's cells: number, each parameter, state, value ± spread, seconds, links to its
    runs' pages, error."""
    value, spread = trial.get("value"), trial.get("spread")
    shown = cell_text(value) if value is None or not isinstance(spread, (int, float)) else \
        f"{cell_text(value)} \u00b1 {cell_text(spread)}"
    links = [run_link(sweep_dir, run) for run in trial.get("runs") or [] if isinstance(run, str)]
    return [trial.get("number"), *((trial.get("params") or {}).get(p) for p in params), trial.get("state"),
            value if not isinstance(spread, (int, float)) else shown, trial.get("seconds"),
            links[0] if len(links) == 1 else (links or None),
            trial.get("error")]


def run_link(sweep_dir: Path, run: str) -> Any:
    """A link to the run's report.html, relative to the sweep page; the run's path as text
    when the page is not there (a run on another machine, or still going)."""
    folder = Path(run) if os.path.isabs(run) else sweep_dir / run
    if not (folder / PAGE).is_file():
        return run
    return Link(Path(run).name or run, Path(os.path.relpath(folder / PAGE, sweep_dir)).as_posix())


def space_text(space: dict) -> Optional[str]:
    """A parameter's space: its grid values, or ``low .. high``."""
    if "values" in space:
        return ", ".join(cell_text(v) for v in space["values"])
    if "low" in space or "high" in space:
        return f"{cell_text(space.get('low'))} .. {cell_text(space.get('high'))}"
    return None

"""The end-of-sweep table: the trials sorted by the objective, then the best trial's folder.

Complete trials come first, best first (lowest for a minimized objective, highest for a
maximized one), then pruned, running, waiting and failed ones by number. Each row: the trial's
number, state, objective (``mean ± spread`` with several seeds), its value for every swept key,
seconds, and the error of a failed trial or why a pruned one stopped.
"""

from __future__ import annotations

from pathlib import Path

from zoo.commands.table import render

_ORDER = {"complete": 0, "pruned": 1, "running": 2, "waiting": 3, "failed": 4}


def sorted_trials(document: dict) -> list:
    """sweep.json's trials in the table's order."""
    sign = -1 if document["study"]["direction"] == "maximize" else 1

    def order(t: dict) -> tuple:
        value = t["value"] if t["state"] == "complete" and t["value"] is not None else 0.0
        return (_ORDER.get(t["state"], 5), sign * value, t["number"])

    return sorted(document["trials"], key=order)


def objective_cell(trial: dict) -> str:
    """The objective as shown: ``0.0812``, ``0.0812 ± 0.0031`` with several seeds, ``-`` without one."""
    if trial["value"] is None:
        return "-"
    if trial.get("spread") is not None:
        return f"{trial['value']:.4g} ± {trial['spread']:.2g}"
    return f"{trial['value']:.4g}"


def param_cell(value: object) -> str:
    """A parameter's value, numbers short (``0.00123``, ``1.5e-05``)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def sweep_table(document: dict, folder: Path) -> str:
    """The table and, below it, the best trial and its run folder (or why there is none)."""
    keys = list(document["space"])
    headers = ["TRIAL", "STATE", document["objective"].upper()] + keys + ["SECONDS", "NOTE"]
    rows = []
    for t in sorted_trials(document):
        seconds = f"{t['seconds']:.1f}" if isinstance(t.get("seconds"), (int, float)) else "-"
        rows.append([str(t["number"]), t["state"], objective_cell(t)]
                    + [param_cell(t["params"][k]) if k in t["params"] else "-" for k in keys]
                    + [seconds, t.get("error") or ""])
    text = render(headers, rows)
    best = document.get("best")
    if best is None:
        return text + "\nno trial completed: there is no best trial"
    run = Path(best["runs"][0]) if best["runs"] else None
    where = (run if run.is_absolute() else folder / run) if run is not None else folder
    return text + f"\nbest: trial {best['number']} ({document['objective']} {best['value']:.6g}): {where}"

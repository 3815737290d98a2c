"""The sweep's three pictures, drawn from sweep.json's document and the trials' metrics.jsonl.

- ``objective.png``: the objective of each trial by trial number (complete trials as dots,
  pruned and failed ones marked at the bottom), with the best so far as a step line;
- ``params.png``: one panel per swept key, its value against the objective (a log axis for a
  ``loguniform`` key, the listed values in order for a list);
- ``curves.png``: the validation loss per epoch of every trial's first run, overlaid, the best
  trial's drawn thick.

matplotlib's Agg canvas, no pyplot; imported inside the functions, so importing this is cheap.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from zoo.atomic import atomic_write
from zoo.curve_plots import line_style
from zoo.metrics_file import as_number, read_metrics
from zoo.sweep_record import PICTURES

DPI = 100


def figure(width: float, height: float) -> Any:
    """A matplotlib Figure on an Agg canvas (``zoo.curve_plots.agg_figure``)."""
    from zoo.curve_plots import agg_figure

    return agg_figure(width, height, DPI)


def save(made: Any, path: Path) -> None:
    """Write the figure ``made`` as a PNG at ``path`` atomically."""
    with atomic_write(path, "wb") as f:
        made.savefig(f, format="png", dpi=DPI)
    made.clear()


def draw_objective(document: dict, path: Path) -> None:
    """``objective.png``: each trial's objective by number, and the best so far."""
    made = figure(7, 4)
    ax = made.add_subplot()
    trials = document["trials"]
    done = [t for t in trials if t["state"] == "complete" and t["value"] is not None]
    ax.scatter([t["number"] for t in done], [t["value"] for t in done], color="tab:blue", label="complete", zorder=3)
    if done:
        pick = max if document["study"]["direction"] == "maximize" else min
        best, xs, ys = None, [], []
        for t in sorted(done, key=lambda t: t["number"]):
            best = t["value"] if best is None else pick(best, t["value"])
            xs.append(t["number"])
            ys.append(best)
        ax.step(xs, ys, where="post", color="tab:orange", label="best so far")
        low = min(t["value"] for t in done)
        for state, marker, color in (("pruned", "v", "tab:gray"), ("failed", "x", "tab:red")):
            numbers = [t["number"] for t in trials if t["state"] == state]
            if numbers:
                ax.scatter(numbers, [low] * len(numbers), marker=marker, color=color, label=state, zorder=2)
    else:
        ax.text(0.5, 0.5, "no trial has completed yet", ha="center", va="center", transform=ax.transAxes)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # trial numbers, not 0.5 steps
    ax.set_xlabel("trial")
    ax.set_ylabel(document["objective"])
    ax.set_title(f"{document['name']}: {document['objective']} per trial ({document['study']['direction']})")
    if done:
        ax.legend(loc="best")
    ax.grid(alpha=0.3)
    save(made, path)


def draw_params(document: dict, path: Path) -> None:
    """``params.png``: each swept key's value against the objective, one panel per key."""
    space = document["space"] or {"(no swept key)": {"kind": "grid", "values": []}}
    made = figure(max(4.0, 3.6 * len(space)), 3.6)
    done = [t for t in document["trials"] if t["state"] == "complete" and t["value"] is not None]
    for i, (key, dim) in enumerate(space.items()):
        ax = made.add_subplot(1, len(space), i + 1)
        points = [(t["params"].get(key), t["value"]) for t in done if key in t["params"]]
        if dim["kind"] == "grid":
            labels = [v if isinstance(v, str) else json.dumps(v) for v in dim["values"]]
            positions = {label: n for n, label in enumerate(labels)}
            xs = [positions.get(p if isinstance(p, str) else json.dumps(p), math.nan) for p, _ in points]
            ax.set_xticks(range(len(labels)), labels, rotation=30 if len(labels) > 4 else 0)
            ax.set_xlim(-0.5, len(labels) - 0.5)  # every listed value, one with no completed trial too
        else:
            xs = [p for p, _ in points]
            if dim["kind"] == "loguniform":
                ax.set_xscale("log")
        ax.scatter(xs, [v for _, v in points], color="tab:blue")
        ax.set_xlabel(key)
        if i == 0:
            ax.set_ylabel(document["objective"])
        ax.grid(alpha=0.3)
    save(made, path)


def validation_curve(run_folder: Path) -> tuple:
    """``(epochs, validation losses)`` from a run folder's metrics.jsonl (``zoo.metrics_file``:
    rows with a finite ``valid_loss``, the last of an epoch's validation rounds); empty lists
    when there is none."""
    by_epoch: dict = {}
    for row in read_metrics(run_folder):
        loss, epoch = as_number(row.get("valid_loss")), as_number(row.get("epoch"))
        if loss is not None and epoch is not None and math.isfinite(loss):
            by_epoch[epoch] = loss
    epochs = sorted(by_epoch)
    return epochs, [by_epoch[e] for e in epochs]


def draw_curves(document: dict, folder: Path, path: Path) -> None:
    """``curves.png``: every trial's validation loss per epoch (its first run), overlaid."""
    made = figure(7, 4)
    ax = made.add_subplot()
    best = (document.get("best") or {}).get("number")
    drawn = 0
    for t in document["trials"]:
        if not t["runs"]:
            continue
        run = Path(t["runs"][0])
        epochs, losses = validation_curve(run if run.is_absolute() else folder / run)
        if not epochs:
            continue
        thick = t["number"] == best
        ax.plot(epochs, losses, **line_style(drawn), marker="o" if len(epochs) < 15 else None, linewidth=2.5 if thick else 1,
                alpha=1.0 if thick else 0.6, zorder=3 if thick else 2,
                label=f"trial {t['number']}{' (best)' if thick else ''}{' ' + t['state'] if t['state'] != 'complete' else ''}")
        drawn += 1
    if drawn == 0:
        ax.text(0.5, 0.5, "no validation loss recorded yet", ha="center", va="center", transform=ax.transAxes)
    elif drawn <= 12:
        ax.legend(loc="best", fontsize="small")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation loss")
    ax.set_title(f"{document['name']}: validation loss of every trial")
    ax.grid(alpha=0.3)
    save(made, path)


def draw_pictures(document: dict, folder: Path) -> dict:
    """Draw the three pictures into the sweep ``folder``; returns sweep.json's ``pictures``."""
    draw_objective(document, folder / PICTURES["objective"])
    draw_params(document, folder / PICTURES["params"])
    draw_curves(document, folder, folder / PICTURES["curves"])
    return dict(PICTURES)

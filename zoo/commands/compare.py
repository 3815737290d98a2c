"""``zoo compare RUN_OR_SWEEP... [--json] [--plot FILE] [--no-plot] [--force]``.

Two or more runs side by side: the recipe keys whose values differ between them (flattened to
dotted keys: ``optimizer.lr``; a key one recipe lacks shows as ``(unset)``), their figures (state,
epochs, best epoch and validation loss, test loss and accuracy, wall time), and their validation
losses overlaid in one picture. A sweep folder stands for its trials (its sweep.json's ``runs``).
The picture goes to ``--plot FILE`` (an existing file is replaced only with ``--force``), by
default to a new ``comparisons/<YYYYmmdd-HHMMSS>.png``; ``--no-plot`` draws none.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional, Sequence

from zoo.commands.runs import shown_path
from zoo.commands.table import render
from zoo.errors import UserError
from zoo.metrics_file import read_metrics, series
from zoo.run_record import duration_text
from zoo.runs_index import SWEEP_FILE, is_run_folder, summarize, sweep_trials

UNSET = "(unset)"


def compare_command(targets: Sequence[str], *, as_json: bool = False, plot: Optional[str] = None,
                    no_plot: bool = False, force: bool = False) -> int:
    """Compare the runs ``targets`` name (run folders, or sweep folders standing for their trials):
    print the tables (or, ``as_json``, one JSON object) and write the curves picture (see the
    module docstring). Raises ``zoo.UserError`` for a target that is neither, fewer than two
    runs, or a picture file that exists without ``force``."""
    folders = expand(targets)
    if len(folders) < 2:
        raise UserError(f"zoo compare needs at least two runs; got {len(folders)}"
                        f"{': ' + ' '.join(str(f) for f in folders) if folders else ''} (from {' '.join(targets)})")
    labels = short_labels(folders)
    summaries = [summarize(f) for f in folders]
    differences = recipe_differences([load_recipe_data(f) for f in folders])
    picture = None
    if not no_plot:
        picture = plot_path(plot, force)
        picture = write_curves(folders, labels, picture)
    if as_json:
        runs = [dict(s.as_json(), label=label) for s, label in zip(summaries, labels)]
        print(json.dumps({"runs": runs, "differences": differences,
                          "plot": str(picture) if picture else None}, indent=2))
        return 0
    for label, folder in zip(labels, folders):
        if label != shown_path(folder):
            print(f"{label}: {shown_path(folder)}")
    if differences:
        keys = list(differences)
        print(f"\nrecipe differences ({len(keys)} key{'' if len(keys) == 1 else 's'}):")
        print(render(["RUN", *keys], [[label, *(value_text(differences[k][i]) for k in keys)]
                                      for i, label in enumerate(labels)], flexible=0))
    else:
        print("\nthe recipes are the same")
    print("\nresults:")
    print(render(("RUN", "STATE", "EPOCHS", "BEST EPOCH", "VALID LOSS", "TEST LOSS", "TEST ACC", "TIME"),
                 [metrics_row(label, s) for label, s in zip(labels, summaries)], flexible=0))
    if picture is not None:
        print(f"\nvalidation curves: {picture}")
    elif not no_plot:
        print("\nno validation curves to draw (no valid_loss in the runs' metrics.jsonl)")
    return 0


def expand(targets: Sequence[str]) -> list:
    """The run folders ``targets`` name, each once, in order: a run folder itself, a sweep folder
    its trials. Raises ``zoo.UserError`` for a path that is neither."""
    folders: dict = {}
    for target in targets:
        path = Path(target)
        if not path.exists():
            raise UserError(f"{target}: no such folder")
        if is_run_folder(path):
            found = [path]
        elif (path / SWEEP_FILE).is_file():
            found = [t for t in sweep_trials(path) if is_run_folder(t)]
        else:
            raise UserError(f"{target}: not a run folder (no recipe.yaml with run.json, report.json or "
                            f"metrics.jsonl) nor a sweep folder (no sweep.json)")
        for folder in found:
            folders.setdefault(os.path.realpath(folder), folder)
    return list(folders.values())


def short_labels(folders: Sequence[Path]) -> list:
    """The shortest tails of the folders' paths that tell them apart (``0003``, ``trials/0003``,
    ``quickstart/20261130-100000``)."""
    parts = [Path(os.path.abspath(f)).parts for f in folders]
    for depth in range(1, max(len(p) for p in parts) + 1):
        labels = ["/".join(p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels):
            return labels
    return [str(f) for f in folders]


def load_recipe_data(folder: Path) -> dict:
    """The resolved recipe of the run in ``folder`` as a dict ({} when unreadable)."""
    import yaml

    try:
        data = yaml.safe_load((Path(folder) / "recipe.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def flatten(data: dict, prefix: str = "") -> dict:
    """``{"optimizer": {"lr": 0.1}}`` as ``{"optimizer.lr": 0.1}`` (lists stay values)."""
    flat: dict = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def recipe_differences(recipes: Sequence[dict]) -> dict:
    """``{dotted key: [value in each recipe, UNSET where it has none]}`` for the keys whose values
    are not all the same, in the order the keys first appear."""
    flat = [flatten(r) for r in recipes]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    differences = {}
    for key in keys:
        values = [f.get(key, UNSET) for f in flat]
        if any(json.dumps(v, sort_keys=True, default=str) != json.dumps(values[0], sort_keys=True, default=str)
               for v in values):
            differences[key] = values
    return differences


def value_text(value: Any) -> str:
    """A recipe value for the table: strings as written, the rest as JSON (``[hflip]`` as ``["hflip"]``)."""
    return value if isinstance(value, str) else json.dumps(value)


def metrics_row(label: str, summary: Any) -> list:
    """The results table's cells for one run (a ``zoo.runs_index.RunSummary``)."""
    def number(value: Optional[float], form: str) -> str:
        return "-" if value is None else format(value, form)

    return [label, summary.state, number(summary.epochs, "d"), number(summary.best_epoch, "d"),
            number(summary.valid_loss, ".4f"), number(summary.test_loss, ".4f"), number(summary.test_accuracy, ".2%"),
            "-" if summary.seconds is None else duration_text(summary.seconds)]


def plot_path(plot: Optional[str], force: bool) -> Path:
    """Where the picture goes: ``plot`` (refused when it exists, unless ``force``; it must end in
    .png), else a new ``comparisons/<YYYYmmdd-HHMMSS>.png``."""
    from zoo.run_folder import timestamped

    if plot is None:
        return timestamped(Path("comparisons"), ".png")
    path = Path(plot)
    if path.suffix.lower() != ".png":
        raise UserError(f"--plot {plot}: the picture is a PNG file; give a name ending in .png")
    if path.is_dir():
        raise UserError(f"--plot {plot}: is a folder; give a file name ending in .png")
    if path.exists() and not force:
        raise UserError(f"--plot {plot}: the file exists; choose another name, or replace it with --force")
    return path


def write_curves(folders: Sequence[Path], labels: Sequence[str], path: Path) -> Optional[Path]:
    """Draw the runs' validation losses, overlaid, into the PNG ``path`` (written atomically);
    return ``path``, or None when no run has a validation loss."""
    from zoo.atomic import atomic_write
    from zoo.curve_plots import Panel, panels_png

    lines, axis = [], "epoch"
    for label, folder in zip(labels, folders):
        xs, ys, axis_here = series(read_metrics(folder), "valid_loss")
        if xs:
            lines.append((label, xs, ys))
            axis = axis_here
    if not lines:
        return None
    picture = panels_png([Panel("validation loss", "loss", axis, lines, log=True)], panel_width=8, height=4.5)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "wb") as f:
            f.write(picture)
    except OSError as exc:  # a file where the folder belongs, a read-only folder, a full disk
        raise UserError(f"cannot write the picture {path}: {exc.strerror or exc} (choose another with --plot FILE, "
                        f"or --no-plot)") from None
    return path

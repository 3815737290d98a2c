"""``zoo eval RUN_DIR [KEY=VALUE ...] [--json]`` and ``zoo predict RUN_DIR IMAGE... [--top-k K] [--json]``.

Both reopen a finished run folder: its ``recipe.yaml`` (with overrides), the task it names
built through the registries as ``zoo run`` builds it, and its ``checkpoints/best.pt``. The
task does the work through two methods, ``evaluate(run) -> report`` and
``predict(run, paths, top_k) -> [{"path", "top": [{"class", "probability"}]}]``; a task
without them is refused.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any, Sequence

from zoo.errors import UserError


def open_run(folder: Path, overrides: Sequence[str] = (), *, quiet: bool = False) -> tuple:
    """``(run, task, task name)`` for the finished run in ``folder``, its recipe with ``overrides`` applied.

    The ``run`` (a ``zoo.run.Run``) has ``directory=folder``; no lifecycle hook is called, so
    nothing is logged to the run's metrics. Raises ``zoo.UserError`` for a folder that is not a
    run folder or has no ``checkpoints/best.pt``, and for an invalid recipe or override.
    """
    from zoo.recipe import load_recipe
    from zoo.run import prepare, seed_everything

    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"run folder not found: {folder}")
    if not (folder / "recipe.yaml").is_file():
        raise UserError(f"{folder}: not a run folder (no recipe.yaml there)")
    best = folder / "checkpoints" / "best.pt"
    if not best.is_file():
        raise UserError(f"{folder}: no checkpoints/best.pt (a run saves it at the end of its first epoch)")
    run, task = prepare(load_recipe(folder / "recipe.yaml", overrides), directory=folder, quiet=quiet)
    seed_everything(run.seed)
    return run, task, run.task_name


def task_method(task: Any, task_name: str, method: str, doing: str) -> Any:
    """The task's ``method``, or a ``zoo.UserError`` saying the task cannot do ``doing``."""
    found = getattr(task, method, None)
    if not callable(found):
        raise UserError(f"task {task_name!r} cannot {doing} (it has no {method} method)")
    return found


def evaluation_path(folder: Path) -> Path:
    """``folder/evaluations/<YYYYmmdd-HHMMSS>.json``, with ``-2``, ``-3``... if that file exists."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = folder / "evaluations" / f"{stamp}.json"
    n = 2
    while path.exists():
        path = folder / "evaluations" / f"{stamp}-{n}.json"
        n += 1
    return path


def eval_command(run_dir: str, overrides: Sequence[str], *, as_json: bool = False) -> int:
    """Test a run's best checkpoint again; write ``RUN_DIR/evaluations/<timestamp>.json``; print it with --json."""
    from zoo.atomic import write_text

    folder = Path(run_dir)
    overrides = list(overrides)
    run, task, name = open_run(folder, overrides, quiet=as_json)
    evaluate = task_method(task, name, "evaluate", "evaluate a run")
    report = dict(evaluate(run), overrides=overrides)
    path = evaluation_path(folder)
    text = json.dumps(report, indent=2, default=_plain)
    write_text(path, text + "\n")
    if as_json:
        print(text)
    else:
        print(f"evaluation written to {path}")
    return 0


def predict_command(run_dir: str, images: Sequence[str], *, top_k: int = 3, as_json: bool = False) -> int:
    """Print the ``top_k`` most probable classes of each image file (a JSON array with --json)."""
    if top_k < 1:
        raise UserError(f"--top-k: expected at least 1, got {top_k}")
    for image in images:
        if not Path(image).is_file():
            raise UserError(f"image not found: {image}")
    run, task, name = open_run(Path(run_dir), quiet=True)
    predict = task_method(task, name, "predict", "predict")
    results = predict(run, [Path(p) for p in images], top_k)
    if as_json:
        print(json.dumps(results, indent=2, default=_plain))
        return 0
    for result in results:
        ranked = ", ".join(f"{item['class']} ({item['probability']:.1%})" for item in result["top"])
        print(f"{result['path']}: {ranked}")
    return 0


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")

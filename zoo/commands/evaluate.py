"""``zoo eval RUN_DIR [KEY=VALUE ...] [--json]`` and ``zoo predict RUN_DIR IMAGE... [--top-k K] [--json]``.

Both reopen a finished run folder: its ``recipe.yaml`` (with overrides), the task it names
built through the registries as ``zoo run`` builds it, and the checkpoint the task declares as
its best (``zoo.task.Checkpoints.best``, ``checkpoints/best.pt`` by default). The task does the
work through two methods, ``evaluate(run) -> report`` and
``predict(run, paths, top_k) -> [{"path", "top": [{"class", "probability"}]}]``; a task
without them, or without a best checkpoint, is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from zoo.errors import UserError


def open_run(folder: Path, method: str, doing: str, overrides: Sequence[str] = (), *, quiet: bool = False) -> tuple:
    """``(run, the task's method)`` for the finished run in ``folder``, its recipe with ``overrides`` applied.

    ``method`` is the task method wanted (``evaluate``, ``predict``), ``doing`` what it does, for
    messages. The ``run`` (a ``zoo.task.Run``) has ``directory=folder``; no lifecycle hook is
    called, so nothing is logged to the run's metrics. Raises ``zoo.UserError`` for a folder that
    is not a run folder, a task without ``method`` or whose best checkpoint is not there, and for
    an invalid recipe or override.
    """
    from zoo.recipe import load_recipe
    from zoo.run import prepare, seed_everything

    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"run folder not found: {folder}")
    if not (folder / "recipe.yaml").is_file():
        raise UserError(f"{folder}: not a run folder (no recipe.yaml there)")
    run, _ = prepare(load_recipe(folder / "recipe.yaml", overrides), directory=folder, quiet=quiet)
    found = run.traits.method(method, doing)
    run.traits.checkpoint("best", folder, method)
    seed_everything(run.seed)
    return run, found


def eval_command(run_dir: str, overrides: Sequence[str], *, as_json: bool = False) -> int:
    """Test a run's best checkpoint again; write ``RUN_DIR/evaluations/<timestamp>.json``; print it with --json."""
    from zoo.atomic import write_text
    from zoo.run_folder import evaluation_path, json_text

    folder = Path(run_dir)
    overrides = list(overrides)
    run, evaluate = open_run(folder, "evaluate", "evaluate a run", overrides, quiet=as_json)
    report = dict(evaluate(run), overrides=overrides)
    path = evaluation_path(folder)
    text = json_text(report)
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
    run, predict = open_run(Path(run_dir), "predict", "predict", quiet=True)
    results = predict(run, [Path(p) for p in images], top_k)
    if as_json:
        from zoo.run_folder import json_text

        print(json_text(results))
        return 0
    for result in results:
        ranked = ", ".join(f"{item['class']} ({item['probability']:.1%})" for item in result["top"])
        print(f"{result['path']}: {ranked}")
    return 0


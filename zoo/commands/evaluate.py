"""``zoo eval RUN_DIR [KEY=VALUE ...] [--json]`` and
``zoo predict RUN_DIR|MODEL_FILE IMAGE_OR_FOLDER... [--top-k K] [--batch-size N] [--on-error skip|stop] [--json|--csv]``.

Both can reopen a finished run folder: its ``recipe.yaml`` (with overrides), the task it names
built through the registries as ``zoo run`` builds it, and the checkpoint the task declares as
its best (``zoo.task.Checkpoints.best``, ``checkpoints/best.pt`` by default). ``zoo eval`` calls
the task's ``evaluate(run) -> report``. ``zoo predict`` takes the task's ``best_model(run)`` (the
model and its card: no data needed) and reads the images as the card says (``zoo.predictor``);
a task without ``best_model`` predicts its own way, ``predict(run, paths, top_k)``. Given a file
written by ``zoo export`` instead of a run folder, ``zoo predict`` runs it with its format's
runtime (``zoo.model_files``): with an ONNX file, onnxruntime, and torch is never imported.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional, Sequence

from zoo.errors import UserError


def open_run(folder: Path, method: str, doing: str, overrides: Sequence[str] = (), *, quiet: bool = False,
             fallback: Optional[str] = None, verb: Optional[str] = None, from_card: Optional[str] = None,
             lacking: Optional[str] = None) -> tuple:
    """``(run, the task's method)`` for the finished run in ``folder``, its recipe with ``overrides`` applied.

    ``method`` is the task method wanted (``evaluate``, ``best_model``), ``fallback`` the one
    taken when the task lacks it, ``doing`` what it does and ``verb`` (default ``method``) its
    verb, for messages; ``lacking``, what the error says after ``task NAME`` when the task has
    neither (default: that it cannot do ``doing``). The ``run`` (a ``zoo.task.Run``) has
    ``directory=folder``; no lifecycle hook is called, so nothing is logged to the run's metrics.
    Raises ``zoo.UserError`` for a folder that is not a run folder, a task without ``method`` or
    whose best checkpoint is not there, and for an invalid recipe or override.

    ``from_card`` ("predict" or "export"): the best model is used from the card in its checkpoint,
    so when there is one (and, to predict, it has preprocessing) only the recipe's task section is
    checked: the data's plugin need not be installed. A ``task.device`` not available here is
    replaced by the CPU (said in one warning line to predict; export always runs on the CPU).
    """
    from zoo.devices import device_available
    from zoo.model_card import checkpoint_card
    from zoo.recipe import load_recipe
    from zoo.run import prepare, seed_everything

    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"run folder not found: {folder}")
    if not (folder / "recipe.yaml").is_file():
        raise UserError(f"{folder}: not a run folder (no recipe.yaml there)")
    recipe = load_recipe(folder / "recipe.yaml", overrides)
    if from_card is None:
        run, _ = prepare(recipe, directory=folder, quiet=quiet)
    else:
        if not device_available(recipe.section("task").get("device")):
            if from_card == "predict":
                print(f"zoo: warning: {folder / 'recipe.yaml'}: task.device {recipe.section('task')['device']!r} "
                      f"is not available here; predicting on the CPU", file=sys.stderr)
            recipe = load_recipe(folder / "recipe.yaml", [*overrides, "task.device=cpu"])
        run, _ = prepare(recipe, directory=folder, quiet=quiet, only=())
        best = run.traits.checkpoints.best if run.traits.checkpoints is not None else None
        card = checkpoint_card(folder / best) if best is not None and (folder / best).is_file() else None
        if (card is None or not run.traits.has_method("best_model")
                or (from_card == "predict" and card["preprocessing"] is None)):
            run, _ = prepare(recipe, directory=folder, quiet=quiet)  # the run's data is needed
    if fallback is not None and not run.traits.has_method(method):
        method = fallback
    if lacking is not None and not run.traits.has_method(method):
        raise UserError(f"task {run.traits.name!r} {lacking}")
    found = run.traits.method(method, doing)
    run.traits.checkpoint("best", folder, verb or method)
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


def predict_command(target: str, images: Sequence[str], *, top_k: int = 3, output: str = "text",
                    batch_size: int = 64, on_error: str = "skip") -> int:
    """Print the ``top_k`` most probable classes of each image (``output``: ``text``, ``json``
    or ``csv``). ``target`` is a run folder or a file written by ``zoo export``; ``images`` are
    files, folders (searched recursively, hidden files left out) or globs, read ``batch_size``
    at a time. ``on_error``: ``skip`` leaves out a file that is not a readable image with a
    warning line each, prints the rest and fails (``RunFailure``, exit 1) at the end; ``stop``
    stops at the first (``zoo.UserError``, nothing printed)."""
    from zoo.errors import RunFailure
    from zoo.image_files import collect_images

    if top_k < 1:
        raise UserError(f"--top-k: expected at least 1, got {top_k}")
    if batch_size < 1:
        raise UserError(f"--batch-size: expected at least 1, got {batch_size}")
    if on_error not in ("skip", "stop"):
        raise UserError(f"--on-error: expected skip or stop, got {on_error!r}")
    paths = collect_images(images)
    skipped: Optional[list] = [] if on_error == "skip" else None
    location = Path(target)
    if location.is_dir():
        results = predict_with_run(location, paths, top_k, batch_size, skipped)
    elif location.is_file():
        from zoo.model_files import open_model_file
        from zoo.predictor import predict

        loaded = open_model_file(location, registries=_registries)
        results = predict(paths, loaded.card, loaded.scores, top_k, batch_size=batch_size, where=str(location),
                          skipped=skipped)
    else:
        raise UserError(f"no run folder or model file at {target}")
    for problem in skipped or ():
        print(f"zoo: warning: {problem}; skipped", file=sys.stderr)
    if output == "json":
        from zoo.run_folder import json_text

        print(json_text(results))
    elif output == "csv":
        from zoo.predictor import as_csv

        print(as_csv(results))
    elif results:
        from zoo.predictor import as_text

        print(as_text(results))
    if skipped:
        sys.stdout.flush()
        raise RunFailure(f"{len(skipped)} of {len(paths)} images could not be read (skipped: see the warnings above)")
    return 0


def predict_with_run(folder: Path, paths: Sequence[Path], top_k: int, batch_size: int,
                     skipped: Optional[list] = None) -> list:
    """Predict with the best model of the run in ``folder``: built from its card
    (``Task.best_model``) and run eagerly on the run's device; a task without ``best_model``
    predicts its own way (``Task.predict``, which reads every file itself). ``skipped``: as
    ``zoo.predictor.predict`` takes it."""
    from zoo.card_models import torch_scores
    from zoo.predictor import predict

    run, method = open_run(folder, "best_model", "predict", quiet=True, fallback="predict", verb="predict",
                           from_card="predict")
    if not run.traits.has_method("best_model"):
        return method(run, list(paths), top_k)
    best = method(run)
    where = str(folder / run.traits.checkpoints.best)
    return predict(paths, best.card, torch_scores(best.module, run.device), top_k, batch_size=batch_size, where=where,
                   preparation=best.preparation, skipped=skipped)


def _registries():
    from zoo.plugins import get_manager

    return get_manager(quiet=True).registries

"""``zoo export RUN_DIR --format onnx|exported|torchscript|safetensors [--output PATH] [--force]``.

The run's best model and its card come from the task (``Task.best_model``: no data needed);
``zoo.exporting`` writes the file, loads it back with its format's runtime and compares its
scores with the eager model's on the run's test images before the file takes its place.
Without ``--output`` the file is ``RUN_DIR/exported/<model.onnx, model.pt2, model.ts.pt or
model.safetensors>``; an existing file is replaced only with ``--force``. An ``--output`` name
``zoo predict`` would not read as the format (``zoo.model_files.check_suffix``) is refused
before any work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from zoo.errors import UserError

#: Why a run of a task without ``best_model`` has nothing to export, after "task NAME".
NO_MODEL = ("trains no model to export: zoo export writes a run's best classifier, and this task's result is "
            "not one (a style-transfer run's is its picture; see 'Export a model' in the README)")


def export_command(run_dir: str, fmt: str, *, output: Optional[str] = None, force: bool = False) -> int:
    """Export the best model of the run in ``run_dir`` as ``fmt``; print the check and the path."""
    from zoo.commands.evaluate import open_run
    from zoo.export_formats import FORMATS
    from zoo.exporting import export_checked
    from zoo.model_files import check_suffix

    if fmt not in FORMATS:
        raise UserError(f"--format: unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    folder = Path(run_dir)
    path = Path(output) if output is not None else folder / "exported" / FORMATS[fmt].file_name
    if path.is_dir():
        raise UserError(f"--output {path}: a folder; give the path of the file to write")
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise UserError(f"--output {path}: {blocking} is a file, not a folder to write in")
    check_suffix(path, fmt, "--output")
    if path.exists() and not force:
        raise UserError(f"{path} exists; pass --force to replace it")
    run, best_model = open_run(folder, "best_model", "export a model", quiet=True, verb="export", from_card="export",
                               lacking=NO_MODEL)
    best = best_model(run)
    check = export_checked(fmt, best, path, registries=lambda: run.registries)
    print(f"checked against the eager model on {check.images} test images: largest difference "
          f"{check.largest:.2e} (tolerance {check.tolerance:.0e})")
    print(f"written {path}")
    return 0

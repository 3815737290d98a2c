"""What ``zoo.run`` writes in a run folder around the task: run.json when the run starts (or
resumes) and when it ends (``zoo.run_record``), and report.html at the end (``zoo.report_page``).

Neither may cost the user the run: a page that can't be written is a warning line, and the
error that ended a run is the one the user sees, whatever happens while it is recorded.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import Any, Optional

from zoo._version import __version__
from zoo.recipe_bases import display_path
from zoo.run_record import end_record, error_line, start_record, state_of_exception


def record_start(run: Any, folder: Path, *, resumed: bool) -> dict:
    """Write run.json (state ``running``) for ``run`` (a ``zoo.task.Run``) in ``folder``; return the record."""
    import torch

    recipe = run.recipe
    return start_record(folder, name=run.name, recipe=display_path(recipe.path) if recipe.path is not None else None,
                        overrides=list(recipe.overrides), device=str(run.device), resumed=resumed,
                        versions={"zoo": __version__, "python": platform.python_version(), "torch": torch.__version__})


def record_end(run: Any, folder: Path, record: dict, *, report: Optional[dict] = None,
               error: Optional[BaseException] = None) -> None:
    """Write run.json for ``run`` ended with ``report`` (finished) or stopped by ``error``, then
    its report.html (except after Ctrl-C or SIGTERM: the user is waiting for the prompt; the
    page is written when the resumed run ends). Never raises: a failure is a warning line. The
    task's headline is taken quietly: ``zoo run`` prints it, or its warning, once."""
    state = "finished" if error is None else state_of_exception(error)
    try:
        end_record(folder, record, state, error=error_line(error) if error is not None else None,
                   headline=run.traits.headline(report, quiet=True) if report else None)
        if state != "interrupted":
            from zoo.report_page import write_run_page

            write_run_page(folder, run.traits, report if report is not None else {})
    except Exception as exc:
        print(f"zoo: warning: {folder}: could not write run.json or report.html: {type(exc).__name__}: {exc}",
              file=sys.stderr)

"""The run folder on disk: its name, its creation, and the JSON files zoo writes in it.

A run lives in ``runs/<name>/<YYYYmmdd-HHMMSS>/`` (or ``--output DIR``): ``recipe.yaml`` (the
resolved recipe), ``report.json`` (what the task returned), the task's checkpoints and
pictures, and ``evaluations/<YYYYmmdd-HHMMSS>.json`` for each ``zoo eval``. The ``<name>`` is one
folder name, or a namespaced one (``acme/quick``): never a path that leads out of ``runs/``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from pathlib import Path
from typing import Any, Optional

from zoo.errors import UserError


def timestamped(parent: Path, suffix: str = "") -> Path:
    """``parent/<YYYYmmdd-HHMMSS><suffix>``, with ``-2``, ``-3``... before ``suffix`` if that path exists."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = parent / f"{stamp}{suffix}"
    n = 2
    while path.exists():
        path = parent / f"{stamp}-{n}{suffix}"
        n += 1
    return path


def unsafe_run_name(name: str) -> Optional[str]:
    """Why ``name`` can't name a run folder under ``runs/`` (it is a path, not a name); None when it can.

    A run name is one folder name, or several joined by '/' (``acme/quick``); none of them empty,
    ``.`` or ``..``, and no backslash or NUL anywhere.
    """
    if not name:
        return "it is empty"
    if "\\" in name or "\0" in name or (os.altsep and os.altsep in name):
        return "it holds a backslash or a NUL character"
    if name.startswith("/"):
        return "it is an absolute path"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "'.', '..' and empty parts would make it a path, not a folder name"
    return None


def new_run_directory(base: Path, name: str) -> Path:
    """``base/<name>/<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3``... if that folder exists.

    Raises ``zoo.UserError`` for a ``name`` that is a path rather than a name (``unsafe_run_name``).
    """
    why = unsafe_run_name(name)
    if why is not None:
        raise UserError(f"the run name {name!r} can't name a folder under {base}/: {why}; "
                        f"give the recipe a name: (e.g. name: my_run)")
    return timestamped(base / name)


def evaluation_path(folder: Path) -> Path:
    """``folder/evaluations/<YYYYmmdd-HHMMSS>.json``, with ``-2``, ``-3``... if that file exists."""
    return timestamped(folder / "evaluations", ".json")


def make_directory(folder: Path) -> Path:
    """Create a run folder; an existing non-empty one is refused (it may hold someone's run)."""
    if folder.is_dir() and any(folder.iterdir()):
        raise UserError(f"--output {folder}: the folder exists and is not empty; "
                        f"choose another, or continue it with --resume {folder}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".zoo-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write the run folder {folder}: {exc.strerror or exc}") from None
    return folder


def json_text(value: Any) -> str:
    """``value`` (a report) as indented JSON that any reader accepts: paths become strings, tensors
    and arrays numbers or lists, and a NaN or infinite float the string ``"nan"``, ``"inf"`` or
    ``"-inf"`` (JSON has no such numbers; Python's ``NaN`` token is not JSON)."""
    return json.dumps(_plain(value), indent=2, allow_nan=False)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return _plain(value.item())
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")

"""Checkpoints: written atomically, read without unpickling code.

A checkpoint is a dict of tensors and plain values (numbers, strings, lists, dicts) saved with
``torch.save``. Writing goes to a temporary file in the same folder, which is flushed, fsynced
and renamed over the old file, then the folder is fsynced: a kill at any moment leaves the old
checkpoint or the new one, never a torn one. Reading uses ``torch.load(weights_only=True)``, so a
checkpoint file can never run code, whatever it holds.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

from zoo.atomic import atomic_write
from zoo.errors import UserError


def save_atomic(state: dict, path: os.PathLike) -> Path:
    """Write ``state`` to ``path`` atomically (see module docstring). Returns the path.

    OSError (disk full, permission) propagates after the temporary file is removed: the
    previous checkpoint at ``path`` is left untouched.
    """
    import torch

    with atomic_write(path, "wb") as f:
        torch.save(state, f)
    return Path(path)


def load(path: os.PathLike, map_location: Any = "cpu") -> dict:
    """Read a checkpoint with ``weights_only=True``; a missing, truncated or unsafe file is a UserError."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsupported content"
        raise UserError(f"refusing to load {path}: it holds more than tensors and plain values "
                        f"(loading it could run code): {first}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as exc:
        first = " ".join(str(exc).split())[:200]
        raise UserError(f"cannot read checkpoint {path}: truncated or not a PyTorch file ({first})") from None
    if not isinstance(state, dict):
        raise UserError(f"cannot use checkpoint {path}: expected a dict, found {type(state).__name__}")
    return state

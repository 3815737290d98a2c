"""Checkpoints: written atomically, read without unpickling code.

A checkpoint is a dict of tensors and plain values (numbers, strings, lists, dicts) saved with
``torch.save``. Writing goes to a temporary file in the same folder, which is flushed, fsynced
and renamed over the old file, then the folder is fsynced: a kill at any moment leaves the old
checkpoint or the new one, never a torn one. Reading uses ``torch.load(weights_only=True)``, so a
checkpoint file can never run code, whatever it holds.
"""

from __future__ import annotations

import errno
import glob
import os
import pickle
from pathlib import Path
from typing import Any, Optional

from zoo.atomic import atomic_write
from zoo.errors import UserError
from zoo.task import Checkpoints


def save_atomic(state: dict, path: os.PathLike, card: Optional[dict] = None) -> Path:
    """Write ``state`` to ``path`` atomically (see module docstring). Returns the path.

    ``card``: a model card (``zoo.model_card``) recorded in the file's zip archive beside
    torch's records, where ``zoo.model_card.checkpoint_card`` reads it without unpickling.

    OSError (disk full, permission) propagates after the temporary file is removed: the
    previous checkpoint at ``path`` is left untouched. Temporary files of ``path`` left behind
    by a writer that was killed (``kill -9`` cannot clean up) are removed after a good write.
    """
    import torch

    path = Path(path)
    with atomic_write(path, "wb") as f:
        if card is None:
            torch.save(state, f)
        else:
            import io

            from zoo.model_card import add_to_zip

            buffer = io.BytesIO()
            torch.save(state, buffer)
            add_to_zip(buffer, card)
            f.write(buffer.getvalue())
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            stale.unlink()
        except OSError:
            pass
    return path


def load(path: os.PathLike, map_location: Any = "cpu") -> dict:
    """Read a checkpoint with ``weights_only=True``; a missing, truncated or unsafe file is a UserError."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    unknown = not_a_torch_file(path)
    if unknown:
        raise UserError(f"cannot read checkpoint {path}: it is not a PyTorch checkpoint ({unknown})")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        from zoo.weights import refusal_reason

        raise UserError(f"refusing to load {path}: it holds more than tensors and plain values "
                        f"(loading it could run code): {refusal_reason(exc)}") from None
    except Exception as exc:  # a torn zip, a pickle cut short: torch's own words, on one line
        first = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise UserError(f"cannot read checkpoint {path}: truncated or not a PyTorch file ({first})") from None
    if not isinstance(state, dict):
        raise UserError(f"cannot use checkpoint {path}: expected a dict, found {type(state).__name__}")
    return state


# torch.save writes a zip archive; before torch 1.6 it wrote pickles that begin with this number
ZIP_SIGNATURE = b"PK\x03\x04"
LEGACY_MAGIC = b"l\xfc\x9cF\xf9 j\xa8P\x19"  # torch.serialization.MAGIC_NUMBER as a pickled long


def not_a_torch_file(path: os.PathLike) -> str:
    """Why the file at ``path`` cannot be something ``torch.save`` wrote ("it is empty", "it
    begins with ..."), judged from its first bytes; "" when it may be one.

    A file of random bytes or text is told apart from a real checkpoint that holds objects
    other than tensors, which ``torch.load(weights_only=True)`` refuses.
    """
    with open(path, "rb") as f:
        head = f.read(32)
    if head.startswith(ZIP_SIGNATURE) or (head.startswith(b"\x80") and LEGACY_MAGIC in head):
        return ""
    if not head:
        return "it is empty"
    return f"torch.save writes a zip archive; this file begins with bytes {head[:8].hex(' ')}"


def mismatch(model_state: dict, saved_state: dict, limit: int = 4) -> str:
    """How a saved state dict differs from a model's, in a few words for a one-line error.

    ``model_state`` is ``model.state_dict()``, ``saved_state`` the checkpoint's. Names keys the
    file lacks, keys the model lacks and shapes that differ (``fc1.weight (32, 64) in the file,
    (8, 64) in the model``), at most ``limit`` of each.
    """
    def listing(items: list) -> str:
        return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")

    parts = []
    missing = [k for k in model_state if k not in saved_state]
    extra = [k for k in saved_state if k not in model_state]
    shapes = [f"{k} {tuple(saved_state[k].shape)} in the file, {tuple(v.shape)} in the model"
              for k, v in model_state.items()
              if k in saved_state and hasattr(saved_state[k], "shape") and tuple(saved_state[k].shape) != tuple(v.shape)]
    if shapes:
        parts.append(f"shapes differ: {listing(shapes)}")
    if missing:
        parts.append(f"missing from the file: {listing(missing)}")
    if extra:
        parts.append(f"not in the model: {listing(extra)}")
    return "; ".join(parts) or "the states differ"


def saved_progress(path: os.PathLike, key: str = "epoch") -> Optional[int]:
    """The count under ``key`` (``epoch``, or the unit a task declares in its ``Checkpoints.progress``)
    recorded in the checkpoint at ``path``, or None (no file, unreadable, no such int).

    The file is memory-mapped, so only the few bytes holding the number are read.
    """
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:
        return None
    count = state.get(key) if isinstance(state, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def resume_progress(folder: Optional[os.PathLike], declared: Optional[Checkpoints]) -> Optional[int]:
    """How many units (epochs, steps...) the resume checkpoint in the run ``folder`` records, by
    the task's ``declared`` checkpoints; None when there is no folder, no such checkpoint or no count."""
    if folder is None or declared is None or declared.resume is None:
        return None
    return saved_progress(Path(folder) / declared.resume, declared.progress)


_ADVICE = {
    errno.ENOSPC: "free some space", errno.EDQUOT: "free some space (disk quota exceeded)",
    errno.EACCES: "make the folder writable", errno.EPERM: "make the folder writable",
    errno.EROFS: "make the folder writable (it is on a read-only file system)",
}


def write_failure(path: os.PathLike, exc: OSError, run_dir: Optional[os.PathLike],
                  declared: Optional[Checkpoints]) -> str:
    """One line for a checkpoint that could not be written: what failed, what is still on disk, what to do.

    ``path`` is the checkpoint being written, ``run_dir`` the run folder and ``declared`` the
    task's ``Checkpoints`` (to say how far a resume would start from, and how to resume).
    """
    path = Path(path)
    reason = f"[Errno {exc.errno}] {exc.strerror}" if exc.errno and exc.strerror else str(exc)
    message = f"cannot write {path}: {reason}"
    if path.is_file():
        message += f"; the previous {path.name} is intact"
    done = resume_progress(run_dir, declared)
    advice = _ADVICE.get(exc.errno, "fix the problem")
    if done is not None:
        message += f"; {advice}, then continue after {declared.unit} {done} with: zoo run --resume {run_dir}"
    else:
        message += f"; {advice}, then run the recipe again"
    return message

"""Atomic file writes: readers see the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator, Optional


@contextmanager
def atomic_write(path: os.PathLike, mode: str = "w", encoding: Optional[str] = None) -> Iterator[IO]:
    """Yield a file to write; on success it replaces ``path`` atomically.

    The data goes to a temporary file in the same folder, which is flushed, fsynced and renamed
    over ``path``; then the folder is fsynced so the rename survives a crash. On any error
    (disk full, Ctrl-C) the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=encoding if "b" not in mode else None) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(path.parent)


def write_text(path: os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write(text)


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (no-op where folders can't be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

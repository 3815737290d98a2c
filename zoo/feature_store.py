"""The feature store: tensors computed from data (a frozen backbone's features), kept on disk
across runs so that a second run, or a sweep's next trial, computes nothing again.

Each entry is one safetensors file, ``<zoo cache folder>/features/<key>.safetensors``: plain
tensors and a JSON header, read without unpickling anything. ``key`` is a digest of everything
that decides the tensors (the caller's business: backbone weights, data files, preprocessing,
precision). The header holds the store's format, the key, a SHA-256 of the tensors' bytes and
a description of what the entry is for (shown by ``zoo cache``). A file whose header names
another key or format (foreign), or that cannot be parsed or whose bytes don't match the
checksum (truncated, damaged), is never trusted: it is deleted and the caller computes again.

The store is size-capped (``$ZOO_FEATURE_CACHE_SIZE``, default 2 GB): after a write the
entries used least recently are removed until the rest fits; a file's modification time is
when it was last used. Writes are atomic; a store that can't be written to is skipped with a
note, never fatal. This module imports torch only where tensors are digested, read or written.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from zoo.atomic import atomic_write
from zoo.catalog import cache_dir
from zoo.errors import UserError

FORMAT = "1"
SUFFIX = ".safetensors"
SIZE_VARIABLE = "ZOO_FEATURE_CACHE_SIZE"
DEFAULT_SIZE_LIMIT = 2 * 1000**3
UNITS = {"": 1, "B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
         "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4}


def store_dir() -> Path:
    """The feature store's folder: ``features/`` in the zoo cache folder (``zoo.catalog.cache_dir``)."""
    return cache_dir() / "features"


def size_limit() -> int:
    """The store's cap in bytes: ``$ZOO_FEATURE_CACHE_SIZE`` ("500MB", "2GiB", "0" keeps
    nothing), default 2 GB. Raises ``zoo.UserError`` for a value that is not a size."""
    text = os.environ.get(SIZE_VARIABLE, "").strip()
    if not text:
        return DEFAULT_SIZE_LIMIT
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]*)", text)
    if not match or match.group(2).upper() not in UNITS:
        raise UserError(f"{SIZE_VARIABLE}={text!r} is not a size; expected e.g. 500MB, 2GB or 0 (keep nothing)")
    return int(float(match.group(1)) * UNITS[match.group(2).upper()])


def human_size(size: int) -> str:
    """``15.1 MB``, ``820 kB``, ``12 B``: a byte count for people (powers of 1000)."""
    for unit, scale in (("GB", 1000**3), ("MB", 1000**2), ("kB", 1000)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def digest(*parts: Any) -> str:
    """A SHA-256 hex digest of ``parts``: tensors (dtype, shape and bytes), numbers, strings,
    None, and lists, tuples and dicts of them; equal parts give equal digests in any process."""
    h = hashlib.sha256()
    _feed(h, parts)
    return h.hexdigest()


def _feed(h: Any, value: Any) -> None:
    if isinstance(value, (list, tuple)):
        h.update(b"[%d" % len(value))
        for item in value:
            _feed(h, item)
    elif isinstance(value, dict):
        h.update(b"{%d" % len(value))
        for key in sorted(value, key=str):
            _feed(h, str(key))
            _feed(h, value[key])
    elif "torch" in sys.modules and isinstance(value, sys.modules["torch"].Tensor):
        tensor = value.detach().cpu().contiguous()
        h.update(f"T{tensor.dtype}{tuple(tensor.shape)}".encode())
        h.update(memoryview(tensor.reshape(-1).view(sys.modules["torch"].uint8).numpy()))
    else:
        h.update(f"{type(value).__name__}:{value!r};".encode())


@dataclass(frozen=True)
class StoredEntry:
    """One file of the store: ``key``, ``path``, ``size`` in bytes, ``last_used`` (seconds since
    the epoch) and ``description`` (what it is for; {} when the header can't be read)."""

    key: str
    path: Path
    size: int
    last_used: float
    description: dict


class FeatureStore:
    """Tensors kept under ``folder`` (default ``store_dir()``), at most ``limit`` bytes in all
    (default ``size_limit()``); see the module docstring."""

    def __init__(self, folder: Optional[Path] = None, limit: Optional[int] = None):
        self.folder = Path(folder) if folder is not None else store_dir()
        self.limit = size_limit() if limit is None else int(limit)

    def path(self, key: str) -> Path:
        """Where the entry ``key`` lives."""
        return self.folder / f"{key}{SUFFIX}"

    def load(self, key: str) -> tuple:
        """``(tensors, problem)``: the entry's tensors by name and None when it is there and
        sound; ``(None, None)`` when there is none; ``(None, why)`` when a file was there but
        could not be trusted (it is deleted: the caller computes again). Marks the entry used."""
        path = self.path(key)
        if not path.is_file():
            return None, None
        try:
            tensors, header = read_entry(path)
            problem = None
            if header.get("zoo_format") != FORMAT or header.get("key") != key:
                problem = "it was written for something else"
            elif header.get("checksum") != digest(tensors):
                problem = "its contents don't match its checksum"
        except Exception as error:  # safetensors' own error for a truncated or damaged file, OSError...
            problem = f"it can't be read ({str(error).splitlines()[0] if str(error) else type(error).__name__})"
        if problem is not None:
            self._delete(path)
            return None, f"feature cache file {path} was not used: {problem}"
        try:
            os.utime(path)
        except OSError:
            pass
        return tensors, None

    def save(self, key: str, tensors: dict, description: dict) -> Optional[str]:
        """Keep ``tensors`` (name -> tensor) as the entry ``key`` described by ``description``
        (JSON-ready); then remove the entries used least recently beyond the cap. Returns None
        when kept, else a one-line note saying why not (too big for the cap, unwritable folder)."""
        from safetensors.torch import save

        header = {"zoo_format": FORMAT, "key": key, "checksum": digest(tensors), "created": f"{time.time():.0f}",
                  "description": json.dumps(description, sort_keys=True)}
        blob = save({name: t.detach().cpu().contiguous() for name, t in tensors.items()}, metadata=header)
        if len(blob) > self.limit:
            return (f"not kept on disk: they take {human_size(len(blob))}, more than the feature cache's "
                    f"{human_size(self.limit)} (set {SIZE_VARIABLE} to keep them)")
        try:
            with atomic_write(self.path(key), "wb") as f:
                f.write(blob)
        except OSError as error:
            return f"not kept on disk: can't write {self.path(key)} ({error.strerror or error})"
        self.evict(keep=key)
        return None

    def entries(self) -> list:
        """Every entry of the store, most recently used first (``StoredEntry``)."""
        found = []
        for path in self.folder.glob(f"*{SUFFIX}") if self.folder.is_dir() else ():
            try:
                stat = path.stat()
            except OSError:
                continue
            found.append(StoredEntry(key=path.name[:-len(SUFFIX)], path=path, size=stat.st_size,
                                     last_used=stat.st_mtime, description=read_description(path)))
        return sorted(found, key=lambda e: e.last_used, reverse=True)

    def evict(self, keep: Optional[str] = None) -> list:
        """Remove the entries used least recently (never ``keep``) until the rest fits the cap;
        return the keys removed."""
        entries = self.entries()
        total = sum(e.size for e in entries)
        removed = []
        for entry in reversed(entries):
            if total <= self.limit:
                break
            if entry.key == keep:
                continue
            self._delete(entry.path)
            total -= entry.size
            removed.append(entry.key)
        return removed

    def remove(self, key: str) -> bool:
        """Delete the entry ``key``; whether there was one."""
        return self._delete(self.path(key))

    @staticmethod
    def _delete(path: Path) -> bool:
        try:
            path.unlink()
            return True
        except FileNotFoundError:
            return False


def read_entry(path: Path) -> tuple:
    """``(tensors by name, header)`` of a safetensors file (no code is unpickled)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        header = dict(f.metadata() or {})
        tensors = {name: f.get_tensor(name) for name in f.keys()}
    return tensors, header


def read_description(path: Path) -> dict:
    """What an entry is for (its header's description), reading the header only; {} when unreadable."""
    try:
        with open(path, "rb") as f:
            length = int.from_bytes(f.read(8), "little")
            if not 0 < length <= 100_000_000:
                return {}
            header = json.loads(f.read(length))
        return json.loads(header.get("__metadata__", {}).get("description", "{}"))
    except (OSError, ValueError, AttributeError):
        return {}

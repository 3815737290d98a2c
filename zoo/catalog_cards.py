"""Computed catalog cards: the figures zoo works out itself, kept once per source version.

Sources publish some figures (``zoo.catalog_columns``); the rest -- parameters, multiply-adds,
the head's feature width -- zoo computes without weights (``zoo.catalog_compute``), once per
installed version of a source: one JSON file per source in the cache folder,
``cards-<source>-<version>.json`` (``cards-timm-1.0.31.json``), holding
``{"format", "source", "key", "cards": {name: {figure: value}}, "failed": {name: why}}``.
The ``key`` (``zoo.catalog.card_keys``) hashes zoo's version and the files of the plugin
package: cards kept under another key were computed by other code, and are not read (nor kept:
the next save replaces them, ``zoo list --refresh`` removes them).

The file is rewritten atomically every few cards while they are computed, so an interrupted
computation keeps what it did and the next one goes on from there. While one runs, a lock file
beside it holds its process id and start time (``zoo.run_record.process_start``; a pid reused by
a later process is not the computation): ``zoo list`` then says the cards are being computed. Reading
imports no torch.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Optional

from zoo.atomic import write_text
from zoo.bounded_read import read_bounded
from zoo.catalog import cache_dir

FORMAT = 1
MAX_BYTES = 64 << 20
UNSAFE = re.compile(r"[^A-Za-z0-9_.+\-]")


def cards_path(source: str) -> Path:
    """The cards file of ``source`` (``timm-1.0.31``: see ``zoo.catalog_columns.card_source``)."""
    return cache_dir() / f"cards-{UNSAFE.sub('_', source)}.json"


def lock_path(source: str) -> Path:
    return cards_path(source).with_suffix(".lock")


def _read(source: str) -> Optional[dict]:
    """The cards file of ``source`` as saved, when it is one (right format and types), else None."""
    try:
        data = json.loads(read_bounded(cards_path(source), MAX_BYTES))
    except (OSError, ValueError):
        return None
    if (not isinstance(data, dict) or data.get("format") != FORMAT or data.get("source") != source
            or not isinstance(data.get("cards"), dict) or not isinstance(data.get("failed"), dict)
            or not all(isinstance(c, dict) for c in data["cards"].values())):
        return None
    return data


def read_cards(source: str, key: str = "") -> dict:
    """``{"cards": {...}, "failed": {...}}`` of ``source`` computed under ``key`` (see the module
    docstring): empty when the file is missing, of another key or format, or damaged (it is then
    computed again, never trusted half-read); a figure of
    the wrong type for its column (``zoo.catalog_columns.checked_card``) is left out, unknown."""
    data = _read(source)
    if data is None or data.get("key", "") != key:
        return {"cards": {}, "failed": {}}
    from zoo.catalog_columns import checked_card

    return {"cards": {name: checked_card(card) for name, card in data["cards"].items()}, "failed": data["failed"]}


def drop_stale(keys: dict) -> list:
    """Remove the cards files of the sources in ``keys`` (``{source: key}``) that were computed
    under another key (or are damaged); returns their paths. One that cannot be removed (a
    read-only cache folder) stays: it is not read under this key either."""
    dropped = []
    for source, key in sorted(keys.items()):
        path = cards_path(source)
        if path.exists() and ((data := _read(source)) is None or data.get("key", "") != key):
            try:
                path.unlink(missing_ok=True)
            except OSError:
                continue
            dropped.append(path)
    return dropped


def computing(source: str) -> Optional[int]:
    """The process id of a computation of ``source``'s cards that is running now, else None."""
    try:
        pid, *started = (int(part) for part in lock_path(source).read_text().split()[:2])
    except (OSError, ValueError):
        return None
    from zoo.run_record import process_alive  # only when a lock file is there: listing stays lean

    return pid if pid > 0 and process_alive(pid, started[0] if started else None) else None


class CardStore:
    """The computed cards of one source under ``key`` (see the module docstring), saved
    atomically every ``every`` seconds (and when the block ends).

    Use as a context manager: it holds the lock file while open, unless another live process
    holds it (then both compute, and each save merges the file's cards with its own, so neither
    loses the other's); the lock is removed only by the process that wrote it."""

    def __init__(self, source: str, key: str = "", every: float = 5.0):
        self.source, self.key, self.every = source, key, every
        found = read_cards(source, key)
        self.cards, self.failed = found["cards"], found["failed"]
        self._saved_at = time.monotonic()
        self._dirty = False

    def __enter__(self) -> "CardStore":
        cache_dir().mkdir(parents=True, exist_ok=True)
        self._owns_lock = computing(self.source) in (None, os.getpid())
        if self._owns_lock:
            from zoo.run_record import process_start

            started = process_start(os.getpid())
            write_text(lock_path(self.source), f"{os.getpid()}" + (f" {started}" if started is not None else ""))
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.save()
        finally:
            if getattr(self, "_owns_lock", False) and computing(self.source) in (None, os.getpid()):
                lock_path(self.source).unlink(missing_ok=True)

    def done(self, name: str) -> bool:
        """Whether ``name``'s card was computed (or failed) already."""
        return name in self.cards or name in self.failed

    def add(self, name: str, card: dict, problem: Optional[str] = None) -> None:
        """Keep ``card`` (the figures computed) for ``name``, with ``problem``: why some could not be."""
        self.cards[name] = card
        if problem:
            self.failed[name] = problem
        self._dirty = True
        if time.monotonic() - self._saved_at >= self.every:
            self.save()

    def save(self) -> None:
        """Write the file now (atomically), if anything changed since the last save."""
        if not self._dirty:
            return
        on_disk = read_cards(self.source, self.key)  # what another process saved since: kept beside ours
        self.cards, self.failed = {**on_disk["cards"], **self.cards}, {**on_disk["failed"], **self.failed}
        data = {"format": FORMAT, "source": self.source, "key": self.key, "cards": self.cards,
                "failed": self.failed}
        write_text(cards_path(self.source), json.dumps(data, separators=(",", ":")))
        self._saved_at, self._dirty = time.monotonic(), False

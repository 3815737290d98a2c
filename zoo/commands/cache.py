"""``zoo cache``: what zoo keeps in its cache folder, and clearing it.

    zoo cache [show] [--json]      every entry: its size, what it is for, when it was last used
    zoo cache clear [ENTRY ...]    remove everything, or the entries named (a key's first
                                   characters, a catalog file's name, or "features"/"catalog"/"cards")

The entries are the features kept across runs (``zoo.feature_store``), the plugin catalogs
``zoo list`` reads (``zoo.catalog``, one per Python environment) and the model cards computed
once per source version (``zoo.catalog_cards``). Imports no torch.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from zoo import catalog
from zoo.commands.table import render
from zoo.errors import UserError
from zoo.feature_store import SIZE_VARIABLE, FeatureStore, human_size, size_limit

KINDS = ("features", "catalog", "cards")
SHORT_KEY = 12  # characters of a feature key shown as its entry name


@dataclass(frozen=True)
class CacheEntry:
    """One file in the cache folder: ``name`` (what ``zoo cache clear`` takes), ``kind``
    ("features", "catalog" or "cards"), ``path``, ``size``, ``last_used`` (epoch seconds), ``purpose``."""

    name: str
    kind: str
    path: Path
    size: int
    last_used: float
    purpose: str
    key: str = ""

    def as_dict(self) -> dict:
        return {"entry": self.name, "kind": self.kind, "size": self.size, "last_used": iso_time(self.last_used),
                "for": self.purpose, "path": str(self.path)}


def feature_purpose(description: dict) -> str:
    """``transfer_densenet train: densenet121 features of 192 images (imagefolder data/cats), bf16 ...``."""
    if not description:
        return "features (no description: an unreadable header)"
    where = f" ({description['data']})" if description.get("data") else ""
    return (f"{description.get('recipe', '?')} {description.get('split', '?')}: {description.get('model', '?')} "
            f"features of {description.get('images', '?')} images{where}, {description.get('precision', '?')}")


def cache_entries() -> list:
    """Every entry of the cache folder: the feature store's, then the catalogs; most recent first."""
    entries = [CacheEntry(name=e.key[:SHORT_KEY], kind="features", path=e.path, size=e.size, last_used=e.last_used,
                          purpose=feature_purpose(e.description), key=e.key)
               for e in FeatureStore(limit=0).entries()]
    folder = catalog.cache_dir()
    current = catalog.cache_path()
    for path in sorted(folder.glob("catalog-*.json")) if folder.is_dir() else ():
        try:
            stat = path.stat()
        except OSError:
            continue
        whose = "this Python environment's" if path == current else "another Python environment's"
        entries.append(CacheEntry(name=path.stem, kind="catalog", path=path, size=stat.st_size,
                                  last_used=max(stat.st_mtime, stat.st_atime),
                                  purpose=f"{whose} plugin catalog (what zoo list reads; rebuilt when plugins change)"))
    for path in sorted(folder.glob("cards-*.json")) if folder.is_dir() else ():
        try:
            stat = path.stat()
        except OSError:
            continue
        entries.append(CacheEntry(name=path.stem, kind="cards", path=path, size=stat.st_size,
                                  last_used=max(stat.st_mtime, stat.st_atime),
                                  purpose=f"model cards computed for {path.stem[len('cards-'):]} "
                                          f"(zoo list models --compute-cards)"))
    return entries


def iso_time(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def show(as_json: bool = False) -> int:
    """``zoo cache show``: the folder, its total, the feature cap and a row per entry. Returns 0."""
    entries = cache_entries()
    if as_json:
        print(json.dumps([e.as_dict() for e in entries], indent=2))
        return 0
    features = sum(e.size for e in entries if e.kind == "features")
    print(f"zoo cache: {catalog.cache_dir()}: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, "
          f"{human_size(sum(e.size for e in entries))}; features {human_size(features)} of at most "
          f"{human_size(size_limit())} (${SIZE_VARIABLE})")
    if entries:
        print(render(["ENTRY", "SIZE", "LAST USED", "FOR"],
                     [(e.name, human_size(e.size), iso_time(e.last_used), e.purpose) for e in entries]))
    return 0


def chosen(entries: Sequence[CacheEntry], names: Sequence[str]) -> list:
    """The entries ``names`` picks (each a kind, an entry name or a key's first characters).
    Raises ``zoo.UserError`` for a name matching nothing, or several feature entries."""
    picked: dict = {}
    for name in names:
        if name in KINDS:
            matches = [e for e in entries if e.kind == name]
        else:
            matches = [e for e in entries if e.name == name or (e.key and len(name) >= 4 and e.key.startswith(name))]
            if not matches:
                raise UserError(f"cache clear: no cache entry {name!r} (zoo cache show lists them)")
            if len(matches) > 1:
                raise UserError(f"cache clear: {name!r} names {len(matches)} entries "
                                f"({', '.join(e.name for e in matches[:4])}); give more of the key")
        picked.update((e.path, e) for e in matches)
    return list(picked.values())


def clear(names: Sequence[str]) -> int:
    """``zoo cache clear [ENTRY ...]``: remove every entry, or those ``names`` picks. Returns 0."""
    entries = cache_entries()
    targets = chosen(entries, names) if names else entries
    removed, freed = 0, 0
    for entry in targets:
        try:
            entry.path.unlink()
        except FileNotFoundError:
            continue
        except OSError as error:
            raise UserError(f"cache clear: can't remove {entry.path} ({error.strerror or error})") from None
        removed += 1
        freed += entry.size
    print(f"removed {removed} cache entr{'y' if removed == 1 else 'ies'} ({human_size(freed)}) from {catalog.cache_dir()}")
    return 0


def cache_command(action: Optional[str], names: Sequence[str], *, as_json: bool = False) -> int:
    """``zoo cache [show|clear] [ENTRY ...] [--json]``; returns the exit status."""
    action = action or "show"
    if action == "show":
        if names:
            raise UserError(f"cache show takes no entries (got {' '.join(names)}); to remove some: zoo cache clear ENTRY")
        return show(as_json)
    if action == "clear":
        return clear(names)
    raise UserError(f"cache: unknown action {action!r}; expected show or clear")

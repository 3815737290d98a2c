"""The catalog cache: what every plugin registers, stored so that listing imports nothing.

Filling the registries means importing every plugin, and the big catalogs (timm's 1,300+
architectures, torchvision's models) import their libraries to list their names: seconds of
work. ``zoo list`` instead reads one JSON file written the last time the registries were
filled. The file is valid while its *fingerprint* matches the environment:

- zoo's version and the Python interpreter;
- every ``zoo.plugins`` entry point (name, target, distribution, version);
- the files of each plugin's top-level package (path, size, mtime), so editing a plugin in an
  editable install is seen;
- the modification times of the ``sys.path`` folders (site-packages changes whenever a
  distribution is installed, removed or upgraded, timm included).

Computing it reads metadata and stats files; it never imports a plugin, torch or a catalog.
The file is written atomically (temporary file, fsync, rename); a missing, stale or corrupt
cache is rebuilt, never fatal: the file starts with a checksum of the rest (SHA-256), so valid
JSON holding the wrong types counts as corrupt too.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Optional

from zoo._version import __version__
from zoo.atomic import write_text
from zoo.bounded_read import read_bounded

FORMAT = 1
ENTRY_POINT_GROUP = "zoo.plugins"
SOURCE_SUFFIXES = (".py", ".yaml", ".yml", ".json")


def cache_dir() -> Path:
    """``$ZOO_CACHE_DIR``, else ``$XDG_CACHE_HOME/zoo``, else ``~/.cache/zoo``."""
    explicit = os.environ.get("ZOO_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "zoo"


def cache_path() -> Path:
    """The cache file of this Python environment (one per ``sys.prefix``)."""
    tag = hashlib.sha1(f"{sys.prefix}\0{sys.version}".encode()).hexdigest()[:12]
    return cache_dir() / f"catalog-{tag}.json"


def _package_signature(module: str) -> list:
    """(relative path, size, mtime) of every source file of ``module``'s top-level package."""
    top = module.split(":", 1)[0].split(".", 1)[0].strip()
    try:
        spec = find_spec(top)  # a top-level name: finds it without executing anything
    except (ImportError, ValueError):
        return [top, "missing"]
    if spec is None:
        return [top, "missing"]
    locations = list(spec.submodule_search_locations or [])
    if not locations and spec.origin:
        locations = [spec.origin]
    files = []
    for location in locations:
        if os.path.isfile(location):
            st = os.stat(location)
            files.append((location, st.st_size, st.st_mtime_ns))
            continue
        for dirpath, dirnames, filenames in os.walk(location):
            dirnames[:] = [d for d in dirnames if d != "__pycache__" and not d.startswith(".")]
            for filename in filenames:
                if filename.endswith(SOURCE_SUFFIXES):
                    path = os.path.join(dirpath, filename)
                    st = os.stat(path)
                    files.append((path, st.st_size, st.st_mtime_ns))
    return sorted(files)


def _sys_path_signature() -> list:
    cwd = os.getcwd()
    script_dir = os.path.dirname(os.path.abspath(sys.argv[0])) if sys.argv and sys.argv[0] else None
    found = []
    for entry in sys.path:
        if not entry or entry in (cwd, script_dir) or os.path.abspath(entry) == cwd:
            continue
        try:
            found.append((entry, os.stat(entry).st_mtime_ns))
        except OSError:
            continue
    return found


def _entry_point_parts() -> list:
    """``[name, target, distribution, version, package signature]`` of every ``zoo.plugins``
    entry point, sorted."""
    entries = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        entries.append([ep.name, ep.value, *_name_and_version(dist), _package_signature(ep.value)])
    return sorted(entries, key=lambda e: (e[0], e[1], str(e[2])))


def fingerprint(plugin_parts: Optional[list] = None) -> str:
    """A hash of everything the catalog depends on (see the module docstring); ``plugin_parts``:
    ``_entry_point_parts()`` when already computed."""
    parts: list = [FORMAT, __version__, sys.version, sys.prefix, _sys_path_signature(),
                   _package_signature("zoo"), plugin_parts if plugin_parts is not None else _entry_point_parts()]
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def card_keys(plugin_parts: Optional[list] = None) -> dict:
    """``{plugin: key}``: what the computed cards of each plugin's models depend on besides its
    version, hashed: zoo's version and the plugin package's files (``_package_signature``), so
    code changed in an editable install (zoo's built-in plugins too) means cards computed again.
    ``plugin_parts``: ``_entry_point_parts()`` when already computed."""
    found = {}
    for name, _target, _dist, _version, signature in plugin_parts or _entry_point_parts():
        blob = json.dumps([__version__, signature], default=str).encode()
        found[name] = hashlib.sha256(blob).hexdigest()[:16]
    return found


def card_key(plugin: Optional[str], keys: dict) -> str:
    """The key of ``plugin``'s computed cards in ``keys`` (``card_keys``); for a model registered
    by no installed plugin, one of zoo's version alone."""
    return keys.get(plugin) or hashlib.sha256(json.dumps([__version__]).encode()).hexdigest()[:16]


def _name_and_version(dist: Any) -> tuple:
    """``(Name, Version)`` of distribution ``dist`` (None: ``(None, None)``), read from the headers
    of its METADATA file only: ``dist.metadata`` would parse the whole file, long description
    included, once per entry point (most of a cached listing's time)."""
    if dist is None:
        return None, None
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    found = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, sep, value = line.partition(": ")
        if sep and key in ("Name", "Version") and key not in found:
            found[key] = value.strip()
    return found.get("Name"), found.get("Version")


MAX_CACHE_BYTES = 64 << 20  # timm's 1,300 names take well under 1 MiB


#: How the cache file starts: its checksum, then the catalog's own keys (``sealed``, ``unsealed``).
SEAL_PREFIX = b'{"checksum":"'
SEAL_LENGTH = len(SEAL_PREFIX) + 64 + 2  # the prefix, a SHA-256 in hex, then '",'


def sealed(data: dict) -> str:
    """``data`` as the cache file's JSON text: a ``checksum`` key first, the SHA-256 of the rest."""
    body = json.dumps(data, separators=(",", ":"))
    digest = hashlib.sha256(body.encode()).hexdigest()
    return f'{SEAL_PREFIX.decode()}{digest}",{body[1:]}' if len(body) > 2 else body


def unsealed(raw: bytes) -> Optional[dict]:
    """The catalog in the cache file's bytes ``raw`` when its checksum matches the rest (so it is,
    byte for byte, what ``sealed`` wrote), else None: a file cut short, edited or of another
    format."""
    if len(raw) <= SEAL_LENGTH or not raw.startswith(SEAL_PREFIX) or raw[SEAL_LENGTH - 2:SEAL_LENGTH] != b'",':
        return None
    body = b"{" + raw[SEAL_LENGTH:]
    if hashlib.sha256(body).hexdigest().encode() != raw[len(SEAL_PREFIX):SEAL_LENGTH - 2]:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def read(path: Optional[Path] = None) -> Optional[dict]:
    """The cached catalog if it exists, is exactly what ``build`` wrote (its checksum matches:
    a string where a list belongs, an entry without a name, a file cut short are all a
    mismatch) and matches this environment; else None, and the caller rebuilds it."""
    path = path or cache_path()
    try:
        raw = read_bounded(path, MAX_CACHE_BYTES)
    except OSError:  # missing, unreadable, a FIFO or a device, too large
        return None
    data = unsealed(raw)
    if data is None or data.get("fingerprint") != fingerprint():
        return None
    return data


def build(manager: Any) -> dict:
    """Fill the registries through ``manager`` and return the catalog as a JSON-ready dict; a
    model's published card value of the wrong type is left unknown, with a warning
    (``zoo.catalog_columns.check_published``)."""
    from zoo.catalog_columns import check_published
    from zoo.plugin_containment import Raised, TimedOut
    from zoo.plugins import failure_text, warn

    registries = manager.registries
    plugin_parts = _entry_point_parts()
    entries = {}
    for registry in registries:
        described = [_with_summary(e).describe() for e in registry.entries(expand=False)]
        for namespace in registry.namespaces.values():
            try:  # imports the catalog's library: bounded, its prints on stderr
                names = manager.contained(namespace.names, namespace.provenance.plugin)
            except (TimedOut, Raised) as exc:  # the catalog's library is missing, broken or hangs
                info = manager.plugins.get(namespace.provenance.plugin)
                message = failure_text(exc, f"listing {namespace.prefix}/*")
                if info is not None:
                    info.status, info.error = "failed", message
                if not manager.quiet:
                    warn(f"plugin {namespace.provenance.plugin!r} failed: {message}")
                continue
            described.extend(namespace.entry(short, summary).describe() for short, summary in names.items())
            if info := manager.plugins.get(namespace.provenance.plugin):
                info.counts[registry.kind] = info.counts.get(registry.kind, 0) + len(names) - 1
        described.sort(key=lambda d: d["name"])
        if registry.kind == "models":
            for row in described:
                if (problem := check_published(row)) and not manager.quiet:
                    warn(f"plugin {row['plugin']!r}: {problem}")
        entries[registry.kind] = described
    return {
        "format": FORMAT,
        "zoo": __version__,
        "fingerprint": fingerprint(plugin_parts),
        "card_keys": card_keys(plugin_parts),
        "entries": entries,
        "plugins": [info.as_dict() for info in manager.plugins.values()],
        "recipe_dirs": manager.recipe_dirs(),
    }


def _with_summary(entry: Any) -> Any:
    """Give an entry registered by import path the first line of its factory's docstring."""
    if not entry.summary and isinstance(entry.factory_ref, str):
        try:
            doc = entry.doc
        except Exception:  # an import error shows when the entry is used, not while listing
            doc = ""
        entry.summary = doc.strip().splitlines()[0] if doc.strip() else ""
    return entry


def load(*, refresh: bool = False, quiet: bool = False) -> dict:
    """The catalog: from the cache when valid, else built from the plugins and cached.

    A cache that cannot be written (read-only home, full disk) is not an error: the catalog
    is still returned, only the next call builds it again.
    """
    path = cache_path()
    if not refresh:
        cached = read(path)
        if cached is not None:
            cached["cached"] = True
            return cached
    from zoo.plugins import get_manager

    data = build(get_manager(quiet=quiet))
    try:
        write_text(path, sealed(data))
    except OSError:
        pass
    data["cached"] = False
    return data

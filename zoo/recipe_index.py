"""Finding recipes by name: ``./recipes/*.yaml`` first, then the folders plugins ship.

A recipe's summary is the first ``#`` comment line of its file, so listing reads a line or
two of each file and parses no YAML.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Optional

RECIPE_SUFFIXES = (".yaml", ".yml")
LOCAL = "(local)"


def summary_of(path: Path) -> str:
    """The text of the first ``# ...`` line at the top of a recipe file ('' if none)."""
    try:
        with open(path, encoding="utf-8") as f:
            for _ in range(20):
                line = f.readline(4096)
                if not line:
                    break
                stripped = line.strip()
                if stripped.startswith("#"):
                    return stripped.lstrip("#").strip()
                if stripped:
                    break
    except OSError:
        pass
    return ""


def find_recipes(plugin_dirs: Iterable = (), cwd: Optional[Path] = None) -> list:
    """Recipes as dicts ``{name, kind, path, summary, plugin, tags}``, local ones first (regular
    files only: a FIFO or a device named ``x.yaml`` is not opened).

    ``plugin_dirs`` holds ``(plugin name, folder)`` pairs from the ``zoo_recipe_dirs`` hook.
    A local recipe hides a plugin's recipe of the same name.
    """
    cwd = Path(cwd or os.getcwd())
    sources = [(LOCAL, cwd / "recipes")] + [(plugin, Path(folder)) for plugin, folder in plugin_dirs]
    found: dict = {}
    for plugin, folder in sources:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix not in RECIPE_SUFFIXES or path.stem.startswith(("_", ".")) or not path.is_file():
                continue
            if path.stem in found:
                continue
            found[path.stem] = {
                "name": path.stem,
                "kind": "recipe",
                "path": str(path),
                "summary": summary_of(path),
                "plugin": plugin,
                "tags": [],
            }
    return list(found.values())


def resolve_recipe(spec: str, plugin_dirs: Iterable = (), cwd: Optional[Path] = None) -> Optional[Path]:
    """The file for ``spec``: an existing path as given, else a recipe found by name; else None."""
    path = Path(spec)
    if path.exists():
        return path
    if path.suffix in RECIPE_SUFFIXES or os.sep in spec:
        return None
    for recipe in find_recipes(plugin_dirs, cwd):
        if recipe["name"] == spec:
            return Path(recipe["path"])
    return None

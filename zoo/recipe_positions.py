"""Where each key of a recipe was written: a table from key paths to places.

A key path is a tuple of keys and list indices (``("optimizer", "lr")``, ``("data", "augment", 0)``;
``()`` is the recipe itself); a place is ``"file:line"``, a file name, or
``command line (KEY=VALUE)``. The YAML reader (``zoo.recipe_yaml``) fills the table, base
merging (``zoo.recipe_bases``) and overrides (``zoo.recipe_overrides``) edit it, and
``Recipe.where`` reads it.
"""

from __future__ import annotations

from typing import Sequence

KeyPath = tuple


def drop_under(positions: dict, prefix: KeyPath) -> None:
    """Forget, in place, the positions of every key path strictly inside ``prefix``."""
    n = len(prefix)
    for p in [p for p in positions if len(p) > n and p[:n] == prefix]:
        del positions[p]


def position_of(positions: dict, path: Sequence) -> str:
    """The place ``path`` was written, else that of its nearest ancestor written somewhere
    (``"recipe"`` when not even the root is known)."""
    path = tuple(path)
    for n in range(len(path), -1, -1):
        found = positions.get(path[:n])
        if found is not None:
            return found
    return "recipe"

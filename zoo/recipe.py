"""Recipes: YAML files naming a task and the components it runs with.

``load_recipe(path, overrides)`` reads a recipe in zoo's YAML dialect (``zoo.recipe_yaml``),
deep-merges the files its ``base:`` names under it (``zoo.recipe_bases``), applies command-line
overrides (``optimizer.lr=0.1``, ``zoo.recipe_overrides``) and remembers where every key was
written (``zoo.recipe_positions``), so a mistake found later is reported as ``file:line``
(``Recipe.where``). Every error is a one-line ``zoo.UserError``.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import yaml

from zoo.errors import UserError
from zoo.kinds import TOP_LEVEL_KEYS
from zoo.recipe_bases import display_path, read_recipe_file, resolve_bases
from zoo.recipe_overrides import COMMAND_LINE, apply_override
from zoo.recipe_positions import position_of
from zoo.recipe_yaml import RecipeDumper, dump_value, value_kind

__all__ = ["Recipe", "load_recipe", "dump_value", "TOP_LEVEL_KEYS"]

# The order ``to_yaml`` writes the top-level keys in (``base`` is resolved away).
_WRITE_ORDER = tuple(k for k in TOP_LEVEL_KEYS if k != "base")

PathLike = Union[str, "os.PathLike[str]"]
_OVERRIDDEN = COMMAND_LINE + " ("  # how the position of a key an override set begins


class Recipe:
    """A resolved recipe: its merged data and where each key came from.

    ``data``: the merged dict (bases resolved, ``base`` removed, overrides applied);
    ``path``: the main file (None when built in code); ``files``: every file read, main first;
    ``overrides``: the ``KEY=VALUE`` strings applied, in order.
    """

    def __init__(self, data: dict, path: Optional[Path] = None, *, files: Iterable = (),
                 overrides: Iterable[str] = (), positions: Optional[dict] = None):
        self.data = data
        self.path = Path(path) if path is not None else None
        self.files = [Path(f) for f in files]
        self.overrides = list(overrides)
        self._positions = dict(positions or {})
        self._positions.setdefault((), display_path(self.path) if self.path is not None else "recipe")

    @classmethod
    def from_dict(cls, data: dict, path: Optional[PathLike] = None) -> "Recipe":
        """A recipe from a dict built in code; a ``base`` in it is resolved relative to ``path``'s folder.

        Positions are the file name only (no lines), or ``recipe`` without ``path``.
        """
        if not isinstance(data, dict):
            raise UserError(f"{path or 'recipe'}: a recipe is a mapping of sections, got {value_kind(data)}")
        path = Path(path) if path is not None else None
        data, positions, files = resolve_bases(data, path)
        return cls(data, path, files=files, positions=positions)

    @property
    def name(self) -> str:
        """``data["name"]``, else the main file's stem (``recipe`` when built in code)."""
        name = self.data.get("name")
        if isinstance(name, str) and name:
            return name
        return self.path.stem if self.path is not None else "recipe"

    def where(self, path: Sequence = ()) -> str:
        """``"recipes/r.yaml:12"`` for the key ``path`` (a tuple such as ``("optimizer", "lr")``).

        The nearest ancestor written somewhere answers for a key that was not (a default, or a
        key inside an override's value); an override answers ``command line (KEY=VALUE)``. A
        section written in a file that overrides changed inside says so: ``run/recipe.yaml:13
        (with model.hidden=[16, 16] from the command line)``, so a message about the section as
        built now does not blame the file alone.
        """
        path = tuple(path)
        place = position_of(self._positions, path)
        if not path or place.startswith(_OVERRIDDEN):
            return place
        inside = [p[len(_OVERRIDDEN):-1] for k, p in self._positions.items()
                  if len(k) > len(path) and k[:len(path)] == path and p.startswith(_OVERRIDDEN)]
        if not inside:
            return place
        return f"{place} (with {', '.join(dict.fromkeys(inside))} from the command line)"

    def set_on_command_line(self, path: Sequence) -> bool:
        """Whether the value at ``path`` came from a command-line override (itself, or a mapping
        holding it: ``optimizer={...}`` sets every key of the section)."""
        return self.where(path).startswith(_OVERRIDDEN)

    def section(self, name: str) -> dict:
        """A copy of the section ``name`` (``{}`` when it is absent or null)."""
        value = self.data.get(name)
        return copy.deepcopy(value) if isinstance(value, dict) else {}

    def to_yaml(self) -> str:
        """The resolved recipe as YAML: ``name`` first, then seed, description, task, data, ..."""
        ordered: dict = {"name": self.data["name"] if "name" in self.data else self.name}
        for key in _WRITE_ORDER[1:]:
            if key in self.data:
                ordered[key] = self.data[key]
        for key, value in self.data.items():
            if key not in ordered and key != "base":
                ordered[key] = value
        return yaml.dump(ordered, Dumper=RecipeDumper, sort_keys=False, allow_unicode=True,
                         default_flow_style=False, width=100)

    def __repr__(self) -> str:
        return f"Recipe(name={self.name!r}, path={str(self.path) if self.path else None!r})"


def load_recipe(path: PathLike, overrides: Iterable[str] = ()) -> Recipe:
    """Read the recipe at ``path``, resolve its bases and apply ``overrides`` (``KEY=VALUE`` strings).

    Returns a ``Recipe``; raises ``zoo.UserError`` (one line naming file:line or the override)
    for a missing file, bad YAML, a duplicate key, a base cycle or a malformed override.
    """
    path = Path(path)
    overrides = list(overrides)
    data, positions, files = read_recipe_file(path)
    for text in overrides:
        apply_override(data, positions, text)
    return Recipe(data, path, files=files, overrides=overrides, positions=positions)

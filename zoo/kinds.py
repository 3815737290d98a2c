"""The kinds of component a recipe combines: one table, read by every part of zoo that needs it.

Each ``Kind`` ties together the names one kind of component goes by — its recipe section
(``model:``), its registry (``models``, also the word ``zoo list`` takes), the hook that fills
that registry (``zoo_register_models``) — and what zoo itself passes to its factories: the
arguments passed first (an optimizer gets the parameters, a scheduler the optimizer), the keys a
task may fill from the data when the factory accepts them and the recipe leaves them unset, and
the keys the runner reads itself and never passes on (``optimizer.params``).

This module imports nothing but the standard library and ``zoo.errors``: the command line
reads it to list a cached catalog without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from zoo.errors import UserError

__all__ = ["Kind", "KINDS", "META_KEYS", "SECTIONS", "TOP_LEVEL_KEYS", "LISTABLE", "by_section", "by_registry", "lookup"]


@dataclass(frozen=True)
class Kind:
    """One kind of component.

    ``section``: the recipe's key (``data``); ``singular``: the word for one (``dataset``);
    ``registry``: the registry's name and the plural (``datasets``); ``leading``: the names of
    the arguments zoo passes before the recipe's keys (``("params",)``); ``filled``: keys a task
    may fill from the data when the factory accepts them and the recipe leaves them unset;
    ``runner_keys``: recipe keys zoo reads itself and does not pass to the factory.
    """

    section: str
    singular: str
    registry: str
    leading: tuple = ()
    filled: tuple = ()
    runner_keys: tuple = ()

    @property
    def hook(self) -> str:
        """The registration hook that fills this kind's registry: ``zoo_register_<registry>``."""
        return f"zoo_register_{self.registry}"


# In the order registries are filled and listed.
KINDS: tuple = (
    Kind("model", "model", "models", filled=("num_classes", "in_channels", "image_size")),
    Kind("data", "dataset", "datasets"),
    Kind("loss", "loss", "losses"),
    Kind("optimizer", "optimizer", "optimizers", leading=("params",), runner_keys=("params",)),
    Kind("scheduler", "scheduler", "schedulers", leading=("optimizer",), filled=("epochs", "steps_per_epoch")),
    Kind("task", "task", "tasks"),
)

# Top-level recipe keys that are not component sections.
META_KEYS: tuple = ("name", "seed", "base", "description")
# The component sections in the order a resolved recipe is written.
SECTIONS: tuple = ("task", "data", "model", "loss", "optimizer", "scheduler")
# Every key a recipe may have at its top level, in that order.
TOP_LEVEL_KEYS: tuple = META_KEYS + SECTIONS
# What ``zoo list`` and ``zoo info`` take: every registry, and the recipes.
LISTABLE: tuple = tuple(k.registry for k in KINDS) + ("recipes",)

_BY_SECTION = {k.section: k for k in KINDS}
_BY_REGISTRY = {k.registry: k for k in KINDS}


def by_section(section: str) -> Kind:
    """The kind whose recipe section is ``section`` (``"optimizer"``); KeyError for another word."""
    return _BY_SECTION[section]


def by_registry(registry: str) -> Kind:
    """The kind whose registry is ``registry`` (``"optimizers"``); KeyError for another word."""
    return _BY_REGISTRY[registry]


def lookup(word: str, *, recipes: bool = False) -> Optional[Kind]:
    """The kind a user means by ``word``, in any case: ``model``, ``models``, ``loss``, ``losses``,
    ``data``, ``dataset``... With ``recipes``, ``recipe``/``recipes`` is accepted and gives None.

    Raises ``zoo.UserError`` naming the words accepted.
    """
    w = str(word).lower()
    if recipes and w in ("recipe", "recipes"):
        return None
    for kind in KINDS:
        if w in (kind.registry, kind.singular, kind.section):
            return kind
    choices = LISTABLE if recipes else tuple(k.registry for k in KINDS)
    raise UserError(f"unknown kind {word!r}; choose one of: {', '.join(choices)}")

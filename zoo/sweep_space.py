"""A sweep's search space: ``KEY=SPEC`` arguments parsed, then checked against the recipe.

A spec is a list of values (``optimizer.lr=0.1,0.01``: a grid, or the choices a sampler picks
from), a distribution (``loguniform(1e-4,1e-1)``, ``uniform(0,0.5)``, ``int(16,128)`` or
``intuniform(16,128)``), or one value with no comma at the top level: a fixed override every trial
gets (``task.epochs=5``). Values and bounds parse as YAML, like ``zoo run``'s overrides; commas
inside brackets or quotes don't split (``model.hidden=[16,16],[32]``). ``check_space`` checks
every listed value and both bounds of each range against the recipe's schema with the checker
``zoo run`` uses (``zoo.recipe_check``), before any trial starts. Every mistake is a one-line
``zoo.UserError`` naming the key. Optuna is imported only by ``distributions``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from zoo.errors import UserError
from zoo.recipe_yaml import dump_value, parse_document

RANGES = ("loguniform", "uniform", "int", "intuniform")
_CALL = re.compile(r"^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$", re.S)
_SCALAR = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class Dimension:
    """One swept key: ``kind`` ``grid`` (``values``, each with the ``texts`` it was written as) or a
    range (``loguniform``, ``uniform``, ``int``) from ``low`` to ``high``."""

    key: str
    kind: str
    values: tuple = ()
    texts: tuple = ()
    low: Any = None
    high: Any = None

    @property
    def choices(self) -> tuple:
        """The values as Optuna stores them: scalars as they are, others (lists, mappings) as their text."""
        return tuple(v if isinstance(v, _SCALAR) else t for v, t in zip(self.values, self.texts))

    def override(self, value: Any) -> str:
        """The ``KEY=VALUE`` override that gives a trial ``value`` (one of ``choices``, or a number in range)."""
        if self.kind == "grid":
            for choice, text in zip(self.choices, self.texts):
                if type(choice) is type(value) and choice == value:
                    return f"{self.key}={text}"
        return f"{self.key}={dump_value(value)}"

    def describe(self) -> dict:
        """The dimension as sweep.json writes it: ``{"kind": "grid", "values": [...]}`` (the
        ``choices``, as the trials' params hold them) or ``{"kind": "loguniform", "low": ..., "high": ...}``."""
        if self.kind == "grid":
            return {"kind": "grid", "values": list(self.choices)}
        return {"kind": self.kind, "low": self.low, "high": self.high}


@dataclass
class Space:
    """The parsed arguments: ``dimensions`` by key (in the order given) and ``fixed`` overrides."""

    dimensions: dict = field(default_factory=dict)
    fixed: list = field(default_factory=list)

    @property
    def all_grid(self) -> bool:
        """Whether every swept key is a list of values (so the grid can be run whole)."""
        return all(d.kind == "grid" for d in self.dimensions.values())

    def grid_size(self) -> int:
        """The number of combinations of the listed values (1 for no dimension)."""
        return math.prod(len(d.values) for d in self.dimensions.values())

    def overrides(self, params: dict) -> list:
        """The fixed overrides, then one per swept key for a trial's ``params`` (key -> value)."""
        return list(self.fixed) + [self.dimensions[k].override(v) for k, v in params.items() if k in self.dimensions]

    def describe(self) -> dict:
        """The space as sweep.json's ``space`` writes it."""
        return {key: d.describe() for key, d in self.dimensions.items()}


def balanced(text: str) -> bool:
    """Whether every bracket, brace, parenthesis and quote in ``text`` is closed, in order."""
    closing, stack, quote = {"[": "]", "{": "}", "(": ")"}, [], None
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in closing:
            stack.append(closing[ch])
        elif ch in "]})" and (not stack or stack.pop() != ch):
            return False
    return not stack and quote is None


def split_top_level(text: str) -> list:
    """``text`` split on the commas outside brackets, braces, parentheses and quotes."""
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def parse_value(text: str, where: str) -> Any:
    """``text`` parsed as YAML in the recipe dialect (``where`` names it in an error)."""
    return parse_document(text.strip(), where, in_file=False)[0]


def parse_space(arguments: Sequence[str]) -> Space:
    """Parse ``KEY=SPEC`` ``arguments`` into a ``Space`` (see the module docstring). Raises
    ``zoo.UserError`` naming the key for a malformed one, a key given twice, an empty value or
    list, an unknown distribution, or bounds that don't make one."""
    space = Space()
    for argument in arguments:
        if "=" not in argument:
            raise UserError(f"sweep argument {argument!r}: expected KEY=VALUES (e.g. optimizer.lr=0.1,0.01 "
                            f"or 'optimizer.lr=loguniform(1e-4,1e-1)')")
        key, _, spec = argument.partition("=")
        key = key.strip()
        if key in space.dimensions or any(f.partition("=")[0].strip() == key for f in space.fixed):
            raise UserError(f"sweep {key}: the key is given twice")
        if not spec.strip():
            raise UserError(f"sweep {argument!r}: {key}: no values (an empty list); give values "
                            f"such as {key}=0.1,0.01")
        if not balanced(spec):
            raise UserError(f"sweep {argument!r}: {key}: a bracket, parenthesis or quote is not closed")
        call = _CALL.match(spec)
        if call and not spec.strip().startswith(("[", "{", "'", '"')):
            space.dimensions[key] = parse_range(key, argument, call.group(1), call.group(2))
            continue
        texts = split_top_level(spec)
        if len(texts) == 1:
            space.fixed.append(argument)
            continue
        if any(not t.strip() for t in texts):
            raise UserError(f"sweep {argument!r}: {key}: an empty value in the list (two commas, or one at an end)")
        texts = tuple(t.strip() for t in texts)
        values = tuple(parse_value(t, f"sweep {key}") for t in texts)
        seen = [json.dumps(v, sort_keys=True, default=str) for v in values]  # 0.1 and 1e-1 are one value
        if len(set(texts)) < len(texts) or len(set(seen)) < len(seen):
            raise UserError(f"sweep {argument!r}: {key}: a value is listed twice")
        space.dimensions[key] = Dimension(key=key, kind="grid", values=values, texts=texts)
    return space


def parse_range(key: str, argument: str, name: str, inside: str) -> Dimension:
    """The range ``name(inside)`` for ``key`` (``argument`` is quoted in errors)."""
    kind = "int" if name == "intuniform" else name
    if name not in RANGES:
        raise UserError(f"sweep {argument!r}: {key}: unknown distribution {name!r}; "
                        f"use loguniform(A,B), uniform(A,B), int(A,B) or a list A,B,C")
    bounds = split_top_level(inside)
    if len(bounds) != 2 or not all(b.strip() for b in bounds):
        raise UserError(f"sweep {argument!r}: {key}: {name} takes two bounds, low and high: {name}(A,B)")
    low, high = (parse_value(b, f"sweep {key}") for b in bounds)
    numbers = (int,) if kind == "int" else (int, float)
    for bound in (low, high):
        if isinstance(bound, bool) or not isinstance(bound, numbers) or not math.isfinite(bound):
            what = "integers" if kind == "int" else "finite numbers"
            raise UserError(f"sweep {argument!r}: {key}: the bounds of {name} are {what}; got {bound!r}")
    if low > high:
        raise UserError(f"sweep {argument!r}: {key}: the low bound {low} is above the high bound {high}")
    if kind == "loguniform" and low <= 0:
        raise UserError(f"sweep {argument!r}: {key}: loguniform needs bounds above 0 (a logarithm of {low} "
                        f"does not exist); got low {low}")
    if kind != "int":
        low, high = float(low), float(high)
    return Dimension(key=key, kind=kind, low=low, high=high)


def check_space(recipe_path: Path, space: Space) -> None:
    """Check the recipe at ``recipe_path`` with the fixed overrides, then with each listed value
    and both bounds of every range of ``space`` in turn, as ``zoo run`` checks its overrides
    (``zoo.recipe_check.check_recipe``): an unknown key, a value of the wrong type for the
    factory. Builds nothing but task objects. Raises ``zoo.UserError`` naming the key and the
    value at fault."""
    from zoo.plugins import get_manager
    from zoo.recipe import load_recipe
    from zoo.recipe_check import check_recipe

    registries = get_manager().registries
    check_recipe(load_recipe(recipe_path, space.fixed), registries)
    for key, dimension in space.dimensions.items():
        for value in checked_values(dimension):
            try:
                check_recipe(load_recipe(recipe_path, space.overrides({key: value})), registries)
            except UserError as exc:
                hint = ""
                if dimension.kind in ("uniform", "loguniform") and value not in (dimension.low, dimension.high):
                    hint = f" (a whole number is wanted: sweep it with int({dimension.low:g},{dimension.high:g}))"
                raise UserError(f"sweep {key}: the value {dimension.override(value).partition('=')[2]} "
                                f"is refused{hint}: {exc}") from exc


def checked_values(dimension: Dimension) -> tuple:
    """The values of ``dimension`` that ``check_space`` tries: every listed one; a range's bounds,
    and for a float range one value between them that is no whole number (the sampler draws
    such values, which a key taking whole numbers refuses)."""
    if dimension.kind == "grid":
        return dimension.choices
    low, high = dimension.low, dimension.high
    if dimension.kind == "int" or low == high:
        return (low, high)
    inside = low * (high / low) ** 0.37 if dimension.kind == "loguniform" else low + 0.37 * (high - low)
    if float(inside).is_integer():
        inside = math.nextafter(float(inside), float(high))
    return (low, high, inside)


def distributions(space: Space) -> dict:
    """Optuna's distribution for each swept key (lists become categorical)."""
    import optuna

    made = {}
    for key, d in space.dimensions.items():
        if d.kind == "grid":
            made[key] = optuna.distributions.CategoricalDistribution(d.choices)
        elif d.kind == "int":
            made[key] = optuna.distributions.IntDistribution(d.low, d.high)
        else:
            made[key] = optuna.distributions.FloatDistribution(d.low, d.high, log=d.kind == "loguniform")
    return made


def grid_points(space: Space) -> list:
    """Every combination of the listed values, as ``{key: choice}`` dicts, the first key slowest."""
    import itertools

    keys = list(space.dimensions)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(space.dimensions[k].choices for k in keys))]


def optional_seed_key(space: Space) -> Optional[str]:
    """``seed`` when the sweep sets the recipe's seed (fixed or swept); else None."""
    if "seed" in space.dimensions or any(f.partition("=")[0].strip() == "seed" for f in space.fixed):
        return "seed"
    return None

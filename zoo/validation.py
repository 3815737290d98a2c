"""Checking a recipe against the factories it names: a factory's signature is its schema.

``check_section(recipe, "optimizer", entry, supplied=("params",))`` turns the recipe's
``optimizer:`` keys into keyword arguments for ``entry.create``, converting types the way the
annotations say (``"3"`` for an ``int`` is 3) and refusing, as one ``zoo.UserError`` line
naming ``file:line``, the key and what is accepted: an unknown key (with the closest accepted
name), a missing required key, or a value of the wrong type. It returns a ``CheckedSection``:
the converted arguments, to which ``arguments(fill)`` adds the values a task fills from the data
when the component is built. ``validate_section`` does both at once.
``validate_recipe_shape(recipe, allowed)`` checks the top level (known keys, an int ``seed`` in
``SEED_RANGE``, a valid ``name`` that names a folder under ``runs/``, each section a mapping with
a ``name``).

Every mistake is reported at once: ``Problems`` collects the ``UserError`` of each independent
check and raises one ``RecipeProblems`` listing them all (``recipes/r.yaml: 3 problems:``, then
one line each with its file and line), or the one error itself when there is only one.

Why pydantic and not jsonargparse: pydantic is already a dependency and small to use here, it
validates one parameter at a time (a ``TypeAdapter`` per annotation, cached), so each error
carries the exact key and value, and its lax mode converts YAML's values the way users expect
(``"3"`` -> 3, ``3`` -> 3.0, lists to tuples when a tuple is declared) while refusing ``"yes"``
for a float. jsonargparse builds a whole argument parser per signature and reports errors in
its own wording, which we would have to take apart again to point at a recipe line.

Floats are finite (``.inf``, ``1e400`` and ``.nan`` are refused) unless the annotation allows
them (``Annotated[float, pydantic.AllowInfNan(True)]``), and an integer that does not fit in 64
bits (``10**40``: neither torch nor numpy can hold it) is refused wherever it appears in a value.
A parameter without an annotation accepts anything, one whose annotation pydantic cannot
handle also accepts anything (the factory still gets the value), ``**kwargs`` lets unknown keys
through unchecked (see ``zoo.signatures`` for how annotations are read).
"""

from __future__ import annotations

import difflib
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Optional, Sequence

from pydantic import ConfigDict, TypeAdapter, ValidationError

from zoo.errors import UserError
from zoo.kinds import META_KEYS, by_registry, by_section
from zoo.recipe_bases import display_path
from zoo.registry import NAME_RE
from zoo.run_folder import unsafe_run_name
from zoo.signatures import is_union, section_parameters
from zoo.type_text import describe_type, show_value, type_name

__all__ = ["CheckedSection", "check_section", "validate_section", "validate_recipe_shape", "lookup_entry", "adapter_for",
           "Problems", "RecipeProblems"]

# floats are finite (``.inf``, ``1e400`` and ``.nan`` refused) unless an annotation says otherwise
# (``Annotated[float, pydantic.AllowInfNan(True)]``)
_CONFIG = ConfigDict(arbitrary_types_allowed=True, coerce_numbers_to_str=True, allow_inf_nan=False)
# every integer a recipe gives ends in torch or numpy, whose integers have 64 bits
INT_RANGE = (-(2 ** 63), 2 ** 63 - 1)
# the seed seeds python, numpy and torch (and torch's generators add the epoch to it)
SEED_RANGE = (0, 2 ** 63 - 1)
# pydantic error types that say no more than "expected <type>, got <value>"
# a bound the expected type already states ("expected float > 0, got -1 (float)")
_BOUND_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}
_PLAIN_TYPE_ERRORS = {
    "int_type", "int_parsing", "int_from_float", "float_type", "float_parsing", "string_type",
    "bool_type", "bool_parsing", "literal_error", "list_type", "tuple_type", "dict_type",
    "none_required", "is_instance_of", "enum", "set_type", "frozen_set_type", "model_type",
}

_ADAPTERS: dict = {}


def adapter_for(annotation: Any) -> Optional[TypeAdapter]:
    """A cached pydantic TypeAdapter for ``annotation`` (validation, ``zoo.schema``); None when anything goes."""
    try:
        return _ADAPTERS[annotation]
    except KeyError:
        pass
    except TypeError:  # unhashable annotation (e.g. Annotated with a list inside)
        return _build_adapter(annotation)
    adapter = _ADAPTERS[annotation] = _build_adapter(annotation)
    return adapter


def _build_adapter(annotation: Any) -> Optional[TypeAdapter]:
    if annotation is Any or annotation is object:
        return None
    for config in (_CONFIG, None):  # types with their own config refuse ours
        try:
            return TypeAdapter(annotation, config=config)
        except Exception:
            continue
    return None


# -- messages --------------------------------------------------------------------------------


class RecipeProblems(UserError):
    """Several mistakes in one recipe, reported together: ``message`` is the first line
    (``recipes/r.yaml: 3 problems:``), ``details`` one line per mistake (each naming its file and
    line), ``problems`` the ``UserError`` of each. ``str()`` is all of it on one line (the command
    line prints the header and then a line each)."""

    def __init__(self, where: str, problems: Sequence[UserError]):
        super().__init__(f"{where}: {len(problems)} problems:")
        self.problems = tuple(problems)
        self.details = tuple(p.message for p in self.problems)

    def __str__(self) -> str:
        return f"{self.message} {'; '.join(self.details)}"


class Problems:
    """The mistakes found by independent checks of one recipe, so that all are reported at once.

    ``with problems.check(): ...`` keeps the ``UserError`` the block raises (each of a
    ``RecipeProblems``; the same message once) and goes on; ``raise_any(recipe)`` then raises the
    only one as it is, or a ``RecipeProblems`` naming the recipe's file for several.
    """

    def __init__(self) -> None:
        self.found: list = []

    @contextmanager
    def check(self) -> Iterator[None]:
        try:
            yield
        except RecipeProblems as exc:
            for problem in exc.problems:
                self.add(problem)
        except UserError as exc:
            self.add(exc)

    def add(self, problem: UserError) -> None:
        """Keep ``problem`` unless the same message is already kept."""
        if all(p.message != problem.message for p in self.found):
            self.found.append(problem)

    def raise_any(self, recipe: Any) -> None:
        """Raise what was found in ``recipe`` (a ``zoo.recipe.Recipe``); nothing when it is empty."""
        if len(self.found) == 1:
            raise self.found[0]
        if self.found:
            raise RecipeProblems(display_path(recipe.path) if recipe.path is not None else "recipe", self.found)


def _item_path(value: Any, loc: Sequence) -> tuple:
    """The leading part of pydantic's error ``loc`` that indexes into ``value``."""
    path = []
    for step in loc:
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, (list, tuple)) and isinstance(step, int) and 0 <= step < len(value):
            value = value[step]
        else:
            break
        path.append(step)
    return tuple(path)


def _type_error(recipe: Any, section: str, key: str, annotation: Any, value: Any, exc: ValidationError) -> UserError:
    errors = exc.errors(include_url=False)
    dotted = f"{section}.{key}"
    message = f"expected {describe_type(annotation)}, got {show_value(value)} ({type_name(value)})"
    union = is_union(annotation)
    first = errors[0]
    inner = () if union else _item_path(value, first["loc"])  # the first item at fault
    if inner:
        item = ".".join(str(s) for s in inner)
        message += f": item {item}: {first['msg'][:1].lower()}{first['msg'][1:]}, got {show_value(first['input'])}"
    elif not union and len(errors) == 1 and first["type"] not in _PLAIN_TYPE_ERRORS | _BOUND_ERRORS:
        message += f": {first['msg'][:1].lower()}{first['msg'][1:]}"
    return UserError(f"{recipe.where((section, key) + inner)}: {dotted}: {message}")


def _what(entry: Any) -> str:
    return f"{by_registry(entry.kind).singular} {entry.name!r}"


def _accepted(params: dict, ignore: Sequence[str], var_keyword: bool) -> str:
    names = list(params) + [k for k in ignore if k not in params]
    text = ", ".join(names) if names else "no keys besides name"
    return text + (" and any other key (the factory takes **kwargs)" if var_keyword else "")


def _oversized_int(value: Any, path: tuple = ()) -> Optional[tuple]:
    """The path (``()`` for ``value`` itself) to the first int in ``value`` that does not fit in 64
    bits, looking inside lists, tuples and dicts; None when there is none."""
    if isinstance(value, int) and not isinstance(value, bool):
        return path if not INT_RANGE[0] <= value <= INT_RANGE[1] else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    for key, item in items:
        found = _oversized_int(item, path + (key,))
        if found is not None:
            return found
    return None


def _at(value: Any, path: tuple) -> Any:
    for step in path:
        value = value[step]
    return value


# -- the checks ------------------------------------------------------------------------------


def _section_mapping(recipe: Any, section: str) -> dict:
    """The section as written, checked to be a mapping with a string ``name``."""
    if section not in recipe.data or recipe.data[section] is None:
        raise UserError(f"{recipe.where(())}: the recipe has no {section}: section")
    spec = recipe.data[section]
    kind = by_section(section)
    example = f"e.g. {section}: {{name: ...}}; 'zoo list {kind.registry}' shows them"
    if not isinstance(spec, dict):
        raise UserError(f"{recipe.where((section,))}: {section}: expected a mapping naming the {kind.singular} "
                        f"({example}), got {show_value(spec)} ({type_name(spec)})")
    if "name" not in spec or spec["name"] is None:
        raise UserError(f"{recipe.where((section,))}: {section}: missing name (which {kind.singular} to use; "
                        f"{example})")
    name = spec["name"]
    if not isinstance(name, str) or not (NAME_RE.match(name) or is_tagged_name(name)):
        raise UserError(f"{recipe.where((section, 'name'))}: {section}.name: {show_value(name)} is not a "
                        f"{kind.singular} name (lowercase letters, digits, '_', '.', '-', '/'; {example})")
    return spec


def is_tagged_name(name: str) -> bool:
    """Whether ``name`` is a catalog name with a weights tag spelled as its source spells it:
    ``torchvision/resnet50.IMAGENET1K_V2`` (torchvision's enum names are upper case). Only the
    tag may hold capitals; the registry finds tags whatever their case."""
    architecture, dot, tag = name.partition(".")
    return bool(dot) and "/" in architecture and bool(NAME_RE.match(architecture)) and bool(NAME_RE.match(name.lower()))


def renamed_on_command_line(recipe: Any, section: str) -> bool:
    """Whether an override replaced the component of ``section`` (``model.name=mlp``)."""
    return recipe.set_on_command_line((section, "name"))


@dataclass(frozen=True)
class CheckedSection:
    """A recipe section checked against its factory, once: what ``entry.create`` gets from it.

    ``recipe``: the ``zoo.recipe.Recipe``; ``section``: its key (``model``); ``entry``: the
    ``zoo.registry.Entry`` it names; ``kwargs``: the recipe's keys, type-converted (``name`` and
    the keys zoo reads itself removed); ``parameters``: the factory's settable parameters
    (``zoo.signatures.Parameter`` by name); ``var_keyword``: whether it takes ``**kwargs``;
    ``ignore``: the keys zoo reads itself (``optimizer.params``).
    """

    recipe: Any
    section: str
    entry: Any
    kwargs: dict
    parameters: dict
    var_keyword: bool
    ignore: tuple = ()

    def arguments(self, fill: Optional[dict] = None, *, fillable: Iterable[str] = ()) -> dict:
        """The keyword arguments for ``entry.create``: ``kwargs`` plus the ``fill`` values for
        parameters the factory accepts and the recipe leaves unset (``num_classes``...).

        Raises ``zoo.UserError`` for a required parameter still missing, unless it is one of
        ``fillable`` (a key to be filled later, when the data is known).
        """
        kwargs = dict(self.kwargs)
        for key, value in (fill or {}).items():
            if key in self.parameters and key not in kwargs:
                kwargs[key] = value
        fillable = tuple(fillable)
        missing = [p.name for p in self.parameters.values()
                   if p.required and p.name not in kwargs and p.name not in fillable]
        if missing:
            what = "key" if len(missing) == 1 else "keys"
            raise UserError(f"{self.recipe.where((self.section,))}: {self.section}: missing required {what} "
                            f"{', '.join(repr(m) for m in missing)} for {_what(self.entry)}; "
                            f"accepted: {_accepted(self.parameters, self.ignore, self.var_keyword)}")
        return kwargs


def check_section(recipe: Any, section: str, entry: Any, *, supplied: Sequence[str] = (),
                  ignore: Sequence[str] = ()) -> CheckedSection:
    """Check the keys of ``recipe``'s section ``section`` against ``entry``'s factory.

    ``recipe``: a ``zoo.recipe.Recipe``; ``entry``: the ``zoo.registry.Entry`` the section names.
    ``supplied``: parameters zoo passes itself (``params`` of an optimizer, ``optimizer`` of a
    scheduler): the recipe may not set them. ``ignore``: keys zoo reads itself
    (``optimizer.params``): accepted, not passed on. A key the file gives for a component that
    an override replaced (``model.name=mlp``) and the new one does not take is dropped, with a
    note on stderr. Required parameters are checked by ``CheckedSection.arguments``.

    Returns the ``CheckedSection``; raises ``zoo.UserError`` for an unknown key or a wrong type
    (a ``RecipeProblems`` listing each when there are several).
    """
    spec = _section_mapping(recipe, section)
    params, var_keyword = section_parameters(entry, supplied)
    ignore = tuple(ignore)

    def accepted() -> str:
        return _accepted(params, ignore, var_keyword)

    keys = [k for k in spec if k != "name" and k not in ignore]
    if renamed_on_command_line(recipe, section):
        # `data.name=imagefolder`: the file's keys for the old component that the new one
        # doesn't take are dropped (with a note); keys given on the command line still count
        dropped = [k for k in keys if k not in params and not var_keyword
                   and not recipe.set_on_command_line((section, k))]
        if dropped:
            print(f"zoo: note: {section}.name was overridden; dropping "
                  f"{', '.join(f'{section}.{k}' for k in dropped)} (not keys of {_what(entry)})", file=sys.stderr)
            keys = [k for k in keys if k not in dropped]
    problems = Problems()
    kwargs: dict = {}
    for key in keys:
        with problems.check():
            if key in supplied and key not in params:
                raise UserError(f"{recipe.where((section, key))}: {section}.{key}: set by zoo itself for "
                                f"{_what(entry)}, not by the recipe; accepted: {accepted()}")
            if key not in params and not var_keyword:
                close = difflib.get_close_matches(str(key), list(params) + list(ignore), n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise UserError(f"{recipe.where((section, key))}: {section}.{key}: unknown key for "
                                f"{_what(entry)}{hint}; accepted: {accepted()}")
            kwargs[key] = _converted(recipe, section, key, params.get(key), spec[key])
    problems.raise_any(recipe)
    return CheckedSection(recipe, section, entry, kwargs, params, var_keyword, ignore)


def _converted(recipe: Any, section: str, key: str, param: Any, value: Any) -> Any:
    """``value`` of the recipe's ``section.key`` converted to ``param``'s annotation (as it is
    when anything goes); a ``UserError`` when it does not fit."""
    adapter = adapter_for(param.annotation) if param is not None else None
    if adapter is None:
        return value
    try:
        converted = adapter.validate_python(value)
    except ValidationError as exc:
        raise _type_error(recipe, section, key, param.annotation, value, exc) from None
    inner = _oversized_int(converted)
    if inner is not None:
        item = f": item {'.'.join(map(str, inner))}: {show_value(_at(converted, inner))}" if inner else ": it"
        raise UserError(f"{recipe.where((section, key) + inner)}: {section}.{key}: expected "
                        f"{describe_type(param.annotation)}, got {show_value(value)} ({type_name(value)})"
                        f"{item} does not fit in 64 bits (integers lie in [-2**63, 2**63 - 1])")
    return converted


def validate_section(recipe: Any, section: str, entry: Any, *, supplied: Sequence[str] = (),
                     fill: Optional[dict] = None, ignore: Sequence[str] = (), fillable: Iterable[str] = ()) -> dict:
    """``check_section(...).arguments(fill, fillable=fillable)``: the keyword arguments for
    ``entry.create(**kwargs)`` of a section checked in one go (the task's own section)."""
    return check_section(recipe, section, entry, supplied=supplied, ignore=ignore).arguments(fill, fillable=fillable)


def validate_recipe_shape(recipe: Any, allowed_sections: Iterable[str]) -> None:
    """Check the recipe's top level; raise ``zoo.UserError`` naming file:line at the problem (a
    ``RecipeProblems`` listing each when there are several).

    ``allowed_sections``: every allowed top-level key (``name``, ``seed``, ``description``,
    ``task``, ``data``...). Checks: no other key; ``seed`` an int; ``name`` a valid name;
    ``description`` a string; each component section present is a mapping with a valid
    ``name`` (a null section counts as absent).
    """
    allowed = list(dict.fromkeys(allowed_sections))
    data = recipe.data
    problems = Problems()
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.add(UserError(f"{recipe.where((key,))}: unknown top-level key {str(key)!r}{hint}; "
                                   f"allowed: {', '.join(allowed)}"))
    for check in (_check_seed, _check_name, _check_description):
        with problems.check():
            check(recipe, data)
    for section in allowed:
        if section not in META_KEYS and data.get(section) is not None:
            with problems.check():
                _section_mapping(recipe, section)
    problems.raise_any(recipe)


def _check_seed(recipe: Any, data: dict) -> None:
    """``seed``, when given, is an int in ``SEED_RANGE``."""
    if "seed" in data:
        seed = data["seed"]
        if not isinstance(seed, int) or isinstance(seed, bool) or not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
            raise UserError(f"{recipe.where(('seed',))}: seed: expected an int from 0 to 2**63 - 1, "
                            f"got {show_value(seed)} ({type_name(seed)})")


def _check_name(recipe: Any, data: dict) -> None:
    """``name``, when given, is a valid recipe name (a folder under ``runs/``)."""
    if "name" in data:
        name = data["name"]
        if not isinstance(name, str) or not NAME_RE.match(name) or unsafe_run_name(name):
            raise UserError(f"{recipe.where(('name',))}: name: {show_value(name)} is not a valid recipe name "
                            f"(lowercase letters, digits, '_', '.', '-', starting with a letter or digit; "
                            f"'/' between such parts, as in acme/quick; it names the run's folder under runs/)")


def _check_description(recipe: Any, data: dict) -> None:
    """``description``, when given, is a string."""
    if data.get("description") is not None and not isinstance(data["description"], str):
        value = data["description"]
        raise UserError(f"{recipe.where(('description',))}: description: expected a string, "
                        f"got {show_value(value)} ({type_name(value)})")


def lookup_entry(recipe: Any, section: str, registry: Any) -> Any:
    """The registry entry the section's ``name`` names; an unknown name is a UserError at its line."""
    spec = _section_mapping(recipe, section)
    try:
        return registry.get(spec["name"])
    except UserError as exc:
        raise UserError(f"{recipe.where((section, 'name'))}: {section}.name: {exc.message}") from None

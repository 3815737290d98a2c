"""Checking a recipe against the factories it names: a factory's signature is its schema.

``validate_section(recipe, "optimizer", entry)`` turns the recipe's ``optimizer:`` keys into the
keyword arguments for ``entry.create(**kwargs)``, converting types the way the annotations say
(``"3"`` for an ``int`` is 3) and refusing, as one ``zoo.UserError`` line naming
``file:line``, the key and what is accepted: an unknown key (with the closest accepted name), a
missing required key, or a value of the wrong type.
``validate_recipe_shape(recipe, allowed)`` checks the top level (known keys, an int ``seed``,
a valid ``name``, each section a mapping with a ``name``).

Why pydantic and not jsonargparse: pydantic is already a dependency and small to use here, it
validates one parameter at a time (a ``TypeAdapter`` per annotation, cached), so each error
carries the exact key and value, and its lax mode converts YAML's values the way users expect
(``"3"`` -> 3, ``3`` -> 3.0, lists to tuples when a tuple is declared) while refusing ``"yes"``
for a float. jsonargparse builds a whole argument parser per signature and reports errors in
its own wording, which we would have to take apart again to point at a recipe line.

Annotations are resolved with ``typing.get_type_hints`` (so ``from __future__ import
annotations`` works); a parameter without an annotation accepts anything, one whose annotation
pydantic cannot handle also accepts anything (the factory still gets the value), a parameter
whose default is None also accepts null, ``**kwargs`` lets unknown keys through unchecked.
"""

from __future__ import annotations

import difflib
import sys
import functools
import inspect
import types
import typing
from typing import Any, Iterable, Optional, Sequence

from pydantic import ConfigDict, TypeAdapter, ValidationError

from zoo.errors import UserError
from zoo.registry import NAME_RE, singular

__all__ = ["validate_section", "validate_recipe_shape", "lookup_entry", "describe_type",
           "FILLED_BY_RUNNER", "META_KEYS"]

# Parameters the runner can fill from the data when a factory accepts them and the recipe is silent.
FILLED_BY_RUNNER = ("num_classes", "in_channels", "image_size", "epochs", "steps_per_epoch")
# Top-level keys that are not component sections.
META_KEYS = ("name", "seed", "base", "description")
SECTION_KINDS = {"data": "datasets", "model": "models", "loss": "losses", "optimizer": "optimizers",
                 "scheduler": "schedulers", "task": "tasks"}

_CONFIG = ConfigDict(arbitrary_types_allowed=True, coerce_numbers_to_str=True)
_EMPTY = inspect.Parameter.empty
# pydantic error types that say no more than "expected <type>, got <value>"
# a bound the expected type already states ("expected float > 0, got -1 (float)")
_BOUND_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}
_PLAIN_TYPE_ERRORS = {
    "int_type", "int_parsing", "int_from_float", "float_type", "float_parsing", "string_type",
    "bool_type", "bool_parsing", "literal_error", "list_type", "tuple_type", "dict_type",
    "none_required", "is_instance_of", "enum", "set_type", "frozen_set_type", "model_type",
}


# -- the schema of one factory ---------------------------------------------------------------


class _Param(typing.NamedTuple):
    name: str
    annotation: Any  # a type, or Any
    required: bool


def _hint_target(factory: Any) -> Any:
    if inspect.isclass(factory):
        return factory.__init__
    if isinstance(factory, functools.partial):
        return _hint_target(factory.func)
    if not (inspect.isfunction(factory) or inspect.ismethod(factory)) and callable(factory):
        return getattr(factory, "__call__", factory)
    return factory


def _annotations(factory: Any, params: Iterable[inspect.Parameter]) -> dict:
    """Parameter name -> resolved annotation (``Any`` when missing or unresolvable)."""
    target = _hint_target(factory)
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception:  # one unresolvable name: resolve the others one by one
        hints = {}
        namespace = getattr(inspect.unwrap(target), "__globals__", {})
        for p in params:
            annotation = p.annotation
            if isinstance(annotation, str):
                try:
                    annotation = eval(annotation, dict(namespace), {})  # noqa: S307 (the factory's own annotation)
                except Exception:
                    annotation = Any
            hints[p.name] = annotation
    result = {}
    for p in params:
        annotation = hints.get(p.name, p.annotation)
        if annotation is _EMPTY or isinstance(annotation, str):
            annotation = Any
        if p.default is None and annotation is not Any and not _accepts_none(annotation):
            annotation = Optional[annotation]
        result[p.name] = annotation
    return result


def resolved_annotations(factory: Any, params: Iterable[inspect.Parameter]) -> dict:
    """Parameter name -> its annotation resolved (``from __future__ import annotations``
    strings evaluated; ``Optional`` added where the default is None), for the ``params`` of
    ``factory`` that have one. An annotation that can't be resolved is left out."""
    annotated = {p.name: p for p in params if p.annotation is not _EMPTY}
    resolved = _annotations(factory, annotated.values())
    return {name: annotation for name, annotation in resolved.items()
            if annotation is not Any or annotated[name].annotation is Any}


def _accepts_none(annotation: Any) -> bool:
    if annotation is type(None) or annotation is None:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _accepts_none(typing.get_args(annotation)[0])
    if origin is typing.Union or _is_union_type(annotation):
        return any(_accepts_none(a) for a in typing.get_args(annotation))
    return False


def _is_union_type(annotation: Any) -> bool:
    union_type = getattr(types, "UnionType", None)
    return union_type is not None and isinstance(annotation, union_type)


def _schema(entry: Any, supplied: Sequence[str]) -> tuple:
    """``({name: _Param} the recipe may set, accepts **kwargs)`` for ``entry``'s factory."""
    try:
        signature = entry.signature()
    except (TypeError, ValueError):  # a callable without an inspectable signature: accept anything
        return {}, True
    settable = [p for p in signature.parameters.values()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in supplied]
    var_keyword = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    annotations = _annotations(entry.load(), settable)
    params = {p.name: _Param(p.name, annotations[p.name], p.default is _EMPTY) for p in settable}
    return params, var_keyword


_ADAPTERS: dict = {}


def _adapter(annotation: Any) -> Optional[TypeAdapter]:
    """A cached pydantic TypeAdapter for ``annotation``; None when anything goes."""
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


def describe_type(annotation: Any) -> str:
    """A short readable name for an annotation: ``int``, ``list[int]``, ``one of 'a', 'b'``,
    ``float or null``, with the bounds of ``Annotated`` constraints: ``float > 0``, ``float in [0, 1)``."""
    if annotation is Any or annotation is _EMPTY:
        return "any value"
    if annotation is type(None) or annotation is None:
        return "null"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        inner, bounds = args[0], _describe_bounds(args[1:])
        if bounds and (typing.get_origin(inner) is typing.Union or _is_union_type(inner)):
            # Annotated[Optional[int], Gt(0)]: the bound is on the int -> "int > 0 or null"
            return " or ".join(describe_type(a) + ("" if a is type(None) else bounds) for a in typing.get_args(inner))
        return describe_type(inner) + bounds
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is typing.Union or _is_union_type(annotation):
        return " or ".join(describe_type(a) for a in args)
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        if args:
            inner = ", ".join("..." if a is Ellipsis else describe_type(a) for a in args)
            return f"{name}[{inner}]"
        return name
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


def _bounds(metadata: Sequence) -> dict:
    """``{"gt"|"ge"|"lt"|"le": value}`` from annotated_types' Gt/Ge/Lt/Le, ``Interval`` and
    pydantic's ``Field(ge=...)`` (its constraints live in ``.metadata``)."""
    found: dict = {}
    for item in metadata:
        if isinstance(getattr(item, "metadata", None), list):
            found.update(_bounds(item.metadata))
        for op in ("gt", "ge", "lt", "le"):
            value = getattr(item, op, None)
            if value is not None:
                found[op] = value
    return found


def _describe_bounds(metadata: Sequence) -> str:
    """`` > 0``, `` >= 0``, `` in [0, 1)`` for the bounds in ``metadata``; "" when there is none."""
    bounds = _bounds(metadata)
    low = ("(", bounds["gt"]) if "gt" in bounds else ("[", bounds["ge"]) if "ge" in bounds else None
    high = (")", bounds["lt"]) if "lt" in bounds else ("]", bounds["le"]) if "le" in bounds else None
    if low and high:
        return f" in {low[0]}{low[1]}, {high[1]}{high[0]}"
    if low:
        return f" {'>' if low[0] == '(' else '>='} {low[1]}"
    if high:
        return f" {'<' if high[0] == ')' else '<='} {high[1]}"
    return ""


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


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
    message = f"expected {describe_type(annotation)}, got {_show(value)} ({_type_name(value)})"
    union = typing.get_origin(annotation) is typing.Union or _is_union_type(annotation)
    first = errors[0]
    inner = () if union else _item_path(value, first["loc"])  # the first item at fault
    if inner:
        item = ".".join(str(s) for s in inner)
        message += f": item {item}: {first['msg'][:1].lower()}{first['msg'][1:]}, got {_show(first['input'])}"
    elif not union and len(errors) == 1 and first["type"] not in _PLAIN_TYPE_ERRORS | _BOUND_ERRORS:
        message += f": {first['msg'][:1].lower()}{first['msg'][1:]}"
    return UserError(f"{recipe.where((section, key) + inner)}: {dotted}: {message}")


def _what(entry: Any) -> str:
    return f"{singular(entry.kind)} {entry.name!r}"


def _accepted(params: dict, ignore: Sequence[str], var_keyword: bool) -> str:
    names = list(params) + [k for k in ignore if k not in params]
    text = ", ".join(names) if names else "no keys besides name"
    return text + (" and any other key (the factory takes **kwargs)" if var_keyword else "")


# -- the checks ------------------------------------------------------------------------------


def _section_mapping(recipe: Any, section: str) -> dict:
    """The section as written, checked to be a mapping with a string ``name``."""
    if section not in recipe.data or recipe.data[section] is None:
        raise UserError(f"{recipe.where(())}: the recipe has no {section}: section")
    spec = recipe.data[section]
    kind = singular(SECTION_KINDS.get(section, section + "s"))
    plural = SECTION_KINDS.get(section, section + "s")
    example = f"e.g. {section}: {{name: ...}}; 'zoo list {plural}' shows them"
    if not isinstance(spec, dict):
        raise UserError(f"{recipe.where((section,))}: {section}: expected a mapping naming the {kind} "
                        f"({example}), got {_show(spec)} ({_type_name(spec)})")
    if "name" not in spec or spec["name"] is None:
        raise UserError(f"{recipe.where((section,))}: {section}: missing name (which {kind} to use; {example})")
    name = spec["name"]
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise UserError(f"{recipe.where((section, 'name'))}: {section}.name: {_show(name)} is not a {kind} "
                        f"name (lowercase letters, digits, '_', '.', '-', '/'; {example})")
    return spec


def renamed_on_command_line(recipe: Any, section: str) -> bool:
    """Whether an override replaced the component of ``section`` (``model.name=mlp``)."""
    return recipe.set_on_command_line((section, "name"))


def validate_section(recipe: Any, section: str, entry: Any, *, supplied: Sequence[str] = (),
                     fill: Optional[dict] = None, ignore: Sequence[str] = (), partial: bool = False) -> dict:
    """Check ``recipe``'s section ``section`` against ``entry``'s factory; return its kwargs.

    ``recipe``: a ``zoo.recipe.Recipe``; ``entry``: the ``zoo.registry.Entry`` the section names.
    ``supplied``: parameters the runner passes itself (``params`` of an optimizer, ``optimizer``
    of a scheduler): the recipe may not set them. ``fill``: values the runner offers for
    parameters the factory accepts and the recipe leaves unset (``num_classes``, ``epochs``...).
    ``ignore``: keys the runner reads itself (``optimizer.params``): accepted, not passed on.
    ``partial``: a check before the data is known: a required parameter the runner fills
    (``FILLED_BY_RUNNER``) may be missing.

    Returns the validated, type-converted keyword arguments (``name`` and ``ignore`` keys
    removed, ``fill`` values added) for ``entry.create(**kwargs)``; raises ``zoo.UserError``.
    """
    spec = _section_mapping(recipe, section)
    params, var_keyword = _schema(entry, supplied)
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
    for key in keys:
        if key in supplied and key not in params:
            raise UserError(f"{recipe.where((section, key))}: {section}.{key}: set by zoo itself for "
                            f"{_what(entry)}, not by the recipe; accepted: {accepted()}")
        if key not in params and not var_keyword:
            close = difflib.get_close_matches(str(key), list(params) + list(ignore), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserError(f"{recipe.where((section, key))}: {section}.{key}: unknown key for "
                            f"{_what(entry)}{hint}; accepted: {accepted()}")

    kwargs: dict = {}
    for key in keys:
        value = spec[key]
        param = params.get(key)
        adapter = _adapter(param.annotation) if param is not None else None
        if adapter is None:
            kwargs[key] = value
            continue
        try:
            kwargs[key] = adapter.validate_python(value)
        except ValidationError as exc:
            raise _type_error(recipe, section, key, param.annotation, value, exc) from None

    for key, value in (fill or {}).items():
        if key in params and key not in kwargs:
            kwargs[key] = value

    missing = [p.name for p in params.values()
               if p.required and p.name not in kwargs and not (partial and p.name in FILLED_BY_RUNNER)]
    if missing:
        what = "key" if len(missing) == 1 else "keys"
        raise UserError(f"{recipe.where((section,))}: {section}: missing required {what} "
                        f"{', '.join(repr(m) for m in missing)} for {_what(entry)}; accepted: {accepted()}")
    return kwargs


def validate_recipe_shape(recipe: Any, allowed_sections: Iterable[str]) -> None:
    """Check the recipe's top level; raise ``zoo.UserError`` naming file:line at the first problem.

    ``allowed_sections``: every allowed top-level key (``name``, ``seed``, ``description``,
    ``task``, ``data``...). Checks: no other key; ``seed`` an int; ``name`` a valid name;
    ``description`` a string; each component section present is a mapping with a valid
    ``name`` (a null section counts as absent).
    """
    allowed = list(dict.fromkeys(allowed_sections))
    data = recipe.data
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserError(f"{recipe.where((key,))}: unknown top-level key {str(key)!r}{hint}; "
                            f"allowed: {', '.join(allowed)}")
    if "seed" in data:
        seed = data["seed"]
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise UserError(f"{recipe.where(('seed',))}: seed: expected int, got {_show(seed)} ({_type_name(seed)})")
    if "name" in data:
        name = data["name"]
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise UserError(f"{recipe.where(('name',))}: name: {_show(name)} is not a valid recipe name "
                            f"(lowercase letters, digits, '_', '.', '-', '/', starting with a letter or digit)")
    if data.get("description") is not None and not isinstance(data["description"], str):
        value = data["description"]
        raise UserError(f"{recipe.where(('description',))}: description: expected a string, "
                        f"got {_show(value)} ({_type_name(value)})")
    for section in allowed:
        if section not in META_KEYS and data.get(section) is not None:
            _section_mapping(recipe, section)


def lookup_entry(recipe: Any, section: str, registry: Any) -> Any:
    """The registry entry the section's ``name`` names; an unknown name is a UserError at its line."""
    spec = _section_mapping(recipe, section)
    try:
        return registry.get(spec["name"])
    except UserError as exc:
        raise UserError(f"{recipe.where((section, 'name'))}: {section}.name: {exc.message}") from None

"""Reading a factory's signature as a recipe section's schema.

``section_parameters(entry, leading)`` lists the keys a recipe may set for a registry entry (its
factory's parameters after the ``leading`` ones zoo passes itself), each with its annotation
resolved: ``typing.get_type_hints`` evaluates ``from __future__ import annotations`` strings,
an annotation that can't be resolved (or none) accepts anything, and a parameter whose default
is None also accepts null. ``resolved_annotations`` gives the same annotations to ``zoo info``.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from typing import Any, Iterable, NamedTuple, Optional

__all__ = ["Parameter", "section_parameters", "leading_names", "resolved_annotations", "accepts_none",
           "is_union"]

EMPTY = inspect.Parameter.empty


class Parameter(NamedTuple):
    """One key a recipe section may set: the parameter's name, its resolved annotation (a type,
    or ``Any``) and whether the factory requires it."""

    name: str
    annotation: Any
    required: bool


def is_union(annotation: Any) -> bool:
    """Whether ``annotation`` is ``Union[...]``/``Optional[...]`` or ``int | None``."""
    union_type = getattr(types, "UnionType", None)
    return typing.get_origin(annotation) is typing.Union or (
        union_type is not None and isinstance(annotation, union_type))


def accepts_none(annotation: Any) -> bool:
    """Whether a value of ``annotation`` may be None (``Optional``, ``None``, ``Annotated[Optional[...]]``)."""
    if annotation is type(None) or annotation is None:
        return True
    if typing.get_origin(annotation) is typing.Annotated:
        return accepts_none(typing.get_args(annotation)[0])
    if is_union(annotation):
        return any(accepts_none(a) for a in typing.get_args(annotation))
    return False


def hint_target(factory: Any) -> Any:
    """The function whose annotations describe ``factory``'s parameters: a class's ``__init__``,
    a partial's function, a callable object's ``__call__``, else the factory itself."""
    if inspect.isclass(factory):
        return factory.__init__
    if isinstance(factory, functools.partial):
        return hint_target(factory.func)
    if not (inspect.isfunction(factory) or inspect.ismethod(factory)) and callable(factory):
        return getattr(factory, "__call__", factory)
    return factory


def annotations_of(factory: Any, params: Iterable[inspect.Parameter]) -> dict:
    """Parameter name -> resolved annotation for each of ``params`` of ``factory`` (``Any``
    when missing or unresolvable; ``Optional`` added where the default is None)."""
    params = list(params)
    target = hint_target(factory)
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
        if annotation is EMPTY or isinstance(annotation, str):
            annotation = Any
        if p.default is None and annotation is not Any and not accepts_none(annotation):
            annotation = Optional[annotation]
        result[p.name] = annotation
    return result


def resolved_annotations(factory: Any, params: Iterable[inspect.Parameter]) -> dict:
    """Parameter name -> its annotation resolved (``from __future__ import annotations``
    strings evaluated; ``Optional`` added where the default is None), for the ``params`` of
    ``factory`` that have one. An annotation that can't be resolved is left out."""
    annotated = {p.name: p for p in params if p.annotation is not EMPTY}
    resolved = annotations_of(factory, annotated.values())
    return {name: annotation for name, annotation in resolved.items()
            if annotation is not Any or annotated[name].annotation is Any}


def leading_names(entry: Any, count: int) -> tuple:
    """The names of the first ``count`` parameters of ``entry``'s factory (a
    ``zoo.registry.Entry``): the ones zoo passes itself (``zoo.kinds.Kind.leading``)."""
    if not count:
        return ()
    try:
        params = list(entry.signature().parameters.values())
    except (TypeError, ValueError):  # no inspectable signature: nothing to name
        return ()
    return tuple(p.name for p in params[:count])


def section_parameters(entry: Any, supplied: Iterable[str] = ()) -> tuple:
    """``({name: Parameter} a recipe may set, whether the factory takes **kwargs)`` for ``entry``
    (a ``zoo.registry.Entry``); ``supplied``: parameters zoo passes itself, left out. A factory
    without an inspectable signature accepts anything: ``({}, True)``."""
    try:
        signature = entry.signature()
    except (TypeError, ValueError):
        return {}, True
    supplied = tuple(supplied)
    settable = [p for p in signature.parameters.values()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in supplied]
    var_keyword = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    annotations = annotations_of(entry.load(), settable)
    return {p.name: Parameter(p.name, annotations[p.name], p.default is EMPTY) for p in settable}, var_keyword

"""Types and values in words, for users: ``zoo info``'s parameter list and validation messages.

``describe_type(Annotated[float, Gt(0)])`` is ``"float > 0"``; ``show_value`` and ``type_name``
quote a value the way an error message shows it (``'abc' (str)``); ``printable`` makes text from
plugins, files or the command line safe to print on a terminal (no escape sequences).
"""

from __future__ import annotations

import inspect
import typing
from typing import Any, Sequence

from zoo.signatures import is_union

__all__ = ["describe_type", "describe_bounds", "bounds_of", "show_value", "type_name", "printable"]


def describe_type(annotation: Any) -> str:
    """A short readable name for an annotation: ``int``, ``list[int]``, ``one of 'a', 'b'``,
    ``float or null``, with the bounds of ``Annotated`` constraints: ``float > 0``, ``float in [0, 1)``."""
    if annotation is Any or annotation is inspect.Parameter.empty:
        return "any value"
    if annotation is type(None) or annotation is None:
        return "null"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        inner, bounds = args[0], describe_bounds(args[1:])
        if bounds and is_union(inner):
            # Annotated[Optional[int], Gt(0)]: the bound is on the int -> "int > 0 or null"
            return " or ".join(describe_type(a) + ("" if a is type(None) else bounds) for a in typing.get_args(inner))
        return describe_type(inner) + bounds
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if is_union(annotation):
        return " or ".join(describe_type(a) for a in args)
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        if args:
            inner = ", ".join("..." if a is Ellipsis else describe_type(a) for a in args)
            return f"{name}[{inner}]"
        return name
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


def bounds_of(metadata: Sequence) -> dict:
    """``{"gt"|"ge"|"lt"|"le": value}`` from annotated_types' Gt/Ge/Lt/Le, ``Interval`` and
    pydantic's ``Field(ge=...)`` (its constraints live in ``.metadata``)."""
    found: dict = {}
    for item in metadata:
        if isinstance(getattr(item, "metadata", None), list):
            found.update(bounds_of(item.metadata))
        for op in ("gt", "ge", "lt", "le"):
            value = getattr(item, op, None)
            if value is not None:
                found[op] = value
    return found


def describe_bounds(metadata: Sequence) -> str:
    """`` > 0``, `` >= 0``, `` in [0, 1)`` for the bounds in ``metadata``; "" when there is none."""
    bounds = bounds_of(metadata)
    low = ("(", bounds["gt"]) if "gt" in bounds else ("[", bounds["ge"]) if "ge" in bounds else None
    high = (")", bounds["lt"]) if "lt" in bounds else ("]", bounds["le"]) if "le" in bounds else None
    if low and high:
        return f" in {low[0]}{low[1]}, {high[1]}{high[0]}"
    if low:
        return f" {'>' if low[0] == '(' else '>='} {low[1]}"
    if high:
        return f" {'<' if high[0] == ')' else '<='} {high[1]}"
    return ""


def show_value(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters with ``...``."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def type_name(value: Any) -> str:
    """The type of ``value`` as a message names it: ``int``, ``str``, ``null``."""
    return "null" if value is None else type(value).__name__


def printable(text: str, keep: str = "") -> str:
    """``text`` with every unprintable character escaped (``\\x1b``, ``\\n``...) except those in
    ``keep`` (e.g. ``"\\n"``): what a plugin's summary or a file name says can't move the cursor,
    clear the screen or recolour the terminal."""
    if text.isprintable():  # most text: nothing to escape (a table's thousands of cells)
        return text
    return "".join(c if c.isprintable() or c in keep else repr(c)[1:-1] for c in text)

"""Command-line overrides of a recipe: ``KEY=VALUE`` strings such as ``optimizer.lr=0.1``.

The key is a dot-separated path into the recipe (list items by index: ``data.augment.0``), the
value is parsed as YAML in the recipe dialect (``zoo.recipe_yaml``); mappings on the way are
created when missing. The position of an overridden key becomes ``command line (KEY=VALUE)``,
which is how ``Recipe.set_on_command_line`` knows it. A malformed override is a one-line
``zoo.UserError`` quoting it.
"""

from __future__ import annotations

import difflib
from typing import Any

from zoo.errors import UserError
from zoo.kinds import TOP_LEVEL_KEYS
from zoo.recipe_positions import KeyPath, drop_under, position_of
from zoo.recipe_yaml import parse_document, value_kind
from zoo.type_text import printable

__all__ = ["COMMAND_LINE", "apply_override"]

COMMAND_LINE = "command line"  # the position of a key an override set: "command line (optimizer.lr=0.1)"


def apply_override(data: dict, positions: dict, text: str) -> None:
    """Apply one override ``text`` (``a.b.c=value``, the value parsed as YAML) to the recipe
    mapping ``data`` and its ``positions``, both in place. Raises ``zoo.UserError`` quoting
    ``text`` when it is malformed or its path runs through a value that is not a mapping or list."""
    if not isinstance(text, str) or "=" not in text:
        raise UserError(f"override {text!r}: expected KEY=VALUE (e.g. optimizer.lr=0.1)")
    key, _, raw = text.partition("=")
    parts = [p.strip() for p in key.split(".")]
    if not key.strip() or not all(parts):
        raise UserError(f"override {text!r}: the key must be dot-separated names (e.g. optimizer.lr=0.1)")
    source = f"{COMMAND_LINE} ({printable(text)})"
    first = parts[0]
    if first == "base":
        raise UserError(f"override {text!r}: base can't be changed on the command line; "
                        f"write a recipe whose base: names the file you want")
    if first not in TOP_LEVEL_KEYS and first not in data:
        close = difflib.get_close_matches(first, TOP_LEVEL_KEYS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UserError(f"override {text!r}: unknown top-level key {first!r}{hint}; "
                        f"allowed: {', '.join(k for k in TOP_LEVEL_KEYS if k != 'base')}")
    value = "" if not raw.strip() else parse_document(raw, source, in_file=False)[0]
    node: Any = data
    path: KeyPath = ()
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, dict):
            step: Any = part
            if last:
                node[step] = value
            elif node.get(step) is None:
                node[step] = {}
                positions[path + (step,)] = source
        elif isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise UserError(f"override {text!r}: {'.'.join(parts[:i])} is a list of {len(node)}; "
                                f"{part!r} is not an index of it (0..{len(node) - 1})")
            step = int(part)
            if last:
                node[step] = value
        else:
            dotted = ".".join(parts[:i])
            at = position_of(positions, path)
            raise UserError(f"override {text!r}: {dotted} is {node!r} ({value_kind(node)}, set at {at}), "
                            f"not a mapping, so it has no key {part!r}")
        path = path + (step,)
        if not last:
            node = node[step]
    drop_under(positions, path)
    positions[path] = source

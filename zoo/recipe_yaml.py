"""The recipe YAML dialect: how a recipe's text becomes plain data (with the line of every key)
and how values are written back.

The dialect is deliberately small and predictable:

- safe loading only: plain data (mappings, lists, strings, numbers, booleans, null); a tag that
  would build anything else (``!!python/object``, ``!!binary``, ``!!set``...) is an error;
- YAML 1.2 core scalars: ``1e-3``, ``1e6``, ``.5``, ``-2.5E+3`` are floats (PyYAML's YAML 1.1
  resolver reads ``1e-3`` as a string); only ``true``/``false`` (any case) are booleans, so
  ``yes``/``no``/``on``/``off`` stay strings; ``010`` is the integer 10, ``0x1f``/``0o17`` are
  hex/octal; dates and ``1:30`` stay strings;
- a key given twice in one mapping is an error (PyYAML silently keeps the last);
- merge keys (``<<: *defaults``) work as in YAML 1.1; a recursive alias is an error.

``parse_document`` reads one document into ``(value, positions)`` (see ``zoo.recipe_positions``);
``RecipeDumper`` writes what it reads back unchanged, ``dump_value`` one value on one line.
Every error is a one-line ``zoo.UserError`` naming ``file:line:column``.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Sequence

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from zoo.errors import UserError
from zoo.recipe_positions import KeyPath, drop_under

__all__ = ["RecipeLoader", "RecipeDumper", "dump_value", "parse_document", "value_kind"]

_TAG = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = (_TAG + t for t in ("str", "int", "float", "bool", "null"))
MAP, SEQ, MERGE = _TAG + "map", _TAG + "seq", _TAG + "merge"
_SCALAR_TAGS = (STR, INT, FLOAT, BOOL, NULL)

_BOOL_RE = re.compile(r"^(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$")
_INT_RE = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT_RE = re.compile(
    r"^(?:[-+]?(?:[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_NULL_RE = re.compile(r"^(?:~|null|Null|NULL|)$")
_MERGE_RE = re.compile(r"^<<$")


def _implicit_resolvers() -> dict:
    """First character -> [(tag, regexp)]: the YAML 1.2 core schema (plus ``<<`` merge keys)."""
    table: dict = {}
    for tag, regexp, first in (
        (BOOL, _BOOL_RE, "tTfF"),
        (INT, _INT_RE, "-+0123456789"),
        (FLOAT, _FLOAT_RE, "-+0123456789."),
        (MERGE, _MERGE_RE, "<"),
        (NULL, _NULL_RE, ["~", "n", "N", ""]),
    ):
        for ch in first:
            table.setdefault(ch, []).append((tag, regexp))
    return table


def _construct_int(loader: yaml.SafeLoader, node: ScalarNode) -> int:
    text = loader.construct_scalar(node)
    body = text.strip()
    sign = -1 if body.startswith("-") else 1
    body = body.lstrip("+-")
    bases = {"0x": 16, "0o": 8, "0b": 2}
    try:
        if body[:2].lower() in bases:
            return sign * int(body[2:], bases[body[:2].lower()])
        return sign * int(body, 10)
    except ValueError:
        raise yaml.constructor.ConstructorError(None, None, f"not an integer: {text!r}", node.start_mark)


def _construct_float(loader: yaml.SafeLoader, node: ScalarNode) -> float:
    text = loader.construct_scalar(node)
    lowered = text.strip().lower()
    if lowered.lstrip("+-") == ".inf":
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    try:
        return float(lowered)
    except ValueError:
        raise yaml.constructor.ConstructorError(None, None, f"not a number: {text!r}", node.start_mark)


class RecipeLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader with YAML 1.2 core scalars (see the module docstring)."""


RecipeLoader.yaml_implicit_resolvers = _implicit_resolvers()
RecipeLoader.add_constructor(INT, _construct_int)
RecipeLoader.add_constructor(FLOAT, _construct_float)

_YAML11 = yaml.resolver.Resolver()


class RecipeDumper(yaml.SafeDumper):
    """Writes what ``RecipeLoader`` reads back unchanged; flat lists on one line.

    Strings that either YAML 1.2 or YAML 1.1 readers would take for something else
    (``'1e-3'``, ``'yes'``, ``'2024-01-01'``) are quoted, so other tools read them right too.
    """


RecipeDumper.yaml_implicit_resolvers = _implicit_resolvers()


_ESCAPED = re.compile("[\x85\u2028\u2029\r\ufeff]")


def _represent_str(dumper: RecipeDumper, value: str) -> ScalarNode:
    style = None
    if _ESCAPED.search(value) or not value.replace("\n", "").replace("\t", "").isprintable():
        style = '"'  # written as escapes: read back as such, not as folded line breaks
    elif "\n" in value.strip("\n"):
        style = "|"
    elif _YAML11.resolve(ScalarNode, value, (True, False)) != STR:
        style = "'"
    return dumper.represent_scalar(STR, value, style=style)


def _represent_list(dumper: RecipeDumper, value: Sequence) -> SequenceNode:
    flat = all(v is None or isinstance(v, (bool, int, float)) or (isinstance(v, str) and "\n" not in v)
               for v in value)
    return dumper.represent_sequence(SEQ, list(value), flow_style=bool(value) and flat)


RecipeDumper.add_representer(str, _represent_str)
RecipeDumper.add_representer(list, _represent_list)
RecipeDumper.add_representer(tuple, _represent_list)


class _OneLineDumper(RecipeDumper):
    """``RecipeDumper`` in flow style throughout: a value on one line."""


def _represent_str_one_line(dumper: RecipeDumper, value: str) -> ScalarNode:
    if "\n" in value or "\r" in value:
        return dumper.represent_scalar(STR, value, style='"')
    return _represent_str(dumper, value)


_OneLineDumper.add_representer(str, _represent_str_one_line)
_OneLineDumper.add_representer(list, lambda d, v: d.represent_sequence(SEQ, list(v), flow_style=True))
_OneLineDumper.add_representer(tuple, lambda d, v: d.represent_sequence(SEQ, list(v), flow_style=True))


def dump_value(value: Any) -> str:
    """``value`` as YAML on one line (``0.001``, ``[hflip, vflip]``, ``'yes'``): what an override takes."""
    text = yaml.dump(value, Dumper=_OneLineDumper, default_flow_style=True, allow_unicode=True,
                     width=math.inf, sort_keys=False)
    text = text[:-4] if text.endswith("\n...\n") else text
    return text.rstrip("\n")


# -- reading one YAML document, with positions -----------------------------------------------

_MAX_NODES = 200_000  # values built from one document (aliases may multiply them)


def _mark_line(mark: Any) -> int:
    return mark.line + 1


class _Builder:
    """Turns a composed YAML node graph into plain Python data, recording each key's line.

    ``positions`` maps key paths (tuples of keys and list indices) to ``"file:line"``;
    ``locate(mark)`` says how a position inside this source is written in messages.
    """

    def __init__(self, loader: RecipeLoader, locate: Callable[..., str]):
        self.loader = loader
        self.locate = locate
        self.positions: dict = {}
        self.built = 0

    def error(self, mark: Any, message: str) -> UserError:
        return UserError(f"{self.locate(mark)}: {message}")

    def build(self, node: Any, path: KeyPath, active: tuple = ()) -> Any:
        self.built += 1
        if self.built > _MAX_NODES:
            raise self.error(node.start_mark, f"the document expands to more than {_MAX_NODES} values "
                                              f"(aliases repeated too often)")
        if any(node is a for a in active):
            raise self.error(node.start_mark, "recursive alias: a value that contains itself")
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if isinstance(node, SequenceNode):
            if node.tag != SEQ:
                raise self.unsupported(node)
            items = []
            for i, item in enumerate(node.value):
                self.positions[path + (i,)] = self.locate_line(item.start_mark)
                items.append(self.build(item, path + (i,), active + (node,)))
            return items
        if node.tag != MAP:
            raise self.unsupported(node)
        return self.mapping(node, path, active + (node,))

    def locate_line(self, mark: Any) -> str:
        return self.locate(mark, line_only=True)

    def unsupported(self, node: Any) -> UserError:
        tag = "!!" + node.tag[len(_TAG):] if node.tag.startswith(_TAG) else node.tag
        return self.error(node.start_mark, f"unsupported tag {tag}: recipes hold plain data "
                                           f"(strings, numbers, true/false, null, lists, mappings)")

    def scalar(self, node: ScalarNode) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise self.unsupported(node)
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.constructor.ConstructorError, ValueError, OverflowError) as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            raise self.error(node.start_mark, problem.replace("\n", " ")) from None

    def mapping(self, node: MappingNode, path: KeyPath, active: tuple) -> dict:
        result: dict = {}
        merges = [v for k, v in node.value if k.tag == MERGE]
        # merged mappings first (an earlier one wins over a later one), then the explicit keys
        for value_node in merges:
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in reversed(sources):
                if any(source is a for a in active):
                    raise self.error(source.start_mark, "recursive alias: a value that contains itself")
                if not isinstance(source, MappingNode) or source.tag != MAP:
                    raise self.error(source.start_mark, "a merge key (<<) takes a mapping or a list of mappings")
                for key, value in self.mapping(source, path, active + (source,)).items():
                    drop_under(self.positions, path + (key,))
                    result[key] = value
        seen: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE:
                continue
            if not isinstance(key_node, ScalarNode):
                raise self.error(key_node.start_mark, "a mapping key must be a plain value, not a list or mapping")
            key = self.scalar(key_node)
            line = _mark_line(key_node.start_mark)
            if key in seen:
                dotted = ".".join(str(p) for p in path + (key,))
                raise self.error(key_node.start_mark, f"duplicate key {dotted} (first given at line {seen[key]})")
            seen[key] = line
            drop_under(self.positions, path + (key,))
            self.positions[path + (key,)] = self.locate_line(key_node.start_mark)
            result[key] = self.build(value_node, path + (key,), active)
        return result


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def parse_document(text: str, source: str, *, in_file: bool) -> tuple:
    """Parse one YAML document; return ``(value, positions)``. Errors are one-line UserErrors.

    ``in_file``: positions read ``source:line`` and syntax errors ``source:line:col``;
    otherwise (a command-line value) every position is ``source`` itself.
    """

    def locate(mark: Any, line_only: bool = False) -> str:
        if not in_file:
            if line_only:
                return source
            line = f"line {mark.line + 1} " if mark.line else ""
            return f"{source}: value {line}column {mark.column + 1}"
        if line_only:
            return f"{source}:{mark.line + 1}"
        return f"{source}:{mark.line + 1}:{mark.column + 1}"

    loader = None
    try:
        try:
            loader = RecipeLoader(text)
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = _one_line(exc.problem or exc.context or "invalid YAML")
            if exc.context and exc.problem:
                where = f" at line {exc.context_mark.line + 1}" if exc.context_mark and in_file else ""
                problem += f" ({_one_line(exc.context)}{where})"
            raise UserError(f"{locate(mark) if mark else source}: {problem}") from None
        except yaml.reader.ReaderError as exc:
            line = text.count("\n", 0, exc.position) + 1
            where = f"{source}:{line}" if in_file else source
            code = exc.character if isinstance(exc.character, int) else ord(exc.character)
            raise UserError(f"{where}: character #x{code:04x} is not allowed in YAML") from None
        if node is None:
            return None, {(): f"{source}:1" if in_file else source}
        builder = _Builder(loader, locate)
        builder.positions[()] = locate(node.start_mark, line_only=True)
        return builder.build(node, ()), builder.positions
    except RecursionError:
        raise UserError(f"{source}: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def value_kind(value: Any) -> str:
    """How a message names the kind of a parsed value: ``null``, ``a mapping``, ``a list``, ``a string``..."""
    if value is None:
        return "null"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}")

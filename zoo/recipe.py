"""Recipes: YAML files naming a task and the components it runs with.

``load_recipe(path, overrides)`` reads a recipe, deep-merges the files its ``base:`` names
under it, applies command-line overrides (``optimizer.lr=0.1``, values parsed as YAML) and
remembers where every key was written, so a mistake found later is reported as ``file:line``
(``Recipe.where``). Every error here is a one-line ``zoo.UserError``.

The YAML dialect is deliberately small and predictable:

- safe loading only: plain data (mappings, lists, strings, numbers, booleans, null); a tag that
  would build anything else (``!!python/object``, ``!!binary``, ``!!set``...) is an error;
- YAML 1.2 core scalars: ``1e-3``, ``1e6``, ``.5``, ``-2.5E+3`` are floats (PyYAML's YAML 1.1
  resolver reads ``1e-3`` as a string); only ``true``/``false`` (any case) are booleans, so
  ``yes``/``no``/``on``/``off`` stay strings; ``010`` is the integer 10, ``0x1f``/``0o17`` are
  hex/octal; dates and ``1:30`` stay strings;
- a key given twice in one mapping is an error (PyYAML silently keeps the last);
- merge keys (``<<: *defaults``) work as in YAML 1.1; a recursive alias is an error.

A base's ``name`` is not inherited: a recipe without ``name`` is named after its own file.
"""

from __future__ import annotations

import copy
import difflib
import math
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence, Union

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from zoo.errors import UserError

__all__ = ["Recipe", "load_recipe", "dump_value", "TOP_LEVEL_KEYS", "RecipeLoader", "RecipeDumper"]

# The keys a recipe may have at its top level, in the order ``to_yaml`` writes them.
COMMAND_LINE = "command line"  # where() of a key an override set: "command line (optimizer.lr=0.1)"
TOP_LEVEL_KEYS = ("name", "seed", "base", "description", "task", "data", "model", "loss",
                  "optimizer", "scheduler")
_WRITE_ORDER = tuple(k for k in TOP_LEVEL_KEYS if k != "base")

PathLike = Union[str, "os.PathLike[str]"]
KeyPath = tuple

# -- the YAML dialect ------------------------------------------------------------------------

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
                    _drop_under(self.positions, path + (key,))
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
            _drop_under(self.positions, path + (key,))
            self.positions[path + (key,)] = self.locate_line(key_node.start_mark)
            result[key] = self.build(value_node, path + (key,), active)
        return result


def _drop_under(positions: dict, prefix: KeyPath) -> None:
    """Forget the positions of everything strictly inside ``prefix``."""
    n = len(prefix)
    for p in [p for p in positions if len(p) > n and p[:n] == prefix]:
        del positions[p]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _parse(text: str, source: str, *, in_file: bool) -> tuple:
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


# -- files and bases -------------------------------------------------------------------------


def _display(path: Path) -> str:
    return os.path.normpath(str(path))


def _read_text(path: Path, display: str, referenced_at: Optional[str] = None) -> str:
    prefix = f"{referenced_at}: base file not found: " if referenced_at else "recipe not found: "
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{prefix}{display}") from None
    except IsADirectoryError:
        at = f"{referenced_at}: " if referenced_at else ""
        raise UserError(f"{at}{display}: is a folder, not a recipe file") from None
    except OSError as exc:
        raise UserError(f"{display}: cannot read: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise UserError(f"{display}:{line}: not UTF-8 text (byte {raw[exc.start]:#04x})") from None


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}")


def _load_file(path: Path, display: str, stack: tuple, files: list, referenced_at: Optional[str] = None) -> tuple:
    """Read ``path`` and its bases; return ``(merged data, positions)``.

    ``stack`` holds ``(resolved path, display name)`` of the files naming this one (cycle check).
    """
    text = _read_text(path, display, referenced_at)
    data, positions = _parse(text, display, in_file=True)
    if not isinstance(data, dict):
        got = "an empty file" if data is None else _kind_of(data)
        raise UserError(f"{positions[()]}: a recipe is a mapping of sections "
                        f"(name:, task:, data:, model:, ...), got {got}")
    if path not in files:
        files.append(path)
    return _apply_bases(data, positions, path.parent, stack + ((_identity(path), display),), files)


def _identity(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return Path(os.path.abspath(path))


def _apply_bases(data: dict, positions: dict, folder: Optional[Path], stack: tuple, files: list) -> tuple:
    """Deep-merge the files ``data["base"]`` names (relative to ``folder``) under ``data``."""
    if "base" not in data:
        return data, positions
    bases = data.pop("base")
    where = positions.get(("base",), positions[()])
    if bases is None:
        bases = []
    names = bases if isinstance(bases, list) else [bases]
    if not all(isinstance(n, str) and n.strip() for n in names):
        raise UserError(f"{where}: base: expected a file name or a list of file names, got {bases!r}")
    merged: dict = {}
    merged_positions: dict = {}
    for i, name in enumerate(names):
        at = positions.get(("base", i), where) if isinstance(bases, list) else where
        target = Path(os.path.expanduser(name))
        if not target.is_absolute():
            target = (folder or Path(".")) / target
        display = _display(target)
        chain = [d for _, d in stack]
        if _identity(target) in [p for p, _ in stack]:
            start = [p for p, _ in stack].index(_identity(target))
            cycle = " -> ".join(chain[start:] + [display])
            raise UserError(f"{at}: base: cycle {cycle}")
        base_data, base_positions = _load_file(target, display, stack, files, referenced_at=at)
        base_data.pop("name", None)  # a base's name is not inherited
        _drop_under(base_positions, ("name",))
        base_positions.pop(("name",), None)
        merged, merged_positions = _deep_merge(merged, merged_positions, base_data, base_positions)
    _drop_under(positions, ("base",))
    positions.pop(("base",), None)
    root = positions[()]
    merged, merged_positions = _deep_merge(merged, merged_positions, data, positions)
    merged_positions[()] = root
    return merged, merged_positions


def _deep_merge(base: dict, base_positions: dict, child: dict, child_positions: dict) -> tuple:
    """``child`` over ``base``: mappings merge key by key, lists and scalars replace."""
    data = copy.deepcopy(base)
    positions = dict(base_positions)

    def merge(target: dict, overlay: dict, prefix: KeyPath) -> None:
        for key, value in overlay.items():
            path = prefix + (key,)
            if isinstance(value, dict) and isinstance(target.get(key), dict):
                merge(target[key], value, path)
            else:
                _drop_under(positions, path)
                target[key] = copy.deepcopy(value)

    merge(data, child, ())
    positions.update(child_positions)
    return data, positions


# -- overrides -------------------------------------------------------------------------------


def _apply_override(data: dict, positions: dict, text: str) -> None:
    """Apply one ``a.b.c=value`` to ``data`` in place (value parsed as YAML)."""
    if not isinstance(text, str) or "=" not in text:
        raise UserError(f"override {text!r}: expected KEY=VALUE (e.g. optimizer.lr=0.1)")
    key, _, raw = text.partition("=")
    parts = [p.strip() for p in key.split(".")]
    if not key.strip() or not all(parts):
        raise UserError(f"override {text!r}: the key must be dot-separated names (e.g. optimizer.lr=0.1)")
    source = f"{COMMAND_LINE} ({_printable(text)})"
    first = parts[0]
    if first == "base":
        raise UserError(f"override {text!r}: base can't be changed on the command line; "
                        f"write a recipe whose base: names the file you want")
    if first not in TOP_LEVEL_KEYS and first not in data:
        close = difflib.get_close_matches(first, TOP_LEVEL_KEYS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UserError(f"override {text!r}: unknown top-level key {first!r}{hint}; "
                        f"allowed: {', '.join(k for k in TOP_LEVEL_KEYS if k != 'base')}")
    value = "" if not raw.strip() else _parse(raw, source, in_file=False)[0]
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
            at = _where(positions, path)
            raise UserError(f"override {text!r}: {dotted} is {node!r} ({_kind_of(node)}, set at {at}), "
                            f"not a mapping, so it has no key {part!r}")
        path = path + (step,)
        if not last:
            node = node[step]
    _drop_under(positions, path)
    positions[path] = source


def _printable(text: str) -> str:
    """``text`` with line breaks and other unprintable characters escaped (for one-line messages)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _where(positions: dict, path: Sequence) -> str:
    path = tuple(path)
    for n in range(len(path), -1, -1):
        found = positions.get(path[:n])
        if found is not None:
            return found
    return "recipe"


# -- the Recipe ------------------------------------------------------------------------------


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
        self._positions.setdefault((), _display(self.path) if self.path is not None else "recipe")

    @classmethod
    def from_dict(cls, data: dict, path: Optional[PathLike] = None) -> "Recipe":
        """A recipe from a dict built in code; a ``base`` in it is resolved relative to ``path``'s folder.

        Positions are the file name only (no lines), or ``recipe`` without ``path``.
        """
        if not isinstance(data, dict):
            raise UserError(f"{path or 'recipe'}: a recipe is a mapping of sections, got {_kind_of(data)}")
        path = Path(path) if path is not None else None
        data = copy.deepcopy(data)
        source = _display(path) if path is not None else "recipe"
        positions = {(): source}
        files: list = [path] if path is not None else []
        stack = ((_identity(path), source),) if path is not None else ()
        folder = path.parent if path is not None else None
        data, positions = _apply_bases(data, positions, folder, stack, files)
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
        key inside an override's value); an override answers ``command line (KEY=VALUE)``.
        """
        return _where(self._positions, path)

    def set_on_command_line(self, path: Sequence) -> bool:
        """Whether the value at ``path`` came from a command-line override (itself, or a mapping
        holding it: ``optimizer={...}`` sets every key of the section)."""
        return self.where(path).startswith(COMMAND_LINE + " (")

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
    files: list = []
    data, positions = _load_file(path, _display(path), (), files)
    for text in overrides:
        _apply_override(data, positions, text)
    return Recipe(data, path, files=files, overrides=overrides, positions=positions)

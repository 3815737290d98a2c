"""Reading recipe files and merging the files their ``base:`` names under them.

``base: FILE`` (or a list of files, relative to the recipe's folder) deep-merges those files
under the recipe: mappings merge key by key, lists and scalars replace, and a later base wins
over an earlier one. A base's ``name`` is not inherited: a recipe without ``name`` is named after
its own file. A base may have bases; a cycle is an error naming the chain. Every error is a
one-line ``zoo.UserError`` naming the file (and the line of the ``base:`` that named it).
A recipe file, and each base, is a regular file of at most ``MAX_RECIPE_BYTES`` (1 MiB): a FIFO,
a device (``/dev/zero``) or a larger file is refused without reading it through.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Optional

from zoo.bounded_read import NotRegularFile, TooLarge, read_bounded
from zoo.errors import UserError
from zoo.recipe_positions import KeyPath, drop_under
from zoo.recipe_yaml import parse_document, value_kind

__all__ = ["MAX_RECIPE_BYTES", "display_path", "read_recipe_file", "read_recipe_text", "resolve_bases"]

MAX_RECIPE_BYTES = 1 << 20  # a recipe (or a base) is a regular file of at most 1 MiB


def display_path(path: Path) -> str:
    """How messages and positions name ``path``: as given, normalised (``recipes/../r.yaml`` -> ``r.yaml``)."""
    return os.path.normpath(str(path))


def read_recipe_file(path: Path) -> tuple:
    """Read the recipe at ``path`` and merge its bases under it.

    Returns ``(data, positions, files)``: the merged mapping (``base`` removed), where each of
    its keys was written (``zoo.recipe_positions``), and every file read, ``path`` first.
    """
    files: list = []
    data, positions = _load_file(path, display_path(path), (), files)
    return data, positions, files


def resolve_bases(data: dict, path: Optional[Path]) -> tuple:
    """Merge the files ``data["base"]`` names under ``data`` (a mapping built in code, left as is).

    ``path``: the file ``data`` stands for (bases are relative to its folder, and positions
    name it), or None (the current folder; positions say ``recipe``). Returns
    ``(data, positions, files)`` like ``read_recipe_file``.
    """
    source = display_path(path) if path is not None else "recipe"
    files: list = [path] if path is not None else []
    stack = ((_identity(path), source),) if path is not None else ()
    folder = path.parent if path is not None else None
    data, positions = _apply_bases(copy.deepcopy(data), {(): source}, folder, stack, files)
    return data, positions, files


def read_recipe_text(path: Path, display: str, referenced_at: Optional[str] = None) -> str:
    """The text of the recipe file ``path`` (named ``display`` in messages; ``referenced_at``: the
    ``file:line`` of the ``base:`` naming it). Raises ``zoo.UserError`` for a missing file, one
    that is not a regular file or larger than ``MAX_RECIPE_BYTES``, or not UTF-8."""
    prefix = f"{referenced_at}: base file not found: " if referenced_at else "recipe not found: "
    at = f"{referenced_at}: " if referenced_at else ""
    try:
        raw = read_bounded(path, MAX_RECIPE_BYTES)
    except FileNotFoundError:
        raise UserError(f"{prefix}{display}") from None
    except NotRegularFile as exc:
        what = "is a folder" if exc.what == "a folder" else f"is {exc.what}"
        raise UserError(f"{at}{display}: {what}, not a recipe file (a recipe is a regular file)") from None
    except TooLarge:
        raise UserError(f"{at}{display}: larger than {MAX_RECIPE_BYTES >> 20} MiB, the most a recipe "
                        f"file may hold") from None
    except OSError as exc:
        raise UserError(f"{at}{display}: cannot read: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise UserError(f"{display}:{line}: not UTF-8 text (byte {raw[exc.start]:#04x})") from None


def _load_file(path: Path, display: str, stack: tuple, files: list, referenced_at: Optional[str] = None) -> tuple:
    """Read ``path`` and its bases; return ``(merged data, positions)``.

    ``stack`` holds ``(resolved path, display name)`` of the files naming this one (cycle check).
    """
    text = read_recipe_text(path, display, referenced_at)
    data, positions = parse_document(text, display, in_file=True)
    if not isinstance(data, dict):
        got = "an empty file" if data is None else value_kind(data)
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
        display = display_path(target)
        chain = [d for _, d in stack]
        if _identity(target) in [p for p, _ in stack]:
            start = [p for p, _ in stack].index(_identity(target))
            cycle = " -> ".join(chain[start:] + [display])
            raise UserError(f"{at}: base: cycle {cycle}")
        base_data, base_positions = _load_file(target, display, stack, files, referenced_at=at)
        base_data.pop("name", None)  # a base's name is not inherited
        drop_under(base_positions, ("name",))
        base_positions.pop(("name",), None)
        merged, merged_positions = _deep_merge(merged, merged_positions, base_data, base_positions)
    drop_under(positions, ("base",))
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
                drop_under(positions, path)
                target[key] = copy.deepcopy(value)

    merge(data, child, ())
    positions.update(child_positions)
    return data, positions


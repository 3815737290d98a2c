"""The columns of the model catalog: one flat row per model (or per pretrained tag) from its card.

A row's figures come from two places: what the model's source publishes (its registry metadata
``card``: torchvision's weights meta, timm's pretrained configs, a plugin's own declaration) and
what zoo computed without weights (``zoo.catalog_cards``). A published figure wins; a figure
neither has is None, shown as ``?``: unknown, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Sequence

from zoo.errors import UserError
from zoo.where import BOOL, NUMBER, TEXT


def _count(value: Any) -> str:
    """``11_689_512`` -> ``11.7M``."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.1f}{unit}"
    return str(value)


def _joined(value: Any) -> str:
    return "x".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)


def _numbers_order(value: Any) -> tuple:
    """A list of numbers in its own order (224 before 1024, as text would not); anything else after."""
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value):
        return (0, tuple(value))
    return (1, str(value))


def _size_order(value: Any) -> tuple:
    """An input size ``[C, H, W]`` by height, width, then channels."""
    if isinstance(value, (list, tuple)) and len(value) == 3:
        value = [*value[1:], value[0]]
    return _numbers_order(value)


def _floats(value: Any) -> str:
    return ",".join(f"{v:.3f}" for v in value) if isinstance(value, (list, tuple)) else str(value)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numbers(value: Any) -> bool:
    """A non-empty list of numbers (a mean or std per channel)."""
    return isinstance(value, list) and bool(value) and all(_number(v) for v in value)


def _input_size(value: Any) -> bool:
    """``[C, H, W]``: three whole numbers."""
    return isinstance(value, list) and len(value) == 3 and all(isinstance(v, int) and not isinstance(v, bool)
                                                               for v in value)


#: what a known value of each ``--where`` type is
KIND_CHECKS = {NUMBER: _number, TEXT: lambda value: isinstance(value, str), BOOL: lambda value: isinstance(value, bool)}


@dataclass(frozen=True)
class Column:
    """One catalog column: its type for ``--where`` (``zoo.where``), what it holds, and how a
    table shows a known value."""

    name: str
    kind: str
    description: str
    show: Callable[[Any], str] = str
    comparable: Callable[[Any], Any] = lambda value: value  # the value ``--where`` and ``--sort`` see
    scale: float = 1.0  # the unit a number is kept in (gmacs: 1e9), for ``--where``'s K/M/G
    order: Optional[Callable[[Any], Any]] = None  # the value ``--sort`` sees, when not ``comparable``'s
    holds: Optional[Callable[[Any], bool]] = None  # whether a known value is of this column, when not its kind's

    def fits(self, value: Any) -> bool:
        """Whether ``value`` can be this column's: None (unknown), or a value of its type (a list
    of ``SHAPES``' shape for the columns named there)."""
        return value is None or (self.holds or KIND_CHECKS[self.kind])(value)


COLUMNS = {c.name: c for c in (
    Column("name", TEXT, "the name a recipe's model.name takes (with a tag: its pretrained weights)"),
    Column("params", NUMBER, "parameters", _count),
    Column("gmacs", NUMBER, "multiply-adds of one image at the default input size, in billions",
           lambda v: f"{v:.2f}" if v >= 0.1 else f"{v:.2g}", scale=1e9),
    Column("top1", NUMBER, "ImageNet-1K top-1 accuracy in %, where the source publishes it", lambda v: f"{v:.1f}"),
    Column("top5", NUMBER, "ImageNet-1K top-5 accuracy in %, where the source publishes it", lambda v: f"{v:.1f}"),
    Column("res", NUMBER, "the default input's height in pixels"),
    Column("input_size", TEXT, "the default input: channels x height x width", _joined, _joined, order=_size_order,
           holds=_input_size),
    Column("mean", TEXT, "the normalization mean per channel", _floats, _floats, order=_numbers_order,
           holds=_numbers),
    Column("std", TEXT, "the normalization std per channel", _floats, _floats, order=_numbers_order,
           holds=_numbers),
    Column("num_classes", NUMBER, "outputs of the classifier as published"),
    Column("features", NUMBER, "the feature width of the head a new head replaces (its inputs)"),
    Column("pretrained", BOOL, "whether pretrained weights exist", lambda v: "yes" if v else "no"),
    Column("tag", TEXT, "the pretrained tag (an architecture's row: its default tag)"),
    Column("tags", NUMBER, "how many pretrained tags the architecture has"),
    Column("license", TEXT, "the weights' license, where the source publishes it"),
    Column("file_mb", NUMBER, "the weights file's size in MB, where the source publishes it", lambda v: f"{v:.1f}",
           scale=1e6),
    Column("plugin", TEXT, "the plugin that provides it"),
    Column("summary", TEXT, "one line about it"),
)}
CARD_FIGURES = tuple(n for n in COLUMNS if n not in ("name", "plugin", "summary", "res"))
DEFAULT_COLUMNS = ("name", "summary", "plugin")
CARD_COLUMNS = ("name", "params", "gmacs", "res", "top1", "tag", "plugin")
WHERE_TYPES = {name: column.kind for name, column in COLUMNS.items()}
#: the number columns kept in a unit of their own, for ``--where``'s units (``gmacs < 1.5G``)
WHERE_SCALES = {name: column.scale for name, column in COLUMNS.items() if column.scale != 1.0}


#: what the columns checked by shape rather than by kind hold, in words
SHAPES = {"input_size": "[channels, height, width] whole numbers", "mean": "a list of numbers",
          "std": "a list of numbers"}


def misfits(card: dict) -> list:
    """The keys of ``card`` (published or computed figures) that name a column but hold a value
    not of its type (``"55.5"`` for top1, a bool for params, ``[3, 32]`` for input_size)."""
    return [key for key, value in card.items() if key in COLUMNS and not COLUMNS[key].fits(value)]


def checked_card(card: Any) -> dict:
    """``card`` without the values ``misfits`` names (a computed card as ``--where`` can use it)."""
    if not isinstance(card, dict):
        return {}
    wrong = misfits(card)
    return {k: v for k, v in card.items() if k not in wrong} if wrong else card


def check_published(described: dict) -> Optional[str]:
    """Make the published card figures of a catalog entry (``described``: ``Entry.describe()``) of
    their columns' types: a value that is not (``misfits``) becomes None, unknown, in its card and
    in its pretrained tags' figures. Returns what was dropped, one line for a warning, else None."""
    metadata = described.get("metadata") or {}
    places = [("card", metadata.get("card"))]
    tags = metadata.get("pretrained_tags")
    if isinstance(tags, dict):
        places.extend((f"tag {tag!r}", figures) for tag, figures in tags.items())
    dropped = []
    for place, card in places:
        if not isinstance(card, dict):
            continue
        for key in misfits(card):
            dropped.append(f"{place} {key}={card[key]!r} (not {SHAPES.get(key, COLUMNS[key].kind)})")
            card[key] = None
    if not dropped:
        return None
    return f"model {described['name']!r}: card values of the wrong type left unknown: {'; '.join(dropped)}"


def card_source(row: dict) -> str:
    """Which source's computed cards hold ``row``'s (a catalog entry's) figures: ``timm-1.0.31``
    for a namespace with a ``catalog_version``, else ``<plugin>-<distribution version>``."""
    metadata = row.get("metadata") or {}
    version = metadata.get("catalog_version") or row.get("version") or "unversioned"
    plugin = row.get("plugin") or "direct"
    return f"{plugin}-{version}"


#: the published figures that change how a model is built: a tag differing in one has a card of its own
BUILD_FIGURES = frozenset({"num_classes", "input_size"})


def card_name(name: str, architecture: Optional[str] = None, differs: Optional[dict] = None) -> str:
    """The name the computed card of model ``name`` is stored under (``zoo.catalog_cards``): for
    a pretrained tag of ``architecture`` whose published figures ``differs`` from the
    architecture's in none of ``BUILD_FIGURES``, the architecture's (the same model is built);
    else ``name`` itself."""
    if architecture and differs is not None and not BUILD_FIGURES & set(differs):
        return architecture
    return name


def entry_rows(row: dict, *, pretrained: bool) -> list:
    """The catalog rows of one entry (``zoo.catalog`` row): the entry itself, or with
    ``pretrained`` one row per pretrained tag (``timm/resnet50.a1_in1k``; an entry with weights
    but no tags keeps its own row), each with its published figures and the ``source`` of its
    computed cards (``card_source``) and the name its computed card is stored under (``card_name``)."""
    metadata = row.get("metadata") or {}
    card = metadata.get("card") or {}
    base = {"name": row["name"], "plugin": row.get("plugin"), "summary": row.get("summary", ""), "card": card,
            "source": card_source(row), "card_name": row["name"]}
    tags = metadata.get("pretrained_tags") or {}
    if not pretrained:
        return [base]
    if not tags:
        return [base] if card.get("pretrained") else []
    rows = []
    for tag, differs in tags.items():
        published = {**card, **differs, "tag": tag}
        name = f"{row['name']}.{tag}"
        rows.append({**base, "name": name, "card": published, "architecture": row["name"],
                     "card_name": card_name(name, row["name"], differs)})
    return rows


UNKNOWN = dict.fromkeys(COLUMNS)


def flat_row(row: dict, computed: Optional[dict]) -> dict:
    """Every column of ``row`` (from ``entry_rows``): published figures first, then those in
    ``computed`` (this name's computed card, or None); unknown figures are None."""
    flat = {**UNKNOWN, **(computed or {})}
    card = row["card"]
    if None in card.values():  # a published None is unknown: it leaves a computed figure in place
        card = {k: v for k, v in card.items() if v is not None}
    flat.update(card)
    flat["name"], flat["plugin"], flat["summary"] = row["name"], row["plugin"], row["summary"]
    size = flat["input_size"]
    flat["res"] = size[-2] if isinstance(size, (list, tuple)) and len(size) >= 2 else None
    return flat


def parse_columns(text: Optional[str], default: Sequence[str]) -> list:
    """``"name,params,gmacs"`` as a list of known column names (``default`` when None); a
    ``zoo.UserError`` naming an unknown one and listing the known ones."""
    if text is None:
        return list(default)
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names:
        raise UserError(f"--columns: no column named in {text!r}; columns: {', '.join(COLUMNS)}")
    for name in names:
        if name not in COLUMNS:
            raise UserError(f"--columns: unknown column {name!r}; columns: {', '.join(COLUMNS)}")
    return names


def sort_rows(rows: list, text: Optional[str]) -> list:
    """``rows`` sorted by ``text``: comma-separated columns, each ascending or, written ``-col``,
    descending; unknown values last either way. A ``zoo.UserError`` names an unknown column."""
    if not text:
        return rows
    keys = []
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        descending = part.startswith("-")
        name = part.lstrip("-+").lower()
        if name not in COLUMNS:
            raise UserError(f"--sort: unknown column {name!r}; columns: {', '.join(COLUMNS)} "
                            f"(-COLUMN sorts high to low: --sort=-top1)")
        keys.append((COLUMNS[name], descending))
    for column, descending in reversed(keys):  # stable sorts, last key first
        known = [r for r in rows if r.get(column.name) is not None]
        unknown = [r for r in rows if r.get(column.name) is None]
        order = column.order or column.comparable
        known.sort(key=lambda r: order(r[column.name]), reverse=descending)
        rows = known + unknown
    return rows


def shown(row: dict, names: Iterable[str]) -> list:
    """The table cells of ``row`` for the columns ``names`` (``?`` for an unknown figure)."""
    cells = []
    for name in names:
        value = row.get(name)
        cells.append("?" if value is None else COLUMNS[name].show(value))
    return cells


LISTED = tuple(name for name, column in COLUMNS.items() if column.kind == TEXT and column.show is not str)


def comparable_row(row: dict, names: Iterable[str] = LISTED) -> dict:
    """``row`` as ``--where`` sees it: the list-valued columns among ``names`` as text (``3x224x224``)."""
    listed = [n for n in names if n in LISTED and row.get(n) is not None]
    if not listed:
        return row
    found = dict(row)
    for name in listed:
        found[name] = COLUMNS[name].comparable(found[name])
    return found

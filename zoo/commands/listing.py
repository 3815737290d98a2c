"""``zoo list`` and ``zoo plugins``: read from the catalog cache, import nothing heavy."""

from __future__ import annotations

import json
import sys
from typing import Optional

from zoo import catalog
from zoo.catalog_cards import computing, drop_stale, read_cards
from zoo.commands.table import render
from zoo.errors import UserError
from zoo.kinds import lookup
from zoo.recipe_index import find_recipes
from zoo.registry import name_matches
from zoo.type_text import printable

SECONDS_PER_CARD = 0.7  # measured on samples of timm: 0.56 s a card on an idle 2-core machine, 0.82 s at load 5


def listed_kind(word: str) -> str:
    """The registry name (``models``) or ``recipes`` a user's ``word`` means (``model``, ``loss``,
    ``Recipes``...); anything else is a ``zoo.UserError`` naming the choices (``zoo.kinds.lookup``)."""
    kind = lookup(word, recipes=True)
    return "recipes" if kind is None else kind.registry


def report_failures(data: dict) -> None:
    """Repeat the warnings about failed plugins when the catalog came from the cache."""
    if not data.get("cached"):
        return
    for plugin in data["plugins"]:
        if plugin.get("status") == "failed":
            print(printable(f"zoo: warning: plugin {plugin['name']!r} failed: {plugin['error']}"), file=sys.stderr)


def list_command(kind: str, pattern: str = None, *, as_json: bool = False, refresh: bool = False,
                 pretrained: bool = False, where: str = None, sort: str = None, columns: str = None,
                 compute_cards: bool = False) -> int:
    """``zoo list KIND [PATTERN]``: the entries of one kind (or the recipes) whose names match the
    glob ``pattern``, from the catalog cache, as a table or a JSON array. Returns 0.

    For models, ``pretrained`` lists one row per pretrained tag, ``where`` filters on the card
    columns (``zoo.where``), ``sort`` and ``columns`` order and choose them, and ``compute_cards``
    first computes the cards missing (``zoo.catalog_compute``); see ``model_listing``."""
    kind = listed_kind(kind)
    if pretrained or where is not None or sort or columns or compute_cards:
        if kind != "models":
            raise UserError(f"--pretrained, --where, --sort, --columns and --compute-cards list models, "
                            f"not {kind} ('zoo list models --where ...')")
        return model_listing(pattern, as_json=as_json, refresh=refresh, pretrained=pretrained, where=where,
                             sort=sort, columns=columns, compute_cards=compute_cards)
    data = catalog.load(refresh=refresh)
    report_failures(data)
    if refresh:
        drop_stale_cards(data)
    if kind == "recipes":
        rows = find_recipes(data.get("recipe_dirs", []))
    else:
        rows = data["entries"].get(kind, [])
    if pattern:
        rows = [r for r in rows if name_matches(r["name"], pattern)]
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        what = f"{kind} matching {pattern!r}" if pattern else kind
        print(f"no {what}", file=sys.stderr)
        return 0
    print(render(["NAME", "SUMMARY", "PLUGIN"], [(r["name"], r["summary"], r["plugin"]) for r in rows]))
    return 0


def plugins_command(*, as_json: bool = False) -> int:
    """``zoo plugins``: each plugin's distribution, status and contributions. Returns 0."""
    data = catalog.load()
    plugins = data["plugins"]
    if as_json:
        print(json.dumps(plugins, indent=2))
        return 0
    rows = []
    for p in plugins:
        dist = f"{p['distribution']} {p['version']}" if p.get("distribution") else "-"
        if p["status"] == "failed":
            provides = f"FAILED: {p['error']}"
        else:
            counts = ", ".join(f"{n} {k}" for k, n in sorted(p["counts"].items()) if n)
            hooks = ", ".join(h.replace("zoo_", "", 1) for h in p["hooks"] if not h.startswith("zoo_register_"))
            provides = "; ".join(filter(None, [counts, f"hooks: {hooks}" if hooks else ""])) or "-"
        rows.append((p["name"], dist, p["status"], provides))
    print(render(["PLUGIN", "DISTRIBUTION", "STATUS", "PROVIDES"], rows))
    return 0


def model_listing(pattern: Optional[str], *, as_json: bool, refresh: bool, pretrained: bool, where: Optional[str],
                  sort: Optional[str], columns: Optional[str], compute_cards: bool) -> int:
    """``zoo list models`` with card columns: every model (or, with ``pretrained``, every
    pretrained tag, by its name or its architecture's) matching the glob ``pattern`` (any case)
    and the ``where`` expression, sorted by
    ``sort``, showing ``columns`` (a table, or JSON objects with every column by default).
    Reads the catalog and the computed cards; imports torch only for ``compute_cards``. When
    cards are missing it says so on stderr, and how to compute them. Returns 0."""
    from zoo.catalog_columns import (CARD_COLUMNS, COLUMNS, WHERE_SCALES, WHERE_TYPES, comparable_row, entry_rows,
                                     flat_row, parse_columns, shown, sort_rows)
    from zoo.where import compile_where

    predicate, used = compile_where(where, WHERE_TYPES, WHERE_SCALES)  # a mistake is reported before anything is read
    chosen = parse_columns(columns, list(COLUMNS) if as_json else CARD_COLUMNS)
    sort_rows([], sort)
    data = catalog.load(refresh=refresh)
    report_failures(data)
    if refresh:
        drop_stale_cards(data)
    rows = [r for entry in data["entries"].get("models", []) for r in entry_rows(entry, pretrained=pretrained)]
    if pattern:  # a tag's row also matches by its architecture's name: timm/resnet50 --pretrained lists its tags
        rows = [r for r in rows if name_matches(r["name"], pattern)
                or ("architecture" in r and name_matches(r["architecture"], pattern))]
    keys = source_keys(data, rows)
    if compute_cards:
        compute_missing(rows, keys)
    cards = {source: read_cards(source, key) for source, key in keys.items()}
    missing: dict = {}
    listed = []
    for row in rows:
        computed = computed_card(row, cards[row["source"]])
        if computed is None:
            missing[row["source"]] = missing.get(row["source"], 0) + 1
        flat = flat_row(row, computed)
        if predicate is None or predicate(comparable_row(flat, used)):
            listed.append(flat)
    listed = sort_rows(listed, sort)
    note_missing(missing, pattern, pretrained)
    if as_json:
        print(json.dumps([{c: r.get(c) for c in chosen} for r in listed], indent=2))
        return 0
    if not listed:
        print("no models" + (f" matching {pattern!r}" if pattern else "") + (f" where {where}" if where else ""),
              file=sys.stderr)
        return 0
    flexible = chosen.index("summary") if "summary" in chosen else -1
    print(render([c.upper() for c in chosen], [shown(r, chosen) for r in listed], flexible=flexible))
    return 0


def computed_card(row: dict, cards: dict) -> Optional[dict]:
    """``row``'s computed card in ``cards`` (``zoo.catalog_cards.read_cards``), or None when not computed yet."""
    name = row["card_name"]
    found = cards["cards"].get(name)
    if found is None and name in cards["failed"]:
        return {}
    return found


def source_keys(data: dict, rows: list) -> dict:
    """``{source: key}`` of the computed cards of ``rows`` (``zoo.catalog_columns.entry_rows``),
    from the catalog ``data`` (``zoo.catalog.card_key``)."""
    keys = data.get("card_keys") or {}
    return {source: catalog.card_key(plugin, keys) for source, plugin in {(r["source"], r["plugin"]) for r in rows}}


def drop_stale_cards(data: dict) -> None:
    """Remove the computed cards of the catalog ``data``'s sources that its code no longer
    matches (``zoo.catalog_cards.drop_stale``): what ``--refresh`` does besides rebuilding."""
    from zoo.catalog_columns import entry_rows

    models = data["entries"].get("models", [])
    drop_stale(source_keys(data, [row for entry in models for row in entry_rows(entry, pretrained=False)]))


def compute_missing(rows: list, keys: dict) -> None:
    """Compute (``zoo.catalog_compute``) the cards ``rows`` lack, each source's under its key in
    ``keys`` (``source_keys``), with a progress bar on stderr."""
    from zoo.catalog_compute import compute_cards
    from zoo.plugins import get_manager

    work, seen = [], set()
    for row in rows:
        name = row["card_name"]
        if (row["source"], name) not in seen:
            seen.add((row["source"], name))
            work.append((row["source"], name, row["card"].get("input_size")))
    try:
        done = compute_cards(get_manager().registries.models, work, keys=keys, progress=True)
    except OSError as exc:  # the cache folder is a file, read-only, full
        raise UserError(f"cannot keep the computed cards in {catalog.cache_dir()}: {exc.strerror or exc}; "
                        f"set ZOO_CACHE_DIR to a folder zoo can write") from None
    print(f"zoo: cards: {done['computed']} computed in {done['seconds']:.0f} s, {done['already']} were already",
          file=sys.stderr)


def note_missing(missing: dict, pattern: Optional[str], pretrained: bool = False) -> None:
    """Say on stderr, in one line, how many models have no computed card yet and how to compute
    them (the listing's ``pattern`` and ``pretrained`` rows), or that they are being computed;
    ``missing``: ``{source: count}``."""
    if not missing:
        return
    running = {source: pid for source in missing if (pid := computing(source)) is not None}
    count = sum(missing.values())
    where = ", ".join(f"{source}: {n}" for source, n in sorted(missing.items()))
    if running:
        which = ", ".join(f"{source} (process {pid})" for source, pid in sorted(running.items()))
        print(f"zoo: note: {count} models show '?' for the figures not computed yet ({where}); the cards of "
              f"{which} are being computed: list again later", file=sys.stderr)
        return
    import shlex

    glob = (f" {shlex.quote(pattern)}" if pattern else "") + (" --pretrained" if pretrained else "")
    minutes = max(1, round(count * SECONDS_PER_CARD / 60))
    print(f"zoo: note: {count} models have no computed card yet ({where}): '?' for the params, gmacs and features "
          f"their source does not publish; run zoo list models{glob} --compute-cards to compute them once per "
          f"version (about {minutes} min here; Ctrl-C keeps what is done)", file=sys.stderr)

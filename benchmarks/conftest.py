"""Side-by-side speed checks: zoo and its baseline measured in the same run, as a ratio.

Each check runs zoo under pytest-benchmark and the baseline in the benchmark's (untimed)
setup before every round, so the two alternate and share whatever the machine is doing. The
ratio baseline/zoo goes into ``benchmark.extra_info`` and is printed; each check asserts a
floor well below its target, so noise cannot fail it but a real regression does.

``ZOO_BENCH_SHORT=1`` (CI) runs smaller sizes and fewer rounds.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from typing import Callable, Iterator

import pytest

SHORT = os.environ.get("ZOO_BENCH_SHORT") == "1"


@contextlib.contextmanager
def intra_op_threads(count: int) -> Iterator[None]:
    """Every side of a check on ``count`` torch intra-op threads; the previous number restored after."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def compare(benchmark, target: Callable, baseline: Callable, *, rounds: int, warmup: int = 1,
            label: str = "speedup") -> float:
    """Time ``target`` (zoo) and ``baseline`` alternately; return median(baseline) / median(target)."""
    baseline_times: list = []

    def setup():
        start = time.perf_counter()
        baseline()
        baseline_times.append(time.perf_counter() - start)

    benchmark.pedantic(target, setup=setup, rounds=rounds, warmup_rounds=warmup, iterations=1)
    measured = baseline_times[warmup:] or baseline_times
    baseline_median = statistics.median(measured)
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # --benchmark-disable: time the target once ourselves
        start = time.perf_counter()
        target()
        target_median = time.perf_counter() - start
    else:
        target_median = stats.stats.median
    ratio = baseline_median / target_median
    benchmark.extra_info.update({
        "zoo_median_s": round(target_median, 6),
        "baseline_median_s": round(baseline_median, 6),
        label: round(ratio, 3),
    })
    print(f"\n{benchmark.name}: zoo {target_median:.4f} s, baseline {baseline_median:.4f} s, {label} {ratio:.2f}x")
    return ratio


@pytest.fixture
def short():
    return SHORT

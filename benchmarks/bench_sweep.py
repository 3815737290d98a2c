"""Issue 16's speed: a head sweep on a frozen backbone, and ``zoo sweep --workers 2``.

1. ``transfer_densenet`` (DenseNet-121 with random weights since nothing can be downloaded here,
   frozen features, head trained with Adam, 224 px, one epoch) on an image folder of JPEGs
   (``train/`` 2 classes x 60 images of 320x240, 16 in short mode; ``test/`` 2 x 2). Side by side,
   each from a cold feature cache (``$ZOO_CACHE_DIR`` emptied before each):

   - one trial: ``zoo.run.execute`` of the recipe once;
   - the sweep: ``zoo sweep`` (``zoo.sweep.start`` in this process) of 8 head settings,
     the head's dropout ``0.2,0.5`` x its ``optimizer.lr=0.003,0.001`` x ``optimizer.weight_decay=0,0.0001``:
     the first trial computes the features, the 7 others read them from the feature cache.
     (Not ``model.head``: with ``pretrained: false`` the densenet121 plugin draws the head's random
     weights before the backbone's, so another head size gives another random backbone, whose
     features are rightly computed again; pretrained backbones are the same whatever the head.)

   Reported: sweep seconds / one trial's seconds. Target <= 2x; asserted <= 3x (6x in short
   mode, where each trial's own costs weigh more against fewer images: with the features read
   from the cache a trial still builds DenseNet-121, checks one batch and tests through it, and
   writes its checkpoints, about 1.5 s here on one thread; measured 3.7x in short mode. Features
   computed again in every trial would cost about 8x, and the log lines asserted say which
   trials read the cache). Measured here on an idle machine (load
   under 1): 1.87x with 120 images (one trial 10.1 s, the sweep 19.0 s); 1.58x while other jobs
   kept the load at about 5 (one trial 43 s, the sweep 68 s).

2. A 4-trial grid of the quickstart recipe (the seeds' CNN on digits, 12 epochs, 4 in short mode)
   with ``--workers 1`` and with ``--workers 2``, each a whole ``python -m zoo sweep`` process,
   one torch thread per worker (``--threads 1``). Reported: workers-1 seconds / workers-2
   seconds; on a 2-core machine target > 1x, asserted >= 0.9x (0.6x in short mode, where each
   worker's first trial, loading the data and warming torch up, is most of its work). On Linux the
   workers are forked from the sweep's process, so they don't import torch and the plugins again.
   Measured here on an idle machine: 1.27-1.30x (12.2 s with one worker, 9.4-9.6 s with two).
   While other jobs kept the load at about 5 it was 0.82x (28.5 s against 34.6 s): the process got
   about half a core whether it ran one worker or two, so two workers halved each trial's speed;
   the gain needs the cores free.

``ZOO_BENCH_SHORT=1``: the small sizes above, one round each.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.bench_classify import fresh_manager  # noqa: F401 (autouse: a private cache folder and manager)
from benchmarks.conftest import SHORT, compare, intra_op_threads
from tests.formats import write_image_folder

REPO = Path(__file__).resolve().parent.parent
PER_CLASS = 16 if SHORT else 60
ROUNDS = 1 if SHORT else 2
HEAD_SWEEP_CEILING = 6.0 if SHORT else 3.0
WORKERS_FLOOR = 0.6 if SHORT else 0.9
HEADS = ["model.dropout=0.2,0.5", "optimizer.lr=0.003,0.001", "optimizer.weight_decay=0,0.0001"]


def transfer_overrides(root: Path) -> list:
    """``transfer_densenet`` on the image folder ``root``, without downloads, plots or pictures."""
    return [f"data={{name: imagefolder, root: '{root}', image_size: 224, normalize: imagenet}}",
            "model.pretrained=false", "task.plots=false", "task.device=cpu", "task.grid_size=0"]


def cold_cache(cache: Path) -> None:
    """Empty the zoo cache folder (the features kept by the previous side)."""
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)


def test_head_sweep_on_a_frozen_backbone_costs_at_most_twice_one_trial(benchmark, tmp_path, monkeypatch):
    from zoo import sweep as sweeps
    from zoo.recipe import load_recipe
    from zoo.run import execute

    root = tmp_path / "cats_dogs"
    write_image_folder(root / "train", ["cat", "dog"], per_class=PER_CLASS, size=(320, 240), formats=("jpg",))
    write_image_folder(root / "test", ["cat", "dog"], per_class=2, size=(320, 240), formats=("jpg",), seed=99)
    recipe = REPO / "recipes" / "transfer_densenet.yaml"
    cache = tmp_path / "zoo-cache"
    monkeypatch.setenv("ZOO_CACHE_DIR", str(cache))
    monkeypatch.chdir(tmp_path)
    runs = iter(range(1000))
    logs: dict = {}

    def one_trial():
        cold_cache(cache)
        with contextlib.redirect_stdout(io.StringIO()) as log:
            execute(load_recipe(recipe, transfer_overrides(root)), output=tmp_path / f"trial-{next(runs)}")
        logs["trial"] = log.getvalue()

    def head_sweep():
        cold_cache(cache)
        with contextlib.redirect_stdout(io.StringIO()) as log:
            sweeps.start(str(recipe), [*HEADS, *transfer_overrides(root)], output=str(tmp_path / f"sweep-{next(runs)}"))
        logs["sweep"] = log.getvalue()

    with intra_op_threads(1):
        ratio = compare(benchmark, head_sweep, one_trial, rounds=ROUNDS, warmup=0, label="one_trial_over_sweep")
    extracted = [line for line in logs["sweep"].splitlines() if "frozen backbone: features of" in line]
    assert len(extracted) == 8 and "computed once" in extracted[0]
    assert all("read from the feature cache" in line for line in extracted[1:]), extracted
    cost = 1 / ratio
    benchmark.extra_info.update({"images": 2 * PER_CLASS, "trials": 8, "sweep_over_one_trial": round(cost, 2)})
    print(f"\n8-trial head sweep on frozen DenseNet-121 ({2 * PER_CLASS} JPEGs, 1 thread): {cost:.2f}x one trial's "
          f"time (target <= 2x)")
    assert cost <= HEAD_SWEEP_CEILING


def sweep_process(folder: Path, workers: int) -> None:
    """``zoo sweep`` of a 4-trial quickstart grid in a fresh process, ``workers`` workers of one thread."""
    epochs = 4 if SHORT else 12
    command = [sys.executable, "-m", "zoo", "sweep", str(REPO / "recipes" / "quickstart.yaml"),
               "optimizer.lr=0.004,0.002,0.001,0.0005", f"task.epochs={epochs}", "task.plots=false",
               "--workers", str(workers), "--threads", "1", "--output", str(folder)]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=600)


def test_two_workers_finish_a_4_trial_grid_faster_than_one(benchmark, tmp_path):
    runs = iter(range(1000))
    ratio = compare(benchmark, lambda: sweep_process(tmp_path / f"w2-{next(runs)}", 2),
                    lambda: sweep_process(tmp_path / f"w1-{next(runs)}", 1), rounds=ROUNDS, warmup=0,
                    label="workers1_over_workers2")
    benchmark.extra_info["started"] = time.strftime("%H:%M:%S")
    print(f"\n4-trial grid: --workers 2 is {ratio:.2f}x as fast as --workers 1 (one thread per worker)")
    assert ratio >= WORKERS_FLOOR

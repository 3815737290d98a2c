"""Issue 18's speed: transfer learning at the CPU's real speed, and image folders decoded once.

1. ``transfer_densenet`` (recipes/transfer_densenet.yaml: DenseNet-121 with random weights since
   nothing can be downloaded here, frozen features, the seeds' 1024-256-2 head, batch 64, Adam on
   the head, 224 px) on an image folder of JPEGs (``train/`` 2 classes x 100 images of 320x240,
   24 in short mode; ``test/`` 2 x 2). Each side is timed from nothing to the end of its first
   epoch: reading the files, building the model, one epoch of training, one validation pass.

   - zoo: ``zoo.run.execute`` in a fresh cache folder, timed up to its ``zoo_epoch_end`` hook
     (the final test afterwards is not timed): the features in the faster of bf16 autocast and
     float32 (both channels_last) on a CPU with native bfloat16 but no AMX, measured on one image,
     computed once 8 images a batch (``zoo_classify.features.CPU_FEATURE_BATCH``), the head
     trained on them;
   - seeds: the seeds' transfer loop on the same files: ``datasets.ImageFolder`` with PIL +
     ``Resize(224), CenterCrop(224), ToTensor(), Normalize(imagenet)``, the same 80/20 split
     through ``SubsetRandomSampler``, ``DataLoader(batch_size=64, num_workers=0)``,
     ``densenet121`` frozen with the new head, float32, ``model.train()``, NLL + Adam, then one
     validation pass under ``no_grad`` at the epoch's end (zoo validates once per epoch too).
     In full mode it runs before and after zoo's run and the mean of the two counts, so a load
     that drifts during the minutes they take weighs on both sides.

   Compared: the first epoch's seconds (zoo's from metrics.jsonl: computing the features, the
   head's steps, validation; the seeds' training loop and validation pass, decoding included),
   and, reported, each side's seconds from nothing to the epoch's end (zoo decodes its files
   before the epoch) and the process's CPU seconds over the same span (steadier than seconds
   on a shared machine). Both on one intra-op thread (``ZOO_BENCH_THREADS`` to change): on a
   shared 2-core machine two OpenMP threads measure the neighbours' load more than the code.
   Target: seeds/zoo >= 2x; floor asserted 1.3x (1.0x in short mode). Measured here with 200
   images on an idle machine (load 0.2): 2.71x, 31.7 s against 11.7 s (from nothing to the
   epoch's end 2.50x; CPU seconds 2.47x); with other jobs on the 2 cores (load 4-5) 2.58x (CPU
   seconds 2.16x); 1.64-1.67x before the features were computed 8 images a batch instead of 256
   (0.12 s per image against 0.16-0.20 s, loaded). Where zoo's epoch went (cProfile,
   22.2 s): the backbone's forward passes 91% (its convolutions about 70% of them, BatchNorm
   18%), measuring the two formats 7% (1.6 s, since cut by about half), the head's steps and
   validation under 1%. float32 channels_last measured faster than bf16 here (142 vs 218 ms per
   image): this avx512_bf16 CPU has no AMX.

2. The same recipe run again with the same cache folder: its first epoch (``seconds`` of epoch
   1 in metrics.jsonl: features read from the feature cache, the head trained) against the first
   run's. Target >= 20x; floor asserted 8x. Measured: 68-82x.

3. The seeds' CIFAR CNN trained 8 epochs over an image folder of 32x32 PNGs (2 classes x 600,
   2 x 100 in short mode; flips and ±10° rotations, batch 20, SGD lr 0.01, 80/20 split): zoo's
   epochs 2-8 (metrics.jsonl ``seconds``: train + validate; the files decoded once in the first)
   against the seeds' ``ImageFolder`` + PIL transforms + ``DataLoader`` loop's epochs 2-8 (each
   train + validate), the means compared. One of the seeds' epochs runs after each of zoo's
   (a ``zoo_epoch_end`` hook, outside zoo's clock), so each pair shares the machine's load. One
   intra-op thread on both sides (a small model on a shared 2-core machine). Target >= 3x; floor
   asserted 1.3x. zoo trains channels_last here (``task.channels_last: auto`` measured 19-21 ms
   per step against 29-30 ms contiguous). Measured with 1,200 images on an idle machine (load
   1.4): 2.4x, 0.39 s against 0.91 s per epoch; with other jobs on the 2 cores (load 4-7) 2.2x
   and 2.7x; 1.6-1.8x before channels_last. Short of the target on this CPU: zoo's epoch is the
   CNN's own forward and backward passes (torch.profiler: 48 channels_last steps 0.35-0.44 s
   alone, dropout's ``bernoulli_`` 7% of them) plus 0.03 s making the batches (one gather, flip,
   rotate, normalise) and 0.02 s validating. The seeds' epoch spends 0.53 s + 0.06 s on the same
   model's steps and validation (contiguous) and 0.3 s on PIL; 3x would need zoo's epoch at
   0.30 s, below what the model's own arithmetic takes in eager PyTorch here. Measured and not
   worth keeping: SGD foreach or fused (0.52-0.53 s either way), reading the loss without
   ``.item()`` per step (0.435 vs 0.438 s), validation batches of 240 under ``inference_mode``
   (0.029 s against 0.021 s at 80); ``torch.compile`` (inductor) took 51 s to compile and then
   ran the steps 2x slower.

``ZOO_BENCH_SHORT=1``: the small sizes above.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path
from typing import Iterator

import torch

from benchmarks.bench_classify import fresh_manager  # noqa: F401 (autouse: a private cache folder and manager)
from benchmarks.classify_baselines import seeds_split
from benchmarks.conftest import SHORT, intra_op_threads
from tests.formats import write_image_folder

REPO = Path(__file__).resolve().parent.parent
TRANSFER_PER_CLASS = 24 if SHORT else 100
#: seeds/zoo floors for the first transfer epoch: in short mode the fixed costs (the probe, measuring
#: two formats on one image) weigh on 48 images; the full size measured 2.71x here
TRANSFER_FLOOR = 1.0 if SHORT else 1.3
CIFAR_PER_CLASS = 100 if SHORT else 600
CIFAR_EPOCHS = 8
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
THREADS = int(os.environ.get("ZOO_BENCH_THREADS", "1"))


def seeds_transfer_first_epoch(root: Path) -> tuple:
    """The seeds' transfer loop over ``root/train``: ``(seconds from nothing to the end of the
    first epoch, seconds of the epoch itself, the process's CPU seconds from nothing to the
    epoch's end)``; an epoch trains and validates once."""
    from torch import nn, optim
    from torch.utils.data import DataLoader, SubsetRandomSampler
    from torchvision import datasets, models, transforms

    started, cpu_started = time.perf_counter(), time.process_time()
    transform = transforms.Compose([transforms.Resize(224), transforms.CenterCrop(224), transforms.ToTensor(),
                                    transforms.Normalize(*IMAGENET)])
    data = datasets.ImageFolder(str(root / "train"), transform=transform)
    train_idx, valid_idx = seeds_split(len(data))
    trainloader = DataLoader(data, batch_size=64, sampler=SubsetRandomSampler(train_idx), num_workers=0)
    validloader = DataLoader(data, batch_size=64, sampler=SubsetRandomSampler(valid_idx), num_workers=0)
    model = models.densenet121(weights=None)
    for param in model.parameters():
        param.requires_grad = False
    model.classifier = nn.Sequential(nn.Linear(1024, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 2),
                                     nn.LogSoftmax(dim=1))
    criterion = nn.NLLLoss()
    optimizer = optim.Adam(model.classifier.parameters(), lr=0.003)
    epoch_started = time.perf_counter()
    model.train()
    for inputs, labels in trainloader:
        optimizer.zero_grad()
        loss = criterion(model.forward(inputs), labels)
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        for inputs, labels in validloader:
            criterion(model.forward(inputs), labels).item()
    ended = time.perf_counter()
    return ended - started, ended - epoch_started, time.process_time() - cpu_started


def zoo_transfer_run(root: Path, output: Path) -> tuple:
    """``transfer_densenet`` on ``root`` into ``output``: ``(seconds from the start to the end of
    epoch 1, epoch 1's seconds in metrics.jsonl, the log, the process's CPU seconds from the start
    to the end of epoch 1)``."""
    import contextlib
    import io

    from zoo import hookimpl
    from zoo.plugins import get_manager
    from zoo.recipe import load_recipe
    from zoo.run import execute

    ended = []

    class FirstEpochEnd:
        @hookimpl
        def zoo_epoch_end(self, run, epoch, metrics):
            ended.append((time.perf_counter(), time.process_time()))

    get_manager().register(FirstEpochEnd(), f"first-epoch-end-{output.name}")
    overrides = [f"data={{name: imagefolder, root: '{root}', image_size: 224, normalize: imagenet}}",
                 "model.pretrained=false", "task.plots=false", "task.device=cpu", "task.grid_size=0"]
    log = io.StringIO()
    started, cpu_started = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(log):
        execute(load_recipe(REPO / "recipes" / "transfer_densenet.yaml", overrides=overrides), output=output)
    metrics = [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return ended[0][0] - started, metrics[-1]["seconds"], log.getvalue(), ended[0][1] - cpu_started


def test_transfer_densenet_first_epoch_vs_seeds_loop_and_second_run(benchmark, tmp_path):
    root = tmp_path / "cats_dogs"
    write_image_folder(root / "train", ["cat", "dog"], per_class=TRANSFER_PER_CLASS, size=(320, 240), formats=("jpg",))
    write_image_folder(root / "test", ["cat", "dog"], per_class=2, size=(320, 240), formats=("jpg",), seed=99)
    results = {"seeds": []}

    def first_run():
        results["zoo"] = zoo_transfer_run(root, tmp_path / "first")

    with intra_op_threads(THREADS):
        benchmark.pedantic(first_run, setup=lambda: results["seeds"].append(seeds_transfer_first_epoch(root)),
                           rounds=1, warmup_rounds=0, iterations=1)
        if not SHORT:  # the seeds' loop before and after zoo's run: a machine whose load drifts weighs on both
            results["seeds"].append(seeds_transfer_first_epoch(root))
        results["again"] = zoo_transfer_run(root, tmp_path / "second")
    seeds_wall, seeds_epoch, seeds_cpu = (statistics.mean(figures) for figures in zip(*results["seeds"]))
    zoo_wall, zoo_epoch, first_log, zoo_cpu = results["zoo"]
    again_wall, again_epoch, again_log, _ = results["again"]
    assert "computed once" in first_log and "read from the feature cache" in again_log
    speedup, wall_speedup, second = seeds_epoch / zoo_epoch, seeds_wall / zoo_wall, zoo_epoch / again_epoch
    cpu_speedup = seeds_cpu / zoo_cpu
    precision = next((line.split("features in ", 1)[1].split(" (")[0] for line in first_log.splitlines()
                      if "features in " in line), "?")
    benchmark.extra_info.update({
        "images": 2 * TRANSFER_PER_CLASS, "threads": THREADS, "feature_precision": precision,
        "seeds_epoch1_s": round(seeds_epoch, 2), "zoo_epoch1_s": round(zoo_epoch, 2),
        "seeds_over_zoo_epoch1": round(speedup, 2),
        "seeds_wall_to_epoch1_end_s": round(seeds_wall, 2), "zoo_wall_to_epoch1_end_s": round(zoo_wall, 2),
        "seeds_over_zoo_wall": round(wall_speedup, 2),
        "seeds_cpu_to_epoch1_end_s": round(seeds_cpu, 2), "zoo_cpu_to_epoch1_end_s": round(zoo_cpu, 2),
        "seeds_over_zoo_cpu": round(cpu_speedup, 2), "seeds_epochs_s": [round(r[1], 2) for r in results["seeds"]],
        "second_run_epoch1_s": round(again_epoch, 3), "second_run_wall_to_epoch1_end_s": round(again_wall, 2),
        "first_over_second_run_epoch1": round(second, 1),
    })
    print(f"\ntransfer_densenet, {2 * TRANSFER_PER_CLASS} JPEGs at 224 px ({precision}, {THREADS} thread): epoch 1 "
          f"seeds loop {seeds_epoch:.1f} s, zoo {zoo_epoch:.1f} s: {speedup:.2f}x (target 2x); from nothing to the "
          f"epoch's end {seeds_wall:.1f} s vs {zoo_wall:.1f} s: {wall_speedup:.2f}x (CPU time {seeds_cpu:.1f} s vs "
          f"{zoo_cpu:.1f} s: {cpu_speedup:.2f}x); the second run's epoch 1 "
          f"{again_epoch:.3f} s: {second:.0f}x faster than the first's (target 20x)")
    assert speedup >= TRANSFER_FLOOR
    assert second >= 8


def seeds_cifar_epochs(root: Path) -> Iterator[float]:
    """The seeds' CIFAR loop over ``root/train``, one epoch (train + validate) per ``next``: its seconds."""
    from torch import nn, optim
    from torch.utils.data import DataLoader, SubsetRandomSampler
    from torchvision import datasets, transforms

    from zoo_models.cnn import build_cnn

    transform = transforms.Compose([transforms.RandomHorizontalFlip(), transforms.RandomRotation(10),
                                    transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    data = datasets.ImageFolder(str(root / "train"), transform=transform)
    train_idx, valid_idx = seeds_split(len(data))
    train_loader = DataLoader(data, batch_size=20, sampler=SubsetRandomSampler(train_idx), num_workers=0)
    valid_loader = DataLoader(data, batch_size=20, sampler=SubsetRandomSampler(valid_idx), num_workers=0)
    model = build_cnn(num_classes=2)  # the seeds' Net, layer for layer
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    while True:
        started = time.perf_counter()
        model.train()
        for data_batch, target in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(data_batch), target)
            loss.backward()
            optimizer.step()
        model.eval()
        for data_batch, target in valid_loader:
            criterion(model(data_batch), target).item()
        yield time.perf_counter() - started


def test_cifar_cnn_over_png_folder_later_epochs_vs_seeds_loop(benchmark, tmp_path):
    from zoo import hookimpl
    from zoo.plugins import get_manager
    from zoo.recipe import load_recipe
    from zoo.run import execute

    root = tmp_path / "pngs"
    write_image_folder(root / "train", ["cat", "dog"], per_class=CIFAR_PER_CLASS, size=(32, 32), formats=("png",))
    write_image_folder(root / "test", ["cat", "dog"], per_class=5, size=(32, 32), formats=("png",), seed=7)
    overrides = [f"data={{name: imagefolder, root: '{root}', image_size: 32, augment: [hflip, {{rotate: 10}}], "
                 f"normalize: half}}", f"task.epochs={CIFAR_EPOCHS}", "task.plots=false", "task.device=cpu"]
    seeds_loop = seeds_cifar_epochs(root)
    results = {"seeds": []}

    class SeedsEpochBetween:
        """After each of zoo's epochs but the last, one of the seeds' (zoo's clock is stopped then)."""

        @hookimpl
        def zoo_epoch_end(self, run, epoch, metrics):
            if epoch < CIFAR_EPOCHS:
                results["seeds"].append(next(seeds_loop))

    get_manager().register(SeedsEpochBetween(), "seeds-epoch-between")

    def zoo_run():
        output = tmp_path / "zoo"
        execute(load_recipe(REPO / "recipes" / "cifar10_cnn.yaml", overrides=overrides), output=output, quiet=True)
        lines = (output / "metrics.jsonl").read_text().splitlines()
        results["zoo"] = [json.loads(line)["seconds"] for line in lines if line.strip()]

    with intra_op_threads(1):
        benchmark.pedantic(zoo_run, setup=lambda: results["seeds"].append(next(seeds_loop)),
                           rounds=1, warmup_rounds=0, iterations=1)
    zoo, seeds = results["zoo"], results["seeds"]
    assert len(zoo) == len(seeds) == CIFAR_EPOCHS
    zoo_later, seeds_later = statistics.mean(zoo[1:]), statistics.mean(seeds[1:])
    speedup = seeds_later / zoo_later
    pairs = statistics.median(s / z for s, z in zip(seeds[1:], zoo[1:]))
    benchmark.extra_info.update({
        "images": 2 * CIFAR_PER_CLASS, "zoo_epoch_s": [round(s, 3) for s in zoo],
        "seeds_epoch_s": [round(s, 3) for s in seeds], "seeds_over_zoo_later_epochs": round(speedup, 2),
        "median_of_paired_epochs": round(pairs, 2),
    })
    print(f"\ncifar cnn over {2 * CIFAR_PER_CLASS} PNGs: zoo epochs {[round(s, 2) for s in zoo]}, seeds loop "
          f"{[round(s, 2) for s in seeds]}; epochs after the first: {speedup:.1f}x (target 3x; median of the "
          f"epoch pairs {pairs:.1f}x)")
    assert speedup >= 1.3

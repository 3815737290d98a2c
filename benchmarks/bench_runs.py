"""`zoo runs` over 200 run folders, as a whole process, against a process that only imports torch.

Target (issue 16): `zoo runs` over 200 run folders answers in under 0.5 s; it reads files and
imports no torch. The baseline is `python -c "import torch"`: what any command that loads torch
pays before it reads a single run. Floors asserted here: 1.0 s for `zoo runs`, and 2x faster
than the baseline.

The folders are what `zoo run` leaves for the quickstart recipe: recipe.yaml, run.json,
report.json with its per-class table and confusion matrix, metrics.jsonl of 30 epochs, a
checkpoints folder; one in ten is still going (no report.json: its best validation loss comes
from metrics.jsonl) and one in twenty failed. Short mode: the same folders, fewer rounds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.conftest import SHORT, compare

RUNS = 200
EPOCHS = 30
CLASSES = [str(c) for c in range(10)]
RECIPE = """name: quickstart
seed: {seed}
task:
  name: classification
  epochs: 30
  batch_size: 32
  valid_fraction: 0.2
data:
  name: digits
  normalize:
    mean: [0.5]
    std: [0.5]
model:
  name: cnn
loss:
  name: cross_entropy
optimizer:
  name: adam
  lr: {lr}
"""


def make_runs(root: Path) -> None:
    """``RUNS`` run folders under ``root``/quickstart/, as described in the module docstring."""
    for n in range(RUNS):
        folder = root / "quickstart" / f"20261130-{n // 60:02d}{n % 60:02d}00"
        (folder / "checkpoints").mkdir(parents=True)
        lr = 0.001 * (1 + n % 7)
        (folder / "recipe.yaml").write_text(RECIPE.format(seed=n, lr=lr))
        running, failed = n % 10 == 0, n % 20 == 5
        losses = [1.0 / (epoch + 1) + 0.001 * n for epoch in range(EPOCHS)]
        with open(folder / "metrics.jsonl", "w") as f:
            for epoch, loss in enumerate(losses, 1):
                f.write(json.dumps({"epoch": epoch, "time": "2026-11-30T10:00:00", "train_loss": loss * 1.2,
                                    "valid_loss": loss, "valid_accuracy": 1 - loss / 2, "lr": lr,
                                    "seconds": 1.5}) + "\n")
        if not (running or failed):
            confusion = [[36 if i == j else 0 for j in range(10)] for i in range(10)]
            (folder / "report.json").write_text(json.dumps({
                "best": {"epoch": EPOCHS, "valid_loss": losses[-1], "checkpoint": str(folder / "checkpoints/best.pt")},
                "epochs_run": EPOCHS, "classes": CLASSES,
                "test": {"loss": losses[-1], "accuracy": 0.98,
                         "per_class": {c: {"correct": 35, "total": 36, "accuracy": 35 / 36} for c in CLASSES},
                         "confusion_matrix": confusion},
                "pictures": ["curves.png", "confusion_matrix.png", "predictions.png"]}, indent=2))
        (folder / "run.json").write_text(json.dumps({
            "state": "running" if running else "failed" if failed else "finished", "name": "quickstart",
            "started": "2026-11-30T10:00:00", "ended": None if running else "2026-11-30T10:01:00", "seconds": 60.0,
            "pid": os.getpid() if running else 1, "pid_started": None, "host": "bench", "overrides": [f"optimizer.lr={lr}"],
            "recipe": "recipes/quickstart.yaml", "error": "RuntimeError: boom" if failed else None,
            "headline": None, "device": "cpu", "versions": {"zoo": "0.1.0"}, "resumed": []}, indent=2))


def test_zoo_runs_over_200_folders_vs_importing_torch(benchmark, tmp_path):
    make_runs(tmp_path / "runs")
    env = dict(os.environ)

    def zoo_runs():
        result = subprocess.run([sys.executable, "-m", "zoo", "runs", "--json"], cwd=tmp_path, env=env,
                                capture_output=True, text=True, check=True)
        assert len(json.loads(result.stdout)) == RUNS

    def import_torch():
        subprocess.run([sys.executable, "-c", "import torch"], env=env, check=True)

    ratio = compare(benchmark, zoo_runs, import_torch, rounds=3 if SHORT else 10)
    assert benchmark.extra_info["zoo_median_s"] < 1.0
    assert ratio > 2.0

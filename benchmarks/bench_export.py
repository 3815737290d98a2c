"""`zoo predict` with an ONNX export against the eager PyTorch path, on the same run and images.

Targets (issue 15): over a folder of 1,000 images, the ONNX export classifies at least 1.5x as
many images per second as the run folder's eager PyTorch model; and `zoo predict model.onnx
one.png` as a whole process is at least 3x faster than `zoo predict RUN_DIR one.png` (it imports
no torch). Both sides read and prepare the images the same way (the card's preprocessing), so
the first ratio is what the runtime changes. Floors asserted here: 1.1x and 2x.

The run is quickstart-sized: the seeds' CNN on scikit-learn's digits, trained for one epoch.
The folder check runs each side as `zoo predict` does in-process (opening the model included)
with one intra-op thread each (torch's and onnxruntime's); the process check as a user runs it.
Short mode: 200 images, fewer rounds.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.conftest import SHORT, compare, intra_op_threads

REPO = Path(__file__).resolve().parent.parent
IMAGES = 200 if SHORT else 1000


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """``(run folder, model.onnx, folder of IMAGES digit PNGs)``."""
    from PIL import Image
    from sklearn.datasets import load_digits

    from zoo.cli import main
    from zoo.plugins import reset_manager

    base = tmp_path_factory.mktemp("bench_export")
    patch = pytest.MonkeyPatch()
    patch.setenv("ZOO_CACHE_DIR", str(base / "cache"))
    reset_manager()
    run = base / "run"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", str(REPO / "recipes" / "quickstart.yaml"), "task.epochs=1", "task.plots=false",
                     "--output", str(run)]) == 0
        assert main(["export", str(run), "--format", "onnx"]) == 0
    digits = load_digits()
    folder = base / "images"
    folder.mkdir()
    for i in range(IMAGES):
        image = np.clip(np.round(digits.images[i % len(digits.images)] * 255 / 16), 0, 255).astype(np.uint8)
        Image.fromarray(image, "L").save(folder / f"{i:04d}.png")
    yield run, run / "exported" / "model.onnx", folder
    patch.undo()
    reset_manager()


def test_onnx_predict_over_a_folder_vs_the_eager_pytorch_path(benchmark, exported):
    from zoo.commands.evaluate import predict_with_run
    from zoo.image_files import collect_images
    from zoo.model_files import open_model_file
    from zoo.predictor import predict

    run, onnx_file, folder = exported

    def onnx_side():
        loaded = open_model_file(onnx_file, threads=1)
        return predict(collect_images([str(folder)]), loaded.card, loaded.scores, 3)

    def eager_side():
        return predict_with_run(run, collect_images([str(folder)]), 3, 64)

    with intra_op_threads(1):
        assert [r["top"][0]["class"] for r in onnx_side()] == [r["top"][0]["class"] for r in eager_side()]
        ratio = compare(benchmark, onnx_side, eager_side, rounds=3 if SHORT else 7, label="images_per_s_ratio")
    benchmark.extra_info["images"] = IMAGES
    benchmark.extra_info["onnx_images_per_s"] = round(IMAGES / benchmark.extra_info["zoo_median_s"], 1)
    assert ratio > 1.1


def test_onnx_predict_of_one_image_as_a_process_vs_the_run_folder(benchmark, exported):
    run, onnx_file, folder = exported
    image = str(folder / "0000.png")

    def zoo_predict(target):
        subprocess.run([sys.executable, "-m", "zoo", "predict", str(target), image], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))

    ratio = compare(benchmark, lambda: zoo_predict(onnx_file), lambda: zoo_predict(run), rounds=3 if SHORT else 7)
    assert ratio > 2.0

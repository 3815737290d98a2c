"""Image folders decoded once: each file is decoded and resized at most once per run and kept
as uint8 (in memory when the images fit, else in a memory-mapped file), whichever way it is read."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest
import torch

from tests.formats import pattern_images, write_image
from zoo_datasets import images as image_files
from zoo_datasets.images import DecodedImages, LazyImageDataset, decode_plan

LABELS = [0, 1, 0, 1, 1, 0, 1, 0]


@pytest.fixture
def files(tmp_path):
    arrays = pattern_images(LABELS, height=12, width=16, channels=3, seed=3)
    return [write_image(tmp_path / f"img_{i}.{'png' if i % 2 else 'jpg'}", a) for i, a in enumerate(arrays)]


@pytest.fixture
def decodes(monkeypatch):
    """The paths ``load_image`` decoded in this process, in order."""
    seen = []
    original = image_files.load_image

    def counted(path, size, mode="RGB"):
        seen.append(Path(path).name)
        return original(path, size, mode)

    monkeypatch.setattr(image_files, "load_image", counted)
    return seen


def test_decode_plan_keeps_images_in_memory_when_they_fit_else_in_a_file():
    assert decode_plan("auto", 1000, 3, 224) == "memory"
    assert decode_plan("auto", 20_000, 3, 224) == "file"  # 3 GB of uint8
    assert decode_plan(True, 20_000, 3, 224) == "memory"
    assert decode_plan(False, 10, 3, 224) == "none"


def test_each_file_is_decoded_once_into_a_memory_mapped_uint8_file(files, decodes):
    once = LazyImageDataset(files, LABELS, size=8, decode_once=True)
    every_time = LazyImageDataset(files, LABELS, size=8)
    store = once.store
    assert isinstance(store, DecodedImages) and store.images.dtype == torch.uint8
    assert os.path.getsize(store.path) == len(files) * 3 * 8 * 8
    view = once.subset([5, 2, 7]).without_augment()  # views share the decoded images
    first, _ = view.batch([0, 1, 2])
    assert sorted(decodes) == sorted(files[i].name for i in (5, 2, 7))
    for _ in range(2):  # every epoch after: no decoding
        x, y = once.batch(torch.arange(len(files)))
    assert sorted(decodes) == sorted(f.name for f in files)
    expected, _ = every_time.batch(torch.arange(len(files)))
    assert torch.equal(x, expected) and torch.equal(first, expected[[5, 2, 7]])
    path = store.path
    del once, view, store
    gc.collect()
    assert not os.path.exists(path)  # the decoded file goes with the dataset


def test_loader_workers_share_what_they_decode(files, decodes):
    from torch.utils.data import DataLoader

    dataset = LazyImageDataset(files, LABELS, size=8, decode_once=True)
    loaded = torch.cat([x for x, _ in DataLoader(dataset, batch_size=3, num_workers=2)])
    assert bool(dataset.store.decoded.all())  # decoded in the workers, seen here
    x, _ = dataset.batch(torch.arange(len(files)))
    assert decodes == []  # nothing decoded again in this process
    assert torch.equal(loaded, x)


def small_pictures_recipe(tmp_path, data_keys: str) -> Path:
    """A recipe training the seeds' CNN on an image folder of 2 x 6 PNGs of 8x8 pixels, its
    ``data:`` section ending with ``data_keys``."""
    from tests.formats import write_image_folder

    root = tmp_path / "pics"
    write_image_folder(root, ["a", "b"], per_class=6, size=(8, 8), formats=("png",))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"task: {{name: classification, epochs: 1, batch_size: 4, plots: false}}\n"
                      f"data: {{name: imagefolder, root: '{root}'{data_keys}}}\nmodel: {{name: cnn}}\n"
                      f"loss: {{name: cross_entropy}}\noptimizer: {{name: sgd, lr: 0.01}}\n")
    return recipe


def test_an_image_folder_says_the_size_its_images_become_and_warns_of_upscaling(tmp_path, capsys):
    from zoo.cli import main

    recipe = small_pictures_recipe(tmp_path, "")
    assert main(["run", str(recipe), "--dry-run"]) == 0
    captured = capsys.readouterr()
    assert ("data: imagefolder: images become 224x224 (data.image_size: 224; the shorter side is scaled to it "
            "and the centre cropped, as torchvision's Resize + CenterCrop); the files are 8x8") in captured.out
    assert ("zoo: warning: imagefolder: the images are about 8 pixels on a side but become 224x224: upscaled 28x, "
            "which costs 784x the computation and adds no detail; set data.image_size=8") in captured.err
    assert main(["run", str(recipe), "--dry-run", "data.image_size=8"]) == 0
    captured = capsys.readouterr()
    assert "images become 8x8 (data.image_size: 8;" in captured.out and "warning" not in captured.err


def test_num_workers_auto_reads_files_in_workers_and_says_how_many(tmp_path, capsys):
    from zoo.cli import main
    from zoo_classify.batches import auto_workers

    recipe = small_pictures_recipe(tmp_path, ", image_size: 8, cache: false")
    assert main(["run", str(recipe), "--output", str(tmp_path / "run")]) == 0
    workers, why = auto_workers(torch.utils.data.Dataset())
    out = capsys.readouterr().out
    assert f"data: read item by item with {workers} loader worker" in out and f"(num_workers: auto; {why})" in out


def test_num_workers_auto_is_none_in_a_daemon_process_and_says_why():
    import multiprocessing

    from zoo_classify.batches import auto_workers

    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:  # pool workers are daemons: they can't start processes
        workers, why = pool.apply(auto_workers)
    assert workers == 0 and "daemon" in why

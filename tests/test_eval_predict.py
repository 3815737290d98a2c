"""`zoo eval` tests a finished run's best checkpoint again; `zoo predict` classifies image files.

One tiny digits run is trained in-process for the whole module; the data other tests give it
are real PNG files written from scikit-learn's digits and read back by PIL.
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import train_in_process
from zoo.cli import main

DIGITS = textwrap.dedent("""\
    seed: 3
    task: {name: classification, epochs: 2, batch_size: 32, plots: false}
    data: {name: digits, normalize: {mean: [0.5], std: [0.5]}}
    model: {name: mlp, hidden: [64]}
    loss: {name: cross_entropy}
    optimizer: {name: adam, lr: 0.003}
""")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished 2-epoch digits run folder (trained once for the module)."""
    base = tmp_path_factory.mktemp("trained")
    recipe = base / "digits_mlp.yaml"
    recipe.write_text(DIGITS)
    return train_in_process(recipe, base / "run", base / "cache")


@pytest.fixture(scope="module")
def digits_test_split():
    """The digits recipe's test split as ``(uint8 images N×8×8, labels)``: test_fraction 0.2, seed 0."""
    from sklearn.datasets import load_digits

    from zoo.toolkit import split_indices

    bunch = load_digits()
    images = np.clip(np.round(bunch.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    _, held = split_indices(torch.from_numpy(bunch.target), 0.2, seed=0)
    return images[held.numpy()], bunch.target[held.numpy()]


def zoo(*args, capsys):
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return status, out.out, out.err


def write_png(path, array, mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, "L").convert(mode).save(path)
    return path


def test_eval_gives_the_runs_own_test_figures_and_writes_them(trained, capsys):
    status, out, err = zoo("eval", trained, capsys=capsys)
    assert status == 0, err
    report = json.loads((trained / "report.json").read_text())["test"]
    assert f"test accuracy (overall): {report['accuracy']:.2%}" in out
    assert re.search(r"test accuracy of +7: +\d+% \(\d+/\d+\)", out)
    written = re.search(r"evaluation written to (\S+)", out).group(1)
    assert written.startswith(str(trained / "evaluations"))
    evaluation = json.loads(open(written).read())
    assert evaluation["accuracy"] == report["accuracy"]
    assert evaluation["loss"] == pytest.approx(report["loss"], rel=1e-12)
    assert evaluation["per_class"] == report["per_class"]
    assert evaluation["confusion_matrix"] == report["confusion_matrix"]
    assert evaluation["overrides"] == [] and evaluation["checkpoint"].endswith("best.pt")


def test_eval_override_changes_the_data_and_is_recorded(trained, capsys):
    status, out, err = zoo("eval", trained, "--json", "data.test_fraction=0.3", capsys=capsys)
    assert status == 0, err
    evaluation = json.loads(out)  # --json: stdout is the JSON alone
    assert sum(row["total"] for row in evaluation["per_class"].values()) == 539  # 30% of 1,797
    assert evaluation["overrides"] == ["data.test_fraction=0.3"]
    saved = [json.loads(p.read_text()) for p in (trained / "evaluations").glob("*.json")]
    assert evaluation in saved
    assert not list((trained / "evaluations").glob(".*.tmp"))


@pytest.mark.parametrize("cache", ["true", "false"])  # decoded once, or file by file
def test_eval_on_image_files_of_the_same_digits_scores_the_same(trained, digits_test_split, tmp_path, capsys, cache):
    images, labels = digits_test_split
    for split in ("train", "test"):
        for i, (image, label) in enumerate(zip(images, labels)):
            write_png(tmp_path / "pngs" / split / str(label) / f"{i:03d}.png", image)
    status, out, err = zoo("eval", trained, f"data.root={tmp_path / 'pngs'}", "data.name=imagefolder",
                           "data.image_size=8", "data.channels=1", f"data.cache={cache}", "--json", capsys=capsys)
    assert status == 0, err
    evaluation = json.loads(out)
    report = json.loads((trained / "report.json").read_text())["test"]
    assert evaluation["confusion_matrix"] == report["confusion_matrix"]
    assert evaluation["accuracy"] == report["accuracy"]
    assert evaluation["loss"] == pytest.approx(report["loss"], rel=1e-6)


def test_eval_refuses_data_with_other_classes(trained, digits_test_split, tmp_path, capsys):
    images, _ = digits_test_split
    for name in ("cat", "dog"):
        for i in range(3):
            write_png(tmp_path / "pets" / name / f"{i}.png", images[i])
    before = sorted((trained / "evaluations").glob("*.json")) if (trained / "evaluations").exists() else []
    status, _, err = zoo("eval", trained, "data.name=imagefolder", f"data.root={tmp_path / 'pets'}",
                         "data.image_size=8", "data.channels=1", "data.test_fraction=0.34", capsys=capsys)
    assert status == 2
    line = err.strip()
    assert "\n" not in line and str(trained / "checkpoints" / "best.pt") in line
    assert "10 classes [0, 1, 2, 3, 4, 5, ..." in line and "2 classes [cat, dog]" in line
    after = sorted((trained / "evaluations").glob("*.json")) if (trained / "evaluations").exists() else []
    assert after == before  # nothing written for a refused evaluation


def test_predict_names_the_true_digit_for_most_images(trained, digits_test_split, tmp_path, capsys):
    images, labels = digits_test_split
    paths = [write_png(tmp_path / f"digit{i}.png", images[i]) for i in range(30)]
    status, out, err = zoo("predict", trained, *paths, "--top-k", "10", "--json", capsys=capsys)
    assert status == 0, err
    results = json.loads(out)
    assert [r["path"] for r in results] == [str(p) for p in paths]
    for result in results:
        probabilities = [item["probability"] for item in result["top"]]
        assert len(probabilities) == 10 and probabilities == sorted(probabilities, reverse=True)
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-5)
    hits = sum(r["top"][0]["class"] == str(label) for r, label in zip(results, labels))
    assert hits >= 24  # the run tests at ~90%; chance is 10%


def test_predict_reads_colour_and_larger_images_like_the_dataset_stores_them(trained, digits_test_split, tmp_path,
                                                                              capsys):
    images, _ = digits_test_split
    small = [write_png(tmp_path / f"small{i}.png", images[i]) for i in range(12)]
    large = []
    for i in range(12):  # 3x larger RGB copies: converted to L and resized back to 8x8 on reading
        path = tmp_path / f"large{i}.png"
        Image.fromarray(images[i], "L").resize((24, 24), Image.NEAREST).convert("RGB").save(path)
        large.append(path)
    status, out, err = zoo("predict", trained, *small, *large, "--top-k", "1", capsys=capsys)
    assert status == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 24 and all(re.fullmatch(r"\S+: \d \(\d+\.\d%\)", line) for line in lines)
    top = [line.split(": ")[1].split(" ")[0] for line in lines]
    assert sum(a == b for a, b in zip(top[:12], top[12:])) >= 10


def test_predict_refuses_a_file_that_is_not_an_image_by_name(trained, digits_test_split, tmp_path, capsys):
    good = write_png(tmp_path / "good.png", digits_test_split[0][0])
    fake = tmp_path / "notes.png"
    fake.write_text("not an image")
    status, _, err = zoo("predict", trained, good, fake, "--on-error", "stop", capsys=capsys)
    assert status == 2 and f"cannot read image {fake}" in err and len(err.strip().splitlines()) == 1
    status, out, err = zoo("predict", trained, good, fake, capsys=capsys)  # skipped by default, exit 1
    assert status == 1 and out.startswith(f"{good}: ") and f"cannot read image {fake}" in err
    status, _, err = zoo("predict", trained, tmp_path / "missing.png", capsys=capsys)
    assert status == 2 and f"image not found: {tmp_path / 'missing.png'}" in err
    status, _, err = zoo("predict", trained, good, "--top-k", "0", capsys=capsys)
    assert status == 2 and "--top-k" in err


def test_a_folder_that_is_not_a_finished_run_is_refused(trained, digits_test_split, tmp_path, capsys):
    image = write_png(tmp_path / "d.png", digits_test_split[0][0])
    status, _, err = zoo("eval", tmp_path / "nowhere", capsys=capsys)
    assert status == 2 and f"run folder not found: {tmp_path / 'nowhere'}" in err
    status, _, err = zoo("predict", tmp_path, image, capsys=capsys)
    assert status == 2 and f"{tmp_path}: not a run folder (no recipe.yaml there)" in err
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    shutil.copy(trained / "recipe.yaml", unfinished / "recipe.yaml")
    for args in (("eval", unfinished), ("predict", unfinished, image)):
        status, _, err = zoo(*args, capsys=capsys)
        assert status == 2 and f"{unfinished}: no checkpoints/best.pt" in err


def test_eval_with_weights_that_do_not_fit_the_model_is_a_user_error(trained, capsys):
    status, _, err = zoo("eval", trained, "model.hidden=[16]", capsys=capsys)
    assert status == 2 and "best.pt: its weights do not fit model 'mlp'" in err


def test_a_task_without_evaluate_or_predict_is_refused(trained, digits_test_split, tmp_path, capsys):
    from zoo import hookimpl
    from zoo.plugins import get_manager

    class TrainOnly:
        def run(self, run):
            return {}

    def train_only() -> TrainOnly:
        """A task that can only train."""
        return TrainOnly()

    class Plugin:
        @hookimpl
        def zoo_register_tasks(self, registry):
            registry.register("train_only", train_only)

    get_manager().register(Plugin(), "train-only")
    folder = tmp_path / "run"
    shutil.copytree(trained, folder)
    recipe = (folder / "recipe.yaml").read_text()
    (folder / "recipe.yaml").write_text(re.sub(r"(?ms)^task:\n(  .*?\n)+", "task:\n  name: train_only\n", recipe))
    status, _, err = zoo("eval", folder, capsys=capsys)
    assert status == 2 and "task 'train_only' cannot evaluate a run" in err
    image = write_png(tmp_path / "d.png", digits_test_split[0][0])
    status, _, err = zoo("predict", folder, image, capsys=capsys)
    assert status == 2 and "task 'train_only' cannot predict" in err


def test_probabilities_of_log_softmax_outputs_are_their_exponential():
    from zoo.predictor import top_classes

    logits = torch.randn(5, 7) * 4
    log_probs = torch.nn.LogSoftmax(dim=1)(logits)
    names = [str(i) for i in range(7)]
    for scores in (log_probs, logits):
        for row, result in zip(log_probs.exp(), top_classes(["x"] * 5, scores.numpy(), names, 3)):
            probabilities = [t["probability"] for t in result["top"]]
            assert probabilities == pytest.approx(sorted(row.tolist(), reverse=True)[:3], abs=1e-6)
            assert probabilities == pytest.approx([float(row[int(t["class"])]) for t in result["top"]], abs=1e-6)


def test_predict_walks_folders_and_globs_in_batches_and_writes_csv(trained, digits_test_split, tmp_path, capsys):
    images, _ = digits_test_split
    for i in range(10):
        write_png(tmp_path / "photos" / ("a" if i < 5 else "b/c") / f"{i}.png", images[i])
    (tmp_path / "photos" / "notes.txt").write_text("not an image: skipped in folders")
    one = write_png(tmp_path / "one.png", images[20])
    status, out, err = zoo("predict", trained, tmp_path / "photos", f"{tmp_path}/photos/a/*.png", one,
                           "--batch-size", "3", "--top-k", "2", "--csv", capsys=capsys)
    assert status == 0, err
    rows = out.strip().splitlines()
    assert rows[0] == "path,rank,class,probability"
    paths = [row.split(",")[0] for row in rows[1::2]]  # each image once, in the order given, folders sorted
    assert paths == [str(tmp_path / "photos" / "a" / f"{i}.png") for i in range(5)] + [
        str(tmp_path / "photos" / "b" / "c" / f"{i}.png") for i in range(5, 10)] + [str(one)]
    assert [row.split(",")[1] for row in rows[1:]] == ["1", "2"] * 11
    status, out, err = zoo("predict", trained, tmp_path / "photos", "--json", "--top-k", "2", capsys=capsys)
    by_json = [(r["path"], r["top"][0]["class"]) for r in json.loads(out)]
    assert by_json == [(row.split(",")[0], row.split(",")[2]) for row in rows[1:21:2]]  # batches change nothing
    status, _, err = zoo("predict", trained, f"{tmp_path}/nothing/*.png", capsys=capsys)
    assert status == 2 and f"no files match {tmp_path}/nothing/*.png" in err
    (tmp_path / "empty").mkdir()
    status, _, err = zoo("predict", trained, tmp_path / "empty", capsys=capsys)
    assert status == 2 and f"no image files in folder {tmp_path / 'empty'}" in err
    status, _, err = zoo("predict", trained, one, "--json", "--csv", capsys=capsys)
    assert status == 2 and "not allowed with argument" in err


def strip_card(folder):
    """Make ``folder``'s best.pt a checkpoint from before model cards: no card, no example images."""
    best = folder / "checkpoints" / "best.pt"
    state = torch.load(best, weights_only=True)
    state.pop("examples")
    torch.save(state, best)
    from zoo.model_card import checkpoint_card

    assert checkpoint_card(best) is None


def test_a_checkpoint_from_before_cards_still_evaluates_and_predicts_with_its_data(trained, digits_test_split,
                                                                                  tmp_path, capsys):
    images, _ = digits_test_split
    paths = [write_png(tmp_path / f"d{i}.png", images[i]) for i in range(8)]
    expected = json.loads(zoo("predict", trained, *paths, "--json", capsys=capsys)[1])
    old = tmp_path / "old"
    shutil.copytree(trained, old)
    strip_card(old)
    status, out, err = zoo("predict", old, *paths, "--json", capsys=capsys)
    assert status == 0, err
    assert json.loads(out) == expected  # the card is made from the data the recipe names
    assert zoo("eval", old, capsys=capsys)[0] == 0
    status, out, err = zoo("export", old, "--format", "safetensors", capsys=capsys)
    assert status == 0 and "largest difference" in out, err


def test_a_checkpoint_from_before_cards_without_its_data_says_what_it_lacks(trained, digits_test_split, tmp_path,
                                                                           capsys):
    old = tmp_path / "old"
    shutil.copytree(trained, old)
    strip_card(old)
    recipe = (old / "recipe.yaml").read_text()
    (old / "recipe.yaml").write_text(re.sub(r"(?m)^data:.*(\n  .*)*", f"data: {{name: imagefolder, root: "
                                            f"{tmp_path / 'gone'}, image_size: 8, channels: 1}}", recipe))
    image = write_png(tmp_path / "d.png", digits_test_split[0][0])
    for args in (("predict", old, image), ("export", old, "--format", "onnx")):
        status, _, err = zoo(*args, capsys=capsys)
        assert status == 2 and len(err.strip().splitlines()) == 1
        assert f"{old / 'checkpoints' / 'best.pt'} was saved before zoo recorded a model card in checkpoints" in err
        assert "the run's data, which cannot be loaded" in err and str(tmp_path / "gone") in err


def test_a_dataset_prepares_new_images_exactly_as_its_own_samples():
    from zoo.toolkit import TensorImageDataset

    images = torch.randint(0, 256, (4, 1, 6, 6), dtype=torch.uint8)
    dataset = TensorImageDataset(images, [0, 1, 0, 1], transform=lambda x: (x - 0.5) / 0.25,
                                 augment=lambda x, g: x.flip(-1))
    assert dataset.stored_shape == (1, 6, 6)
    expected, _ = dataset.batch([2, 3], augment=False)
    assert torch.equal(dataset.subset([1, 2, 3]).prepare(images[2:]), expected)


def test_image_files_read_one_by_one_are_prepared_as_their_samples(digits_test_split, tmp_path):
    from zoo_datasets.images import LazyImageDataset

    paths = [write_png(tmp_path / f"{i}.png", digits_test_split[0][i]) for i in range(3)]
    dataset = LazyImageDataset(paths, [0, 1, 2], size=8, mode="L", transform=lambda x: x * 2 - 1)
    assert dataset.stored_shape == (1, 8, 8)
    raw = torch.from_numpy(digits_test_split[0][:3]).unsqueeze(1)
    expected, _ = dataset.batch([0, 1, 2], augment=False)
    assert torch.equal(dataset.prepare(raw), expected)

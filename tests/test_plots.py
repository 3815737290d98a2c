"""The run folder's pictures: each plot writes a real PNG that PIL reads, with the right content."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from zoo_classify import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLOTS_FILE = Path(plots.__file__)


def assert_png(path: Path, min_width: int = 200, min_height: int = 150) -> tuple[int, int]:
    """``path`` is a PNG file PIL can decode, of a size a person can read; return its size."""
    assert path.is_file()
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.load()  # decodes the whole file: a truncated PNG fails here
        width, height = image.size
    assert min_width <= width <= 4000 and min_height <= height <= 4000
    return width, height


def history(epochs: int = 5) -> list[dict]:
    losses = [1.2, 0.8, 0.6, 0.65, 0.7][:epochs]
    return [
        {"epoch": e + 1, "train_loss": 1.0 / (e + 1), "valid_loss": losses[e],
         "valid_accuracy": 0.5 + 0.08 * e, "lr": 0.01}
        for e in range(epochs)
    ]


# --------------------------------------------------------------------------- curves


def test_curves_write_png_with_two_panels_and_best_epoch(tmp_path):
    path = plots.plot_curves(history(), tmp_path / "curves.png")
    assert path == tmp_path / "curves.png"
    width, height = assert_png(path)
    assert width > height  # two panels side by side

    figure = plots.curves_figure(history())
    loss_axes, accuracy_axes = figure.axes
    assert loss_axes.get_xlabel() == accuracy_axes.get_xlabel() == "epoch"
    labels = [line.get_label() for line in loss_axes.get_lines()]
    assert "train" in labels and "validation" in labels and "best (epoch 3)" in labels
    # accuracy panel is in percent
    validation = next(l for l in accuracy_axes.get_lines() if l.get_label() == "validation")
    assert list(validation.get_ydata()) == pytest.approx([50, 58, 66, 74, 82])


def test_best_epoch_is_lowest_finite_valid_loss():
    rows = history()
    rows[4]["valid_loss"] = float("nan")
    rows[0]["valid_loss"] = "nan"  # how metrics.jsonl spells NaN
    assert plots.best_epoch(rows)["epoch"] == 3
    assert plots.best_epoch([{"epoch": 1, "train_loss": 1.0}]) is None
    assert plots.best_epoch([]) is None


def test_curves_skip_nan_and_missing_values(tmp_path):
    rows = history()
    rows[1]["train_loss"] = float("nan")
    rows[2]["valid_accuracy"] = float("inf")
    rows[3].pop("valid_loss")
    assert_png(plots.plot_curves(rows, tmp_path / "curves.png"))

    figure = plots.curves_figure(rows)
    train = next(l for l in figure.axes[0].get_lines() if l.get_label() == "train")
    assert list(train.get_xdata()) == [1, 3, 4, 5]  # the NaN epoch is left out, not drawn as a gap
    assert all(math.isfinite(v) for v in train.get_ydata())


def test_curves_single_epoch_and_all_nan_still_draw(tmp_path):
    one = plots.curves_figure(history(1))
    validation = next(l for l in one.axes[0].get_lines() if l.get_label() == "validation")
    assert validation.get_marker() == "o"  # one point is visible as a marker
    assert one.axes[0].get_xlim() == (0, 2)  # centred, with whole-number epoch ticks
    assert_png(plots.plot_curves(history(1), tmp_path / "one.png"))

    nan = float("nan")
    rows = [{"epoch": 1, "train_loss": nan, "valid_loss": nan, "valid_accuracy": nan}]
    assert_png(plots.plot_curves(rows, tmp_path / "nan.png"))
    assert_png(plots.plot_curves([], tmp_path / "empty.png"))


# --------------------------------------------------------------------------- prediction grid


def test_grid_titles_name_classes_and_colour_by_correctness():
    classes = ["cat", "dog", "bird"]
    titles = plots.grid_titles([0, 2, 1], torch.tensor([0, 1, 1]), classes)
    assert titles == [("cat (cat)", "green"), ("bird (dog)", "red"), ("dog (dog)", "green")]


def test_grid_titles_fall_back_to_index_shorten_long_names_and_reject_length_mismatch():
    assert plots.grid_titles([5], [5], ["a"]) == [("5 (5)", "green")]
    long_names = ["n01440764_tench_fish", "n01443537_goldfish"]
    (title, colour), = plots.grid_titles([0], [1], long_names)
    assert title == "n0144076\u2026ch_fish (n0144353\u2026oldfish)"  # both ends kept: still tell apart
    assert colour == "red"
    with pytest.raises(ValueError, match="2 predictions but 1 true labels"):
        plots.grid_titles([0, 1], [0], ["a", "b"])


def test_grid_of_real_grayscale_digits(tmp_path):
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images[:24], dtype=torch.float32).unsqueeze(1) / 16.0  # N×1×8×8
    truth = [int(t) for t in digits.target[:24]]
    predicted = [t if i % 4 else (t + 1) % 10 for i, t in enumerate(truth)]
    classes = [str(i) for i in range(10)]

    path = plots.plot_prediction_grid(images, predicted, truth, classes, tmp_path / "grid.png")
    width, height = assert_png(path)
    assert width > height  # 2 rows of 10

    figure = plots.prediction_grid_figure(images, predicted, truth, classes)
    assert len(figure.axes) == 20  # at most 20 images, as in the seeds
    drawn = [(axes.get_title(), axes.title.get_color()) for axes in figure.axes]
    assert drawn == plots.grid_titles(predicted[:20], truth[:20], classes)
    assert drawn[0][1] == "red" and drawn[1][1] == "green"
    assert figure.axes[0].get_images()[0].get_cmap().name == "gray"


def test_grid_of_normalised_rgb_photos_is_unnormalised_and_clipped(tmp_path):
    from sklearn.datasets import load_sample_image

    photo = torch.tensor(load_sample_image("flower.jpg")[:224, :224], dtype=torch.float32)
    photo = photo.permute(2, 0, 1) / 255.0  # 3×224×224 in [0, 1]
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    batch = torch.stack([photo, photo.flip(-1), photo.flip(-2)])
    normalised = (batch - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    normalised[2, :, :10, :10] = 50.0  # far outside [0, 1] once unnormalised: must be clipped

    path = plots.plot_prediction_grid(normalised, [0, 1, 1], [0, 0, 1], ["daisy", "rose"],
                                      tmp_path / "photos.png", mean=mean, std=std, columns=3)
    assert_png(path)

    figure = plots.prediction_grid_figure(normalised, [0, 1, 1], [0, 0, 1], ["daisy", "rose"],
                                          mean=mean, std=std, columns=3)
    shown = figure.axes[0].get_images()[0].get_array()
    assert shown.shape == (224, 224, 3)
    assert torch.tensor(shown).sub(photo.permute(1, 2, 0)).abs().max() < 1e-5  # back to the photo
    clipped = figure.axes[2].get_images()[0].get_array()
    assert clipped.max() <= 1.0 and clipped.min() >= 0.0
    assert [axes.get_title() for axes in figure.axes] == ["daisy (daisy)", "rose (daisy)", "rose (rose)"]


def test_unnormalize_undoes_normalize_per_channel():
    images = torch.rand(2, 3, 4, 4)
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.25, 2.0]
    normalised = (images - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    assert torch.allclose(plots.unnormalize(normalised, mean, std), images, atol=1e-6)
    assert torch.allclose(plots.unnormalize(torch.zeros(1, 1, 2, 2), [0.5], [0.5]), torch.full((1, 1, 2, 2), 0.5))
    with pytest.raises(ValueError, match="mean has 2 values, images have 3 channels"):
        plots.unnormalize(images, [0.1, 0.2], std)


def test_grid_rejects_more_labels_than_images():
    with pytest.raises(ValueError, match="3 labels but only 2 images"):
        plots.prediction_grid_figure(torch.rand(2, 1, 8, 8), [0, 1, 0], [0, 1, 1], ["a", "b"])


def test_the_grid_shows_the_mistakes_first_then_right_ones_across_the_classes():
    truth = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2]
    predicted = [0, 0, 0, 1, 1, 1, 1, 2, 0, 2, 2, 1]  # wrong at 3 (a 0), 8 and 11 (2s)
    assert plots.grid_sample(predicted, truth, limit=8) == [3, 8, 11, 0, 4, 7, 1, 5]
    assert plots.grid_sample(predicted, truth, limit=2) == [3, 8]  # the mistakes, one class after another
    assert plots.grid_sample([], [], limit=20) == []
    with pytest.raises(ValueError, match="2 predictions but 1 true labels"):
        plots.grid_sample([0, 1], [0])


def test_the_grid_title_says_how_its_images_were_chosen(tmp_path):
    assert plots.grid_caption(3, 3, 359, 20) == ("the 3 mistakes among the 359 test images first (red), "
                                                  "then right ones across the classes")
    assert plots.grid_caption(1, 1, 40, 20).startswith("the 1 mistake among")
    assert plots.grid_caption(20, 127, 10000, 20) == ("20 of the 127 mistakes among the 10,000 test images (red), "
                                                       "across the true classes")
    assert plots.grid_caption(0, 0, 359, 20) == "no mistakes among the 359 test images: a sample across the classes"
    figure = plots.prediction_grid_figure(torch.rand(3, 1, 8, 8), [1, 0, 1], [0, 0, 1], ["a", "b"],
                                          title="the 1 mistake among the 3 test images first (red)")
    assert figure.get_suptitle() == "the 1 mistake among the 3 test images first (red)"
    assert [axes.get_title() for axes in figure.axes] == ["b (a)", "a (a)", "b (b)"]


def test_a_run_s_grid_holds_its_mistakes_first_and_says_so(tmp_path, monkeypatch, capsys):
    """End to end: a digits run that is still poor after one epoch draws the grid from every test
    prediction (not the first 20 images), its mistakes first, titled with the run's own counts."""
    import json

    from zoo.cli import main

    drawn = []
    real = plots.plot_prediction_grid
    monkeypatch.setattr(plots, "plot_prediction_grid", lambda *a, **k: drawn.append((a, k)) or real(*a, **k))
    recipe = tmp_path / "digits.yaml"
    recipe.write_text("seed: 0\ntask: {name: classification, epochs: 1, batch_size: 64, grid_size: 12}\n"
                      "data: {name: digits, normalize: {mean: [0.5], std: [0.5]}}\nmodel: {name: mlp, hidden: [8]}\n"
                      "loss: {name: cross_entropy}\noptimizer: {name: sgd, lr: 0.02}\n")
    assert main(["run", str(recipe), "--output", str(tmp_path / "run")]) == 0, capsys.readouterr().err
    test = json.loads((tmp_path / "run" / "report.json").read_text())["test"]
    wrong = sum(c["total"] - c["correct"] for c in test["per_class"].values())
    (args, options), = drawn
    images, predicted, truth = args[:3]
    assert len(images) == len(predicted) == 12 and 12 < wrong
    assert all(p != t for p, t in zip(predicted, truth))  # only mistakes: there are more than 12
    assert sorted(set(truth)) == sorted(set(truth[:len(set(truth))]))  # one true class after another
    assert options["title"] == f"12 of the {wrong} mistakes among the 359 test images (red), across the true classes"
    assert_png(tmp_path / "run" / "predictions.png")


# --------------------------------------------------------------------------- confusion matrix


def test_short_class_names_stand_upright_under_the_matrix_and_long_ones_turn():
    digits = plots.confusion_matrix_figure(torch.eye(10), [str(i) for i in range(10)]).axes[0]
    assert {t.get_rotation() for t in digits.get_xticklabels()} == {0}
    pets = plots.confusion_matrix_figure(torch.eye(2), ["cat", "dog"]).axes[0]
    assert {t.get_rotation() for t in pets.get_xticklabels()} == {0}
    cifar = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    turned = plots.confusion_matrix_figure(torch.eye(10), cifar).axes[0]
    assert {t.get_rotation() for t in turned.get_xticklabels()} == {45}
    many = plots.confusion_matrix_figure(torch.eye(30), [f"class_{i}" for i in range(30)]).axes[0]
    assert {t.get_rotation() for t in many.get_xticklabels()} == {90}


def test_the_per_class_table_keeps_names_as_written_and_aligns_the_figures():
    from zoo_classify.evaluation import log_test_table, test_report

    class Log:
        def __init__(self):
            self.lines = []

        def log(self, line: str) -> None:
            self.lines.append(line)

    confusion = torch.tensor([[9, 1, 0], [0, 0, 0], [1, 0, 39]])
    run = Log()
    log_test_table(run, test_report(0.25, 0.96, confusion, ["cat", "hummingbird", "dog"]))
    assert run.lines[1:4] == ["test accuracy of cat:          90% (9/10)",
                              "test accuracy of hummingbird: N/A (no test samples)",
                              "test accuracy of dog:          98% (39/40)"]


def test_confusion_matrix_with_an_empty_class(tmp_path):
    matrix = torch.tensor([[5, 1, 0], [0, 0, 0], [2, 0, 2]])  # class "b" has no samples
    path = plots.plot_confusion_matrix(matrix, ["a", "b", "c"], tmp_path / "confusion.png")
    assert_png(path)

    figure = plots.confusion_matrix_figure(matrix, ["a", "b", "c"])
    axes = figure.axes[0]
    assert axes.get_xlabel() == "predicted" and axes.get_ylabel() == "true"
    assert axes.get_title() == "accuracy 70.0% (7/10)"
    colours = axes.get_images()[0].get_array()
    assert colours[0].tolist() == pytest.approx([5 / 6, 1 / 6, 0])  # row-normalised
    assert colours[1].tolist() == [0, 0, 0]  # empty row: no division by zero
    assert sorted(t.get_text() for t in axes.texts) == sorted(str(v) for v in matrix.flatten().tolist())
    assert [t.get_text() for t in axes.get_xticklabels()] == ["a", "b", "c"]


def test_confusion_matrix_many_classes_drops_cell_text(tmp_path):
    classes = [f"class_{i}" for i in range(30)]
    matrix = torch.eye(30, dtype=torch.int64) * 3
    matrix[0, 1] = 1
    assert_png(plots.plot_confusion_matrix(matrix, classes, tmp_path / "big.png"))

    axes = plots.confusion_matrix_figure(matrix, classes).axes[0]
    assert len(axes.texts) == 0
    assert [t.get_text() for t in axes.get_yticklabels()] == classes
    assert axes.get_title() == "accuracy 98.9% (90/91)"

    sixty = plots.confusion_matrix_figure(torch.eye(60), [f"c{i}" for i in range(60)]).axes[0]
    assert len(sixty.get_xticklabels()) == 60
    assert sixty.get_xticklabels()[0].get_fontsize() < axes.get_xticklabels()[0].get_fontsize()
    many = plots.confusion_matrix_figure(torch.eye(61), [f"c{i}" for i in range(61)]).axes[0]
    assert "c0" not in [t.get_text() for t in many.get_xticklabels()]  # too many to name


def test_confusion_matrix_without_samples_and_bad_shapes(tmp_path):
    assert_png(plots.plot_confusion_matrix(torch.zeros(2, 2), None, tmp_path / "empty.png"))
    with pytest.raises(ValueError, match="K×K"):
        plots.confusion_matrix_figure(torch.zeros(2, 3), None)
    with pytest.raises(ValueError, match="2 class names"):
        plots.confusion_matrix_figure(torch.zeros(3, 3), ["a", "b"])


# --------------------------------------------------------------------------- cheapness


def test_importing_plots_loads_neither_matplotlib_nor_torch():
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('plots_probe', {str(PLOTS_FILE)!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print(sorted(m for m in ('matplotlib', 'torch') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_drawing_leaves_no_pyplot_figure_open(tmp_path):
    plots.plot_curves(history(), tmp_path / "c.png")
    plots.plot_confusion_matrix(torch.eye(2), ["a", "b"], tmp_path / "m.png")
    if "matplotlib.pyplot" in sys.modules:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []

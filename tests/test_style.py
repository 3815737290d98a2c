"""Style transfer (zoo_style): Gram matrices, the VGG-19 feature extractor, weights, the optimisation, the task."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from zoo import UserError
from zoo_style import plugin
from zoo_style.images import load_style_pair, read_image, resize_long_side, save_png
from zoo_style.layers import LAYER_NAMES
from zoo_style.losses import gram_matrix, style_loss
from zoo_style.transfer import stylize
from zoo_style.vgg import VGG19Features, vgg19_features

RECIPE = Path(__file__).resolve().parent.parent / "recipes" / "style_transfer.yaml"
TINY_LAYERS = ["conv1_1", "conv2_1", "conv2_2"]  # shallow: quick to build and run


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one thread is quicker, and does not stall when other processes share the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_features(*layers: str) -> VGG19Features:
    torch.manual_seed(0)
    return VGG19Features(list(layers)).eval().requires_grad_(False)


def write_state_dict(path: Path, depth_layer: str = "conv2_1") -> dict:
    """Save torchvision-named VGG-19 weights (``features.N.weight``) up to ``depth_layer``; return them."""
    torch.manual_seed(1)
    state = {k: v.contiguous() for k, v in VGG19Features([depth_layer]).state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # as in torchvision's file: ignored
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


# -- Gram matrix and style loss --------------------------------------------------------------


def test_gram_matrix_matches_a_hand_computation():
    # two channels over a 2x2 image: F = [[1, 2, 3, 4], [0, 1, 0, -1]], G = F F^T / 4
    features = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [0.0, -1.0]]]])
    expected = torch.tensor([[[30.0, -2.0], [-2.0, 2.0]]]) / 4
    assert torch.equal(gram_matrix(features), expected)
    # the same features stored channels-last give the same matrix
    assert torch.equal(gram_matrix(features.contiguous(memory_format=torch.channels_last)), expected)


def test_style_loss_gradient_is_the_true_gradient():
    torch.manual_seed(0)
    target = gram_matrix(torch.randn(1, 3, 4, 5, dtype=torch.float64))
    for layout in (torch.contiguous_format, torch.channels_last):
        features = torch.randn(1, 3, 4, 5, dtype=torch.float64).contiguous(memory_format=layout)
        features.requires_grad_(True)
        assert torch.autograd.gradcheck(lambda f: style_loss(f, target, 0.7), (features,))
        naive = 0.7 * ((gram_matrix(features) - target) ** 2).sum()
        assert torch.allclose(style_loss(features, target, 0.7), naive)


# -- the VGG-19 feature extractor -------------------------------------------------------------


def test_features_equal_torchvision_vgg19_on_normalised_input():
    from torchvision.models.vgg import cfgs, make_layers

    ours = random_features("conv1_1", "relu1_2", "conv2_1", "pool2", "conv3_1")
    reference = make_layers(cfgs["E"][:7]).eval()  # torchvision's VGG-19 layers up to conv3_1
    reference.load_state_dict({k.removeprefix("features."): v for k, v in ours.state_dict().items()}, strict=False)
    images = torch.rand(2, 3, 32, 24)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    expected, x = {}, (images - mean) / std
    with torch.no_grad():
        for index, layer in enumerate(reference):
            x = layer(x.clone())
            expected[LAYER_NAMES[index]] = x
        found = ours(images)
    assert list(found) == ["conv1_1", "relu1_2", "conv2_1", "pool2", "conv3_1"]
    for name, value in found.items():  # conv outputs are handed out before their ReLU
        assert torch.allclose(value, expected[name], atol=1e-4, rtol=1e-4), name
    assert (found["conv1_1"] < 0).any()


def test_network_is_cut_after_the_deepest_layer():
    assert len(random_features("conv2_1").features) == LAYER_NAMES.index("conv2_1") + 1
    assert len(random_features("relu1_1", "conv5_1").features) == LAYER_NAMES.index("conv5_1") + 1


def test_a_wrong_layer_name_lists_the_valid_ones():
    with pytest.raises(UserError) as error:
        vgg19_features(layers=["conv4_2", "conv6_1"])
    message = str(error.value)
    assert "model.layers" in message and "'conv6_1'" in message
    assert "conv1_1" in message and "conv5_4" in message and "\n" not in message
    with pytest.raises(UserError, match="task.style_layers.*'conv9_9'"):
        plugin_task(style_layers=["conv1_1", "conv9_9"])


# -- weights --------------------------------------------------------------------------------


def test_random_weights_are_frozen_and_marked():
    model = vgg19_features(layers=["conv1_1"])
    assert model.weights_source is None and not model.training and "weights=random" in repr(model)
    assert not any(p.requires_grad for p in model.parameters())


def test_weights_path_loads_a_torchvision_state_dict(tmp_path):
    path = tmp_path / "my_vgg.pth"
    state = write_state_dict(path)
    model = vgg19_features(layers=["conv1_1", "conv2_1"], weights=str(path))
    assert model.weights_source == str(path)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_pretrained_reads_the_hash_checked_torch_hub_cache(tmp_path, monkeypatch):
    import zoo_style.vgg as vgg

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    scratch = tmp_path / "scratch.pth"
    state = write_state_dict(scratch)
    prefix = hashlib.sha256(scratch.read_bytes()).hexdigest()[:8]
    cached = tmp_path / "hub" / "checkpoints" / f"vgg19-{prefix}.pth"  # torch.hub's naming
    cached.parent.mkdir(parents=True)
    scratch.rename(cached)
    monkeypatch.setattr(vgg, "VGG19_URL", f"https://download.pytorch.org/models/vgg19-{prefix}.pth")
    model = vgg19_features(layers=["conv2_1"], pretrained=True)
    assert model.weights_source == str(cached)
    assert torch.equal(model.features[5].weight, state["features.5.weight"])


def test_missing_pretrained_weights_say_where_they_were_looked_for(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(UserError) as error:
        vgg19_features(pretrained=True)
    message = str(error.value)
    assert str(tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth") in message
    assert "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth" in message


def test_a_cached_file_with_the_wrong_hash_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    planted = tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    write_state_dict(planted)
    with pytest.raises(UserError, match="vgg19-dcbb9e9d.pth.*hash"):
        vgg19_features(pretrained=True)


def test_weights_of_the_wrong_shape_name_the_file_and_key(tmp_path):
    path = tmp_path / "odd.pth"
    torch.save({"features.0.weight": torch.zeros(8, 3, 3, 3), "features.0.bias": torch.zeros(8)}, path)
    with pytest.raises(UserError, match=r"odd.pth.*'features.0.weight' has shape \(8, 3, 3, 3\)"):
        vgg19_features(layers=["conv1_1"], weights=str(path))
    with pytest.raises(UserError, match="model.weights.*not found"):
        vgg19_features(layers=["conv1_1"], weights=str(tmp_path / "absent.pth"))


# -- pictures -------------------------------------------------------------------------------


def test_images_dataset_defaults_to_the_embedded_photos():
    pair = load_style_pair()
    assert pair.content.shape == (3, 427, 640) and pair.style.shape == (3, 427, 640)
    assert pair.names == ("sklearn:china.jpg", "sklearn:flower.jpg")
    assert 0.0 <= pair.content.min() and pair.content.max() <= 1.0
    small = resize_long_side(pair.content, 64)
    assert small.shape == (3, 43, 64)


def test_images_dataset_reads_files_and_names_a_bad_one(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "content.png")
    Image.fromarray(pixels[:, :, 0]).save(tmp_path / "style.jpg")  # greyscale JPEG becomes RGB
    pair = load_style_pair(str(tmp_path / "content.png"), str(tmp_path / "style.jpg"))
    assert torch.equal(pair.content, torch.from_numpy(pixels).permute(2, 0, 1).float() / 255)
    assert pair.style.shape == (3, 20, 30)
    (tmp_path / "notes.txt").write_text("not a picture")
    with pytest.raises(UserError, match=r"data.style: .*notes.txt is not an image"):
        load_style_pair(style=str(tmp_path / "notes.txt"))
    with pytest.raises(UserError, match=r"data.content: image file not found: .*missing.png"):
        load_style_pair(content=str(tmp_path / "missing.png"))


def test_save_png_round_trips(tmp_path):
    image = torch.rand(1, 3, 5, 7)
    save_png(image, tmp_path / "out" / "x.png")
    back = read_image(tmp_path / "out" / "x.png")
    assert back.shape == (3, 5, 7) and (back - image[0]).abs().max() <= 0.5 / 255 + 1e-6


# -- the optimisation -----------------------------------------------------------------------


@pytest.mark.parametrize("optimizer, precision", [("lbfgs", "float32"), ("adam", "float32"), ("lbfgs", "bfloat16")])
def test_stylize_reduces_the_loss_and_counts_steps(optimizer, precision):
    torch.manual_seed(0)
    content, style = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    network, seen = random_features(*TINY_LAYERS), []
    result = stylize(content, style, network=network, steps=6, optimizer=optimizer, precision=precision,
                     content_layer="conv2_2", style_layers=["conv1_1", "conv2_1"],
                     callback=lambda step, losses, image: seen.append((step, image.shape)))
    assert result.precision == precision and network.features[0].weight.dtype == torch.float32
    totals = [h["total_loss"] for h in result.history]
    assert result.steps == 6 and len(totals) == 6 and [s for s, _ in seen] == [1, 2, 3, 4, 5, 6]
    assert totals[-1] < 0.5 * totals[0]
    assert result.image.shape == (1, 3, 32, 32) and 0 <= result.image.min() and result.image.max() <= 1
    assert result.seconds_per_step > 0 and result.total_loss == totals[-1]


def test_stylize_from_noise_keeps_pixels_in_range():
    torch.manual_seed(0)
    content, style = torch.rand(1, 3, 24, 24), torch.rand(1, 3, 16, 16)  # style of another size
    result = stylize(content, style, network=random_features(*TINY_LAYERS), steps=4, init="noise",
                     content_layer="conv2_2", style_layers={"conv1_1": 1.0, "conv2_1": 0.5})
    assert result.image.min() >= 0 and result.image.max() <= 1
    assert result.history[-1]["total_loss"] < result.history[0]["total_loss"]


def test_stylize_refuses_a_network_without_the_layers_and_unknown_settings():
    images = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    with pytest.raises(UserError, match="conv4_2"):
        stylize(*images, network=random_features("conv1_1"), steps=1)
    with pytest.raises(UserError, match="precision.*float16"):
        stylize(*images, network=random_features(*TINY_LAYERS), content_layer="conv2_2", precision="float16")


# -- the task, through zoo's runner ----------------------------------------------------------


def plugin_task(**options):
    from zoo.registry import Registry

    tasks = Registry("tasks")
    plugin.zoo_register_tasks(tasks)
    return tasks.create("style_transfer", **options)


@pytest.fixture
def with_style_plugin():
    """The process-wide plugin manager with zoo_style in it (as its entry point would add it)."""
    from zoo.plugins import get_manager

    manager = get_manager(quiet=True)
    if not any(info.module.startswith("zoo_style") for info in manager.plugins.values()):
        manager.register(plugin, "style")
    return manager


def test_plugin_registers_model_dataset_task_and_recipe(with_style_plugin):
    from zoo.task import traits_of

    registries = with_style_plugin.registries
    entry = registries.tasks.get("style_transfer")
    traits = traits_of(entry.create(), entry.name, entry.metadata)
    assert traits.sections == ("data", "model") and traits.optional_sections == ()
    assert traits.section_fills("model") == ("num_classes", "in_channels", "image_size", "layers")
    assert traits.checkpoints is None
    assert "vgg19_features" in registries.models and "images" in registries.datasets


def test_importing_the_plugin_does_not_import_torch():
    code = "import sys, zoo_style.plugin; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(Path(plugin.__file__).parent.parent), "PATH": ""})
    assert out.stdout.strip() == "False", out.stderr


def test_recipe_runs_and_writes_the_pictures(with_style_plugin, tmp_path, capsys):
    from zoo.cli import main

    folder = tmp_path / "run"
    status = main(["run", str(RECIPE), "--output", str(folder), "model.pretrained=false",
                   "task.image_size=32", "task.steps=4", "task.snapshot_every=2",
                   "task.style_layers=[conv1_1, conv2_1]", "task.content_layer=conv2_2"])
    out = capsys.readouterr()
    assert status == 0, out.err
    assert "random weights" in out.out
    report = json.loads((folder / "report.json").read_text())
    assert report["steps"] == 4 and report["image_size"] == [21, 32] and report["weights"] == "random"
    assert report["result"] == "result.png" and report["snapshots"] == ["snapshots/step_0002.png",
                                                                        "snapshots/step_0004.png"]
    with Image.open(folder / "result.png") as result:
        assert result.format == "PNG" and result.size == (32, 21) and result.mode == "RGB"
    for name in ("loss_curve.png", "comparison.png", "snapshots/step_0002.png"):
        with Image.open(folder / name) as picture:
            picture.verify()
    lines = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2, 3, 4]
    assert {"content_loss", "style_loss", "total_loss"} <= set(lines[0])
    assert lines[-1]["total_loss"] == pytest.approx(report["total_loss"])


SMALL_RUN = ["model.pretrained=false", "task.image_size=32", "task.style_layers=[conv1_1, conv2_1]",
             "task.content_layer=conv2_2", "task.snapshot_every=0"]


def test_a_run_in_a_log_prints_the_losses_every_log_every_steps(with_style_plugin, tmp_path, capsys):
    from zoo.cli import main

    status = main(["run", str(RECIPE), "--output", str(tmp_path / "run"), *SMALL_RUN, "task.steps=5",
                   "task.log_every=2"])
    out = capsys.readouterr()
    assert status == 0, out.err
    lines = [line for line in out.out.splitlines() if line.startswith("step ")]
    assert [line.split()[1] for line in lines] == ["2/5", "4/5", "5/5"]  # and the last step
    number = r"[-+.e\d]+"
    for line in lines:
        assert re.fullmatch(rf"step \d/5  content loss {number}  style loss {number}  total loss {number}  "
                            rf"\(\d+\.\d\d s/step\)", line), line
    assert out.err == ""  # no bar where there is no terminal


def test_a_run_on_a_terminal_shows_a_bar_with_the_current_losses(with_style_plugin, tmp_path, capsys,
                                                                monkeypatch):
    from zoo.cli import main

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", "200")  # the width tqdm gives the bar where it can't ask the terminal
    status = main(["run", str(RECIPE), "--output", str(tmp_path / "run"), *SMALL_RUN, "task.steps=3"])
    out = capsys.readouterr()
    assert status == 0, out.err
    assert not [line for line in out.out.splitlines() if line.startswith("step ")]  # the bar says it
    last = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert "style transfer: 100%" in out.err and "3/3" in out.err
    assert f"content {last['content_loss']:.4g}, style {last['style_loss']:.4g}, total {last['total_loss']:.4g}" in out.err


@pytest.mark.parametrize("shape", [(168, 256), (256, 168)])
def test_comparison_panel_takes_the_pictures_shape_without_white_bands(tmp_path, shape):
    """The panel of a wide (or tall) picture has only its titles' strip above the pictures: no band
    of background above and below them (beside them)."""
    from zoo_style.plots import plot_panel

    from sklearn.datasets import load_sample_image

    photo = torch.tensor(load_sample_image("china.jpg"), dtype=torch.float32).permute(2, 0, 1) / 255
    picture = torch.nn.functional.interpolate(photo[None], size=shape, mode="bilinear")[0]
    path = plot_panel(picture, picture.flip(-1), picture, tmp_path / "comparison.png")
    with Image.open(path) as png:
        pixels = np.asarray(png.convert("RGB"))
    background = (pixels >= 250).all(axis=2)
    blank_rows = int(background.all(axis=1).sum())
    blank_columns = int(background.all(axis=0).sum())
    assert blank_rows <= 50, blank_rows  # the titles' 0.4 inch and the margins, at 100 dpi
    assert blank_columns <= 30, blank_columns  # the margins between and around the three pictures
    drawn_height = int(((~background).mean(axis=1) > 0.5).sum())  # rows mostly covered by the pictures
    drawn_width = int(((~background).mean(axis=0) > 0.5).sum())
    assert drawn_width / drawn_height == pytest.approx(3 * shape[1] / shape[0], rel=0.03)  # the pictures' shape


def test_dry_run_checks_the_recipe_pictures_and_weights(with_style_plugin, tmp_path, monkeypatch, capsys):
    from zoo.cli import main

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    assert main(["run", str(RECIPE), "--dry-run"]) == 0, capsys.readouterr().err  # random weights: runs anywhere
    assert main(["run", str(RECIPE), "--dry-run", "model.pretrained=true"]) == 2  # no weights in this TORCH_HOME
    assert "vgg19-dcbb9e9d.pth" in capsys.readouterr().err
    assert main(["run", str(RECIPE), "--dry-run", "model.pretrained=false",
                 "task.style_layers=[conv1_1, conv6_1]"]) == 2
    assert "conv6_1" in capsys.readouterr().err
    assert main(["run", str(RECIPE), "--dry-run", "model.pretrained=false",
                 f"data.content={tmp_path / 'nowhere.jpg'}"]) == 2
    assert "nowhere.jpg" in capsys.readouterr().err

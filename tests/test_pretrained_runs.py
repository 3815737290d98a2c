"""What a run says about the pretrained weights it starts from: how many tensors came from
which file, and which part (the new classifier, only) was left freshly initialised."""

from __future__ import annotations

import textwrap

import pytest
import torch

from tests.formats import write_image_folder
from zoo.cli import main


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    write_image_folder(root, ["cat", "dog", "emu"], per_class=4, size=(20, 20))
    return root


def run_with(tmp_path, images, model: str, capsys) -> str:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(textwrap.dedent(f"""\
        task: {{name: classification, epochs: 1, batch_size: 8, plots: false}}
        data: {{name: imagefolder, root: {images}, image_size: 16, test_fraction: 0.25}}
        model: {model}
        loss: {{name: cross_entropy}}
        optimizer: {{name: adam, lr: 0.001}}
    """))
    capsys.readouterr()
    assert main(["run", str(recipe), "--output", str(tmp_path / "out")]) == 0
    return capsys.readouterr().out


def test_torchvision_weights_with_a_new_head_are_reported(tmp_path, images, capsys):
    import torchvision.models as tv_models

    path = tmp_path / "resnet18-imagenet.pth"
    torch.save(tv_models.resnet18().state_dict(), path)
    out = run_with(tmp_path, images, f"{{name: torchvision/resnet18, weights: {path}}}", capsys)
    assert (f"weights: 120 tensors loaded from {path}; fc left freshly initialised (the new classifier for "
            f"3 classes, trained from scratch)\n") in out


def test_timm_weights_of_the_same_classes_are_loaded_whole(tmp_path, images, capsys):
    import timm

    path = tmp_path / "tuned.pt"
    torch.save(timm.create_model("resnet18", num_classes=3).state_dict(), path)
    out = run_with(tmp_path, images, f"{{name: timm/resnet18, weights: {path}}}", capsys)
    assert f"weights: 122 tensors loaded from {path}\n" in out

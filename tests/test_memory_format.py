"""The memory format a model trains in (``task.channels_last``): auto measures NCHW against NHWC
on one training batch and trains in the faster, says so, trains every step in it, and a resumed
run keeps it, bit for bit; true and false decide; a model without convolutions is not measured."""

from __future__ import annotations

import re
import textwrap

import pytest
import torch

from tests.conftest import register_in_process
from tests.formats import write_image_folder
from zoo.cli import main
from zoo_classify.memory_format import MARGIN
from zoo_models.cnn import CNN

CHOICE = re.compile(r"model: trains (channels_last|contiguous) \(task\.channels_last: auto; one training step of "
                    r"20 samples measured: contiguous ([\d.]+) ms, channels_last ([\d.]+) ms\)")


class RecordingCNN(CNN):
    """The seeds' CNN, recording the memory format of every training batch and of its conv2 weight."""

    def __init__(self, seen: set, **kwargs):
        super().__init__(**kwargs)
        self.seen = seen

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.seen.add((x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous(),
                           self.conv2.weight.is_contiguous(memory_format=torch.channels_last)))
        return super().forward(x)


@pytest.fixture
def seen() -> set:
    """The formats the registered ``acme/recording_cnn`` trained in (the measured copy records into its own copy)."""
    formats: set = set()

    def recording_cnn(in_channels: int = 3, image_size: int = 32, num_classes: int = 10) -> torch.nn.Module:
        return RecordingCNN(formats, in_channels=in_channels, image_size=(image_size, image_size),
                            num_classes=num_classes, channels=[16, 32, 64], hidden=500, dropout=0.25)

    register_in_process("models", "acme/recording_cnn", recording_cnn)
    return formats


@pytest.fixture
def recipe(tmp_path):
    root = tmp_path / "pngs"
    write_image_folder(root / "train", ["cat", "dog"], per_class=30, size=(32, 32), formats=("png",))
    write_image_folder(root / "test", ["cat", "dog"], per_class=4, size=(32, 32), formats=("png",), seed=7)
    path = tmp_path / "cnn.yaml"
    path.write_text(textwrap.dedent(f"""\
        seed: 0
        task: {{name: classification, epochs: 2, batch_size: 20, plots: false, device: cpu}}
        data: {{name: imagefolder, root: '{root}', image_size: 32, augment: [hflip], normalize: half}}
        model: {{name: acme/recording_cnn}}
        loss: {{name: cross_entropy}}
        optimizer: {{name: sgd, lr: 0.01, momentum: 0.9}}
    """))
    return path


def run(*args, capsys) -> str:
    assert main([str(a) for a in args]) == 0
    return capsys.readouterr().out


def last(folder) -> dict:
    return torch.load(folder / "checkpoints" / "last.pt", weights_only=True)


def test_auto_measures_both_formats_and_trains_every_step_in_the_one_it_logs(recipe, tmp_path, seen, capsys):
    out = run("run", recipe, "--output", tmp_path / "r", capsys=capsys)
    chosen, contiguous, channels_last = CHOICE.search(out).groups()
    if chosen == "channels_last":  # the times are logged rounded to 0.1 ms
        assert float(channels_last) <= MARGIN * float(contiguous) + 0.1
    else:
        assert float(channels_last) >= MARGIN * float(contiguous) - 0.1
    assert seen == {(chosen == "channels_last",) * 2}  # every training step: the batches and the weights
    assert last(tmp_path / "r")["memory_format"] == chosen


@pytest.mark.parametrize("setting", [True, False])
def test_true_and_false_decide_without_measuring(recipe, tmp_path, seen, capsys, setting):
    out = run("run", recipe, "--output", tmp_path / "r", "task.epochs=1", f"task.channels_last={str(setting).lower()}",
              capsys=capsys)
    assert "model: trains" not in out
    assert seen == {(setting, setting)}
    assert last(tmp_path / "r")["memory_format"] == ("channels_last" if setting else "contiguous")


def test_a_resumed_run_keeps_its_format_and_ends_bit_for_bit(recipe, tmp_path, seen, capsys):
    out = run("run", recipe, "--output", tmp_path / "stopped", "task.epochs=1", capsys=capsys)
    chosen = CHOICE.search(out).group(1)
    out = run("run", "--resume", tmp_path / "stopped", "task.epochs=2", capsys=capsys)
    assert f"model: trains {chosen} (task.channels_last: auto; as the run it resumes)" in out
    assert len(seen) == 1  # the resumed epoch trained as the first did
    # a straight run told the same format: measuring in auto left the weights and random numbers alone
    run("run", recipe, "--output", tmp_path / "straight", f"task.channels_last={str(chosen == 'channels_last').lower()}",
        capsys=capsys)
    a, b = last(tmp_path / "straight"), last(tmp_path / "stopped")
    assert a["epoch"] == b["epoch"] == 2
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key


def test_a_model_without_convolutions_is_not_measured(recipe, tmp_path, capsys):
    out = run("run", recipe, "--output", tmp_path / "r", "task.epochs=1", "model={name: mlp, hidden: [32]}",
              capsys=capsys)
    assert "model: trains" not in out
    assert last(tmp_path / "r")["memory_format"] == "contiguous"

"""A frozen backbone's features: computed in the fastest precision the device has (bf16 and
channels_last on CPUs with native bfloat16), the choice logged and overridable, and a head
trained on bf16 features as accurate as one trained on float32 features."""

from __future__ import annotations

import json
import textwrap
from collections import OrderedDict

import pytest
import torch
from torch import nn

from tests.conftest import register_in_process
from zoo.cli import main
from zoo_classify.precision import native_cpu_bf16

RECIPE = textwrap.dedent("""\
    seed: 0
    task: {name: classification, epochs: 12, batch_size: 64, plots: false, device: cpu}
    data: {name: digits, normalize: {mean: [0.3], std: [0.4]}}
    model: {name: acme/random_convnet}
    loss: {name: cross_entropy}
    optimizer: {name: adam, lr: 0.01}
""")

#: Test accuracy a head trained on bf16 features may lose (or gain) against float32 features,
#: in percentage points: 359 test digits, so 3 points are 11 images.
ACCURACY_TOLERANCE = 3.0


def random_convnet(num_classes: int = 10, in_channels: int = 1) -> nn.Module:
    """A frozen, randomly initialised (seeded) conv backbone with BatchNorm, and a linear head."""
    from zoo.toolkit import freeze

    generator_state = torch.random.get_rng_state()
    torch.manual_seed(1234)
    backbone = nn.Sequential(nn.Conv2d(in_channels, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                             nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(2), nn.Flatten())
    model = nn.Sequential(OrderedDict(backbone=backbone, head=nn.Linear(256, num_classes)))
    torch.random.set_rng_state(generator_state)
    model.zoo_head = "head"
    freeze(model, "backbone")
    return model


def train(tmp_path, name, *overrides, capsys) -> tuple:
    """Run the recipe into ``tmp_path/name``; return ``(log, report)``."""
    recipe = tmp_path / "digits.yaml"
    recipe.write_text(RECIPE)
    folder = tmp_path / name
    assert main(["run", str(recipe), "--output", str(folder), *overrides]) == 0
    return capsys.readouterr().out, json.loads((folder / "report.json").read_text())


@pytest.fixture(autouse=True)
def convnet():
    register_in_process("models", "acme/random_convnet", random_convnet)


def test_a_head_trained_on_bf16_features_is_as_accurate_as_on_float32_features(tmp_path, capsys):
    out, float32 = train(tmp_path, "float32", "task.feature_precision=float32", capsys=capsys)
    assert "features in float32 (task.feature_precision is float32); the head trains in float32" in out
    out, bf16 = train(tmp_path, "bf16", "task.feature_precision=bf16", capsys=capsys)
    assert "features in bf16 autocast (task.feature_precision is bf16); the head trains in float32" in out
    a, b = 100 * float32["test"]["accuracy"], 100 * bf16["test"]["accuracy"]
    assert a > 80, f"the float32 head learned too little to compare ({a:.1f}%)"
    assert abs(a - b) <= ACCURACY_TOLERANCE, f"float32 features {a:.1f}%, bf16 features {b:.1f}%"


def test_the_automatic_choice_is_logged_with_its_reason(tmp_path, capsys):
    out, _ = train(tmp_path, "auto", "task.epochs=1", capsys=capsys)
    flag = native_cpu_bf16()
    if flag is not None:
        expected = f"features in bf16 autocast, channels_last (this CPU computes bfloat16 natively ({flag}))"
    else:
        expected = "features in float32"
    assert expected in out


def test_task_amp_and_channels_last_decide_when_set(tmp_path, capsys):
    out, _ = train(tmp_path, "amp", "task.epochs=1", "task.amp=off", "task.channels_last=false", capsys=capsys)
    assert "features in float32 (" in out
    assert "task.amp: off decides the precision; task.channels_last: false decides the memory format)" in out
    out, _ = train(tmp_path, "amp-bf16", "task.epochs=1", "task.amp=bf16", capsys=capsys)
    assert "features in bf16 autocast" in out and "task.amp: bf16 decides the precision" in out
    assert "the head trains in bf16" in out

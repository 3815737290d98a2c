"""A frozen backbone stays frozen: its modules stay in eval mode while the head trains, so training
the head on the backbone's cached features and training it with the backbone running every step
train the same head."""

from __future__ import annotations

import json
import textwrap
from collections import OrderedDict

import pytest
import torch
from torch import nn

from tests.conftest import register_in_process
from zoo.cli import main

RECIPE = textwrap.dedent("""\
    seed: 5
    task: {name: classification, epochs: 3, batch_size: 64, valid_every: 6, plots: false}
    data: {name: digits}
    model: {name: acme/frozen_bn}
    loss: {name: cross_entropy}
    optimizer: {name: adam, lr: 0.01}
""")


def frozen_bn(num_classes: int = 10, in_channels: int = 1) -> nn.Module:
    """A backbone with BatchNorm (running statistics far from the data's) and dropout, frozen;
    a linear head that trains."""
    from zoo.toolkit import freeze

    backbone = nn.Sequential(nn.Conv2d(in_channels, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                             nn.Dropout(0.5), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    model = nn.Sequential(OrderedDict(backbone=backbone, head=nn.Linear(8, num_classes)))
    model.zoo_head = "head"
    freeze(model, "backbone")
    return model


def train(tmp_path, name, *overrides, capsys):
    recipe = tmp_path / "frozen.yaml"
    recipe.write_text(RECIPE)
    folder = tmp_path / name
    assert main(["run", str(recipe), "--output", str(folder), *overrides]) == 0
    out = capsys.readouterr().out
    losses = [json.loads(line)["valid_loss"] for line in (folder / "metrics.jsonl").read_text().splitlines()]
    last = torch.load(folder / "checkpoints" / "last.pt", weights_only=True)["model"]
    return out, losses, last


def test_the_head_trains_the_same_on_cached_features_as_with_the_backbone_running(tmp_path, capsys):
    register_in_process("models", "acme/frozen_bn", frozen_bn)
    # features in float32, as the backbone computes them when it runs every step
    out, cached_losses, cached = train(tmp_path, "cached", "task.feature_precision=float32", capsys=capsys)
    assert "features of 1150 training and 288 validation images computed once" in out
    out, running_losses, running = train(tmp_path, "running", "task.feature_cache=off", capsys=capsys)
    assert "computed once" not in out
    # the backbone is the same in both runs, its BatchNorm statistics as they were built
    assert [k for k in cached if k.startswith("backbone") and not torch.equal(running[k], cached[k])] == []
    assert torch.equal(running["backbone.1.running_mean"], torch.zeros(8))
    assert torch.equal(running["backbone.1.running_var"], torch.ones(8))
    # the same head, to float summation order (features computed in batches of another size)
    assert running_losses == pytest.approx(cached_losses, rel=1e-4)
    for key in ("head.weight", "head.bias"):
        assert torch.allclose(running[key], cached[key], rtol=1e-4, atol=1e-5), key


def test_train_unfrozen_keeps_every_module_of_a_frozen_part_in_eval_mode():
    from zoo.toolkit import train_unfrozen

    model = frozen_bn()
    model.eval()
    assert train_unfrozen(model) is model
    assert model.training and model.head.training
    assert [name for name, m in model.backbone.named_modules() if m.training] == []
    before = model.backbone[1].running_mean.clone()
    loss = model(torch.randn(16, 1, 8, 8) + 3.0).logsumexp(1).mean()
    loss.backward()
    assert torch.equal(model.backbone[1].running_mean, before)
    # nothing frozen: all of it trains; all of it frozen: none of it does
    for p in model.parameters():
        p.requires_grad_(True)
    assert all(m.training for m in train_unfrozen(model).modules())
    for p in model.parameters():
        p.requires_grad_(False)
    assert not any(m.training for m in train_unfrozen(model).modules())

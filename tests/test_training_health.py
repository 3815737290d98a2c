"""Training health: a NaN or infinite loss stops the run clearly (or is skipped), a NaN validation
loss is never the best, and ``task.clip_grad_norm`` really bounds each update."""

from __future__ import annotations

import json
import math
import re
import shutil
import textwrap
from typing import Literal

import pytest
import torch

from tests.conftest import register_in_process
from zoo.cli import main

SENSORS = textwrap.dedent("""\
    seed: 0
    task: {name: classification, epochs: 2, batch_size: 16, plots: false}
    data: {name: acme/sensors}
    model: {name: mlp, hidden: [16]}
    loss: {name: cross_entropy}
    optimizer: {name: adam, lr: 0.05}
""")


def sensors(poison: Literal["none", "train", "valid"] = "none"):
    """Readings of 8×8 sensors, 4 classes; ``poison`` puts a NaN (a missing reading) in one split."""
    from zoo import Splits

    g = torch.Generator().manual_seed(0)
    labels = torch.arange(120) % 4
    x = torch.randn(120, 1, 8, 8, generator=g) * 0.3 + labels.view(-1, 1, 1, 1).float()
    parts = {"train": [x[:80].clone(), labels[:80]], "valid": [x[80:100].clone(), labels[80:100]],
             "test": [x[100:], labels[100:]]}
    if poison != "none":
        parts[poison][0][3, 0, 2, 2] = float("nan")
    data = {k: torch.utils.data.TensorDataset(*v) for k, v in parts.items()}
    return Splits(train=data["train"], valid=data["valid"], test=data["test"], classes=list("abcd"))


@pytest.fixture
def recipe(tmp_path):
    """A recipe on ``acme/sensors``, a dataset plugin registered in this process."""
    register_in_process("datasets", "acme/sensors", sensors)
    path = tmp_path / "sensors.yaml"
    path.write_text(SENSORS)
    return path


def zoo(*args, capsys):
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return status, out


def load(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def test_a_nan_loss_stops_naming_the_epoch_the_step_and_the_last_good_checkpoint(recipe, tmp_path, capsys):
    run = tmp_path / "run"
    assert zoo("run", recipe, "--output", run, capsys=capsys)[0] == 0
    status, out = zoo("run", "--resume", run, "task.epochs=4", "data.poison=train", capsys=capsys)
    assert status == 1
    (line,) = out.err.strip().splitlines()
    match = re.fullmatch(
        r"zoo: error: the training loss is nan at epoch 3, step (\d) of 5; last good checkpoint: "
        r"(\S+) \(epoch 2; continue with: zoo run --resume (\S+)\); lower optimizer\.lr, set task\.clip_grad_norm, "
        r"or set task\.nan_policy: skip to leave such batches out", line)
    assert match, line
    assert match.group(2) == str(run / "checkpoints" / "last.pt") and match.group(3) == str(run)
    assert load(run / "checkpoints" / "last.pt")["epoch"] == 2  # the good checkpoint is kept, and loads
    assert "poison" not in (run / "recipe.yaml").read_text()  # the failed resume did not rewrite the recipe


def test_the_first_bad_step_is_the_one_named(recipe, tmp_path, capsys):
    """The step named is the batch holding the NaN sample (found from the epoch's seeded order)."""
    from zoo_classify.batches import Batches

    status, out = zoo("run", recipe, "--output", tmp_path / "run", "data.poison=train", capsys=capsys)
    assert status == 1
    step = int(re.search(r"at epoch 1, step (\d+) of 5", out.err).group(1))
    batches = Batches(sensors("train").train, batch_size=16, device=torch.device("cpu"), train=True, seed=0,
                      drop_singleton=True)
    holding_nan = [i + 1 for i, (x, _) in enumerate(batches.epoch(1)) if torch.isnan(x).any()]
    assert holding_nan == [step]
    assert not (tmp_path / "run" / "checkpoints" / "best.pt").exists()


def test_nan_policy_skip_leaves_the_bad_batch_out_and_trains_on(recipe, tmp_path, capsys):
    status, out = zoo("run", recipe, "--output", tmp_path / "run", "data.poison=train", "task.nan_policy=skip",
                      capsys=capsys)
    assert status == 0, out.err
    assert out.out.count("left out 1 of 5 batches whose loss was not finite") == 2  # once per epoch
    state = load(tmp_path / "run" / "checkpoints" / "last.pt")
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["test"]["loss"] < math.log(4)  # it learned: below the loss of guessing among 4 classes


def test_a_nan_validation_loss_is_never_taken_as_the_best(recipe, tmp_path, capsys):
    run = tmp_path / "run"
    assert zoo("run", recipe, "--output", run, capsys=capsys)[0] == 0
    best_before = load(run / "checkpoints" / "best.pt")
    assert best_before["epoch"] in (1, 2)

    stopped = tmp_path / "stopped"
    shutil.copytree(run, stopped)
    status, out = zoo("run", "--resume", stopped, "task.epochs=4", "data.poison=valid", capsys=capsys)
    assert status == 1
    assert re.search(r"zoo: error: the validation loss is nan in epoch 3 .*not taken as the best; "
                     r"last good checkpoint: .*stopped/checkpoints/last\.pt \(epoch 2;", out.err)

    status, out = zoo("run", "--resume", run, "task.epochs=4", "data.poison=valid", "task.nan_policy=skip",
                      capsys=capsys)
    assert status == 0, out.err
    assert "warning: the validation loss is nan in epoch 3" in out.out
    best_after = load(run / "checkpoints" / "best.pt")
    assert best_after["epoch"] == best_before["epoch"]
    for key, value in best_before["model"].items():
        assert torch.equal(value, best_after["model"][key])
    assert load(run / "checkpoints" / "last.pt")["epoch"] == 4
    report = json.loads((run / "report.json").read_text())
    assert report["best"]["epoch"] == best_before["epoch"]
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [line["valid_loss"] for line in lines[2:]] == ["nan", "nan"]
    assert "poison: valid" in (run / "recipe.yaml").read_text()  # this resume saved checkpoints: recipe kept


DIGITS = textwrap.dedent("""\
    seed: 0
    task: {name: classification, epochs: 1, batch_size: 32, plots: false}
    data: {name: digits, normalize: {mean: [0.5], std: [0.5]}}
    model: {name: mlp, hidden: [32], dropout: 0.0}
    loss: {name: cross_entropy}
    optimizer: {name: sgd, lr: 0.5}
""")


def flat_weights(path):
    return torch.cat([v.flatten() for v in load(path)["model"].values()])


def test_clip_grad_norm_bounds_every_update(tmp_path, capsys):
    """SGD without momentum moves the weights by lr × the clipped gradient: at most lr × clip a step."""
    recipe = tmp_path / "digits.yaml"
    recipe.write_text(DIGITS)
    first = tmp_path / "first"
    assert zoo("run", recipe, "--output", first, capsys=capsys)[0] == 0
    clipped, free = tmp_path / "clipped", tmp_path / "free"
    shutil.copytree(first, clipped)
    shutil.copytree(first, free)
    clip, lr, steps = 1e-3, 0.5, 45  # 1,438 training digits in batches of 32
    assert zoo("run", "--resume", clipped, "task.epochs=2", f"task.clip_grad_norm={clip}", capsys=capsys)[0] == 0
    assert zoo("run", "--resume", free, "task.epochs=2", capsys=capsys)[0] == 0
    start = flat_weights(first / "checkpoints" / "last.pt")
    moved_clipped = (flat_weights(clipped / "checkpoints" / "last.pt") - start).norm().item()
    moved_free = (flat_weights(free / "checkpoints" / "last.pt") - start).norm().item()
    assert 0 < moved_clipped <= steps * lr * clip * 1.0001
    assert moved_free > 20 * steps * lr * clip


@pytest.mark.parametrize("policy", ["stop", "skip"])
def test_reading_each_loss_and_keeping_them_on_the_device_give_the_same_epoch(policy):
    """The CPU path (each loss read as a float) and the accelerator path (sums and the first bad
    step kept as tensors, looked at every few steps) agree on every figure of an epoch; the CPU
    path stops at the bad step itself."""
    from zoo_classify.training_loss import TrainingLoss

    losses = [0.5, 0.25, float("nan"), 1.0, float("inf"), 2.0, 0.75]
    sizes = [20, 20, 20, 20, 20, 20, 7]
    results = []
    for read_each_step in (True, False):
        meter = TrainingLoss(policy, torch.device("cpu"), read_each_step=read_each_step, every=2)
        kept, stopped_at = [], None
        for step, (value, n) in enumerate(zip(losses, sizes), start=1):
            kept.append(meter.add(torch.tensor(value, requires_grad=True) * 1.0, n))
            if meter.failed():
                stopped_at = step
                break
        results.append((kept, stopped_at, meter.first_bad, meter.bad_value, meter.skipped, meter.seen,
                        meter.mean if policy == "skip" else None))
    host, device = results
    assert host[2] == device[2] and host[4] == device[4]  # first bad step, batches left out
    assert host[3] == device[3] or (math.isnan(host[3]) and math.isnan(device[3]))
    if policy == "skip":
        good = [(v, n) for v, n in zip(losses, sizes) if math.isfinite(v)]
        assert results[0][6] == pytest.approx(sum(v * n for v, n in good) / sum(n for _, n in good))
        assert results[1][6] == pytest.approx(results[0][6])
        assert host[0] == device[0] == [True, True, False, True, False, True, True]
        assert host[4] == 2 and host[5] == device[5] == 87
    else:
        assert host[2] == 3 and math.isnan(host[3])
        assert host[1] == 3  # at once on the CPU
        assert device[1] == 4  # elsewhere looked at every 2nd step: step 4 is the first look after step 3


@pytest.mark.parametrize("read_each_step", [True, False])
def test_no_counted_step_means_no_training_loss_yet(read_each_step):
    """A validation round after only left-out batches reports NaN, not a loss of 0."""
    from zoo_classify.training_loss import TrainingLoss

    meter = TrainingLoss("skip", torch.device("cpu"), read_each_step=read_each_step)
    assert meter.add(torch.tensor(float("nan")), 16) is False
    assert meter.seen == 0 and math.isnan(meter.mean)


def test_a_checkpoint_whose_weights_went_nan_is_never_called_the_last_good_one(recipe, tmp_path, capsys):
    """A step whose loss is finite but whose gradient is not (sqrt at 0) turns the weights to NaN;
    under nan_policy skip epoch 1 still saves them, and the error of epoch 2 must not send the user
    back to that checkpoint."""
    from torch import nn

    class SqrtAtZero(nn.Module):
        """A linear layer plus sqrt(0): the outputs are finite, the gradient infinite."""

        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(64, 4)

        def forward(self, x):
            y = self.fc(x.flatten(1))
            return y + torch.sqrt(y - y.detach())

    register_in_process("models", "acme/sqrt_at_zero", lambda: SqrtAtZero(), plugin="acme-sqrt")
    run = tmp_path / "run"
    status, out = zoo("run", recipe, "--output", run, "model={name: acme/sqrt_at_zero}", "task.nan_policy=skip",
                      capsys=capsys)
    assert status == 1, out.err
    assert not torch.isfinite(load(run / "checkpoints" / "last.pt")["model"]["fc.weight"]).all()
    (line,) = out.err.strip().splitlines()
    assert line == (f"zoo: error: every batch of epoch 2 gave a non-finite training loss (5 left out); the last "
                    f"checkpoint, {run / 'checkpoints' / 'last.pt'} (epoch 1), holds NaN or infinite weights "
                    f"(fc.weight, fc.bias): no good one to continue from; run the recipe again; "
                    f"lower optimizer.lr or set task.clip_grad_norm")

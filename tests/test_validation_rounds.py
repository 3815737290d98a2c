"""When a run validates: after every epoch, also every N steps (``task.valid_every``, the seeds'
transfer loop's ``print_every``), and when it stops early (``task.patience``)."""

from __future__ import annotations

import json
import textwrap

import pytest
import torch

from tests.conftest import register_in_process
from zoo.cli import main

DIGITS = textwrap.dedent("""\
    seed: 3
    task: {name: classification, epochs: 2, batch_size: 32, valid_fraction: 0.2, plots: false}
    data: {name: digits, normalize: {mean: [0.5], std: [0.5]}}
    model: {name: mlp, hidden: [64], dropout: 0.1}
    loss: {name: cross_entropy}
    optimizer: {name: adam, lr: 0.003}
""")

DRIFTING = textwrap.dedent("""\
    seed: 0
    task: {name: classification, epochs: 6, batch_size: 16, plots: false}
    data: {name: acme/drifting}
    model: {name: mlp, hidden: [16], dropout: 0.0}
    loss: {name: cross_entropy}
    optimizer: {name: adam, lr: 0.05}
""")


def drifting():
    """4 classes of 8x8 readings whose validation labels are the training labels shifted by one:
    the better the model learns the training split, the worse its validation loss gets."""
    from zoo import Splits

    g = torch.Generator().manual_seed(0)
    labels = torch.arange(160) % 4
    x = torch.randn(160, 1, 8, 8, generator=g) * 0.1 + 2.0 * labels.view(-1, 1, 1, 1).float()
    shifted = (labels + 1) % 4
    data = torch.utils.data.TensorDataset
    return Splits(train=data(x[:96], labels[:96]), valid=data(x[96:128], shifted[96:128]),
                  test=data(x[128:], labels[128:]), classes=list("abcd"))


def run_ok(*args, capsys):
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    assert status == 0, out.err
    return out


def metrics(folder):
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture
def digits(tmp_path):
    path = tmp_path / "digits.yaml"
    path.write_text(DIGITS)
    return path


@pytest.fixture
def drifting_recipe(tmp_path):
    register_in_process("datasets", "acme/drifting", drifting)
    path = tmp_path / "drifting.yaml"
    path.write_text(DRIFTING)
    return path


def test_valid_every_validates_inside_each_epoch_and_may_save_the_best_there(digits, tmp_path, capsys):
    folder = tmp_path / "run"
    out = run_ok("run", digits, "--output", folder, "task.valid_every=10", capsys=capsys)
    lines = metrics(folder)
    # 1,150 training digits in batches of 32: 36 steps per epoch; rounds at 10, 20, 30 and the epoch's end
    assert [(m["epoch"], m["step"]) for m in lines] == [(1, 10), (1, 20), (1, 30), (1, 36),
                                                         (2, 46), (2, 56), (2, 66), (2, 72)]
    assert "epoch 1/2 step 10/36  train loss" in out.out
    losses = [m["valid_loss"] for m in lines]
    report = json.loads((folder / "report.json").read_text())
    best = losses.index(min(losses))
    assert report["best"]["valid_loss"] == pytest.approx(losses[best])
    assert report["best"]["step"] == lines[best]["step"] and report["best"]["epoch"] == lines[best]["epoch"]
    saved = torch.load(folder / "checkpoints" / "best.pt", weights_only=True)
    assert saved["step"] == lines[best]["step"]
    assert report["test"]["accuracy"] > 0.6  # the rounds leave training mode on: the run still learns


@pytest.mark.parametrize("data", ["digits", "drifting"])  # in memory | read through a DataLoader
def test_valid_every_changes_no_weight_of_the_training(data, digits, drifting_recipe, tmp_path, capsys):
    """Validation rounds draw nothing from the training's random numbers (dropout 0.5 here) and
    restore training mode: the weights at the end are those of the same run validated once per epoch."""
    recipe = digits if data == "digits" else drifting_recipe
    run_ok("run", recipe, "--output", tmp_path / "a", "model.dropout=0.5", "task.epochs=2", capsys=capsys)
    run_ok("run", recipe, "--output", tmp_path / "b", "model.dropout=0.5", "task.epochs=2", "task.valid_every=2",
           capsys=capsys)
    a = torch.load(tmp_path / "a" / "checkpoints" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "b" / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_with_valid_every_is_bit_for_bit(digits, tmp_path, capsys):
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    run_ok("run", digits, "--output", straight, "task.epochs=3", "task.valid_every=10", capsys=capsys)
    run_ok("run", digits, "--output", stopped, "task.epochs=1", "task.valid_every=10", capsys=capsys)
    run_ok("run", "--resume", stopped, "task.epochs=3", capsys=capsys)
    assert [m["step"] for m in metrics(stopped)] == [m["step"] for m in metrics(straight)]
    a = torch.load(straight / "checkpoints" / "best.pt", weights_only=True)
    b = torch.load(stopped / "checkpoints" / "best.pt", weights_only=True)
    assert (a["epoch"], a["step"]) == (b["epoch"], b["step"])
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_patience_stops_after_that_many_epochs_without_a_better_validation_loss(drifting_recipe, tmp_path,
                                                                                 capsys):
    folder = tmp_path / "run"
    out = run_ok("run", drifting_recipe, "--output", folder, "task.patience=2", capsys=capsys)
    assert [m["epoch"] for m in metrics(folder)] == [1, 2, 3]
    assert "early stop: no better validation loss for 2 epochs" in out.out
    report = json.loads((folder / "report.json").read_text())
    assert report["epochs_run"] == 3 and report["best"]["epoch"] == 1


def test_patience_counts_epochs_when_validating_inside_them(drifting_recipe, tmp_path, capsys):
    folder = tmp_path / "run"
    out = run_ok("run", drifting_recipe, "--output", folder, "task.patience=1", "task.valid_every=2",
                 capsys=capsys)
    lines = metrics(folder)
    assert sorted({m["epoch"] for m in lines}) == [1, 2]  # 6 steps an epoch: rounds at 2, 4 and 6
    assert [m["step"] for m in lines] == [2, 4, 6, 8, 10, 12]
    assert "early stop: no better validation loss for 1 epochs" in out.out
    best = min(lines, key=lambda m: m["valid_loss"])
    assert best["epoch"] == 1  # epoch 2 had no better round: one bad epoch, patience 1
    assert json.loads((folder / "report.json").read_text())["best"] == {
        "epoch": 1, "step": best["step"], "valid_loss": pytest.approx(best["valid_loss"]),
        "valid_accuracy": pytest.approx(best["valid_accuracy"]), "checkpoint": str(folder / "checkpoints" / "best.pt")}


class Interrupting(torch.utils.data.TensorDataset):
    """A validation split read through a DataLoader that presses Ctrl-C at its ``at``-th read."""

    reads = 0
    at: int = 0

    def __getitem__(self, i):
        Interrupting.reads += 1
        if Interrupting.reads == Interrupting.at:
            raise KeyboardInterrupt
        return super().__getitem__(i)


def interrupting():
    from zoo import Splits

    splits = drifting()
    return Splits(train=splits.train, valid=Interrupting(*splits.valid.tensors), test=splits.test,
                  classes=splits.classes)


def test_ctrl_c_inside_an_epoch_then_resume_repeats_no_metrics_row_and_keeps_best_pt_true(tmp_path, capsys):
    """The epoch in progress is done again on resume: its rounds are reported once, and best.pt is
    the best of the rounds the run's state knows (never one from the abandoned half epoch)."""
    register_in_process("datasets", "acme/interrupting", interrupting)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(DRIFTING.replace("acme/drifting", "acme/interrupting").replace("epochs: 6", "epochs: 3"))
    folder = tmp_path / "run"
    # 6 steps an epoch, rounds at steps 2, 4 and 6, each reading the 32 validation samples:
    # read 133 is in epoch 2's second round, after its first one (step 8) found its figures.
    # No loader workers: the Ctrl-C is raised by the dataset's read, which must happen in this process
    Interrupting.reads, Interrupting.at = 0, 32 * 4 + 5
    status = main(["run", str(recipe), "--output", str(folder), "task.valid_every=2", "task.num_workers=0"])
    err = capsys.readouterr().err
    assert status == 130, err
    assert [m["epoch"] for m in metrics(folder)] == [1, 1, 1]  # epoch 1's three rounds, none of epoch 2
    Interrupting.at = 0
    run_ok("run", "--resume", folder, capsys=capsys)
    steps = [m["step"] for m in metrics(folder)]
    assert steps == [2, 4, 6, 8, 10, 12, 14, 16, 18]
    report = json.loads((folder / "report.json").read_text())
    saved = torch.load(folder / "checkpoints" / "best.pt", weights_only=True)
    assert (saved["epoch"], saved["step"]) == (report["best"]["epoch"], report["best"]["step"])
    assert saved["valid_loss"] == pytest.approx(min(m["valid_loss"] for m in metrics(folder)))


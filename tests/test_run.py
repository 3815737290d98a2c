"""`zoo run`: a recipe becomes a run folder; overrides, dry runs, resume bit for bit."""

from __future__ import annotations

import json
import re
import textwrap

import pytest
import torch

from tests.conftest import register_in_process
from zoo.cli import main

DIGITS = textwrap.dedent("""\
    # digits with a small MLP
    seed: 3
    task: {name: classification, epochs: 3, batch_size: 32, valid_fraction: 0.2, plots: false}
    data: {name: digits, normalize: {mean: [0.5], std: [0.5]}}
    model: {name: mlp, hidden: [64], dropout: 0.1}
    loss: {name: cross_entropy}
    optimizer: {name: adam, lr: 0.003}
""")


@pytest.fixture
def recipe(tmp_path):
    path = tmp_path / "digits_mlp.yaml"
    path.write_text(DIGITS)
    return path


def run_ok(*args, capsys=None):
    status = main([str(a) for a in args])
    out = capsys.readouterr() if capsys else None
    assert status == 0, out.err if out else status
    return out


def test_run_leaves_a_complete_run_folder_and_learns(recipe, tmp_path, capsys):
    out = run_ok("run", recipe, "--output", tmp_path / "run", capsys=capsys)
    folder = tmp_path / "run"
    assert f"run folder: {folder}" in out.out
    assert "test accuracy" in out.out and "validation loss decreased" in out.out
    report = json.loads((folder / "report.json").read_text())
    assert report["test"]["accuracy"] > 0.6  # ten classes: chance is 0.1
    assert 0 <= report["test"]["loss"]
    per_class = report["test"]["per_class"]
    assert sorted(per_class) == [str(i) for i in range(10)]
    assert sum(c["total"] for c in per_class.values()) == 359  # 20% of 1,797 digits, per class
    assert all(set(c) == {"correct", "total", "accuracy"} for c in per_class.values())
    assert report["best"]["epoch"] in (1, 2, 3) and report["best"]["checkpoint"].endswith("best.pt")
    lines = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2, 3]
    assert {"train_loss", "valid_loss", "valid_accuracy", "lr", "seconds"} <= set(lines[0])
    for name in ("best.pt", "last.pt"):
        state = torch.load(folder / "checkpoints" / name, weights_only=True)
        assert "model" in state
    resolved = (folder / "recipe.yaml").read_text()
    assert "mlp" in resolved and "base" not in resolved


def test_default_folder_is_runs_name_timestamp(recipe, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run_ok("run", recipe, "task.epochs=1", capsys=capsys)
    (name_dir,) = (tmp_path / "runs").iterdir()
    assert name_dir.name == "digits_mlp"
    (stamp,) = name_dir.iterdir()
    assert (stamp / "report.json").is_file()


def test_overrides_reach_the_components(recipe, tmp_path, capsys):
    run_ok("run", recipe, "--output", tmp_path / "r", "task.epochs=1", "model.hidden=[16, 8]",
           "optimizer.name=sgd", "optimizer.lr=1e-1", "optimizer.momentum=0.8", "optimizer.nesterov=true",
           capsys=capsys)
    resolved = (tmp_path / "r" / "recipe.yaml").read_text()
    assert "epochs: 1" in resolved and "name: sgd" in resolved and "lr: 0.1" in resolved
    state = torch.load(tmp_path / "r" / "checkpoints" / "last.pt", weights_only=True)
    assert [tuple(v.shape) for k, v in state["model"].items() if k.endswith("weight")] == [(16, 64), (8, 16), (10, 8)]
    # the optimizer that trained is SGD with the recipe's settings: Adam keeps betas and exp_avg instead
    (group,) = state["optimizer"]["param_groups"]
    assert (group["lr"], group["momentum"], group["nesterov"], group["dampening"]) == (0.1, 0.8, True, 0.0)
    assert "betas" not in group
    per_parameter = state["optimizer"]["state"]
    assert len(per_parameter) == len(state["model"])  # every weight and bias took SGD steps
    assert all(set(s) == {"momentum_buffer"} for s in per_parameter.values())


def test_dry_run_validates_and_prints_without_training(recipe, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run_ok("run", recipe, "--dry-run", "optimizer.lr=0.5", capsys=None)
    out = capsys.readouterr()
    assert "lr: 0.5" in out.out and "the recipe is valid" in out.err
    assert not (tmp_path / "runs").exists()


def test_output_folder_that_holds_something_is_refused(recipe, tmp_path, capsys):
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "precious.txt").write_text("keep me")
    assert main(["run", str(recipe), "--output", str(folder)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert (folder / "precious.txt").read_text() == "keep me"


def test_resume_finishes_with_the_same_weights_bit_for_bit(recipe, tmp_path, capsys):
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    run_ok("run", recipe, "--output", straight, "task.epochs=4", capsys=capsys)
    run_ok("run", recipe, "--output", stopped, "task.epochs=2", capsys=capsys)
    out = run_ok("run", "--resume", stopped, "task.epochs=4", capsys=capsys)
    assert "resuming" in out.out
    a = torch.load(straight / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(stopped / "checkpoints" / "last.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 4
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert a["best_epoch"] == b["best_epoch"]
    lines = (stopped / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3, 4]
    assert json.loads((straight / "report.json").read_text())["test"] == json.loads(
        (stopped / "report.json").read_text())["test"]


@pytest.mark.parametrize("cut", [0, 30], ids=["line-not-written", "line-cut-short"])
def test_resume_after_a_kill_between_last_pt_and_its_metrics_line_writes_that_epochs_line(recipe, tmp_path, capsys, cut):
    """kill -9 after last.pt of epoch 2 was written and before epoch 2's metrics.jsonl line (or
    power lost in the middle of that line): the resume logs epoch 2 again from the checkpoint, so
    metrics.jsonl has every epoch once."""
    folder = tmp_path / "run"
    run_ok("run", recipe, "--output", folder, "task.epochs=2", capsys=capsys)
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    (folder / "metrics.jsonl").write_text(lines[0] + "\n" + lines[1][:cut])  # what the kill leaves
    run_ok("run", "--resume", folder, "task.epochs=3", capsys=capsys)
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line != lines[1][:cut]]
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    assert rows[1]["valid_loss"] == json.loads(lines[1])["valid_loss"]  # epoch 2's own figures, not new ones


def test_resume_needs_a_run_folder(tmp_path, capsys):
    assert main(["run", "--resume", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_lifecycle_hooks_see_every_epoch(recipe, tmp_path, capsys):
    from zoo import hookimpl
    from zoo.plugins import get_manager

    seen, epochs = [], []

    class Spy:
        @hookimpl
        def zoo_run_start(self, run):
            seen.append(("start", run.name, run.directory is not None))

        @hookimpl
        def zoo_epoch_end(self, run, epoch, metrics):
            seen.append(("epoch", epoch))
            epochs.append(dict(metrics))

        @hookimpl
        def zoo_run_end(self, run, report, error):
            seen.append(("end", "test" in report, error))

    get_manager().register(Spy(), "spy")
    out = run_ok("run", recipe, "--output", tmp_path / "r", "task.epochs=2", capsys=capsys)
    assert seen == [("start", "digits_mlp", True), ("epoch", 1), ("epoch", 2), ("end", True, None)]
    # the hook gets each epoch's figures as the run folder keeps them (metrics.jsonl adds epoch and time)
    lines = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [{k: v for k, v in line.items() if k not in ("epoch", "time")} for line in lines] == epochs
    assert all(set(m) == {"train_loss", "valid_loss", "valid_accuracy", "lr", "seconds"} for m in epochs)
    assert all(m["lr"] == 0.003 and m["train_loss"] > 0 and m["valid_loss"] > 0 for m in epochs)
    # the accuracy is a count of correct validation digits over the split's size, and it learns
    valid_size = int(re.search(r"train / (\d+) valid", out.out).group(1))
    for m in epochs:
        assert 0 <= m["valid_accuracy"] <= 1
        correct = round(m["valid_accuracy"] * valid_size)
        assert m["valid_accuracy"] == pytest.approx(correct / valid_size, abs=1e-9)
    assert epochs[-1]["valid_accuracy"] > 0.6  # ten classes: chance is 0.1
    best = json.loads((tmp_path / "r" / "report.json").read_text())["best"]
    assert best["valid_loss"] == min(m["valid_loss"] for m in epochs)


class Probe(torch.nn.Module):
    """A small conv classifier that adds to ``facts``, at each training forward, what the run
    does to it: autocast (its dtype, None when off), the memory format of its input and its conv
    weight, and whether torch.compile is tracing it. A set: a list that grows each step would
    make torch.compile recompile each step until it gives up and runs the forward uncompiled."""

    def __init__(self, in_channels: int, num_classes: int, facts: set):
        super().__init__()
        self.conv = torch.nn.Conv2d(in_channels, 16, 3, padding=1)
        self.pool = torch.nn.AdaptiveAvgPool2d(4)
        self.fc = torch.nn.Linear(16 * 4 * 4, num_classes)
        self.facts = facts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.facts.add((
                ("compiling", torch.compiler.is_compiling()),
                ("autocast", torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None),
                ("input_channels_last", x.is_contiguous(memory_format=torch.channels_last)),
                ("weight_channels_last", self.conv.weight.is_contiguous(memory_format=torch.channels_last)),
            ))
        return self.fc(self.pool(torch.relu(self.conv(x))).flatten(1))


OPTIONS_OFF = {"compiling": False, "autocast": None, "input_channels_last": False, "weight_channels_last": False}


@pytest.mark.parametrize("options, facts", [
    ([], OPTIONS_OFF),
    (["task.amp=bf16"], dict(OPTIONS_OFF, autocast=torch.bfloat16)),
    (["task.channels_last=true"], dict(OPTIONS_OFF, input_channels_last=True, weight_channels_last=True)),
    (["task.compile=true", "task.compile_backend=eager"], dict(OPTIONS_OFF, compiling=True)),
], ids=["no-options", "amp-bf16", "channels-last", "compile"])
def test_accelerator_options_take_effect_on_cpu(recipe, tmp_path, capsys, options, facts):
    seen: set = set()

    def probe(in_channels: int = 3, num_classes: int = 10) -> torch.nn.Module:
        return Probe(in_channels, num_classes, seen)

    register_in_process("models", "acme/probe", probe)
    # channels_last: auto would measure both formats and train in the faster (tests/test_memory_format.py)
    layout = [] if any(o.startswith("task.channels_last") for o in options) else ["task.channels_last=false"]
    # three channels: a 1-channel NCHW tensor is also channels_last-contiguous, so the format shows only here
    run_ok("run", recipe, "--output", tmp_path / "r", "task.epochs=2", "data.channels=3",
           "data.normalize=null", "model.name=acme/probe", *layout, *options, capsys=capsys)
    assert [dict(step) for step in seen] == [facts]  # every training step alike, and as the options say
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["test"]["accuracy"] > 0.5


def test_fp16_without_cuda_is_a_user_error(recipe, tmp_path, capsys):
    assert main(["run", str(recipe), "--output", str(tmp_path / "r"), "task.amp=fp16"]) == 2
    assert "fp16 needs a CUDA device" in capsys.readouterr().err


def test_a_model_that_cannot_take_the_data_fails_before_training(recipe, tmp_path, capsys):
    assert main(["run", str(recipe), "--output", str(tmp_path / "r"), "model.image_size=28"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cannot take the data's 1x8x8 images" in err and "digits_mlp.yaml" in err


def test_a_model_with_the_wrong_number_of_outputs_fails_before_training(recipe, tmp_path, capsys):
    assert main(["run", str(recipe), "--output", str(tmp_path / "r"), "model.num_classes=3"]) == 2
    assert "gives outputs of shape (4, 3) but the data has 10 classes" in capsys.readouterr().err


def test_overriding_a_component_name_drops_the_old_components_keys(recipe, tmp_path, capsys):
    run_ok("run", recipe, "--dry-run", "optimizer.name=sgd", "optimizer.momentum=0.9", capsys=None)
    capsys.readouterr()
    sgd = tmp_path / "sgd.yaml"
    sgd.write_text(recipe.read_text().replace("{name: adam, lr: 0.003}", "{name: sgd, lr: 0.1, momentum: 0.9}"))
    run_ok("run", sgd, "--dry-run", "optimizer.name=adam", capsys=None)
    assert "optimizer.name was overridden; dropping optimizer.momentum" in capsys.readouterr().err
    # a key given on the command line is still checked against the new component
    assert main(["run", str(sgd), "--dry-run", "optimizer.name=adam", "optimizer.nesterov=true"]) == 2
    assert "optimizer.nesterov: unknown key for optimizer 'adam'" in capsys.readouterr().err


def test_a_resume_takes_the_optimizer_settings_given_on_its_command_line(recipe, tmp_path, capsys):
    """After a divergence the error says to lower optimizer.lr and resume: the new rate is used."""
    folder = tmp_path / "run"
    run_ok("run", recipe, "--output", folder, "task.epochs=1", capsys=capsys)
    out = run_ok("run", "--resume", folder, "task.epochs=2", "optimizer.lr=0.0005", capsys=capsys)
    assert "resumed with optimizer.lr = 0.0005 (the checkpoint had 0.003)" in out.out
    last = torch.load(folder / "checkpoints" / "last.pt", weights_only=True)
    assert [g["lr"] for g in last["optimizer"]["param_groups"]] == [0.0005]
    assert [json.loads(line)["lr"] for line in (folder / "metrics.jsonl").read_text().splitlines()] == [0.003, 0.0005]
    # without an override the checkpoint's rates stand (a scheduler's progress is not reset)
    out = run_ok("run", "--resume", folder, "task.epochs=3", capsys=capsys)
    assert "resumed with" not in out.out

"""The same recipe under torchrun: 2 CPU processes (gloo) train one run with DistributedDataParallel.

The end-to-end test starts ``python -m torch.distributed.run --standalone --nproc_per_node=2 -m
zoo run`` (torchrun as a module, so this venv's python runs it) on digits with a small MLP,
stops it after 2 epochs and resumes it to 3, also under torchrun. It checks that exactly one
run folder is written (rank 0 names it and tells rank 1), that the test figures of the two
processes added up are exactly those of one process testing the same checkpoint, and that
the accuracy agrees with a single-process run within ACCURACY_TOLERANCE (see there).
The rest checks the pieces in one process: torchrun's environment and how the data is sharded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from torch.utils.data import TensorDataset

from zoo import distributed
from zoo.cli import main
from zoo.toolkit import TensorImageDataset
from zoo.errors import UserError
from zoo_classify.batches import Batches

# batch_size is per process: 2 processes x 16 = the single run's 32 samples per step, the same
# learning rate and the same number of steps. The runs still differ (which samples share a batch,
# the dropout masks), so the test accuracies agree only approximately: on this recipe they land
# within about 1 point of each other (about 94% each); 5 points leaves room for the noise while
# a broken run (unsynchronised gradients, a shard left out, per-rank averages) misses it.
ACCURACY_TOLERANCE = 0.05

DIGITS = textwrap.dedent("""\
    seed: 3
    task: {name: classification, epochs: 3, batch_size: 16, valid_fraction: 0.2, plots: false}
    data: {name: digits, normalize: {mean: [0.5], std: [0.5]}}
    model: {name: mlp, hidden: [64], dropout: 0.1}
    loss: {name: cross_entropy}
    optimizer: {name: adam, lr: 0.003}
""")

TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
                      "GROUP_RANK", "ROLE_RANK", "TORCHELASTIC_RUN_ID")

needs_gloo = pytest.mark.skipif(not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
                                reason="this PyTorch build has no torch.distributed with gloo")


def two_processes(*args, cwd) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node=2 ARGS`` on the CPU (ARGS: ``-m zoo ...`` or a
    script and its arguments); the CompletedProcess, whatever its exit status."""
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_VARIABLES}
    env.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", CUDA_VISIBLE_DEVICES="")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *map(str, args)]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def torchrun(*args, cwd):
    """``torchrun --standalone --nproc_per_node=2 -m zoo ARGS`` on the CPU; the CompletedProcess
    of a run that succeeded."""
    result = two_processes("-m", "zoo", *args, cwd=cwd)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@needs_gloo
def test_two_processes_train_one_run_that_matches_a_single_process(tmp_path, capsys):
    recipe = tmp_path / "digits_ddp.yaml"
    recipe.write_text(DIGITS)

    first = torchrun("run", recipe, "task.epochs=2", cwd=tmp_path)
    (name_dir,) = (tmp_path / "runs").iterdir()
    (folder,) = name_dir.iterdir()  # one folder: rank 0 named it and rank 1 used that name
    assert name_dir.name == "digits_ddp"
    assert first.stdout.count("run folder:") == 1 and first.stdout.count("epoch 1/2 ") == 1  # rank 0 speaks
    assert "2 processes (gloo): 16 samples per process and step, 32 in all" in first.stdout

    resumed = torchrun("run", "--resume", folder, "task.epochs=3", cwd=tmp_path)
    assert f"resuming {folder} after epoch 2" in resumed.stdout
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["digits_ddp"] and len(list(name_dir.iterdir())) == 1
    lines = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2, 3]
    assert sorted(p.name for p in (folder / "checkpoints").iterdir()) == ["best.pt", "last.pt"]
    last = torch.load(folder / "checkpoints" / "last.pt", weights_only=True)
    assert last["epoch"] == 3 and not any(k.startswith("module.") for k in last["model"])  # plain weights
    report = json.loads((folder / "report.json").read_text())["test"]
    assert sum(c["total"] for c in report["per_class"].values()) == 359  # every test digit counted once

    # one process testing the same checkpoint finds exactly the figures the two added up
    assert main(["eval", str(folder), "--json"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert alone["confusion_matrix"] == report["confusion_matrix"] and alone["accuracy"] == report["accuracy"]
    assert alone["loss"] == pytest.approx(report["loss"], rel=1e-5)

    assert main(["run", str(recipe), "--output", str(tmp_path / "single"), "task.batch_size=32"]) == 0
    single = json.loads((tmp_path / "single" / "report.json").read_text())["test"]
    assert single["accuracy"] > 0.85 and report["accuracy"] > 0.85
    assert abs(report["accuracy"] - single["accuracy"]) <= ACCURACY_TOLERANCE


# -- torchrun's environment -------------------------------------------------------------------


def test_a_plain_process_is_not_distributed():
    assert distributed.from_environment({}) is None
    assert distributed.from_environment({"WORLD_SIZE": "1", "RANK": "0"}) is None  # torchrun --nproc_per_node=1
    assert distributed.is_main_process({}) and not distributed.is_main_process({"RANK": "1"})


def test_torchrun_environment_is_read():
    env = {"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "MASTER_ADDR": "node0", "MASTER_PORT": "29500"}
    assert distributed.from_environment(env) == distributed.Launch(rank=3, local_rank=1, world_size=4)


@pytest.mark.parametrize("env, expected", [
    ({"WORLD_SIZE": "2"}, "RANK, MASTER_ADDR, MASTER_PORT is not: start the processes with torchrun"),
    ({"WORLD_SIZE": "2", "RANK": "2", "MASTER_ADDR": "a", "MASTER_PORT": "1"}, "RANK=2 is outside 0..1"),
    ({"WORLD_SIZE": "two"}, "WORLD_SIZE='two' is not a whole number"),
])
def test_a_broken_torchrun_environment_is_a_user_error(env, expected):
    with pytest.raises(UserError, match=expected):
        distributed.from_environment(env)


def test_each_process_takes_its_own_device():
    assert distributed.process_device("cpu", 1) == torch.device("cpu")
    assert distributed.backend_for(torch.device("cpu")) == "gloo"
    assert distributed.backend_for(torch.device("cuda", 0)) == "nccl"
    with pytest.raises(UserError, match="'cuda:1' names one GPU, but under torchrun each process takes cuda:LOCAL_RANK"):
        distributed.process_device("cuda:1", 0)
    if torch.cuda.is_available():
        assert distributed.process_device("auto", 0) == torch.device("cuda", 0)
    else:
        assert distributed.process_device("auto", 1) == torch.device("cpu")


def test_helpers_do_nothing_without_a_process_group():
    model = torch.nn.Linear(2, 2)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    assert distributed.wrap(model, torch.device("cpu")) is model
    assert distributed.from_main(lambda: "folder") == "folder"
    t = torch.ones(3)
    distributed.all_reduce_sum(t)
    distributed.broadcast_module(model)
    assert torch.equal(t, torch.ones(3))
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())


BROADCAST = textwrap.dedent("""\
    # each of torchrun's processes builds the model with its own numbers, then takes rank 0's
    import sys

    import torch

    from zoo import distributed

    launch = distributed.from_environment()
    with distributed.session(launch, torch.device("cpu")):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Linear(2, 2))
        model = model.to(memory_format=torch.channels_last)  # a weight that is not plainly contiguous
        with torch.no_grad():
            for tensor in model.state_dict().values():  # parameters and buffers (BatchNorm statistics)
                tensor.add_(launch.rank)
        before = {k: v.clone() for k, v in model.state_dict().items()}
        distributed.broadcast_module(model)
        torch.save({"before": before, "after": model.state_dict(),
                    "channels_last": model[0].weight.is_contiguous(memory_format=torch.channels_last)},
                   f"{sys.argv[1]}/rank{launch.rank}.pt")
""")


@needs_gloo
def test_broadcast_module_gives_every_process_rank_0s_weights_and_buffers(tmp_path):
    script = tmp_path / "broadcast.py"
    script.write_text(BROADCAST)
    result = two_processes(script, tmp_path, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    main, other = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert sorted(other["after"]) == sorted(main["before"])
    for key, weights in main["before"].items():
        assert not torch.equal(other["before"][key], weights), key  # they differed before the call
        assert torch.equal(other["after"][key], weights), key  # and rank 1 holds rank 0's now
        assert torch.equal(main["after"][key], weights), key  # which rank 0 kept
    assert main["channels_last"] and other["channels_last"]  # in place: the memory format stays


# -- sharding --------------------------------------------------------------------------------


def numbered(n: int, in_memory: bool):
    """A dataset whose label is the sample's index: in memory, or read item by item (DataLoader)."""
    if in_memory:
        return TensorImageDataset(torch.zeros(n, 1, 1, 1, dtype=torch.uint8), torch.arange(n))
    return TensorDataset(torch.zeros(n, 1), torch.arange(n))


def shard_labels(dataset, world: int, *, train: bool, epoch: int = 1, batch_size: int = 4) -> list:
    shards = []
    for rank in range(world):
        batches = Batches(dataset, batch_size=batch_size, device=torch.device("cpu"), train=train, seed=7,
                          rank=rank, world_size=world)
        labels = [int(v) for _, y in batches.epoch(epoch) for v in y]
        assert len(labels) == batches.num_samples and len(list(batches.epoch(epoch))) == len(batches)
        shards.append(labels)
    return shards


@pytest.mark.parametrize("in_memory", [True, False])
def test_evaluation_shards_count_every_sample_exactly_once(in_memory):
    shards = shard_labels(numbered(11, in_memory), 3, train=False)
    assert sorted(sum(shards, [])) == list(range(11))  # disjoint, nothing repeated, nothing left out


@pytest.mark.parametrize("in_memory", [True, False])
def test_training_shards_are_equal_cover_everything_and_reshuffle_each_epoch(in_memory):
    dataset = numbered(11, in_memory)
    shards = shard_labels(dataset, 2, train=True)
    assert [len(s) for s in shards] == [6, 6]  # the same number of steps on every process
    assert set(sum(shards, [])) == set(range(11))
    assert shard_labels(dataset, 2, train=True) == shards  # seeded: a resumed epoch is the same
    assert shard_labels(dataset, 2, train=True, epoch=2) != shards  # set_epoch: a new order each epoch


def test_both_data_paths_shard_alike():
    assert shard_labels(numbered(11, True), 2, train=True) == shard_labels(numbered(11, False), 2, train=True)
    assert shard_labels(numbered(11, True), 2, train=False) == shard_labels(numbered(11, False), 2, train=False)


@needs_gloo
def test_a_nan_training_loss_under_torchrun_is_named_before_a_validation_round_sees_it(tmp_path):
    """With rounds inside epochs, a diverged step is reported as the training loss it is (the
    processes agree on it before validating), not blamed on the validation data."""
    recipe = tmp_path / "diverge.yaml"
    recipe.write_text(DIGITS.replace("{name: adam, lr: 0.003}", "{name: sgd, lr: 1.0e+12}"))
    result = two_processes("-m", "zoo", "run", recipe, "task.valid_every=5", "--output", tmp_path / "r", cwd=tmp_path)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("zoo: error:")]
    assert errors and all("the training loss is nan at epoch 1" in line for line in errors), result.stderr[-2000:]
    assert not any("validation loss" in line for line in errors)

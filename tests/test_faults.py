"""Faults during a real ``zoo run``: kill -9 at random moments, and Ctrl-C.

Each fault hits a ``python -m zoo run`` process training on scikit-learn's digits (CPU,
deterministic). After each ``kill -9`` both checkpoints must load with ``weights_only``; then
``zoo run --resume`` goes on from ``last.pt``, and the run that was killed again and again ends
with exactly the weights (bit for bit) of a run that was never interrupted. Ctrl-C (SIGINT)
must stop with status 130 and one line saying the epoch and the resume command; SIGTERM
(``kill``, a job scheduler) the same with status 143, also under torchrun. A run killed before
its first checkpoint is started again from the beginning by ``--resume``.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO, default_sigint, register_in_process
from zoo.cli import main
from zoo.metrics_file import read_metrics

EPOCHS = 10
RECIPE = f"""\
seed: 3
task: {{name: classification, epochs: {EPOCHS}, batch_size: 16, plots: false}}
data: {{name: digits, normalize: {{mean: [0.5], std: [0.5]}}}}
model: {{name: mlp, hidden: [128, 128], dropout: 0.1}}
loss: {{name: cross_entropy}}
optimizer: {{name: adam, lr: 0.001}}
"""
# kill -9 once the process has printed "epoch K/..." (K from this list, or the first epoch the
# resumed process runs) and then a random part of an epoch's duration more: the kill lands in the
# next epoch's training steps, its validation, or the middle of saving checkpoints
KILL_AFTER_EPOCH = (2, 3, 4, 6, 7)  # (after epoch 1 the fastest epoch seen is the warm-up one)
SEED = 20240611


def zoo_process(*args, cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "plugins")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return subprocess.Popen([sys.executable, "-m", "zoo", *map(str, args)], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=default_sigint)


EPOCH_LINE = re.compile(r"epoch (\d+)/\d+ .*\(([\d.]+) s\)$")


def wait_for_epoch(process: subprocess.Popen, epoch: int, durations: list, timeout: float = 120) -> bool:
    """Read the process's output until it prints the line of ``epoch``; False if it ended first.

    The duration printed on every epoch line read is appended to ``durations``.
    """
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        match = EPOCH_LINE.match(line.strip())
        if match:
            durations.append(float(match.group(2)))
            if int(match.group(1)) == epoch:
                return True
        assert time.monotonic() < deadline, f"no line for epoch {epoch} within {timeout} s"
    return False


def finish(process: subprocess.Popen, timeout: float = 120) -> tuple:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def resume_in_process(run: Path, capsys) -> None:
    """``zoo run --resume RUN`` to the end, in this process (no new interpreter to start)."""
    status = main(["run", "--resume", str(run)])
    out = capsys.readouterr()
    assert status == 0, out.err
    assert f"resuming {run} after epoch" in out.out


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    """The same recipe run once, never interrupted (in this process: the same code as a subprocess)."""
    folder = tmp_path_factory.mktemp("straight")
    (folder / "digits.yaml").write_text(RECIPE)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZOO_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        from zoo.plugins import reset_manager

        reset_manager()
        assert main(["run", str(folder / "digits.yaml"), "--output", str(folder / "run")]) == 0
        reset_manager()
    return folder / "run"


def assert_same_weights(straight: Path, run: Path) -> None:
    """The run that was stopped and resumed ends exactly where the uninterrupted one does."""
    a, b = load(straight / "checkpoints" / "last.pt"), load(run / "checkpoints" / "last.pt")
    assert a["epoch"] == b["epoch"] == EPOCHS
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert a["best_epoch"] == b["best_epoch"]
    best_a, best_b = load(straight / "checkpoints" / "best.pt"), load(run / "checkpoints" / "best.pt")
    for key in best_a["model"]:
        assert torch.equal(best_a["model"][key], best_b["model"][key]), key
    report_a = json.loads((straight / "report.json").read_text())
    report_b = json.loads((run / "report.json").read_text())
    assert report_a["test"] == report_b["test"]


def test_kill_9_at_random_moments_never_loses_a_checkpoint_and_resume_matches(straight, tmp_path, capsys):
    (tmp_path / "digits.yaml").write_text(RECIPE)
    run = tmp_path / "run"
    rng = random.Random(SEED)
    results, durations = [], []
    process = zoo_process("run", "digits.yaml", "--output", run, cwd=tmp_path)
    for i, planned in enumerate(KILL_AFTER_EPOCH):
        started_from = load(run / "checkpoints" / "last.pt")["epoch"] if results else 0
        target = max(planned, started_from + 1)
        assert wait_for_epoch(process, target, durations), "the run ended before the kill"
        # a random part of the fastest epoch seen; 0: in the middle of saving, as often as not
        delay = 0.0 if i == 2 else rng.uniform(0.0, 0.9) * min(durations)
        time.sleep(delay)
        assert process.poll() is None, "the run ended before the kill"
        os.killpg(process.pid, signal.SIGKILL)
        status, _, err = finish(process)
        assert status == -signal.SIGKILL and "Traceback" not in err
        leftovers = [p for p in os.listdir(run / "checkpoints") if p.endswith(".tmp")]  # a write cut short
        best, last = load(run / "checkpoints" / "best.pt"), load(run / "checkpoints" / "last.pt")
        # "epoch K" is printed before epoch K's checkpoints are saved, best.pt before last.pt
        assert target - 1 <= last["epoch"] < EPOCHS
        assert best["epoch"] in (last["best_epoch"], last["epoch"] + 1)
        assert set(best["model"]) == set(last["model"])
        results.append({"after_epoch_line": target, "delay_s": round(delay, 3), "resumed_from": started_from,
                        "last_epoch_on_disk": last["epoch"], "best_epoch_on_disk": best["epoch"],
                        "temporary_files": len(leftovers)})
        if i < len(KILL_AFTER_EPOCH) - 1:
            process = zoo_process("run", "--resume", run, cwd=tmp_path)
    resume_in_process(run, capsys)
    assert_same_weights(straight, run)
    assert [row["epoch"] for row in read_metrics(run)] == list(range(1, EPOCHS + 1))  # each epoch logged once
    assert not [p for p in os.listdir(run / "checkpoints") if p.endswith(".tmp")]  # cleaned up by the next save
    print("\nkill -9 results:", json.dumps(results))


@pytest.mark.parametrize("signal_number, status, word", [(signal.SIGINT, 130, "interrupted"),
                                                       (signal.SIGTERM, 143, "terminated")], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_and_sigterm_stop_with_a_resumable_checkpoint_and_say_how_to_resume(straight, tmp_path, capsys,
                                                                                    signal_number, status, word):
    """Ctrl-C reaches the whole foreground process group; SIGTERM (``kill PID``, a scheduler)
    the zoo process alone: either stops it as the other, with its own exit status."""
    (tmp_path / "digits.yaml").write_text(RECIPE)
    run = tmp_path / "run"
    process = zoo_process("run", "digits.yaml", "--output", run, cwd=tmp_path)
    assert wait_for_epoch(process, 2, [])
    time.sleep(0.2)
    if signal_number == signal.SIGINT:
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal_number)
    returned, _, err = finish(process)
    assert returned == status, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    saved = load(run / "checkpoints" / "last.pt")["epoch"]
    assert lines[0] == f"zoo: {word} during epoch {saved + 1}; resume with: zoo run --resume {run}"
    assert not [p for p in os.listdir(run / "checkpoints") if p.endswith(".tmp")]

    resume_in_process(run, capsys)
    assert_same_weights(straight, run)
    assert [row["epoch"] for row in read_metrics(run)] == list(range(1, EPOCHS + 1))  # each epoch logged once


@pytest.mark.skipif(not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
                    reason="this PyTorch build has no torch.distributed with gloo")
def test_sigterm_under_torchrun_stops_the_run_and_rank_0_says_how_to_resume(tmp_path):
    """SIGTERM to every process of the job at once (as a scheduler sends it; torchrun alone passes
    it on to its workers the same way): each process stops as on Ctrl-C, whichever of them is
    inside a collective at that moment, rank 0 says once where, and the checkpoints load."""
    from tests.test_distributed import TORCHRUN_VARIABLES

    (tmp_path / "digits.yaml").write_text(RECIPE)
    run = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_VARIABLES}
    env.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "plugins")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    process = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                                "-m", "zoo", "run", "digits.yaml", "--output", run], cwd=tmp_path, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    assert wait_for_epoch(process, 2, [])
    os.killpg(process.pid, signal.SIGTERM)
    _, _, err = finish(process)
    said = [line for line in err.splitlines() if line.startswith("zoo: ")]
    saved = load(run / "checkpoints" / "last.pt")["epoch"]
    assert said == [f"zoo: terminated during epoch {saved + 1}; resume with: zoo run --resume {run}"], err[-3000:]
    last, best = load(run / "checkpoints" / "last.pt"), load(run / "checkpoints" / "best.pt")
    # best.pt is written before last.pt: a stop between the two leaves best one epoch ahead, as after kill -9
    assert best["epoch"] in (last["best_epoch"], saved + 1)
    assert not [p for p in os.listdir(run / "checkpoints") if p.endswith(".tmp")]


def test_sigterm_before_the_first_checkpoint_says_the_run_starts_again_and_resume_does(tmp_path, capsys):
    """SIGTERM while the data is being read (a dataset that takes it, once): status 143, one line
    saying nothing is saved yet and the command that starts it again; that command does."""
    import numpy as np

    from zoo import Splits

    calls = []

    def slow_sensors() -> Splits:
        """Readings of 8×8 sensors, 4 classes; SIGTERM arrives while the first read goes."""
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        g = np.random.default_rng(0)
        labels = torch.arange(120) % 4
        x = torch.from_numpy(g.normal(size=(120, 1, 8, 8)).astype("float32")) * 0.1 + labels.view(-1, 1, 1, 1)
        data = [torch.utils.data.TensorDataset(x[a:b], labels[a:b]) for a, b in ((0, 80), (80, 100), (100, 120))]
        return Splits(train=data[0], valid=data[1], test=data[2], classes=list("abcd"))

    register_in_process("datasets", "acme/slow_sensors", slow_sensors, plugin="acme-slow")
    recipe = tmp_path / "sensors.yaml"
    recipe.write_text(RECIPE.replace("{name: digits, normalize: {mean: [0.5], std: [0.5]}}", "{name: acme/slow_sensors}"))
    run = tmp_path / "run"
    status = main(["run", str(recipe), "--output", str(run), "task.epochs=2"])
    err = capsys.readouterr().err
    assert status == 143, err
    assert err.strip() == (f"zoo: terminated before the first checkpoint was saved; start it again from the "
                           f"beginning with: zoo run --resume {run}")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the run's handler is gone with the run

    status = main(["run", "--resume", str(run)])
    out = capsys.readouterr()
    assert status == 0, out.err
    assert "starting it from the beginning" in out.out and len(calls) == 2
    assert load(run / "checkpoints" / "last.pt")["epoch"] == 2


def test_resume_of_a_run_killed_before_its_first_checkpoint_starts_it_from_the_beginning(straight, tmp_path, capsys):
    (tmp_path / "digits.yaml").write_text(RECIPE)
    run = tmp_path / "run"
    process = zoo_process("run", "digits.yaml", "--output", run, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not (run / "recipe.yaml").exists():  # written just before the task starts
        assert time.monotonic() < deadline and process.poll() is None, "the run never made its folder"
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    finish(process)
    assert not (run / "checkpoints" / "last.pt").exists(), "the kill came after the first checkpoint"

    status = main(["run", "--resume", str(run)])
    out = capsys.readouterr()
    assert status == 0, out.err
    assert out.out.splitlines()[0] == (f"{run}: the run stopped before it saved its first checkpoint "
                                       f"(checkpoints/last.pt is not there): starting it from the beginning")
    assert_same_weights(straight, run)


def test_a_finished_run_whose_last_checkpoint_is_gone_is_not_started_again(straight, tmp_path, capsys):
    """--resume starts afresh only where nothing would be lost: never over a finished run's best.pt."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(straight, run)
    (run / "checkpoints" / "last.pt").unlink()
    best = (run / "checkpoints" / "best.pt").read_bytes()
    status = main(["run", "--resume", str(run)])
    err = capsys.readouterr().err
    assert status == 2 and err.strip() == (f"zoo: error: {run}: no checkpoints/last.pt to resume from "
                                           f"(the task saves it while it runs)")
    (run / "report.json").unlink()  # a run stopped after epoch 10's best.pt, before its last.pt
    assert main(["run", "--resume", str(run)]) == 2
    capsys.readouterr()
    assert (run / "checkpoints" / "best.pt").read_bytes() == best


def test_a_write_cut_short_leaves_a_temporary_file_that_the_next_save_removes(tmp_path):
    from zoo import checkpoints

    path = checkpoints.save_atomic({"epoch": 1}, tmp_path / "last.pt")
    (tmp_path / ".last.pt.abc123.tmp").write_bytes(b"PK\x03\x04 half a zip")  # what kill -9 mid-write leaves
    (tmp_path / ".best.pt.def456.tmp").write_bytes(b"another file's")
    checkpoints.save_atomic({"epoch": 2}, path)
    assert sorted(os.listdir(tmp_path)) == [".best.pt.def456.tmp", "last.pt"]
    assert checkpoints.load(path)["epoch"] == 2


def test_a_logger_plugin_that_raises_costs_its_output_not_the_run(tmp_path, capsys):
    """A plugin's failure is isolated to that plugin: one warning, and training and the other loggers go on."""
    from zoo import hookimpl
    from zoo.plugins import get_manager

    calls = []

    class FlakyLogger:
        @hookimpl
        def zoo_epoch_end(self, run, epoch, metrics):
            calls.append(epoch)
            if epoch == 2:
                raise ConnectionError("dashboard unreachable")

    get_manager().register(FlakyLogger(), "flaky")
    (tmp_path / "digits.yaml").write_text(RECIPE)
    status = main([str(a) for a in ("run", tmp_path / "digits.yaml", "--output", tmp_path / "run", "task.epochs=3")])
    err = capsys.readouterr().err
    assert status == 0, err
    assert err.strip().splitlines() == [
        "zoo: warning: plugin 'flaky' raised in zoo_epoch_end: ConnectionError: dashboard unreachable; "
        "its lifecycle hooks are off for the rest of this run"]
    assert calls == [1, 2]
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]  # the built-in logger kept writing
    assert load(tmp_path / "run" / "checkpoints" / "last.pt")["epoch"] == 3

"""``zoo sweep`` across processes: a kill -9 mid-trial then ``--resume``, two processes joining one
study (``--join`` by the study's name in a journal file, each with its own run folders), and
``--workers 2``, and a sweep waiting for the trial another machine runs. Each ``zoo sweep`` is a
real ``python -m zoo`` process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import default_sigint, run_zoo
from tests.test_sweep import RECIPE


STARTED: list = []


@pytest.fixture(autouse=True)
def no_process_left_behind():
    """A test that fails while its ``zoo sweep`` runs in the background still ends it."""
    yield
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.wait()


def start_zoo(*args, cwd: Path) -> subprocess.Popen:
    """``python -m zoo ARGS`` started in the background (SIGINT in its default disposition, so
    that it stops as on Ctrl-C), its output in ``cwd/zoo-<n>.log``."""
    log = open(cwd / f"zoo-{time.monotonic_ns()}.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "zoo", *map(str, args)], cwd=cwd, stdout=log,
                               stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED="1"),
                               preexec_fn=default_sigint)
    STARTED.append(process)
    return process


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until ``path`` exists (the process still running)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"zoo sweep ended (status {process.returncode}) before {path} appeared"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def test_kill_9_mid_trial_then_resume_finishes_every_trial_once(tmp_path):
    (tmp_path / "r.yaml").write_text(RECIPE)
    folder = tmp_path / "sw"
    sweep = start_zoo("sweep", "r.yaml", "optimizer.lr=0.01,0.005,0.003", "task.epochs=10", "--output", folder, cwd=tmp_path)
    wait_for(folder / "trials" / "0001" / "checkpoints" / "last.pt", sweep)
    os.kill(sweep.pid, signal.SIGKILL)
    sweep.wait()
    before = json.loads((folder / "sweep.json").read_text())
    assert [t["state"] for t in before["trials"]] == ["complete", "running", "waiting"]

    resumed = run_zoo("sweep", "--resume", folder, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "trial 1 was left running by a process that is gone: continuing it" in resumed.stdout
    assert re.search(rf"resuming {re.escape(str(folder / 'trials' / '0001'))} after epoch \d+", resumed.stdout)
    after = json.loads((folder / "sweep.json").read_text())
    assert [t["state"] for t in after["trials"]] == ["complete"] * 3
    assert sorted(p.name for p in (folder / "trials").iterdir()) == ["0000", "0001", "0002"]
    for t in after["trials"]:
        epochs = [json.loads(line)["epoch"] for line in (folder / t["runs"][0] / "metrics.jsonl").read_text().splitlines()]
        assert epochs == list(range(1, 11)), t["number"]  # each epoch once: the killed run went on from its checkpoint
    assert "best: trial" in resumed.stdout


def test_sigterm_to_a_sweep_with_workers_leaves_every_trial_resumable_and_resume_runs_each_from_elsewhere(tmp_path):
    (tmp_path / "r.yaml").write_text(RECIPE)
    folder = tmp_path / "sw"
    sweep = start_zoo("sweep", "r.yaml", "optimizer.lr=0.01,0.005,0.003,0.002", "task.epochs=10", "--workers", "2",
                      "--output", folder, cwd=tmp_path)
    wait_for(folder / "trials" / "0000" / "checkpoints" / "last.pt", sweep)
    os.kill(sweep.pid, signal.SIGTERM)  # kill, a job scheduler: the workers are told too
    assert sweep.wait(timeout=120) == 143
    log = next(tmp_path.glob("zoo-*.log")).read_text()
    assert f"continue it with: zoo sweep --resume {folder}" in log

    elsewhere = tmp_path / "elsewhere"  # the recipe was named relative to the sweep's folder, not this one
    elsewhere.mkdir()
    resumed = run_zoo("sweep", "--resume", folder, cwd=elsewhere)
    assert resumed.returncode == 0, resumed.stderr
    after = json.loads((folder / "sweep.json").read_text())
    assert [t["state"] for t in after["trials"]] == ["complete"] * 4, [t["error"] for t in after["trials"]]
    assert sorted(p.name for p in (folder / "trials").iterdir()) == ["0000", "0001", "0002", "0003"]


def test_two_processes_join_one_study_and_run_each_trial_once_in_their_own_folders(tmp_path):
    (tmp_path / "r.yaml").write_text(RECIPE)
    journal = tmp_path / "shared" / "study.journal"
    first = start_zoo("sweep", "r.yaml", "optimizer.lr=0.02,0.01,0.005,0.003,0.002,0.001", "task.epochs=6",
                      "--storage", journal, "--output", tmp_path / "machine-a", cwd=tmp_path)
    wait_for(tmp_path / "machine-a" / "sweep.json", first)
    study = json.loads((tmp_path / "machine-a" / "sweep.json").read_text())["study"]["name"]
    second = run_zoo("sweep", "--join", study, "--storage", journal, "--output", tmp_path / "machine-b", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert first.wait(timeout=300) == 0

    a = json.loads((tmp_path / "machine-a" / "sweep.json").read_text())
    ran_a = {p.name for p in (tmp_path / "machine-a" / "trials").iterdir()}
    ran_b = {p.name for p in (tmp_path / "machine-b" / "trials").iterdir()}
    assert ran_a and ran_b and not ran_a & ran_b  # both worked, no trial twice
    assert ran_a | ran_b == {f"{n:04d}" for n in range(6)}
    assert [t["state"] for t in a["trials"]] == ["complete"] * 6
    for t in a["trials"]:  # the study names each trial's folder: relative in a's folder, absolute for b's
        name = f"{t['number']:04d}"
        expected = f"trials/{name}" if name in ran_a else str((tmp_path / "machine-b" / "trials" / name).resolve())
        assert t["runs"] == [expected]
        assert (Path(expected) if Path(expected).is_absolute() else tmp_path / "machine-a" / expected).joinpath("report.json").is_file()


def test_workers_2_run_a_grid_in_two_processes_with_their_share_of_the_cores(tmp_path):
    (tmp_path / "r.yaml").write_text(RECIPE)
    result = run_zoo("sweep", "r.yaml", "optimizer.lr=0.01,0.005,0.003,0.002", "task.epochs=3", "--workers", "2",
                     "--output", "sw", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    share = max(1, len(os.sched_getaffinity(0)) // 2)
    assert f"2 worker processes, {share} thread{'s' if share > 1 else ''} each" in result.stdout
    document = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert [t["state"] for t in document["trials"]] == ["complete"] * 4
    assert sorted(p.name for p in (tmp_path / "sw" / "trials").iterdir()) == ["0000", "0001", "0002", "0003"]
    started = re.findall(r"^(\[worker \d\]) sweep: trial (\d)/4: ", result.stdout, re.M)
    assert sorted(number for _, number in started) == ["0", "1", "2", "3"]  # each trial taken by one worker once
    assert {worker for worker, _ in started} == {"[worker 1]", "[worker 2]"}


def take_a_trial_as_another_machine(journal: Path, study_name: str, host: str, pid: int, seen: float = 0.0):
    """Take a queued trial of the study in ``journal`` as the worker ``pid`` on ``host`` would
    (Optuna's own ask, then the host, pid and heartbeat, ``seen`` seconds ago, as zoo's workers
    write them); returns ``(study, trial)``."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(study_name=study_name, storage=optuna.storages.JournalStorage(JournalFileBackend(str(journal))))
    trial = study.ask()
    trial.set_user_attr("host", host)
    trial.set_user_attr("pid", pid)
    trial.set_user_attr("seen", time.time() - seen)
    return study, trial


def wait_for_line(log: Path, line: str, process: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until ``log`` holds ``line`` (the process still running)."""
    deadline = time.monotonic() + timeout
    while line not in log.read_text():
        assert process.poll() is None, f"zoo sweep ended (status {process.returncode}) before printing {line!r}"
        assert time.monotonic() < deadline, f"{line!r} not printed"
        time.sleep(0.05)


def start_shared_sweep(tmp_path: Path, values: str, host: str = "other-machine", pid: int = 4242, seen: float = 0.0) -> tuple:
    """``zoo sweep`` of ``values`` in a journal file, started in the background, with one of its
    queued trials taken by the process ``pid`` on ``host`` (its last heartbeat ``seen`` seconds
    ago); returns ``(process, its log, study, that trial)``."""
    (tmp_path / "r.yaml").write_text(RECIPE)
    journal = tmp_path / "shared" / "study.journal"
    process = start_zoo("sweep", "r.yaml", f"optimizer.lr={values}", "task.epochs=4", "--storage", journal,
                        "--output", tmp_path / "sw", cwd=tmp_path)
    wait_for(tmp_path / "sw" / "sweep.json", process)
    name = json.loads((tmp_path / "sw" / "sweep.json").read_text())["study"]["name"]
    study, trial = take_a_trial_as_another_machine(journal, name, host, pid, seen)
    assert trial.number < len(values.split(","))  # a queued trial, not one made past the sweep's budget
    return process, next(tmp_path.glob("zoo-*.log")), study, trial


def test_a_sweep_waits_for_the_trial_another_machine_runs_and_records_it_when_it_ends(tmp_path):
    process, log, study, trial = start_shared_sweep(tmp_path, "0.01,0.005,0.003")
    wait_for_line(log, f"sweep: waiting for trial {trial.number}, running on other-machine (pid 4242)", process)
    time.sleep(1.5)
    assert process.poll() is None  # still waiting: its own trials are done, the other machine's is not
    trial.set_user_attr("values", [0.25])
    study.tell(trial, 0.25)
    assert process.wait(timeout=60) == 0
    document = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert [t["state"] for t in document["trials"]] == ["complete"] * 3
    assert document["trials"][trial.number]["host"] == "other-machine"
    assert (tmp_path / "sw" / "objective.png").is_file()


@pytest.mark.parametrize("signal_number, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_while_waiting_leaves_the_other_machines_trial_running_and_draws_the_sweep_so_far(tmp_path, signal_number,
                                                                                                  status):
    process, log, study, trial = start_shared_sweep(tmp_path, "0.01,0.005")
    wait_for_line(log, f"sweep: waiting for trial {trial.number}", process)
    os.kill(process.pid, signal_number)  # SIGTERM: a job scheduler's time limit
    assert process.wait(timeout=60) == status
    text = log.read_text()
    assert (f"zoo: stopped waiting for trial {trial.number}, still running on other-machine (pid 4242); "
            f"zoo sweep --resume {tmp_path / 'sw'} waits for it again") in text
    assert "sweep folder:" in text  # the table of the sweep so far came first
    document = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert document["trials"][trial.number]["state"] == "running"
    assert document["best"] is not None and document["pictures"]
    assert study.trials[trial.number].state.name == "RUNNING"  # the other machine's trial is not touched


def test_a_trial_a_dead_process_of_this_machine_left_running_is_not_waited_for_but_named_with_resume(tmp_path):
    import socket

    gone = subprocess.Popen(["true"])
    gone.wait()
    process, log, study, trial = start_shared_sweep(tmp_path, "0.01,0.005", socket.gethostname(), gone.pid)
    assert process.wait(timeout=120) == 0
    assert (f"sweep: trial {trial.number} was left running by a process that is gone: "
            f"zoo sweep --resume {tmp_path / 'sw'} continues it") in log.read_text()
    assert "waiting for" not in log.read_text()


def test_a_trial_whose_machine_went_silent_is_not_waited_for_and_resume_runs_it_again_here(tmp_path):
    process, log, study, trial = start_shared_sweep(tmp_path, "0.01,0.005", "gpu-box-7", 4242, seen=3600)
    assert process.wait(timeout=120) == 0
    assert (f"sweep: trial {trial.number} on gpu-box-7 (pid 4242) has given no sign of life for 60 min: "
            f"zoo sweep --resume {tmp_path / 'sw'} continues it") in log.read_text()
    assert "waiting for" not in log.read_text()
    resumed = run_zoo("sweep", "--resume", tmp_path / "sw", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"sweep: trial {trial.number} on gpu-box-7 (pid 4242) has given no sign of life for 60 min: continuing it" \
        in resumed.stdout
    document = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert [t["state"] for t in document["trials"]] == ["complete", "complete"]
    assert document["trials"][trial.number]["runs"] == [f"trials/{trial.number:04d}"]  # run here, in this folder


@pytest.fixture
def postgres_url():
    """A PostgreSQL server of its own (pgserver's, from a wheel) for the test; its URL."""
    import shutil
    import tempfile

    import pgserver

    data = tempfile.mkdtemp(prefix="zoo-pg-")  # short: the server's socket lives there
    server = pgserver.get_server(data, cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(data, ignore_errors=True)


@pytest.mark.filterwarnings("ignore:XDG_RUNTIME_DIR")  # pgserver's platformdirs, on a machine without a login session
def test_two_processes_share_a_study_in_a_postgresql_server(tmp_path, postgres_url):
    (tmp_path / "r.yaml").write_text(RECIPE)
    first = start_zoo("sweep", "r.yaml", "optimizer.lr=0.02,0.01,0.005,0.003,0.002,0.001", "task.epochs=6",
                      "--storage", postgres_url, "--output", tmp_path / "a", cwd=tmp_path)
    wait_for(tmp_path / "a" / "sweep.json", first)
    document = json.loads((tmp_path / "a" / "sweep.json").read_text())
    assert document["study"]["storage"] == postgres_url and not (tmp_path / "a" / "study.db").exists()
    second = run_zoo("sweep", "--join", document["study"]["name"], "--storage", postgres_url, "--output", tmp_path / "b",
                     cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert first.wait(timeout=300) == 0
    ran_a = {p.name for p in (tmp_path / "a" / "trials").iterdir()}
    ran_b = {p.name for p in (tmp_path / "b" / "trials").iterdir()}
    assert ran_a and ran_b and not ran_a & ran_b
    assert ran_a | ran_b == {f"{n:04d}" for n in range(6)}
    for folder in ("a", "b"):  # both machines' tables are of the whole sweep
        assert [t["state"] for t in json.loads((tmp_path / folder / "sweep.json").read_text())["trials"]] == ["complete"] * 6
    import optuna  # the study is the server's: Optuna reads it back from there

    study = optuna.load_study(study_name=document["study"]["name"], storage=postgres_url)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 6

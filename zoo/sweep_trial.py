"""Running one trial of a sweep: its runs (one per seed), its objective, and what the study records.

A trial is one or more ordinary runs through ``zoo.run.execute``, in ``trials/<NNNN>/`` (or
``trials/<NNNN>-seed<S>/`` with ``--seeds``) of the sweep folder of the process that runs it.
Before the first run the trial's user attributes name those folders (absolute paths), the
machine and the process, so the study always says where each trial's runs are. A run folder
already holding ``report.json`` counts as done; one holding ``recipe.yaml`` is continued as
``zoo run --resume`` would (a trial left RUNNING by a killed process); otherwise the run starts
there. The study is told the trial's result only after every run's ``report.json`` is on disk:
never a finished trial without its run folders.

With a pruner, each epoch's validation loss (``valid_accuracy`` for a maximized objective) of
the first seed's run is reported to Optuna, and a trial Optuna prunes stops there (``TrialPruned``,
whose ``run_state`` is ``pruned``). A trial whose run raises (a NaN loss, a combination the model
refuses) is recorded as failed with the one-line error, and the sweep goes on; Ctrl-C leaves it
RUNNING for ``zoo sweep --resume``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import statistics
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

from zoo.errors import RunFailure, UserError
from zoo.run_record import process_space, process_start
from zoo.sweep_record import write_sweep_json
from zoo.sweep_space import Space
from zoo.sweep_wait import HEARTBEAT_SECONDS
from zoo.sweep_study import Settings, direction_of


class TrialPruned(Exception):
    """Raised in a run's epoch end when Optuna prunes its trial; the run ends in state ``pruned``."""

    run_state = "pruned"


@dataclass
class Worker:
    """What a process running a sweep's trials holds: the ``study``, its ``settings`` and parsed
    ``space``, this process's sweep ``folder`` (the trials' run folders go under it), the
    recipe file it loads, and the study's ``storage`` URL (sweep.json names it)."""

    study: Any
    settings: Settings
    space: Space
    folder: Path
    recipe_path: Path
    storage: str

    def record(self) -> None:
        """Rewrite this process's sweep.json from the study."""
        write_sweep_json(self.study, self.settings, self.space, self.folder, self.storage)


def trial_params(trial: Any, space: Space) -> dict:
    """The trial's value for each swept key: queued (a grid point), drawn by the sampler, or the
    one it already had (a trial continued after a kill)."""
    params = {}
    for key, d in space.dimensions.items():
        if d.kind == "grid":
            params[key] = trial.suggest_categorical(key, list(d.choices))
        elif d.kind == "int":
            params[key] = trial.suggest_int(key, d.low, d.high)
        else:
            params[key] = trial.suggest_float(key, d.low, d.high, log=d.kind == "loguniform")
    return params


def run_folders(worker: Worker, number: int) -> list:
    """``[(run folder, seed or None)]`` for trial ``number``: one folder, or one per seed."""
    base = worker.folder / "trials"
    if worker.settings.seeds <= 1:
        return [(base / f"{number:04d}", None)]
    first = recipe_seed(worker.recipe_path, worker.space)
    return [(base / f"{number:04d}-seed{first + i}", first + i) for i in range(worker.settings.seeds)]


def recipe_seed(recipe_path: Path, space: Space) -> int:
    """The seed the recipe (with the fixed overrides) sets; 0 when it sets none."""
    from zoo.recipe import load_recipe

    seed = load_recipe(recipe_path, space.fixed).data.get("seed", 0)
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else 0


class ObjectiveMissing(RunFailure):
    """A run's report.json has no number at all where the objective points (not a NaN: nothing)."""


def objective_value(report: dict, objective: str) -> float:
    """The number at ``objective`` in a run's ``report``: ``valid_loss`` and ``valid_accuracy`` are
    the best round's (``best.valid_loss``, ``best.valid_accuracy``), anything else a dotted path
    (``test.accuracy``). Raises ``ObjectiveMissing`` when the report has no number there, naming
    those it has, and ``RunFailure`` for a NaN or infinite one."""
    path = ("best", objective) if objective in ("valid_loss", "valid_accuracy") else tuple(objective.split("."))
    value: Any = report
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ObjectiveMissing(f"report.json has no number at {'.'.join(path)} for the objective {objective} "
                               f"(it has: {', '.join(number_paths(report)) or 'none'})")
    if not math.isfinite(value):
        raise RunFailure(f"report.json has {value} at {'.'.join(path)} for the objective {objective}")
    return float(value)


def number_paths(report: dict, prefix: str = "", depth: int = 2) -> list:
    """The dotted paths of ``report``'s numbers, ``depth`` levels deep at most (``test.accuracy``)."""
    paths = []
    for key, value in report.items():
        if isinstance(value, dict) and depth > 1:
            paths += number_paths(value, f"{prefix}{key}.", depth - 1)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            paths.append(f"{prefix}{key}")
    return paths


def run_trial(worker: Worker, trial: Any, *, total: Optional[int] = None) -> str:
    """Run ``trial`` (an ``optuna.Trial`` taken for this process) to its end and tell the study;
    sweep.json is rewritten when it starts and when it ends. Returns its state: ``complete``,
    ``pruned`` or ``failed``. Ctrl-C propagates, leaving it RUNNING."""
    import optuna

    started = time.perf_counter()
    previous = trial.user_attrs.get("seconds") or 0.0  # a trial continued after a kill
    params = trial_params(trial, worker.space)
    folders = run_folders(worker, trial.number)
    claim_trial(trial, folders)
    worker.record()
    shown = " ".join(worker.space.overrides(params)[len(worker.space.fixed):]) or "(no swept key)"
    of = f"/{total}" if total else ""
    print(f"sweep: trial {trial.number}{of}: {shown} -> {folders[0][0]}", flush=True)
    values, state, error, missing = [], "complete", None, None
    try:
        with heartbeat(trial):
            for i, (folder, seed) in enumerate(folders):
                overrides = worker.space.overrides(params) + ([f"seed={seed}"] if seed is not None else [])
                watch = pruning_watch(trial, worker.settings) if i == 0 and worker.settings.pruner else None
                report = run_once(worker.recipe_path, overrides, folder, watch)
                values.append(objective_value(report, worker.settings.objective))
    except TrialPruned as exc:
        state, error = "pruned", str(exc)
    except (KeyboardInterrupt, BrokenPipeError):  # Ctrl-C, SIGTERM, or this worker's parent sweep is gone:
        trial.set_user_attr("seconds", round(previous + time.perf_counter() - started, 3))  # resumable
        raise
    except ObjectiveMissing as exc:
        state, error, missing = "failed", str(exc), exc
    except Exception as exc:  # the run's own error, one line; the sweep goes on
        state, error = "failed", failure_line(exc)
    try:
        claim_trial(trial, folders)  # taken over meanwhile, the result told is this process's, with its folders
        trial.set_user_attr("seconds", round(previous + time.perf_counter() - started, 3))
        trial.set_user_attr("values", values)
        trial.set_user_attr("spread", statistics.stdev(values) if len(values) > 1 else None)
        trial.set_user_attr("error", error)
        if state == "complete":
            worker.study.tell(trial, statistics.fmean(values))
        else:
            worker.study.tell(trial, state=optuna.trial.TrialState.PRUNED if state == "pruned"
                              else optuna.trial.TrialState.FAIL)
    except (optuna.exceptions.UpdateFinishedTrialError, ValueError):  # taken for gone, run again, ended elsewhere
        print(f"sweep: trial {trial.number}: ended meanwhile in another process, whose result stands", flush=True)
        worker.record()
        return state
    if state == "complete":
        print(f"sweep: trial {trial.number}: complete, {worker.settings.objective} {statistics.fmean(values):.6g}",
              flush=True)
    else:
        print(f"sweep: trial {trial.number}: {state}: {error}", flush=True)
    worker.record()
    if missing is not None and not worker.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        raise UserError(f"--objective {worker.settings.objective}: trial {trial.number}'s {missing}; no trial can "
                        f"have it, so the sweep stops (start it again with another --objective)")
    return state


def claim_trial(trial: Any, folders: list) -> None:
    """Record in the study that this process runs ``trial`` (its run ``folders``, this host, pid,
    pid start time and pid namespace) and that it is alive now (``seen``)."""
    trial.set_user_attr("runs", [str(path.resolve()) for path, _ in folders])
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", os.getpid())
    trial.set_user_attr("pid_started", process_start(os.getpid()))  # a reused pid is not this process
    trial.set_user_attr("process_space", process_space())  # a pid means something only in its namespace
    trial.set_user_attr("seen", time.time())


@contextmanager
def heartbeat(trial: Any, every: float = HEARTBEAT_SECONDS) -> Iterator[None]:
    """While the block runs, write the time into ``trial``'s user attribute ``seen`` now and every
    ``every`` seconds (a thread), so that other machines waiting on the sweep can tell a trial
    whose machine died (``zoo.sweep_wait``). A write that fails (the storage briefly out of
    reach) is tried again at the next beat."""
    stop = threading.Event()

    def beat() -> None:
        while True:
            try:
                trial.set_user_attr("seen", time.time())
            except Exception:
                pass
            if stop.wait(every):
                return

    thread = threading.Thread(target=beat, name=f"zoo-sweep-heartbeat-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def failure_line(exc: BaseException) -> str:
    """A failed run's error as one line: zoo's own message, else the exception's type and message."""
    text = " ".join(str(exc).split())[:500]
    return text if isinstance(exc, (UserError, RunFailure)) else f"{type(exc).__name__}: {text}"


def pruning_watch(trial: Any, settings: Settings) -> Any:
    """The ``on_epoch`` callback that reports each epoch's validation figure to Optuna and raises
    ``TrialPruned`` when Optuna prunes the trial."""
    key = "valid_loss" if direction_of(settings.objective) == "minimize" else "valid_accuracy"
    reported: set = set()

    def on_epoch(epoch: int, metrics: dict) -> None:
        value = metrics.get(key)
        if epoch in reported or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return
        reported.add(epoch)
        trial.report(float(value), epoch)
        if trial.should_prune():
            raise TrialPruned(f"pruned after epoch {epoch} ({key} {value:.6g})")

    return on_epoch


def run_once(recipe_path: Path, overrides: list, folder: Path, on_epoch: Any) -> dict:
    """The report of one run of the trial in ``folder``: read when it finished before, continued
    from its checkpoints when it was started, else run there from the recipe with ``overrides``."""
    from zoo.recipe import load_recipe
    from zoo.run import execute

    if (folder / "report.json").is_file():
        return json.loads((folder / "report.json").read_text(encoding="utf-8"))
    if (folder / "recipe.yaml").is_file():
        return execute(load_recipe(folder / "recipe.yaml"), resume=folder, on_epoch=on_epoch).report
    if folder.is_dir():  # made by a process killed before it wrote recipe.yaml: it holds no run
        shutil.rmtree(folder)
    return execute(load_recipe(recipe_path, overrides), output=folder, on_epoch=on_epoch).report

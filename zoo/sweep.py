"""``zoo sweep``: start a sweep, join one, or resume one; run its trials in one or more processes.

``start`` validates the space against the recipe (``zoo.sweep_space``) before anything runs,
makes the sweep folder and the study with every trial queued (``zoo.sweep_study``), then runs
the trials (``zoo.sweep_trial``): in this process, or with ``workers`` > 1 in that many worker
processes (forked from this one on Linux, else ``zoo sweep --join`` processes), each given its
share of the cores (``OMP_NUM_THREADS`` and ``torch.set_num_threads``). ``join`` runs queued
trials of an existing sweep: its folder (on a file system this machine shares), or its study's
name in ``--storage``, the trials' run folders then going in a sweep folder on this machine.
``resume`` first continues the trials whose process is gone (dead on this machine, or silent for
ten minutes on another: ``zoo.sweep_wait``; run folders here resume from their checkpoints),
then the queue. sweep.json is rewritten as each
trial starts and ends. ``finish``, once this process's queue is empty, waits for the trials
other processes still run (``zoo.sweep_wait``), then draws the pictures.
"""

from __future__ import annotations

import datetime as _dt
import os
import shlex
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator, Optional, Sequence

from zoo.errors import Interrupted, Terminated, UserError
from zoo.sweep_record import read_sweep_json, stored_storage, write_sweep_json
from zoo.sweep_space import Space, check_space, grid_points, optional_seed_key, parse_space
from zoo.sweep_study import (PRUNERS, SAMPLERS, Settings, create, default_storage, load, reopen, storage_url,
                             take_queued)
from zoo.sweep_trial import Worker, run_trial

_OBJECTIVE = r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$"


@dataclass
class Sweep:
    """A sweep this process works on: its ``folder``, storage URL and study name."""

    folder: Path
    storage: str
    study_name: str


def cores() -> int:
    """The CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def check_options(space: Space, *, trials: Optional[int], sampler: Optional[str], seeds: int, workers: int,
                  prune: Optional[str], objective: str) -> str:
    """Check the options against each other and the ``space``; returns the sampler (default: grid
    when every key is a list, else tpe). Raises ``zoo.UserError`` naming the option at fault."""
    import re

    if sampler is not None and sampler not in SAMPLERS:
        raise UserError(f"--sampler {sampler}: unknown; use one of {', '.join(SAMPLERS)}")
    if prune is not None and prune not in PRUNERS:
        raise UserError(f"--prune {prune}: unknown; use one of {', '.join(PRUNERS)}")
    for name, value in (("--trials", trials), ("--seeds", seeds), ("--workers", workers)):
        if value is not None and value < 1:
            raise UserError(f"{name} {value}: give 1 or more")
    if not re.match(_OBJECTIVE, objective):
        raise UserError(f"--objective {objective!r}: a name in report.json such as valid_loss or test.accuracy")
    ranges = [k for k, d in space.dimensions.items() if d.kind != "grid"]
    chosen = sampler or ("grid" if not ranges else "tpe")
    if chosen == "grid" and ranges:
        raise UserError(f"--sampler grid: {ranges[0]} is a range, which has no grid; list its values "
                        f"({ranges[0]}=A,B,C) or use --sampler tpe|random")
    if ranges and trials is None:
        raise UserError(f"{ranges[0]} is sampled from a range: say how many trials with --trials N")
    if not space.dimensions and seeds == 1:
        raise UserError("zoo sweep needs a key to sweep: KEY=A,B,C or 'KEY=loguniform(A,B)' (or --seeds K)")
    if seeds > 1 and optional_seed_key(space):
        raise UserError("--seeds gives each run its seed: leave seed= out of the sweep's keys")
    return chosen


def start(recipe_spec: str, arguments: Sequence[str], *, trials: Optional[int] = None, sampler: Optional[str] = None,
          seeds: int = 1, workers: int = 1, storage: Optional[str] = None, prune: Optional[str] = None,
          objective: str = "valid_loss", output: Optional[str] = None, threads: Optional[int] = None,
          command: str = "") -> Sweep:
    """Start a sweep of ``recipe_spec`` (a file or a recipe's name) over ``arguments`` (``KEY=SPEC``)
    and run it to its end. Returns the ``Sweep``. Raises ``zoo.UserError`` (exit 2) before any
    trial starts for a mistake in the arguments or options."""
    from zoo.commands.run import find_recipe_file
    from zoo.recipe import load_recipe
    from zoo.run_folder import make_directory, new_run_directory, timestamped, unsafe_run_name

    space = parse_space(arguments)
    chosen = check_options(space, trials=trials, sampler=sampler, seeds=seeds, workers=workers, prune=prune,
                           objective=objective)
    recipe_path = find_recipe_file(recipe_spec)
    recipe = load_recipe(recipe_path, space.fixed)
    check_space(recipe_path, space)
    if chosen == "grid":
        queued = grid_points(space)[:trials] if trials else grid_points(space)
    else:  # without --trials (every key a list, --sampler tpe|random): as many trials as the grid has points
        queued = [{} for _ in range(trials or (len(grid_points(space)) if space.dimensions else 1))]
    why = unsafe_run_name(recipe.name)
    if output is None and why is not None:
        raise UserError(f"the recipe name {recipe.name!r} can't name a folder under sweeps/: {why}; use --output DIR")
    folder = make_directory(Path(output) if output else new_run_directory(Path("sweeps"), recipe.name))
    stamp = folder.name if output is None else timestamped(Path(""), "").name
    url = storage_url(storage) if storage else default_storage(folder)
    seed = recipe.data.get("seed", 0)
    settings = Settings(name=f"{recipe.name}-{stamp}", recipe_name=recipe.name, recipe=str(Path(recipe_path).resolve()),
                        arguments=list(arguments), objective=objective, seeds=seeds, sampler=chosen,
                        sampler_seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else 0,
                        pruner=prune, trials=len(queued), folder=str(folder.resolve()),
                        command=command or shlex.join(["zoo", "sweep", recipe_spec, *arguments]),
                        created=_dt.datetime.now().isoformat(timespec="seconds"))
    try:
        study = create(settings, url, queued)
    except BaseException:
        if not any(p for p in folder.iterdir() if p.name != "study.db"):
            for leftover in folder.iterdir():
                leftover.unlink()
            folder.rmdir()
        raise
    sweep = Sweep(folder=folder, storage=url, study_name=settings.name)
    write_sweep_json(study, settings, space, folder, url)
    print(f"sweep: {len(queued)} trials of {recipe_path} ({chosen} sampler{', pruning: ' + prune if prune else ''}"
          f"{f', {seeds} seeds each' if seeds > 1 else ''}) in {folder}", flush=True)
    run_workers(sweep, workers, threads)
    return sweep


def join(target: str, *, storage: Optional[str] = None, output: Optional[str] = None, workers: int = 1,
         threads: Optional[int] = None, worker_index: int = 0) -> Sweep:
    """Join the sweep ``target``: a sweep folder, or with ``storage`` a study's name there; run its
    queued trials to the end of the queue. Returns the ``Sweep``."""
    from zoo.run_folder import make_directory

    folder = Path(target)
    if (folder / "sweep.json").is_file():
        document = read_sweep_json(folder)
        url = storage_url(storage) if storage else stored_storage(folder, document)
        sweep = Sweep(folder=folder, storage=url, study_name=document["study"]["name"])
    elif storage is None:
        raise UserError(f"--join {target}: not a sweep folder (no sweep.json there); to join by the study's "
                        f"name give its --storage URL too")
    else:
        storage = storage_url(storage)
        _, settings = load(storage, target)
        shared = Path(settings.folder)
        if output is None and (shared / "sweep.json").is_file():
            folder = shared
        else:
            stamp = settings.name[len(settings.recipe_name) + 1:] or settings.name
            folder = Path(output) if output else Path("sweeps") / settings.recipe_name / stamp
            if not (folder / "sweep.json").is_file():
                make_directory(folder)
        sweep = Sweep(folder=folder, storage=storage, study_name=target)
    if worker_index:
        work(sweep, worker_index=worker_index, threads=threads)
    else:
        run_workers(sweep, workers, threads)
    return sweep


def resume(target: str, *, workers: int = 1, threads: Optional[int] = None) -> Sweep:
    """Continue the sweep in the folder ``target`` after Ctrl-C or a kill: the trials left RUNNING
    by a dead process of this machine, or by one on another machine silent for ten minutes
    (``zoo.sweep_wait``), are continued here first (their runs resume from their checkpoints when
    their folders are here, else start again), then the queued ones. Returns the ``Sweep``."""
    folder = Path(target)
    document = read_sweep_json(folder)
    url = stored_storage(folder, document)
    sweep = Sweep(folder=folder, storage=url, study_name=document["study"]["name"])
    study, settings = load(url, sweep.study_name)
    worker = make_worker(sweep, study, settings)
    from zoo.sweep_wait import running_trials

    with resumable(sweep):
        for held in running_trials(study):
            if held.alive:
                print(f"sweep: trial {held.number} is running {held.where()}: left to it", flush=True)
                continue
            print(f"sweep: trial {held.number} {held.gone()}: continuing it", flush=True)
            run_trial(worker, reopen(study, held.number), total=settings.trials)
    run_workers(sweep, workers, threads)
    return sweep


def make_worker(sweep: Sweep, study: object, settings: Settings) -> Worker:
    """The ``Worker`` for this process: the sweep's recipe must be on this machine."""
    recipe_path = Path(settings.recipe)
    if not recipe_path.is_file():
        raise UserError(f"the sweep's recipe {settings.recipe} is not on this machine (run zoo sweep --join "
                        f"from the folder the sweep was started in, or copy the recipe there)")
    return Worker(study=study, settings=settings, space=parse_space(settings.arguments), folder=sweep.folder,
                  recipe_path=recipe_path, storage=sweep.storage)


def work(sweep: Sweep, *, worker_index: int = 0, threads: Optional[int] = None) -> None:
    """Run queued trials of ``sweep`` in this process until the queue is empty, rewriting
    sweep.json as each starts and ends; ``threads`` sets torch's intra-op threads."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    probe, _ = load(sweep.storage, sweep.study_name)
    started = sum(1 for t in probe.get_trials(deepcopy=False) if t.state.name != "WAITING")
    study, settings = load(sweep.storage, sweep.study_name, offset=worker_index + 7919 * started)
    worker = make_worker(sweep, study, settings)
    while (trial := take_queued(study, sweep.storage)) is not None:
        run_trial(worker, trial, total=settings.trials)


def run_workers(sweep: Sweep, workers: int, threads: Optional[int]) -> None:
    """Run the queue in this process (one worker), or in ``workers`` ``zoo sweep --join``
    processes each given ``threads`` intra-op threads (default: the cores shared among them),
    their lines prefixed ``[worker N]``. Ctrl-C or SIGTERM becomes an ``Interrupted`` error
    naming the command that continues the sweep."""
    with resumable(sweep):
        if workers <= 1:
            work(sweep, threads=threads)
        else:
            run_children(sweep, workers, threads)


@contextmanager
def resumable(sweep: Sweep) -> Iterator[None]:
    """Within the block, Ctrl-C or SIGTERM becomes an ``Interrupted`` error naming the command
    that continues ``sweep`` (the trial it stopped stays RUNNING, its run's checkpoints intact)."""
    try:
        yield
    except KeyboardInterrupt as exc:
        raise Interrupted(f"sweep interrupted; continue it with: zoo sweep --resume {sweep.folder}",
                          getattr(exc, "exit_code", Interrupted.exit_code)) from None


def run_children(sweep: Sweep, workers: int, threads: Optional[int]) -> None:
    """Run the queue in ``workers`` child processes (see ``run_workers``). On Linux they are forked
    from this process, which has torch and the plugins loaded already (a worker starts in
    milliseconds, not seconds); elsewhere each is a new ``zoo sweep --join`` process."""
    each = threads or max(1, cores() // workers)
    print(f"sweep: {workers} worker processes, {each} thread{'s' if each > 1 else ''} each", flush=True)
    os.environ.update(OMP_NUM_THREADS=str(each), MKL_NUM_THREADS=str(each))  # for the children: this process only waits
    children = [start_child(sweep, index, each) for index in range(1, workers + 1)]
    pumps = [threading.Thread(target=relay, args=(output, f"[worker {index}] "), daemon=True)
             for index, (_, output) in enumerate(children, 1)]
    for pump in pumps:
        pump.start()

    def forward_sigterm(signum: int, frame: object) -> None:  # kill, a job scheduler: the workers stop as on Ctrl-C
        for child, _ in children:
            try:
                os.kill(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, forward_sigterm)
    try:
        for (child, _), pump in zip(children, pumps):
            child.wait()
            pump.join()
    except KeyboardInterrupt:  # the workers got the same Ctrl-C (or SIGTERM): they leave their trials resumable
        for child, _ in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    failed = [i for i, (child, _) in enumerate(children, 1) if child.returncode not in (0, None)]
    if failed:
        print(f"sweep: worker {', '.join(map(str, failed))} stopped with an error (see its lines above); "
              f"its trial, if any, is continued by zoo sweep --resume {sweep.folder}", flush=True)


class ForkedWorker:
    """A worker forked from this process, waited on like a ``subprocess.Popen``."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: Optional[int] = None

    def wait(self, timeout: Optional[float] = None) -> int:
        """Wait for the worker to end (``timeout`` seconds at most; ``subprocess.TimeoutExpired``
        after that); returns its exit status."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            pid, status = os.waitpid(self.pid, 0 if deadline is None else os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
            elif time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout)
            else:
                time.sleep(0.1)
        return self.returncode

    def kill(self) -> None:
        """Stop the worker at once."""
        os.kill(self.pid, 9)


def start_child(sweep: Sweep, index: int, threads: int) -> tuple:
    """Start worker ``index`` of ``sweep`` with ``threads`` torch threads; returns ``(process, its
    output as a text file)``."""
    if sys.platform != "linux":
        argv = [sys.executable, "-m", "zoo", "sweep", "--join", str(sweep.folder), "--storage", sweep.storage,
                "--threads", str(threads), "--worker-index", str(index)]
        child = subprocess.Popen(argv, env=dict(os.environ, PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        return child, child.stdout
    read, write = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the worker: its output goes to the pipe; it never returns into the caller's code
        status = 1
        try:
            os.close(read)
            os.dup2(write, 1)
            os.dup2(write, 2)
            work(sweep, worker_index=index, threads=threads)
            status = 0
        except KeyboardInterrupt as exc:
            status = getattr(exc, "exit_code", 130)
        except UserError as exc:
            print(f"zoo: error: {exc}", file=sys.stderr)
            status = UserError.exit_code
        except BaseException as exc:  # a failure outside any trial (a trial's own is recorded in the study)
            print(f"zoo: error: {type(exc).__name__}: {' '.join(str(exc).split())[:500]}", file=sys.stderr)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    os.close(write)
    return ForkedWorker(pid), os.fdopen(read, "r", encoding="utf-8", errors="replace")


def relay(output: IO, prefix: str) -> None:
    """Print each line of a worker's ``output`` with ``prefix``."""
    for line in output:
        print(prefix + line, end="", flush=True)


def finish(sweep: Sweep) -> tuple:
    """Once this process's share is done: wait for the trials of ``sweep`` that other processes
    still run (``zoo.sweep_wait``), rewriting sweep.json as each ends; then rewrite sweep.json
    with the pictures drawn, and the sweep's report.html (``zoo.sweep_page``). Returns
    ``(the document, the Held trials still running when Ctrl-C or SIGTERM stopped the waiting
    or [], that stop's exit status or 0)``."""
    from zoo.sweep_page import write_sweep_page
    from zoo.sweep_pictures import draw_pictures
    from zoo.sweep_record import sweep_document, write_document
    from zoo.sweep_wait import wait_for_others

    study, settings = load(sweep.storage, sweep.study_name)
    space = parse_space(settings.arguments)
    still_running, stopped = wait_for_others(
        study, lambda: write_sweep_json(study, settings, space, sweep.folder, sweep.storage),
        resume_command=f"zoo sweep --resume {sweep.folder}")
    document = sweep_document(study, settings, space, sweep.folder, sweep.storage)
    document["pictures"] = draw_pictures(document, sweep.folder)  # the study read once, not again for the names
    write_document(document, sweep.folder)
    write_sweep_page(sweep.folder)
    return document, still_running, stopped

"""Running a recipe: from a checked recipe to a run folder.

``prepare(recipe)`` checks the recipe (``zoo.recipe_check``: every section once, against its
factory), creates the task and the ``Run`` it receives (``zoo.run_context``), on the device the
task's ``device`` option names (``zoo.devices``). ``execute(recipe, ...)`` then makes the run
folder (``runs/<name>/<timestamp>/`` or ``--output``, ``zoo.run_folder``) or reopens it
(``--resume``, from the task's resume checkpoint), writes the resolved ``recipe.yaml``,
seeds python/numpy/torch (``zoo.rng``), calls the lifecycle hooks around ``task.run(run)`` and
writes ``report.json``; ``run.json`` says the run's state from its start to its end, and
``report.html`` shows the ended run (``zoo.run_outputs``). Ctrl-C becomes an ``Interrupted``
error saying how far the run got and how to resume it, in the task's own words
(``zoo.task.Checkpoints``); so does SIGTERM while a run goes (``kill``, a job scheduler), with
exit status 143. A run resumed before it saved its first
checkpoint starts again from the beginning in its folder, and says so. A run with command-line
overrides prints them first (the run folder keeps the recipe's name).

Under torchrun every process runs ``execute`` in a process group (``zoo.distributed``): rank 0
makes the run folder and tells the others its name, and only rank 0 writes in it.
"""

from __future__ import annotations

import shlex
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

from zoo import checkpoints, distributed
from zoo.atomic import write_text
from zoo.devices import resolve_device
from zoo.errors import Interrupted, Terminated
from zoo.plugins import PluginError, warn
from zoo.recipe_bases import display_path
from zoo.recipe_check import check_recipe
from zoo.rng import rng_state, seed_everything, set_rng_state  # noqa: F401 (re-exported, see __all__)
from zoo.run_context import Run
from zoo.run_folder import json_text, make_directory, new_run_directory
from zoo.run_outputs import record_end, record_start

# rng_state and set_rng_state stay importable from here for plugins written before zoo.toolkit.
__all__ = ["Run", "Outcome", "prepare", "execute", "check_recipe", "interrupted", "seed_everything",
           "rng_state", "set_rng_state", "sigterm_interrupts"]


@dataclass
class Outcome:
    """What ``execute`` gives back: the task's ``report`` (empty for a dry run), the run
    ``directory`` (None for a dry run) and the task's one-line ``headline`` of the report."""

    report: dict = field(default_factory=dict)
    directory: Optional[Path] = None
    headline: str = ""


def prepare(recipe: Any, *, directory: Optional[Path] = None, resumed: bool = False, launch: Any = None,
            quiet: bool = False, on_epoch: Optional[Callable[[int, dict], None]] = None,
            only: Optional[Sequence[str]] = None) -> tuple:
    """Check ``recipe`` (a ``zoo.recipe.Recipe``) and create its task, running nothing.

    Every section is checked against its factory once (``check_recipe``); the device is the
    task's ``device`` option (``auto``: CUDA, MPS, CPU), or this process's under torchrun
    (``launch``: a ``zoo.distributed`` launch, or None for one process). ``directory`` is the
    run folder when it already exists (``zoo eval``); ``execute`` fills it in later otherwise.
    Returns ``(run, task)``: the ``Run`` a task's methods take and the task object its factory
    made. ``on_epoch`` becomes ``Run.on_epoch``; ``only``: the sections checked besides the task
    (``check_recipe``). Raises ``zoo.UserError`` naming the recipe line at fault.
    """
    from zoo.plugins import get_manager

    manager = get_manager()
    checked = check_recipe(recipe, manager.registries, only)
    spec = checked.options.get("device", "auto")
    device = distributed.process_device(spec, launch.local_rank) if launch is not None else resolve_device(spec)
    run = Run(name=recipe.name, recipe=recipe, registries=manager.registries, manager=manager, directory=directory,
              device=device, seed=recipe.data.get("seed", 0), resumed=resumed,
              rank=launch.rank if launch else 0, world_size=launch.world_size if launch else 1,
              task_name=checked.traits.name, task_options=checked.options, quiet=quiet,
              traits=checked.traits, checked=checked.sections, on_epoch=on_epoch)
    return run, checked.task


def execute(recipe: Any, *, output: Optional[Path] = None, resume: Optional[Path] = None,
            dry_run: bool = False, runs_root: Path = Path("runs"), quiet: bool = False,
            on_epoch: Optional[Callable[[int, dict], None]] = None) -> Outcome:
    """Run ``recipe`` (a ``zoo.recipe.Recipe``) in a new folder (``output``, else under
    ``runs_root``), or continue the run in the folder ``resume``; with ``dry_run``, build what
    the task's ``check(run)`` builds and train nothing. ``on_epoch(epoch, metrics)`` is called
    (main process) after each ``run.epoch_end``, once the plugins have the epoch; an exception it
    raises stops the run there (``zoo.sweep_trial`` prunes a trial so). See the module docstring."""
    with sigterm_interrupts() as sigterm:
        launch = None if dry_run else distributed.from_environment()  # torchrun's RANK, WORLD_SIZE...
        run, task = prepare(recipe, resumed=resume is not None, launch=launch, quiet=quiet, on_epoch=on_epoch)
        sigterm.run = run  # from now on SIGTERM says where the run stopped
        if dry_run:
            seed_everything(run.seed)
            check = getattr(task, "check", None)
            if check is not None:
                check(run)
            return Outcome()
        if resume is not None and stopped_before_first_checkpoint(run, resume):
            run.resumed = False
            run.log(f"{resume}: the run stopped before it saved its first checkpoint "
                    f"({run.traits.checkpoints.resume} is not there): starting it from the beginning")
        elif resume is not None:
            run.traits.checkpoint("resume", resume, "resume")  # the file the task continues from must be there
        with distributed.session(launch, run.device):
            try:
                report, directory = run_in_folder(run, task, output=output, resume=resume, runs_root=runs_root)
            except Interrupted:  # SIGTERM (see sigterm_interrupts)
                raise
            except KeyboardInterrupt:  # Ctrl-C: say where the run stopped and how to resume it
                raise interrupted(run) from None
            except Exception:
                if sigterm.received:  # under torchrun: a collective cut short as another process stopped
                    raise interrupted(run, terminated=True) from None
                raise
    return Outcome(report=report, directory=directory,
                   headline=run.traits.headline(report) if run.is_main else "")


def run_in_folder(run: Run, task: Any, *, output: Optional[Path], resume: Optional[Path],
                  runs_root: Path) -> tuple:
    """Make (rank 0) or reopen the run folder, call the lifecycle hooks around ``task.run``, write
    the report (rank 0). Returns ``(report, run folder)``."""
    recipe, manager = run.recipe, run.manager
    if resume is not None:
        directory = resume
    else:  # rank 0 makes the folder (its name has a timestamp) and tells the other processes
        directory = distributed.from_main(lambda: make_directory(
            output if output is not None else new_run_directory(runs_root, recipe.name)))
    run.directory = directory if run.is_main else None
    run.shared_directory = directory
    if recipe.overrides:  # the folder is named after the recipe: say what differs from it
        source = display_path(recipe.path) if recipe.path is not None else "recipe"
        run.log(f"recipe {source} with overrides: {shlex.join(recipe.overrides)}")
    if run.is_main and resume is None:
        write_text(directory / "recipe.yaml", recipe.to_yaml())
    elif run.is_main and recipe.overrides:  # a resume may extend the recipe: kept once it has saved a checkpoint
        run.pending_recipe = recipe.to_yaml()
    record = record_start(run, directory, resumed=resume is not None) if run.is_main else None  # run.json
    seed_everything(run.seed)
    try:
        manager.call_lifecycle("zoo_run_start", run=run)
    except BaseException as exc:
        if run.is_main:
            record_end(run, directory, record, error=exc)
        raise
    try:
        report = task.run(run)
    except BaseException as exc:
        if run.is_main:
            record_end(run, directory, record, error=exc)
            try:
                manager.call_lifecycle("zoo_run_end", run=run, report={}, error=exc)
            except PluginError as hook_error:  # the task's own error is the one the user must see
                warn(str(hook_error))
        raise
    if run.is_main:
        if run.pending_recipe is not None:  # no checkpoint saved since the resume (nothing was left to do): keep it now
            write_text(directory / "recipe.yaml", run.pending_recipe)
        write_text(directory / "report.json", json_text(report))
        record_end(run, directory, record, report=report)  # run.json finished, report.html
        manager.call_lifecycle("zoo_run_end", run=run, report=report, error=None)
    return report, directory


def interrupted(run: Run, terminated: bool = False) -> Interrupted:
    """The ``Interrupted`` error for Ctrl-C (or, ``terminated``, SIGTERM: exit status 143)
    during ``run``: where it stopped and how to resume.

    Read from the task's resume checkpoint (``Checkpoints.resume``), which is written
    atomically: the unit (``epoch``) it records was completed, so the one in progress is the
    next. A task that keeps no resume checkpoint is run again.
    """
    word, status = ("terminated", Terminated.exit_code) if terminated else ("interrupted", Interrupted.exit_code)
    declared = run.traits.checkpoints
    if declared is None or declared.resume is None:
        return Interrupted(f"{word}; task {run.task_name!r} cannot resume: run the recipe again", status)
    folder = run.directory if run.directory is not None else run.shared_directory
    if folder is None:
        return Interrupted(f"{word} before the run folder was made; run the recipe again", status)
    done = checkpoints.resume_progress(folder, declared)
    if done is None:
        return Interrupted(f"{word} before the first checkpoint was saved; start it again from the beginning "
                           f"with: zoo run --resume {folder}", status)
    total = run.task_options.get(declared.total) if declared.total else None
    resume = f"resume with: zoo run --resume {folder}"
    if isinstance(total, int) and done >= total:
        return Interrupted(f"{word} after the last {declared.unit} ({done}), before the report was "
                           f"written; {resume}", status)
    return Interrupted(f"{word} during {declared.unit} {done + 1}; {resume}", status)


def stopped_before_first_checkpoint(run: Run, folder: Path) -> bool:
    """Whether the run folder ``folder`` holds a run that was stopped before it saved anything a
    fresh start would lose: no resume checkpoint, no report, and no best checkpoint past the
    first unit (``best`` is written just before ``resume``: a kill between them leaves the
    first epoch's). False for a task that cannot resume (``--resume`` refuses it)."""
    declared = run.traits.checkpoints
    if declared is None or declared.resume is None or (folder / declared.resume).exists():
        return False
    if (folder / "report.json").exists():
        return False
    if declared.best is None or not (folder / declared.best).exists():
        return True
    return checkpoints.saved_progress(folder / declared.best, declared.progress) == 1


@dataclass
class SigtermWatch:
    """``received``: whether SIGTERM came while ``sigterm_interrupts`` was in force; ``run``: the
    ``Run`` it would stop, once there is one."""

    received: bool = False
    run: Optional[Run] = None


@contextmanager
def sigterm_interrupts() -> Iterator[SigtermWatch]:
    """Within the block, SIGTERM raises in the main thread, so a run stops as on Ctrl-C
    (checkpoints intact, exit status 143): the ``Interrupted`` error saying where the watched
    ``run`` stopped and how to resume it, worked out when the signal is handled (wherever the
    exception then travels, in whatever ``except`` or ``finally`` block, it says so), or
    ``Terminated`` before there is a run. A second SIGTERM ends the process at once. Yields the
    ``SigtermWatch``. Nothing changes outside the main thread, or where SIGTERM is ignored
    (``nohup``-like launchers); the previous handler is restored afterwards."""
    watch = SigtermWatch()
    previous = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
    if previous is None or previous == signal.SIG_IGN:
        yield watch
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        watch.received = True
        raise interrupted(watch.run, terminated=True) if watch.run is not None else Terminated()

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield watch
    finally:
        signal.signal(signal.SIGTERM, previous)

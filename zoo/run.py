"""The runner: from a validated recipe to a run folder.

``execute(recipe, ...)`` builds the task through the registries, makes the run folder
(``runs/<name>/<timestamp>/`` or ``--output``), writes the resolved ``recipe.yaml``, seeds
python/numpy/torch, picks the device, calls the lifecycle hooks around ``task.run(run)`` and
writes ``report.json``. The ``Run`` object is what a task sees: the recipe, the registries, the
folder, the device, and helpers to build components, save checkpoints and report metrics.

Under torchrun every process runs ``execute`` in a process group (``zoo.distributed``): rank 0
makes the run folder and tells the others its name, and only rank 0 writes in it.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from zoo import checkpoints, distributed
from zoo.atomic import write_text
from zoo.errors import Interrupted, RunFailure, UserError
from zoo.registry import Registries

SECTION_KINDS = {
    "data": "datasets",
    "model": "models",
    "loss": "losses",
    "optimizer": "optimizers",
    "scheduler": "schedulers",
    "task": "tasks",
}
DEFAULT_SECTIONS = ("data", "model", "loss", "optimizer")
OPTIONAL_SECTIONS = ("scheduler",)
TOP_LEVEL = ("name", "seed", "base", "description") + tuple(SECTION_KINDS)
# keys the runner handles itself, never passed to a factory
RUNNER_KEYS = {"optimizer": ("params",)}


def resolve_device(spec: str = "auto") -> Any:
    """``auto``: CUDA, then MPS, then CPU; otherwise the device named (``cuda:1``, ``cpu``)."""
    import torch

    if spec in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except (RuntimeError, TypeError) as exc:
        raise UserError(f"task.device: {spec!r} is not a device ({exc})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"task.device: {spec!r} asked for, but CUDA is not available here (use auto or cpu)")
    return device


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's generators (all devices)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def rng_state() -> dict:
    """Every global generator's state, in a form ``torch.load(weights_only=True)`` accepts."""
    import numpy as np
    import torch

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": list(_listify(random.getstate())),
        "numpy": {"keys": torch.from_numpy(keys.astype("int64")), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what ``rng_state`` saved."""
    import numpy as np
    import torch

    random.setstate(_tuplify(state["python"]))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype("uint32"), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _listify(value: Any) -> Any:
    return [_listify(v) for v in value] if isinstance(value, (tuple, list)) else value


def _tuplify(value: Any) -> Any:
    return tuple(_tuplify(v) for v in value) if isinstance(value, list) else value


@dataclass
class Run:
    """What a task's ``run(run)`` receives. See zoo/hookspecs.py for the lifecycle hooks."""

    name: str
    recipe: Any  # zoo.recipe.Recipe
    registries: Registries
    manager: Any
    directory: Optional[Path]
    device: Any
    seed: int
    resumed: bool = False
    rank: int = 0
    world_size: int = 1
    task_name: str = ""
    task_options: dict = field(default_factory=dict)
    quiet: bool = False
    # the run folder as every process sees it, for reading (--resume); only rank 0 writes there
    shared_directory: Optional[Path] = None
    # a resumed run's recipe with its overrides: written over recipe.yaml with the first checkpoint
    # it saves, so a resume that fails at once (a model that no longer fits) leaves the folder as it was
    pending_recipe: Optional[str] = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def checkpoint_dir(self) -> Optional[Path]:
        return self.directory / "checkpoints" if self.directory is not None else None

    # -- building components -------------------------------------------------------------

    def section(self, name: str) -> dict:
        """The recipe section as written (with ``name``); {} when absent."""
        return self.recipe.section(name)

    def has_section(self, name: str) -> bool:
        return bool(self.recipe.section(name))

    def build(self, section: str, *args: Any, fill: Optional[dict] = None) -> Any:
        """Build the component a recipe section names, validated against its factory.

        ``args`` are passed first (the parameters for an optimizer, the optimizer for a
        scheduler); ``fill`` holds values the runner offers for parameters the factory accepts
        and the recipe leaves unset (``num_classes``, ``in_channels``, ``epochs``...).
        """
        from zoo.validation import lookup_entry, validate_section

        kind = SECTION_KINDS[section]
        if not self.recipe.section(section):
            raise UserError(f"{self.recipe.where(())}: the recipe has no {section}: section")
        entry = lookup_entry(self.recipe, section, self.registries[kind])
        supplied = _leading_parameters(entry, len(args))
        kwargs = validate_section(self.recipe, section, entry, supplied=supplied,
                                  fill=fill or {}, ignore=RUNNER_KEYS.get(section, ()))
        try:
            return entry.create(*args, **kwargs)
        except UserError as exc:  # the factory names the path or value; we add where the recipe set it
            message = str(exc)
            what = "" if message.startswith(f"{section}.") else f"{section}: "  # "data.style: ..." names itself
            raise UserError(f"{self.recipe.where(self._key_at_fault(section, message))}: {what}{message}") from exc

    def _key_at_fault(self, section: str, message: str) -> tuple:
        """``(section, key)`` for the key a factory's error message is about, else ``(section,)``.

        The key the message names (``data.style: ...``) if any; otherwise the key whose value
        the message quotes whole (a path, a name: delimited by spaces, quotes or punctuation),
        the longest such value when several are.
        """
        import re

        spec = self.recipe.section(section)
        named = re.search(rf"\b{re.escape(section)}\.(\w+)\b", message)
        if named and named.group(1) in spec:
            return (section, named.group(1))
        quoted = []
        for key, value in spec.items():
            if key == "name" or not isinstance(value, str) or len(value) < 2:
                continue
            if re.search(rf"(?<![\w/.~-]){re.escape(value)}(?![\w-]|\.\w)", message):
                quoted.append((len(value), key))
        return (section, max(quoted)[1]) if quoted else (section,)

    def create(self, kind: str, name: str, **kwargs: Any) -> Any:
        """Build a registered component directly (no recipe validation)."""
        return self.registries[kind].create(name, **kwargs)

    def build_optimizer(self, model: Any, fill: Optional[dict] = None) -> Any:
        """The recipe's optimizer over the parameters its ``params:`` selector picks (default: trainable)."""
        from zoo.params import select_parameters

        spec = self.recipe.section("optimizer").get("params", "trainable")
        params = select_parameters(model, spec, key=f"{self.recipe.where(('optimizer', 'params'))}: optimizer.params")
        return self.build("optimizer", params, fill=fill)

    # -- reporting -----------------------------------------------------------------------

    def log(self, message: str) -> None:
        """Print a line (main process only)."""
        if self.is_main and not self.quiet:
            print(message, flush=True)

    def epoch_end(self, epoch: int, metrics: dict) -> None:
        """Report an epoch's metrics to every plugin (the JSONL writer, TensorBoard, ...)."""
        if self.is_main:
            self.manager.call_lifecycle("zoo_epoch_end", isolate=True, run=self, epoch=epoch, metrics=dict(metrics))

    # -- checkpoints ---------------------------------------------------------------------

    def save_checkpoint(self, name: str, state: dict) -> Optional[Path]:
        """Atomically write ``checkpoints/<name>`` (main process only); returns its path."""
        if not self.is_main or self.checkpoint_dir is None:
            return None
        try:
            path = checkpoints.save_atomic(state, self.checkpoint_dir / name)
            if self.pending_recipe is not None:
                write_text(self.directory / "recipe.yaml", self.pending_recipe)
                self.pending_recipe = None
        except OSError as exc:  # disk full, folder gone read-only: the previous file is untouched
            raise RunFailure(checkpoints.write_failure(self.checkpoint_dir / name, exc, self.directory)) from exc
        return path

    def load_checkpoint(self, name: str, map_location: Any = "cpu") -> dict:
        """Read ``checkpoints/<name>`` with ``weights_only=True`` (on any process: every rank resumes)."""
        folder = self.directory if self.directory is not None else self.shared_directory
        if folder is None:
            raise UserError("this run has no folder to load checkpoints from")
        return checkpoints.load(folder / "checkpoints" / name, map_location=map_location)


def _leading_parameters(entry: Any, count: int) -> tuple:
    if not count:
        return ()
    params = list(entry.signature().parameters.values())
    return tuple(p.name for p in params[:count])


def new_run_directory(base: Path, name: str) -> Path:
    """``base/<name>/<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3``... if that folder exists."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = base / name / stamp
    n = 2
    while folder.exists():
        folder = base / name / f"{stamp}-{n}"
        n += 1
    return folder


def make_directory(folder: Path) -> Path:
    """Create a run folder; an existing non-empty one is refused (it may hold someone's run)."""
    if folder.is_dir() and any(folder.iterdir()):
        raise UserError(f"--output {folder}: the folder exists and is not empty; "
                        f"choose another, or continue it with --resume {folder}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".zoo-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write the run folder {folder}: {exc.strerror or exc}") from None
    return folder


def task_sections(task_entry: Any) -> tuple:
    return tuple(task_entry.metadata.get("sections", DEFAULT_SECTIONS))


def check_recipe(recipe: Any, registries: Registries) -> tuple:
    """Validate the recipe's shape and every section against its factory (builds nothing).

    Returns ``(task entry, validated task options)``.
    """
    from zoo.validation import lookup_entry, validate_recipe_shape, validate_section

    validate_recipe_shape(recipe, TOP_LEVEL)
    task_spec = recipe.section("task")
    if not task_spec:
        raise UserError(f"{recipe.where(())}: the recipe has no task: section (e.g. task: {{name: classification}})")
    task_entry = lookup_entry(recipe, "task", registries.tasks)
    task_options = validate_section(recipe, "task", task_entry)
    sections = task_sections(task_entry)
    for section in sections + OPTIONAL_SECTIONS:
        spec = recipe.section(section)
        if not spec:
            if section in sections:
                raise UserError(f"{recipe.where(())}: task {task_entry.name!r} needs a {section}: section")
            continue
        entry = lookup_entry(recipe, section, registries[SECTION_KINDS[section]])
        leading = 1 if section in ("optimizer", "scheduler") else 0
        validate_section(recipe, section, entry, supplied=_leading_parameters(entry, leading),
                         fill=None, ignore=RUNNER_KEYS.get(section, ()), partial=True)
    unused = [s for s in SECTION_KINDS if s != "task" and recipe.section(s)
              and s not in sections + OPTIONAL_SECTIONS]
    if unused:
        raise UserError(f"{recipe.where((unused[0],))}: task {task_entry.name!r} does not use a "
                        f"{unused[0]}: section (it uses: {', '.join(sections)})")
    return task_entry, task_options


def prepare(recipe: Any, *, directory: Optional[Path] = None, resumed: bool = False, launch: Any = None,
            quiet: bool = False) -> tuple:
    """Check ``recipe`` (a ``zoo.recipe.Recipe``) and create its task, running nothing.

    Every section is validated against its factory (``check_recipe``); the device is the
    task's ``device`` option (``auto``: CUDA, MPS, CPU), or this process's under torchrun
    (``launch``: a ``zoo.distributed`` launch, or None for one process). ``directory`` is the
    run folder when it already exists (``zoo eval``); ``execute`` fills it in later otherwise.
    Returns ``(run, task)``: the ``Run`` a task's methods take and the task object its factory
    made. Raises ``zoo.UserError`` naming the recipe line at fault.
    """
    from zoo.plugins import get_manager

    manager = get_manager()
    registries = manager.registries
    task_entry, task_options = check_recipe(recipe, registries)
    device = resolve_device(task_options.get("device", "auto"))
    if launch is not None:
        device = distributed.process_device(task_options.get("device", "auto"), launch.local_rank)
    run = Run(name=recipe.name, recipe=recipe, registries=registries, manager=manager, directory=directory,
              device=device, seed=recipe.data.get("seed", 0), resumed=resumed,
              rank=launch.rank if launch else 0, world_size=launch.world_size if launch else 1,
              task_name=task_entry.name, task_options=task_options, quiet=quiet)
    return run, task_entry.create(**task_options)


def execute(recipe: Any, *, output: Optional[Path] = None, resume: Optional[Path] = None,
            dry_run: bool = False, runs_root: Path = Path("runs"), quiet: bool = False) -> dict:
    """Run ``recipe`` (a ``zoo.recipe.Recipe``); return the report. See the module docstring."""
    launch = None if dry_run else distributed.from_environment()  # torchrun's RANK, WORLD_SIZE...
    run, task = prepare(recipe, resumed=resume is not None, launch=launch, quiet=quiet)
    if dry_run:
        check = getattr(task, "check", None)
        seed_everything(run.seed)
        if check is not None:
            check(run)
        return {}
    with distributed.session(launch, run.device):
        return _train(run, task, output=output, resume=resume, runs_root=runs_root)


def _train(run: Run, task: Any, *, output: Optional[Path], resume: Optional[Path], runs_root: Path) -> dict:
    """Make (rank 0) or reopen the run folder, call the lifecycle hooks around ``task.run``, write the report."""
    recipe, manager = run.recipe, run.manager
    if resume is not None:
        directory = resume
    else:  # rank 0 makes the folder (its name has a timestamp) and tells the other processes
        directory = distributed.from_main(lambda: make_directory(
            output if output is not None else new_run_directory(runs_root, recipe.name)))
    run.directory = directory if run.is_main else None
    run.shared_directory = directory
    if run.is_main and resume is None:
        write_text(directory / "recipe.yaml", recipe.to_yaml())
    elif run.is_main and recipe.overrides:  # a resume may extend the recipe: kept once it has saved a checkpoint
        run.pending_recipe = recipe.to_yaml()
    seed_everything(run.seed)
    manager.call_lifecycle("zoo_run_start", run=run)
    report: dict = {}
    try:
        report = task.run(run)
    except BaseException as exc:
        if run.is_main:
            manager.call_lifecycle("zoo_run_end", run=run, report={}, error=exc)
        if isinstance(exc, KeyboardInterrupt) and not isinstance(exc, Interrupted):
            raise interrupted(run) from None  # Ctrl-C: say where the run stopped and how to resume it
        raise
    if run.is_main:
        if run.pending_recipe is not None:  # no new checkpoint (the run had finished its epochs): keep it now
            write_text(directory / "recipe.yaml", run.pending_recipe)
        write_text(directory / "report.json", json.dumps(report, indent=2, default=_json_default))
        manager.call_lifecycle("zoo_run_end", run=run, report=report, error=None)
    return dict(report, run_dir=str(directory))


def interrupted(run: Run) -> Interrupted:
    """The ``Interrupted`` error for Ctrl-C during ``run``: the epoch it stopped in and how to resume.

    The last completed epoch's ``checkpoints/last.pt`` is already on disk (written atomically),
    so the epoch in progress is the one after it.
    """
    folder = run.directory if run.directory is not None else run.shared_directory
    last = folder / "checkpoints" / "last.pt" if folder is not None else None
    saved = checkpoints.saved_epoch(last) if last is not None else None
    if saved is None:
        return Interrupted("interrupted before the first checkpoint was saved: nothing to resume; "
                           "run the recipe again")
    epochs = run.task_options.get("epochs")
    resume = f"resume with: zoo run --resume {folder}"
    if isinstance(epochs, int) and saved >= epochs:
        return Interrupted(f"interrupted after the last epoch ({saved}), before the report was written; {resume}")
    return Interrupted(f"interrupted during epoch {saved + 1}; {resume}")


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")

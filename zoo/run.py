"""The runner: from a validated recipe to a run folder.

``execute(recipe, ...)`` builds the task through the registries, makes the run folder
(``runs/<name>/<timestamp>/`` or ``--output``), writes the resolved ``recipe.yaml``, seeds
python/numpy/torch, picks the device, calls the lifecycle hooks around ``task.run(run)`` and
writes ``report.json``. The ``Run`` object is what a task sees: the recipe, the registries, the
folder, the device, and helpers to build components, save checkpoints and report metrics.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import json
import os
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from zoo import checkpoints
from zoo.atomic import write_text
from zoo.errors import UserError
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
    task_options: dict = field(default_factory=dict)
    quiet: bool = False

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
        return entry.create(*args, **kwargs)

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
            self.manager.call_lifecycle("zoo_epoch_end", run=self, epoch=epoch, metrics=dict(metrics))

    # -- checkpoints ---------------------------------------------------------------------

    def save_checkpoint(self, name: str, state: dict) -> Optional[Path]:
        """Atomically write ``checkpoints/<name>`` (main process only); returns its path."""
        if not self.is_main or self.checkpoint_dir is None:
            return None
        return checkpoints.save_atomic(state, self.checkpoint_dir / name)

    def load_checkpoint(self, name: str, map_location: Any = "cpu") -> dict:
        """Read ``checkpoints/<name>`` with ``weights_only=True``."""
        if self.directory is None:
            raise UserError("this run has no folder to load checkpoints from")
        return checkpoints.load(self.directory / "checkpoints" / name, map_location=map_location)


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


def execute(recipe: Any, *, output: Optional[Path] = None, resume: Optional[Path] = None,
            dry_run: bool = False, runs_root: Path = Path("runs"), quiet: bool = False) -> dict:
    """Run ``recipe`` (a ``zoo.recipe.Recipe``); return the report. See the module docstring."""
    from zoo.plugins import get_manager

    manager = get_manager()
    registries = manager.registries
    task_entry, task_options = check_recipe(recipe, registries)
    seed = recipe.data.get("seed", 0)
    device = resolve_device(task_options.get("device", "auto"))
    rank, world_size = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    run = Run(name=recipe.name, recipe=recipe, registries=registries, manager=manager, directory=None,
              device=device, seed=seed, resumed=resume is not None, rank=rank, world_size=world_size,
              task_options=task_options, quiet=quiet)
    task = task_entry.create(**task_options)
    if dry_run:
        check = getattr(task, "check", None)
        seed_everything(seed)
        if check is not None:
            check(run)
        return {}
    if resume is not None:
        directory = resume
    else:
        directory = output if output is not None else new_run_directory(runs_root, recipe.name)
        if run.is_main:
            make_directory(directory)
    run.directory = directory if run.is_main else None
    if run.is_main and (resume is None or recipe.overrides):  # a resume may extend the recipe
        write_text(directory / "recipe.yaml", recipe.to_yaml())
    seed_everything(seed)
    manager.call_lifecycle("zoo_run_start", run=run)
    report: dict = {}
    try:
        report = task.run(run)
    except BaseException as exc:
        if run.is_main:
            manager.call_lifecycle("zoo_run_end", run=run, report={}, error=exc)
        raise
    if run.is_main:
        write_text(directory / "report.json", json.dumps(report, indent=2, default=_json_default))
        manager.call_lifecycle("zoo_run_end", run=run, report=report, error=None)
    return dict(report, run_dir=str(directory))


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")

"""The ``Run``: what a task's methods receive.

It holds the recipe, the registries, the run folder, the device and the seed, and the helpers a
task works through: ``build(section)`` makes the component a recipe section names (the section
was checked against its factory before anything ran: ``zoo.recipe_check``), ``save_checkpoint``
and ``load_checkpoint`` keep the run's state, ``log`` and ``epoch_end`` report progress.
``zoo.run.prepare`` makes one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from zoo import checkpoints
from zoo.atomic import write_text
from zoo.errors import RunFailure, UserError
from zoo.registry import Registries
from zoo.task import TaskTraits


@dataclass
class Run:
    """What a task's ``run(run)`` receives. See zoo/hookspecs.py for the lifecycle hooks.

    ``traits``: the task's declarations (``zoo.task.TaskTraits``); ``checked``: the recipe's
    component sections, each checked against its factory (``zoo.validation.CheckedSection`` by
    section name).
    """

    name: str
    recipe: Any  # zoo.recipe.Recipe
    registries: Registries
    manager: Any
    directory: Optional[Path]
    device: Any
    seed: int
    traits: TaskTraits
    checked: dict
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
    # the caller of zoo.run.execute watching the epochs (a sweep's pruning): called by epoch_end
    on_epoch: Optional[Callable[[int, dict], None]] = None

    @property
    def is_main(self) -> bool:
        """Whether this is the process that writes (rank 0; the only one without torchrun)."""
        return self.rank == 0

    @property
    def checkpoint_dir(self) -> Optional[Path]:
        """``<run folder>/checkpoints``; None on processes that do not write."""
        return self.directory / "checkpoints" if self.directory is not None else None

    # -- building components -------------------------------------------------------------

    def section(self, name: str) -> dict:
        """The recipe section as written (with ``name``); {} when absent."""
        return self.recipe.section(name)

    def has_section(self, name: str) -> bool:
        """Whether the recipe has a non-empty ``name`` section."""
        return bool(self.recipe.section(name))

    def build(self, section: str, *args: Any, fill: Optional[dict] = None) -> Any:
        """Build the component a recipe section names, with the keys checked before the run began.

        ``args`` are passed first (the parameters for an optimizer, the optimizer for a
        scheduler); ``fill`` holds values the task offers for parameters the factory accepts
        and the recipe leaves unset (``num_classes``, ``in_channels``, ``epochs``...). Raises
        ``zoo.UserError`` for a section the recipe lacks, a required key still missing, or the
        factory's own ``UserError`` with the recipe line it is about.
        """
        checked = self.checked.get(section)
        if checked is None:
            raise UserError(f"{self.recipe.where(())}: the recipe has no {section}: section")
        kwargs = checked.arguments(fill)
        try:
            return checked.entry.create(*args, **kwargs)
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
        """Report an epoch's metrics to every plugin (the JSONL writer, TensorBoard, ...), then to
        ``on_epoch`` when the caller of ``execute`` gave one: an exception it raises (a sweep's
        pruning) ends the run, after the plugins have the epoch."""
        if self.is_main:
            self.manager.call_lifecycle("zoo_epoch_end", isolate=True, run=self, epoch=epoch, metrics=dict(metrics))
            if self.on_epoch is not None:
                self.on_epoch(epoch, dict(metrics))

    # -- checkpoints ---------------------------------------------------------------------

    def save_checkpoint(self, name: str, state: dict, card: Optional[dict] = None) -> Optional[Path]:
        """Atomically write ``checkpoints/<name>`` (main process only); returns its path.

        ``card``: the model card of the weights in ``state`` (``zoo.toolkit.model_card``),
        recorded in the file so that the model can be used without the run's data.
        """
        if not self.is_main or self.checkpoint_dir is None:
            return None
        try:
            path = checkpoints.save_atomic(state, self.checkpoint_dir / name, card)
            if self.pending_recipe is not None:
                write_text(self.directory / "recipe.yaml", self.pending_recipe)
                self.pending_recipe = None
        except OSError as exc:  # disk full, folder gone read-only: the previous file is untouched
            raise RunFailure(checkpoints.write_failure(self.checkpoint_dir / name, exc, self.directory,
                                                       self.traits.checkpoints)) from exc
        return path

    def load_checkpoint(self, name: str, map_location: Any = "cpu") -> dict:
        """Read ``checkpoints/<name>`` with ``weights_only=True`` (on any process: every rank resumes)."""
        folder = self.directory if self.directory is not None else self.shared_directory
        if folder is None:
            raise UserError("this run has no folder to load checkpoints from")
        return checkpoints.load(folder / "checkpoints" / name, map_location=map_location)

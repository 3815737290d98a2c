"""The task protocol: what a task factory returns, and what zoo asks of it.

A task does the work a recipe names (train a classifier, stylise a picture). Its factory is
registered through ``zoo_register_tasks``, takes the recipe's ``task:`` keys and returns an object
with ``run(run) -> dict``. Everything else zoo asks of a task is declared on that object; what
is not declared has the default in ``Task`` below, so a plain object with only ``run`` is still
a task (the one from before this protocol: it keeps working unchanged).

What zoo asks, and where::

    zoo run RECIPE            sections, fills       which recipe sections are checked (each once,
                                                    before anything is built), and what the task
                                                    fills itself when it builds them
                              run(run)              the work; its dict is written as report.json
                              headline(report)      the one line printed after "run folder: ..."
    zoo run --dry-run         check(run)            build everything, train nothing
    zoo run --resume DIR      checkpoints.resume    the file that must exist; run(run) is called
                                                    with run.resumed True and continues from it
    Ctrl-C                    checkpoints.progress  the resume file's count of completed units,
                              .unit, .total         said as "interrupted during epoch 4"
    zoo eval RUN_DIR          checkpoints.best      the file that must exist; evaluate(run)
    zoo predict RUN_DIR IMG   checkpoints.best      best_model(run): the model and its card; zoo
                                                    reads and prepares the images as the card says.
                                                    A task without it: predict(run, paths, top_k)
    zoo export RUN_DIR        checkpoints.best      best_model(run), with examples of its inputs
    report.html               report_sections(folder, report): the task's part of the run's page
                              (``Heading``, ``Paragraph``, ``Table``, ``Picture``, ``Preformatted``);
                              without it, the default page (``zoo.report_page``)

A task with ``checkpoints = None`` is refused ``--resume``, ``zoo eval``, ``zoo predict`` and
``zoo export`` in one line naming it, and Ctrl-C says to run the recipe again.

Subclass ``Task`` to get the defaults and the documentation, or declare the attributes on any
object: zoo reads them with ``traits_of(task)``, never by ``isinstance``. docs/tasks.md walks
through the protocol with an example task.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Optional, Sequence, Tuple

from zoo.errors import UserError
from zoo.html_page import Heading, Link, Paragraph, Picture, Preformatted, Table
from zoo.kinds import KINDS, by_section

if TYPE_CHECKING:  # for the annotations only: importing zoo.run_context imports torch
    from zoo.recipe import Recipe
    from zoo.run_context import Run

__all__ = ["BestModel", "ImagePreparation", "Checkpoints", "Task", "TaskTraits", "traits_of", "Run", "Recipe", "DEFAULT_SECTIONS",
           "OPTIONAL_SECTIONS", "Heading", "Paragraph", "Table", "Picture", "Preformatted", "Link", "metrics_picture"]


def metrics_picture(folder: Path) -> Optional[bytes]:
    """For a task's ``report_sections``: the run folder ``folder``'s metrics.jsonl drawn against the
    epoch (or step), the losses in one panel and up to three other metrics in their own, as PNG
    bytes to give ``Picture``; None when there are no metrics (or no matplotlib)."""
    from zoo.report_page import metrics_picture as draw

    return draw(folder)


def __getattr__(name: str) -> Any:
    """``zoo.task.Run`` (what a task's methods and the lifecycle hooks receive) and
    ``zoo.task.Recipe`` (``run.recipe``): the public names of these two types, imported on first
    use so that importing ``zoo.task`` stays light."""
    if name == "Run":
        from zoo.run_context import Run

        return Run
    if name == "Recipe":
        from zoo.recipe import Recipe

        return Recipe
    raise AttributeError(f"module 'zoo.task' has no attribute {name!r}")

DEFAULT_SECTIONS: tuple = ("data", "model", "loss", "optimizer")
OPTIONAL_SECTIONS: tuple = ("scheduler",)


@dataclass(frozen=True)
class Checkpoints:
    """Where a task keeps its checkpoints, as paths relative to the run folder.

    ``resume``: what ``zoo run --resume`` continues from (None: the task cannot resume);
    ``best``: what ``zoo eval`` and ``zoo predict`` use (None: no model to use again);
    ``progress``: the key of the resume checkpoint counting the units completed (an int);
    ``unit``: the word for one unit, in messages ("interrupted during epoch 4");
    ``total``: the task option holding how many units a run has (None: not known).
    """

    resume: Optional[str] = "checkpoints/last.pt"
    best: Optional[str] = "checkpoints/best.pt"
    progress: str = "epoch"
    unit: str = "epoch"
    total: Optional[str] = "epochs"


@dataclass
class BestModel:
    """A run's best model, ready to be used without the run's data (``Task.best_model``).

    ``module``: a ``torch.nn.Module`` in eval mode on the CPU, taking a float batch B×C×H×W
    and giving B×K class scores (logits or log-probabilities); ``card``: its model card, a
    plain-JSON dict (``zoo.model_card``: registry name and keys, classes, input shape,
    preprocessing, versions, source); ``examples``: a float batch of the run's test images as
    the module takes them (what ``zoo export`` checks an exported file on).
    """

    module: Any
    card: dict
    examples: Any
    #: For a card without preprocessing: called by ``zoo predict`` (never by ``zoo export``),
    #: it gives the run's own ``ImagePreparation`` from the run's data, or raises
    #: ``zoo.UserError`` saying why it can't (the data is not where the recipe says). None: none.
    preparation: Optional[Callable[[], "ImagePreparation"]] = None


@dataclass(frozen=True)
class ImagePreparation:
    """How image files become the module's input when the card cannot say (its preprocessing is
    None): read in ``mode`` ("L" or "RGB") at ``size`` (height, width), resized to cover it and
    centre-cropped, then ``prepare`` turns the uint8 numpy batch B×H×W×C into the float32 numpy
    batch B×C×H×W the module takes (a dataset's own transform)."""

    mode: str
    size: Tuple[int, int]
    prepare: Callable[[Any], Any]


class Task:
    """A base class for tasks: every declaration with its default. Subclassing is optional.

    A subclass overrides ``run`` and whatever it supports. Class attributes:

    ``sections``: the recipe sections the task needs, built through the registries with
    ``run.build(section)``; ``optional_sections``: sections it uses when present;
    ``fills``: per section, the keys the task passes to that factory itself (the style task
    passes ``layers`` to its model), on top of the kind's own (``zoo.kinds``: a model's
    ``num_classes``...). A required key in ``fills`` may be missing from the recipe;
    ``checkpoints``: a ``Checkpoints``, or None for a task that saves none.
    """

    sections: ClassVar[Sequence[str]] = DEFAULT_SECTIONS
    optional_sections: ClassVar[Sequence[str]] = OPTIONAL_SECTIONS
    fills: ClassVar[Mapping[str, Sequence[str]]] = {}
    checkpoints: ClassVar[Optional[Checkpoints]] = Checkpoints()

    def run(self, run: "Run") -> dict:
        """Do the work; return the report (written as ``report.json``).

        ``run`` (a ``zoo.task.Run``) builds the recipe's components, names the run folder and
        the device, saves and loads checkpoints and reports metrics to the lifecycle hooks.
        When ``run.resumed`` is True, continue from ``checkpoints.resume``.
        """
        raise NotImplementedError

    def check(self, run: "Run") -> None:
        """``zoo run --dry-run``: build what ``run`` would (data, model...) and train nothing.

        Raise ``zoo.UserError`` for what would fail. The default checks nothing beyond the recipe.
        """

    def evaluate(self, run: "Run") -> dict:
        """``zoo eval``: test ``checkpoints.best`` of the finished run in ``run.directory`` again.

        Returns the evaluation (written to ``evaluations/<timestamp>.json``).
        """
        raise UserError(f"task {type(self).__name__} cannot evaluate a run")

    def predict(self, run: "Run", paths: Sequence[Path], top_k: int) -> list:
        """``zoo predict``: the ``top_k`` most probable classes of each image file in ``paths``.

        Returns one ``{"path": str, "top": [{"class": name, "probability": p}, ...]}`` per path.
        """
        raise UserError(f"task {type(self).__name__} cannot predict")

    def best_model(self, run: "Run") -> BestModel:
        """``zoo predict`` and ``zoo export``: the model of ``checkpoints.best`` in ``run.directory``.

        Returns a ``BestModel``: the module, its card (read from the checkpoint: no data
        needed) and examples of its inputs. Raise ``zoo.UserError`` for a checkpoint the
        model does not fit. A task without it is refused ``zoo export``, and ``zoo predict``
        calls its ``predict`` instead.
        """
        raise UserError(f"task {type(self).__name__} has no model to export")

    def headline(self, report: dict) -> str:
        """The report's figures worth one line at the end of ``zoo run`` ("" for none)."""
        return ""

    def report_sections(self, folder: Path, report: dict) -> Optional[list]:
        """The task's sections of the run folder ``folder``'s report.html, given its ``report``:
        ``Heading``, ``Paragraph``, ``Table``, ``Picture`` (a PNG file or bytes, inlined) and
        ``Preformatted`` from this module. zoo puts the headline and state above them and the
        recipe and the run's facts below. None (this default): zoo's default sections, the
        report's scalar figures, the metrics curves and every PNG in the folder.
        """
        return None


@dataclass(frozen=True)
class TaskTraits:
    """What zoo needs to know of one task object, each declaration resolved to a value."""

    name: str
    sections: tuple
    optional_sections: tuple
    fills: Optional[dict]  # None: the task declares none
    checkpoints: Optional[Checkpoints]
    task: Any

    def section_fills(self, section: str) -> tuple:
        """The keys that may be filled for ``section``'s factory: the kind's and the task's.

        A task that declares no ``fills`` (one written before this protocol) may fill any key
        a kind lists, in any section, as zoo allowed then.
        """
        if self.fills is None:
            return tuple(dict.fromkeys(key for kind in KINDS for key in kind.filled))
        return tuple(by_section(section).filled) + tuple(self.fills.get(section, ()))

    def has_method(self, name: str) -> bool:
        """Whether the task has its own method ``name`` (not only ``Task``'s default)."""
        found = getattr(self.task, name, None)
        return callable(found) and getattr(type(self.task), name, None) is not getattr(Task, name)

    def method(self, name: str, doing: str) -> Any:
        """The task's method ``name`` (``evaluate``, ``predict``), or a ``zoo.UserError`` saying
        the task cannot do ``doing`` (it has no such method, or only ``Task``'s default)."""
        if not self.has_method(name):
            raise UserError(f"task {self.name!r} cannot {doing} (it has no {name} method)")
        return getattr(self.task, name)

    def headline(self, report: dict, *, quiet: bool = False) -> str:
        """The task's one-line summary of ``report``; "" when it declares none. A headline that
        raises is a warning line (none when ``quiet``), never a failure of the finished run it sums up."""
        make = getattr(self.task, "headline", None)
        if not callable(make):
            return ""
        try:
            return str(make(report))
        except Exception as exc:
            if quiet:
                return ""
            import sys

            print(f"zoo: warning: task {self.name!r} could not write its headline: "
                  f"{type(exc).__name__}: {exc}", file=sys.stderr)
            return ""

    def report_sections(self, folder: Path, report: dict) -> Optional[list]:
        """The task's sections of ``folder``'s report.html (``Task.report_sections``); None for
        zoo's default ones: when the task has no such method, or it raises (a warning line: the
        page of a finished run is never what fails it)."""
        if not self.has_method("report_sections"):
            return None
        try:
            sections = self.task.report_sections(Path(folder), report)
        except Exception as exc:
            import sys

            print(f"zoo: warning: task {self.name!r} could not write its report sections: "
                  f"{type(exc).__name__}: {exc}; the page shows the default ones", file=sys.stderr)
            return None
        return list(sections) if sections is not None else None

    def checkpoint(self, which: str, folder: Path, doing: str) -> Path:
        """The path of the checkpoint ``which`` (``resume`` or ``best``) in the run ``folder``.

        Raises ``zoo.UserError`` naming ``doing`` (``resume``, ``evaluate``) when the task keeps
        no such checkpoint, or when the file is not there.
        """
        declared = self.checkpoints
        relative = getattr(declared, which) if declared is not None else None
        if relative is None:
            raise UserError(f"task {self.name!r} keeps no checkpoint to {doing} from")
        path = Path(folder) / relative
        if not path.is_file():
            raise UserError(f"{folder}: no {relative} to {doing} from (the task saves it while it runs)")
        return path


def traits_of(task: Any, name: str, metadata: Optional[Mapping] = None) -> TaskTraits:
    """Resolve a task object's declarations (``name``: its registry name; ``metadata``: its
    registry entry's, where tasks written before this protocol declared ``sections``).

    Raises ``zoo.UserError`` naming the task and the attribute when a declaration has the wrong
    shape (``checkpoints`` that is not a ``Checkpoints``, sections that are not section names).
    """
    metadata = metadata or {}
    sections = getattr(task, "sections", None)
    if sections is None:
        sections = metadata.get("sections", DEFAULT_SECTIONS)
    sections = _section_names(sections, name, "sections")
    optional = _section_names(getattr(task, "optional_sections", OPTIONAL_SECTIONS), name, "optional_sections")
    fills = getattr(task, "fills", None)
    if fills is not None:
        if not isinstance(fills, Mapping):
            raise _bad_declaration(name, "fills", fills, "a mapping of section to key names")
        fills = {_section_names([k], name, "fills")[0]: _names(v, name, f"fills[{k!r}]") for k, v in fills.items()}
    checkpoints = getattr(task, "checkpoints", Checkpoints())
    if checkpoints is not None and not isinstance(checkpoints, Checkpoints):
        raise _bad_declaration(name, "checkpoints", checkpoints, "a zoo.task.Checkpoints or None")
    return TaskTraits(
        name=name,
        sections=sections,
        optional_sections=tuple(s for s in optional if s not in sections),
        fills=fills,
        checkpoints=checkpoints,
        task=task,
    )


def _names(value: Any, task: str, attribute: str) -> tuple:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise _bad_declaration(task, attribute, value, "a list of names")
    return tuple(value)


def _section_names(value: Any, task: str, attribute: str) -> tuple:
    names = _names(value, task, attribute)
    unknown = [n for n in names if n not in {kind.section for kind in KINDS} - {"task"}]
    if unknown:
        raise _bad_declaration(task, attribute, value, "recipe sections: data, model, loss, optimizer, scheduler")
    return names


def _bad_declaration(task: str, attribute: str, value: Any, expected: str) -> UserError:
    return UserError(f"task {task!r} declares {attribute} = {value!r}; expected {expected} (see docs/tasks.md)")

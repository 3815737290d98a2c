"""The hook specifications: the whole contract between zoo and its plugins.

A plugin is a module (or object) named by an entry point in the ``zoo.plugins`` group::

    [project.entry-points."zoo.plugins"]
    acme = "acme_zoo.plugin"

whose functions are marked with ``zoo.hookimpl`` and named after the hooks below (or given the
hook's name with ``@hookimpl(specname=...)``). A plugin implements only the hooks it needs, and
may accept fewer arguments than a hook offers (pluggy passes the ones it names), but never an
argument the hook does not offer, and never a hook that does not exist (unless marked
``optionalhook=True``, for a hook a newer zoo has): either makes zoo report the plugin as
failed, naming it. docs/plugins.md is the guide; it shows each hook below with its signature.

Registration hooks (``zoo_register_*``, ``zoo_recipe_dirs``) are called by zoo one plugin at a
time, at most once per process, when it needs the registries (``zoo run``, ``zoo eval``,
``zoo predict``, and building the catalog cache that ``zoo list`` reads); keep them free of side
effects other than registering. A plugin that raises in one is marked failed and everything it
registered is removed. ``wrapper=True`` or ``hookwrapper=True`` on one of them is refused when the
plugin loads (there is no call of several plugins to wrap); ``tryfirst``/``trylast`` put a plugin
before or after the others, which are called in load order (entry-point names, sorted).

Lifecycle hooks (``zoo_run_start``, ``zoo_epoch_end``, ``zoo_run_end``) are called through pluggy
during ``zoo run``, so every option pluggy documents works on them as documented (wrappers,
``tryfirst``/``trylast``). An exception in ``zoo_run_start`` or ``zoo_run_end`` stops zoo with an
error naming the plugin; an exception in ``zoo_epoch_end`` is reported in one warning line naming
the plugin, whose lifecycle hooks are then no longer called, and the run goes on.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Optional, Union

from zoo.markers import hookspec

if TYPE_CHECKING:  # for the annotations only: importing zoo.run imports torch
    from zoo.registry import Registry
    from zoo.task import Run

# -- registration ----------------------------------------------------------------------------


@hookspec
def zoo_register_models(registry: Registry) -> None:
    """Register model factories in ``registry`` (the ``models`` registry).

    A model factory takes the recipe's ``model:`` keys (``name`` removed) as keyword arguments
    and returns a ``torch.nn.Module``. When it accepts ``num_classes``, ``in_channels`` or
    ``image_size`` and the recipe does not set them, the task fills them from the data.
    Metadata worth giving: ``input_size=(C, H, W)``.
    """


@hookspec
def zoo_register_datasets(registry: Registry) -> None:
    """Register dataset factories in ``registry`` (the ``datasets`` registry).

    A dataset factory takes the recipe's ``data:`` keys (``name`` removed) as keyword arguments
    and returns a ``zoo.Splits``. Missing files are a ``zoo.UserError`` naming the files and
    where they were looked for.
    """


@hookspec
def zoo_register_losses(registry: Registry) -> None:
    """Register loss factories in ``registry`` (the ``losses`` registry).

    A loss factory takes the recipe's ``loss:`` keys (``name`` removed) and returns a callable
    ``loss(output, target) -> scalar tensor`` (an ``nn.Module`` is fine).
    """


@hookspec
def zoo_register_optimizers(registry: Registry) -> None:
    """Register optimizer factories in ``registry`` (the ``optimizers`` registry).

    An optimizer factory is called as ``factory(params, **keys)``: ``params`` is the list of
    parameters the recipe's ``optimizer.params`` selects (the trainable ones by default) and
    ``keys`` are the other ``optimizer:`` keys. It returns a ``torch.optim.Optimizer``.
    """


@hookspec
def zoo_register_schedulers(registry: Registry) -> None:
    """Register learning-rate scheduler factories in ``registry`` (the ``schedulers`` registry).

    A scheduler factory is called as ``factory(optimizer, **keys)`` with the recipe's
    ``scheduler:`` keys, plus ``epochs`` and ``steps_per_epoch`` when it accepts them and the
    recipe does not set them, and returns a scheduler. Its metadata ``step`` says when the task
    steps it: ``"epoch"`` (default), ``"batch"``, or ``"plateau"`` (stepped with the validation
    loss).
    """


@hookspec
def zoo_register_tasks(registry: Registry) -> None:
    """Register task factories in ``registry`` (the ``tasks`` registry).

    A task factory takes the recipe's ``task:`` keys (``name`` removed) and returns a task: an
    object with ``run(run) -> dict``, whose dict is written as ``report.json``, and whatever
    else it declares of the task protocol (``zoo.task``: the sections it uses, its checkpoints,
    ``evaluate``, ``headline``...).
    """


@hookspec
def zoo_recipe_dirs() -> Iterable[Union[str, Path]]:
    """Return the folders (``str`` or ``pathlib.Path``) holding the recipes this plugin ships.

    Their ``*.yaml`` files show in ``zoo list recipes`` and can be run by name. None counts as
    no folder. When two plugins ship a recipe of one name, the folder listed first wins: a
    ``recipes/`` folder in the current directory, then the plugins in the order zoo calls them.
    """


# -- lifecycle -------------------------------------------------------------------------------


@hookspec
def zoo_run_start(run: Run) -> None:
    """Called once per process when ``zoo run`` starts the task, before ``task.run(run)``.

    The run folder exists and holds the resolved ``recipe.yaml``, and the random generators are
    seeded; no component is built yet (the task builds them inside ``task.run``). ``run`` is the
    ``zoo.task.Run``: ``run.name``, ``run.directory`` (a ``pathlib.Path``; None on processes other
    than the main one under torchrun), ``run.recipe`` (the resolved ``zoo.task.Recipe``:
    ``run.recipe.section("model")`` is a dict), ``run.task_name``, ``run.task_options``,
    ``run.device``, ``run.resumed`` (True when continuing with ``--resume``), ``run.rank``,
    ``run.world_size`` and ``run.is_main``. Not called by ``--dry-run``, ``zoo eval`` or
    ``zoo predict``.

    An exception stops the run before the task starts (no ``zoo_run_end`` is called): zoo exits
    with status 1 and one error line naming the plugin.
    """


@hookspec
def zoo_epoch_end(run: Run, epoch: int, metrics: dict[str, float]) -> None:
    """Called each time the task reports metrics, on the main process only.

    A task reports through ``run.epoch_end(epoch, metrics)``, as often as it has figures to
    report (several calls may carry the same ``epoch``): ``epoch`` is the task's 1-based count of
    its progress unit (an epoch, a step); ``metrics`` a flat dict of numbers, a copy made for the
    call and shared by the plugins it reaches (read it, don't change it). docs/plugins.md lists
    when the built-in tasks call it and what their metrics hold.

    An exception does not stop the run: one ``zoo: warning:`` line names the plugin, the other
    plugins still get this call and every later one, and the plugin's lifecycle hooks are not
    called again in this process.
    """


@hookspec
def zoo_run_end(run: Run, report: dict, error: Optional[BaseException]) -> None:
    """Called once when the task has finished or failed, on the main process only.

    ``report`` is the dict written to ``report.json`` (already on disk), or ``{}`` when the
    task raised; ``error`` is None for a finished run, else the exception that stopped the task
    (``KeyboardInterrupt`` included). Close files and flush writers here.

    An exception after a finished run makes zoo exit with status 1 and one error line naming
    the plugin; after a failed one it is a warning line naming the plugin, and the task's own
    error is the one reported. The run folder keeps what was written.
    """

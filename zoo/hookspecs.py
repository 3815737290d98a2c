"""The hook specifications: the whole contract between zoo and its plugins.

A plugin is a module (or object) named by an entry point in the ``zoo.plugins`` group::

    [project.entry-points."zoo.plugins"]
    acme = "acme_zoo.plugin"

whose functions are marked with ``zoo.hookimpl`` and named after the hooks below. A plugin
implements only the hooks it needs, and may accept fewer arguments than a hook offers (pluggy
passes the ones it names), but never an argument the hook does not offer, and never a hook
that does not exist: either makes zoo report the plugin as failed, naming it.

Registration hooks are called once per process, each with its kind's registry, and their
entries are cached (see ``zoo.catalog``), so keep them free of side effects other than
registering. Lifecycle hooks are called during ``zoo run`` in every plugin that implements
them; an exception there is reported with the plugin's name and stops the run.
"""

from __future__ import annotations

from zoo.markers import hookspec

# -- registration ----------------------------------------------------------------------------


@hookspec
def zoo_register_models(registry):
    """Register model factories in ``registry`` (a ``zoo.registry.Registry`` of kind ``models``).

    A model factory takes the recipe's ``model:`` keys (``name`` removed) as keyword arguments
    and returns a ``torch.nn.Module``. When it accepts ``num_classes`` or ``in_channels`` and
    the recipe does not set them, the runner fills them from the dataset; ``image_size`` is
    filled the same way when accepted. Metadata worth giving: ``input_size=(C, H, W)``.
    """


@hookspec
def zoo_register_datasets(registry):
    """Register dataset factories in ``registry`` (kind ``datasets``).

    A dataset factory takes the recipe's ``data:`` keys as keyword arguments and returns a
    ``zoo.Splits``. Missing files are a ``zoo.UserError`` naming the files and where they were
    looked for.
    """


@hookspec
def zoo_register_losses(registry):
    """Register loss factories in ``registry`` (kind ``losses``).

    A loss factory takes the recipe's ``loss:`` keys and returns a callable
    ``loss(output, target) -> scalar tensor`` (an ``nn.Module`` is fine).
    """


@hookspec
def zoo_register_optimizers(registry):
    """Register optimizer factories in ``registry`` (kind ``optimizers``).

    An optimizer factory is called as ``factory(params, **keys)`` where ``params`` is an
    iterable of the parameters to train (or parameter groups) and ``keys`` are the recipe's
    ``optimizer:`` keys; it returns a ``torch.optim.Optimizer``.
    """


@hookspec
def zoo_register_schedulers(registry):
    """Register learning-rate scheduler factories in ``registry`` (kind ``schedulers``).

    A scheduler factory is called as ``factory(optimizer, **keys)`` with the recipe's
    ``scheduler:`` keys, plus ``epochs`` and ``steps_per_epoch`` when it accepts them, and
    returns a scheduler. Its metadata ``step`` says when the task steps it: ``"epoch"``
    (default), ``"batch"``, or ``"plateau"`` (stepped with the validation loss).
    """


@hookspec
def zoo_register_tasks(registry):
    """Register task factories in ``registry`` (kind ``tasks``).

    A task factory takes the recipe's ``task:`` keys and returns an object with a method
    ``run(run) -> dict``: ``run`` is a ``zoo.run.Run`` (the resolved recipe, the registries,
    the run folder, the device, checkpoint and metrics helpers) and the dict returned is
    written as ``report.json``. Metadata ``sections`` lists the recipe sections the task uses
    (default: data, model, loss, optimizer).
    """


@hookspec
def zoo_recipe_dirs():
    """Return a list of folders (``str`` or ``pathlib.Path``) holding recipes this plugin ships.

    Their ``*.yaml`` files show in ``zoo list recipes`` and can be run by name.
    """


# -- lifecycle -------------------------------------------------------------------------------


@hookspec
def zoo_run_start(run):
    """Called once when a run starts, after its folder and components exist.

    ``run`` is the ``zoo.run.Run``: ``run.name``, ``run.directory`` (a ``pathlib.Path``, None
    on ranks other than 0), ``run.recipe`` (the resolved recipe as a dict), ``run.device``,
    ``run.resumed`` (True when continuing from ``--resume``) and ``run.is_main``.
    """


@hookspec
def zoo_epoch_end(run, epoch, metrics):
    """Called after each epoch (or each validation round) of a run.

    ``epoch`` is the 1-based epoch number; ``metrics`` a flat dict of floats such as
    ``train_loss``, ``valid_loss``, ``valid_accuracy``, ``lr``, ``seconds``. Called on the main
    process only.
    """


@hookspec
def zoo_run_end(run, report, error):
    """Called once when a run ends, on the main process.

    ``report`` is the dict written to ``report.json`` (empty when the run failed); ``error``
    is None for a finished run, else the exception that stopped it (``KeyboardInterrupt``
    included). Close files and flush writers here.
    """

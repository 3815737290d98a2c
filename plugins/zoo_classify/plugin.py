"""Registers the ``classification`` task."""

from zoo import hookimpl


@hookimpl
def zoo_register_tasks(registry):
    registry.register(
        "classification",
        "zoo_classify.task:classification",
        summary="Train a classifier, keep the best checkpoint by validation loss, test per class",
        tags=("supervised",),
    )

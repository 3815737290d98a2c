"""Hook implementation of the ``zoo_torchvision`` plugin: the ``torchvision/*`` namespace.

Neither torchvision nor torch is imported here: the lister and the factory import them when
the catalog is built or a model is created.
"""

from zoo import hookimpl


def list_torchvision_models():
    """``(name, summary)`` for every torchvision classification model (imports torchvision)."""
    from zoo_torchvision.catalog import list_models

    return list_models()


@hookimpl
def zoo_register_models(registry):
    registry.register_namespace(
        "torchvision",
        "zoo_torchvision.models:create_model",
        lister=list_torchvision_models,
        summary="A torchvision classification model",
        tags=("torchvision", "imagenet"),
        input_size=(3, 224, 224),
        requires="torchvision",
        catalog_version=_torchvision_version(),
    )


def _torchvision_version() -> str:
    """The installed torchvision's version (its cards are computed once per version), read without importing it."""
    from importlib import metadata

    try:
        return metadata.version("torchvision")
    except metadata.PackageNotFoundError:
        return "not installed"

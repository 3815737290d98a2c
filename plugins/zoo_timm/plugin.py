"""Hook implementation of the ``zoo_timm`` plugin: the ``timm/*`` namespace.

timm is not imported here (it takes a second): the lister and the factory import it.
"""

from zoo import hookimpl


def list_timm_models():
    """``(name, summary)`` for every architecture of the installed timm (imports timm)."""
    from zoo_timm.catalog import list_models

    return list_models()


def _timm_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("timm")
    except metadata.PackageNotFoundError:
        return "not installed"


@hookimpl
def zoo_register_models(registry):
    registry.register_namespace(
        "timm",
        "zoo_timm.models:create_model",
        lister=list_timm_models,
        summary="A timm architecture",
        tags=("timm",),
        requires="timm",
        catalog_version=_timm_version(),
        note="the list of names is the installed timm's (timm.list_models()); it changes with timm's version",
    )

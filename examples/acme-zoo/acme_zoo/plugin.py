"""acme's hook implementations: what this plugin adds to zoo's registries.

Only names and import paths here: the modules that import torch load when an entry is used.
"""

from pathlib import Path

from zoo import hookimpl


@hookimpl
def zoo_register_models(registry):
    registry.register("acme/tinynet", "acme_zoo.models:tinynet",
                      summary="A two-layer CNN for small images", tags=("cnn", "small"))


@hookimpl
def zoo_register_losses(registry):
    registry.register("acme/focal", "acme_zoo.losses:focal",
                      summary="Focal loss (Lin et al. 2017) for imbalanced classes")


@hookimpl
def zoo_recipe_dirs():
    return [Path(__file__).parent / "recipes"]

"""zoo_style's hook implementations: what the plugin registers (cheap to import: no torch)."""

from __future__ import annotations

from zoo import hookimpl


@hookimpl
def zoo_register_models(registry):
    registry.register(
        "vgg19_features",
        "zoo_style.vgg:vgg19_features",
        summary="VGG-19 feature extractor: activations of chosen layers (conv1_1 ... conv5_4), ImageNet normalisation built in",
        tags=("feature-extractor", "vgg", "style-transfer"),
        pretrained=True,
        weights_file="vgg19-dcbb9e9d.pth",
    )


@hookimpl
def zoo_register_datasets(registry):
    registry.register(
        "images",
        "zoo_style.images:load_style_pair",
        summary="A content and a style picture for style transfer (default: scikit-learn's sample photos, no download)",
        tags=("style-transfer", "embedded"),
        returns="StylePair",
    )


@hookimpl
def zoo_register_tasks(registry):
    registry.register(
        "style_transfer",
        "zoo_style.task:style_transfer",
        summary="Neural style transfer (Gatys et al. 2016) with VGG-19: writes result.png, snapshots, loss curve",
        tags=("style-transfer", "image-generation"),
    )


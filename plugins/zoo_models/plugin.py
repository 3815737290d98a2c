"""Hook implementation of the ``zoo_models`` plugin: ``mlp``, ``cnn``, ``densenet121``.

Factories are registered by import path, so loading this plugin imports no torch. Each entry
declares the card figures a catalog shows (``card``): the input size the figures are computed at,
the normalization, and the pretrained weights; zoo computes the parameter counts and
multiply-adds (``zoo list models --compute-cards``).
"""

IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}

from zoo import hookimpl


@hookimpl
def zoo_register_models(registry):
    registry.register(
        "mlp", "zoo_models.mlp:build_mlp",
        summary="Fully connected classifier: the seeds' MNIST MLP (784-512-512-10, dropout 0.2)",
        tags=("classic", "mlp"), input_size=None,
        card={"input_size": [1, 28, 28], "num_classes": 10, "pretrained": False, "tags": 0},
    )
    registry.register(
        "cnn", "zoo_models.cnn:build_cnn",
        summary="Small CNN: the seeds' CIFAR-10 network (conv 16/32/64, fc 500), any input size",
        tags=("classic", "cnn"), input_size=None,
        card={"input_size": [3, 32, 32], "num_classes": 10, "pretrained": False, "tags": 0},
    )
    registry.register(
        "densenet121", "zoo_models.densenet:build_densenet121",
        summary="DenseNet-121 transfer learning: frozen ImageNet features, new classifier head",
        tags=("transfer", "cnn", "torchvision"), input_size=(3, 224, 224), requires="torchvision",
        # the backbone's weights are torchvision's DenseNet121_Weights.IMAGENET1K_V1
        card={"input_size": [3, 224, 224], **IMAGENET, "num_classes": 2, "pretrained": True,
              "tag": "imagenet1k_v1", "tags": 1},
    )

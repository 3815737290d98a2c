"""Hook implementation of the ``zoo_models`` plugin: ``mlp``, ``cnn``, ``densenet121``.

Factories are registered by import path, so loading this plugin imports no torch.
"""

from zoo import hookimpl


@hookimpl
def zoo_register_models(registry):
    registry.register(
        "mlp", "zoo_models.mlp:build_mlp",
        summary="Fully connected classifier: the seeds' MNIST MLP (784-512-512-10, dropout 0.2)",
        tags=("classic", "mlp"), input_size=None,
    )
    registry.register(
        "cnn", "zoo_models.cnn:build_cnn",
        summary="Small CNN: the seeds' CIFAR-10 network (conv 16/32/64, fc 500), any input size",
        tags=("classic", "cnn"), input_size=None,
    )
    registry.register(
        "densenet121", "zoo_models.densenet:build_densenet121",
        summary="DenseNet-121 transfer learning: frozen ImageNet features, new classifier head",
        tags=("transfer", "cnn", "torchvision"), input_size=(3, 224, 224), requires="torchvision",
    )

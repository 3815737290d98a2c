"""zoo's built-in architectures (plugin ``zoo_models``): the seeds' MLP and CNN, and the
seeds' transfer-learning DenseNet-121.

``densenet121`` is torchvision's architecture with its published ImageNet weights, read
through ``zoo_torchvision``'s public ``read_pretrained``. Importing this package is cheap;
torch is imported by the factory modules only.
"""

"""torchvision's classification models as ``torchvision/<name>`` (plugin ``zoo_torchvision``).

Pretrained weights come from torch.hub's cache (``$TORCH_HOME/hub/checkpoints``, the file
torchvision itself downloads), hash-checked and read as tensors only (``zoo.weights``).
Importing this package is cheap; torchvision is imported by the catalog and the factory only.
"""

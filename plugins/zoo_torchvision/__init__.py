"""torchvision's classification models as ``torchvision/<name>`` (plugin ``zoo_torchvision``).

Pretrained weights come from torch.hub's cache (``$TORCH_HOME/hub/checkpoints``, the file
torchvision itself downloads), hash-checked and read as tensors only (``zoo.toolkit``).

Public API, for other plugins building on torchvision's architectures (everything else in
this package is internal and may change):

``read_pretrained(name, weights=None, *, label=None) -> (state_dict, path)``
    The ImageNet weights torchvision publishes for model ``name`` (``"densenet121"``), read
    from torch.hub's cache (downloaded only when ``zoo.toolkit.downloads_allowed()``), or the
    file ``weights`` when given; hash-checked, tensors only, old DenseNet key names updated.
    ``label`` names the model in messages. A missing or bad file is a ``zoo.UserError``.

Importing this package is cheap: torchvision is imported by the catalog, the factory and
``read_pretrained`` (on first use) only.
"""

__all__ = ["read_pretrained"]


def __getattr__(name: str):
    """The public API's functions, imported on first use (their modules import torchvision)."""
    if name == "read_pretrained":
        from zoo_torchvision.pretrained import read_pretrained

        return read_pretrained
    raise AttributeError(f"module 'zoo_torchvision' has no attribute {name!r}")

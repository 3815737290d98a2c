"""timm's architectures as ``timm/<name>`` (plugin ``zoo_timm``).

The names are those of the installed timm (``timm.list_models()``): upgrading timm changes
the list. Pretrained weights come from the local Hugging Face cache or torch.hub's checkpoints
folder, are hash-checked where the cache records a hash, and are read as tensors only.
Importing this package is cheap; timm is imported by the catalog and the factory only.
"""

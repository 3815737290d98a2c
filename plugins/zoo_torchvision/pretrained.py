"""torchvision's pretrained weights, read through ``zoo.toolkit`` (hash-checked, tensors only).

torchvision's own loader would read a cached file without checking its hash; here the file
torchvision downloads (``$TORCH_HOME/hub/checkpoints/<name>-<hash>.pth``) is verified against
the hash in its name and read with ``weights_only=True``.
"""

import re
from pathlib import Path
from typing import Optional

import torchvision.models as tv_models

from zoo import UserError
from zoo.toolkit import downloads_allowed, find_or_download, load_state_dict

# Old DenseNet checkpoints name their layers "norm.1", "conv.2"...; torchvision renames them on
# load (densenet._load_state_dict) and so do we.
LEGACY_DENSENET_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def default_weights(name: str):
    """The ``WeightsEnum`` member of ``name``: the one torchvision uses by default (``...DEFAULT``),
    or the one a tagged name (``resnet50.imagenet1k_v2``, any case) names; ``zoo.UserError``
    naming the tags there are for a tag torchvision does not have."""
    architecture, _, tag = name.partition(".")
    enum = tv_models.get_model_weights(architecture)
    if not tag:
        return enum.DEFAULT
    try:
        return enum[tag.upper()]
    except KeyError:
        known = ", ".join(f"{architecture}.{w.name.lower()}" for w in enum)
        raise UserError(f"model torchvision/{name}: torchvision has no weights {tag!r} for {architecture}; "
                        f"it has {known}") from None


def remap_legacy_densenet_keys(state: dict) -> dict:
    """Rename old DenseNet keys (``denselayer1.norm.1.weight`` -> ``denselayer1.norm1.weight``) in place; return ``state``."""
    for key in list(state):
        match = LEGACY_DENSENET_KEY.match(key)
        if match:
            state[match.group(1) + match.group(2)] = state.pop(key)
    return state


def pretrained_path(name: str, weights: Optional[str] = None, *, label: Optional[str] = None) -> Path:
    """The file to load for torchvision model ``name``: ``weights`` when given, else the cached
    download of its default weights (downloaded only when ``zoo.toolkit.downloads_allowed()``)."""
    if weights is not None:
        return Path(weights).expanduser()
    return find_or_download(
        default_weights(name).url,
        allow_download=downloads_allowed(),
        name=label or f"torchvision/{name}",
    )


def read_pretrained(name: str, weights: Optional[str] = None, *, label: Optional[str] = None):
    """``(state_dict, path)`` of ``name``'s pretrained weights (see ``pretrained_path``), legacy keys remapped."""
    path = pretrained_path(name, weights, label=label)
    state = load_state_dict(path)
    if name.startswith("densenet"):
        remap_legacy_densenet_keys(state)
    return state, path

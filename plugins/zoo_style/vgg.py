"""VGG-19 as a feature extractor: the convolutional part, cut after the deepest layer asked for.

``VGG19Features(layers)(images)`` returns ``{layer name: activation}`` for images in [0, 1].
Its parameters are named as in torchvision (``features.0.weight`` ...), so torchvision's
ImageNet checkpoint loads as it is; the classifier is never built. ImageNet normalisation is
folded into the network: the input's mean is subtracted and the first convolution's weights are
divided by the standard deviation, which is exactly ``conv((x - mean) / std)`` with zero padding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo import UserError
from zoo.toolkit import downloads_allowed, find_or_download, load_state_dict
from zoo_style.layers import BLOCKS, LAYER_INDEX, LAYER_NAMES, PAPER_CONTENT_LAYER, PAPER_STYLE_LAYERS, check_layers

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# torchvision's ImageNet VGG-19 (VGG19_Weights.IMAGENET1K_V1); torch.hub caches it under this name.
VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"


def _vgg19_modules(depth: int, pool: str) -> list:
    """torchvision's ``vgg19().features`` modules ``[0 .. depth]`` (max or average pooling)."""
    modules, in_channels = [], 3
    for block, convs, channels in BLOCKS:
        for _ in range(convs):
            modules += [nn.Conv2d(in_channels, channels, 3, padding=1), nn.ReLU(inplace=True)]
            in_channels = channels
        modules.append(nn.MaxPool2d(2, 2) if pool == "max" else nn.AvgPool2d(2, 2))
    return modules[: depth + 1]


class VGG19Features(nn.Module):
    """VGG-19 features up to the deepest of ``layers``; ``forward`` returns those activations.

    ``layers``: names such as ``conv4_2`` (a convolution's output, before its ReLU),
    ``relu4_2`` or ``pool4``; ``pool``: ``"max"`` (torchvision's) or ``"avg"`` (the paper's
    suggestion for smoother images). Weights start random (torchvision's initialisation);
    ``load_vgg19_state_dict`` fills them. ``weights_source`` names the file loaded, or None.
    """

    def __init__(self, layers: Sequence[str], pool: Literal["max", "avg"] = "max"):
        super().__init__()
        if pool not in ("max", "avg"):
            raise ValueError(f"pool must be 'max' or 'avg', not {pool!r}")
        self.layers = tuple(dict.fromkeys(check_layers(layers, "layers")))
        self.pool = pool
        depth = max(LAYER_INDEX[name] for name in self.layers)
        self.features = nn.Sequential(*_vgg19_modules(depth, pool))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("inv_std", 1.0 / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.weights_source: Optional[str] = None
        # A ReLU may overwrite its input unless that input is an activation we hand out.
        self._relu_inplace = [i > 0 and LAYER_NAMES[i - 1] not in self.layers for i in range(depth + 1)]
        # Channels-last activations let oneDNN (CPU) and cuDNN skip layout conversions.
        self.memory_format = torch.channels_last
        self.reset_parameters()
        self.to(memory_format=self.memory_format)

    def reset_parameters(self) -> None:
        """Random weights as torchvision initialises VGG (Kaiming normal, fan-out; zero bias)."""
        for module in self.features:
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)

    @property
    def depth(self) -> int:
        """Index (in torchvision's ``features``) of the last layer built."""
        return len(self.features) - 1

    def center(self, images: Tensor) -> Tensor:
        """``images - ImageNet mean``: the input ``forward(..., centered=True)`` expects."""
        return images - self.mean

    def forward(self, images: Tensor, *, centered: bool = False) -> dict:
        """Activations of ``images`` (N×3×H×W, RGB in [0, 1]) at ``self.layers``, by name.

        With ``centered=True`` the images have had the ImageNet mean subtracted already
        (``center``); an optimiser working on the centred image saves that step every call.
        The images are cast to the network's dtype (a ``.to(torch.bfloat16)`` copy computes
        in bfloat16); activations come out in that dtype.
        """
        x = images if centered else self.center(images)
        x = x.to(self.features[0].weight.dtype).contiguous(memory_format=self.memory_format)
        wanted, found = self.layers, {}
        for index, module in enumerate(self.features):
            if index == 0:  # ImageNet std folded into the first convolution
                x = F.conv2d(x, module.weight * self.inv_std, module.bias, padding=1)
            elif isinstance(module, nn.ReLU):
                x = F.relu(x, inplace=self._relu_inplace[index])
            else:
                x = module(x)
            name = LAYER_NAMES[index]
            if name in wanted:
                found[name] = x
        return {name: found[name] for name in wanted}

    def extra_repr(self) -> str:
        return f"layers={list(self.layers)}, pool={self.pool!r}, weights={self.weights_source or 'random'}"


def load_vgg19_state_dict(model: VGG19Features, state: dict, source: str = "weights") -> VGG19Features:
    """Copy the convolution weights ``model`` uses from ``state`` (torchvision's vgg19 state dict).

    Keys may be torchvision's (``features.0.weight``) or a bare ``features`` module's
    (``0.weight``); deeper layers and the classifier are ignored. A missing key or a wrong
    shape is a UserError naming ``source``. Returns ``model``.
    """
    own = model.state_dict()
    picked = {}
    for name, tensor in own.items():
        bare = name.removeprefix("features.")
        value = state.get(name, state.get(bare))
        if value is None:
            raise UserError(f"{source}: no tensor {name!r} in the state dict; is it a VGG-19 checkpoint?")
        if value.shape != tensor.shape:
            raise UserError(
                f"{source}: {name!r} has shape {tuple(value.shape)}, VGG-19 needs {tuple(tensor.shape)}"
            )
        picked[name] = value
    model.load_state_dict(picked)
    return model


def vgg19_features(
    layers: Optional[list[str]] = None,
    pretrained: bool = False,
    weights: Optional[str] = None,
    pool: Literal["max", "avg"] = "max",
) -> VGG19Features:
    """VGG-19 feature extractor returning the activations of chosen layers, frozen, in eval mode.

    layers: layer names to return (conv1_1 ... conv5_4, relu1_1 ... relu5_4, pool1 ... pool5);
        the network is built only up to the deepest one. Default: the style-transfer paper's
        conv1_1, conv2_1, conv3_1, conv4_1, conv4_2, conv5_1.
    pretrained: load torchvision's ImageNet weights from the torch.hub cache
        ($TORCH_HOME/hub/checkpoints/vgg19-dcbb9e9d.pth, hash-checked); downloaded there only
        when the network may be used (ZOO_OFFLINE unset).
    weights: path of a VGG-19 state dict to load instead (torchvision's key names).
    pool: "max" (torchvision's VGG) or "avg" (average pooling, as the paper suggests).
    Called with its input in [0, 1] (N×3×H×W RGB); ImageNet normalisation is built in.
    Without pretrained or weights the weights are random (``weights_source`` is None); the
    style_transfer task then warns that the quality will be poor.
    """
    names = list(layers) if layers else [*PAPER_STYLE_LAYERS[:4], PAPER_CONTENT_LAYER, PAPER_STYLE_LAYERS[4]]
    model = VGG19Features(check_layers(names, "model.layers"), pool=pool)
    path = weights_file(pretrained, weights)
    if path is not None:
        load_vgg19_state_dict(model, load_state_dict(path), source=str(path))
        model.weights_source = str(path)
    return model.eval().requires_grad_(False)


def weights_file(pretrained: bool, weights: Optional[str]) -> Optional[Path]:
    """The file to load: ``weights`` when given; torchvision's cached VGG-19 when ``pretrained``; else None.

    The cached file is ``$TORCH_HOME/hub/checkpoints/vgg19-dcbb9e9d.pth``, hash-checked, and
    downloaded only where ``zoo.toolkit.downloads_allowed()``; when it cannot be had the
    UserError says where it was looked for and how to get it.
    """
    if weights:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise UserError(f"model.weights: weights file not found: {path}")
        return path
    if pretrained:
        try:
            return find_or_download(VGG19_URL, allow_download=downloads_allowed(), name="vgg19_features")
        except UserError as exc:
            raise UserError(f"model.pretrained: {exc.message}; or set model.pretrained=false to run with "
                            f"random weights (poor quality)") from None
    return None

"""Small operations on built models: find the classifier head, change the input channels."""

import math
from typing import Any, Callable

import torch
from torch import nn


def head_prefixes(build: Callable[[int], nn.Module], model: nn.Module, num_classes: int) -> list:
    """The names of the modules of ``model`` whose parameters depend on the number of classes.

    ``build(k)`` must build the same architecture with ``k`` classes; it is called once on the
    ``meta`` device (no memory, no initialisation cost) with ``num_classes + 1``, and every
    parameter whose shape differs from ``model``'s belongs to the head. This finds the final
    Linear of a ResNet (``fc``), of a DenseNet (``classifier``), the 1x1 conv of SqueezeNet
    (``classifier.1``) or the auxiliary heads of Inception alike, with no per-model table.
    A builder that cannot run on the meta device falls back to ``last_linear_with``.
    """
    try:
        with torch.device("meta"):
            other = build(num_classes + 1)
    except (NotImplementedError, RuntimeError):  # builders that compute with tensors (RegNet)
        return last_linear_with(model, num_classes)
    theirs = other.state_dict()
    prefixes = []
    for key, value in model.state_dict().items():
        if key in theirs and tuple(theirs[key].shape) != tuple(value.shape):
            module = key.rsplit(".", 1)[0]
            if module not in prefixes:
                prefixes.append(module)
    return prefixes


def last_linear_with(model: nn.Module, out_features: int) -> list:
    """``[name]`` of the last ``nn.Linear`` of ``model`` with ``out_features`` outputs (or ``[]``)."""
    found = [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and m.out_features == out_features]
    return found[-1:]


def first_conv(model: nn.Module):
    """``(name, module)`` of the first ``nn.Conv2d`` in ``model`` (module order), or ``(None, None)``."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module
    return None, None


def adapt_conv_weight(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """Turn a conv weight made for C input channels into one for ``in_channels``.

    One channel: the sum over the C channels (a grey image then gives the response an RGB
    image of that grey would). More: the C channels repeated and scaled by C/in_channels, so
    the response keeps its magnitude (timm's adapt_input_conv does the same).
    """
    out_channels, channels = weight.shape[:2]
    if in_channels == 1:
        return weight.sum(dim=1, keepdim=True)
    repeats = math.ceil(in_channels / channels)
    return weight.repeat(1, repeats, 1, 1)[:, :in_channels] * (channels / in_channels)


def adapt_input_channels(model: nn.Module, in_channels: int) -> Any:
    """Make ``model`` take ``in_channels``-channel images by replacing its first conv.

    The new conv keeps the old one's settings and gets the adapted (possibly pretrained)
    weights. Returns the replaced module's name, or None when nothing had to change.
    Raises ValueError when the model has no plain first conv to adapt.
    """
    name, conv = first_conv(model)
    if conv is None:
        raise ValueError(f"{type(model).__name__} has no Conv2d whose input channels could be changed")
    if conv.in_channels == in_channels:
        return None
    if conv.groups != 1:
        raise ValueError(f"the first conv of {type(model).__name__} ({name}) is grouped; cannot change its channels")
    new = nn.Conv2d(
        in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride, padding=conv.padding,
        dilation=conv.dilation, bias=conv.bias is not None, padding_mode=conv.padding_mode,
        device=conv.weight.device, dtype=conv.weight.dtype,
    )
    with torch.no_grad():
        new.weight.copy_(adapt_conv_weight(conv.weight, in_channels))
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    for param in new.parameters():
        param.requires_grad_(conv.weight.requires_grad)
    parent_name, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, attr, new)
    if getattr(model, "transform_input", False):  # Inception's RGB re-normalisation needs 3 channels
        model.transform_input = False
    return name

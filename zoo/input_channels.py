"""Changing a built model's input channels: its first convolution, rebuilt for 1 or N channels.

Pretrained image models take 3-channel (RGB) input; a grey dataset has 1 channel, a
multispectral one more. ``adapt_input_channels`` replaces the model's first ``nn.Conv2d`` with
one for the new channel count whose weights are derived from the old ones, so pretrained
features keep working. torch only.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

__all__ = ["first_conv", "adapt_conv_weight", "adapt_input_channels"]


def first_conv(model: nn.Module) -> tuple:
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
    channels = weight.shape[1]
    if in_channels == 1:
        return weight.sum(dim=1, keepdim=True)
    repeats = math.ceil(in_channels / channels)
    return weight.repeat(1, repeats, 1, 1)[:, :in_channels] * (channels / in_channels)


def adapt_input_channels(model: nn.Module, in_channels: int) -> Optional[str]:
    """Make ``model`` take ``in_channels``-channel images by replacing its first conv.

    The new conv keeps the old one's settings and gets the old (possibly pretrained) weights
    adapted by ``adapt_conv_weight``; it is trainable when the old one was. Returns the replaced
    module's name, or None when nothing had to change. Raises ValueError when the model has no
    plain (ungrouped) first conv to adapt.
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
    return name

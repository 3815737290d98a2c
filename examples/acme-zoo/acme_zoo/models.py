"""acme's models."""

import torch
from torch import nn


def tinynet(num_classes: int = 10, in_channels: int = 1, width: int = 16) -> nn.Module:
    """A two-layer CNN for small images.

    num_classes: outputs (filled from the dataset); in_channels: input channels (filled from
    the dataset); width: channels of the first convolution (the second has twice as many).
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(2 * width, num_classes),
    )

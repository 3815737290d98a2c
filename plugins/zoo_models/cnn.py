"""``cnn``: the seeds' CIFAR-10 network, sized for any input (8x8 digits to 32x32 and up)."""

import torch
import torch.nn.functional as F
from torch import nn

from zoo import UserError
from zoo_models.shapes import image_hw, positive, probability


def pooled_stages(height: int, width: int, stages: int) -> tuple:
    """Which conv stages are followed by the 2x2 max-pool: each one while the image is still
    at least 2x2 (so 8x8 gets three pools, 4x4 two, 1x1 none), and the resulting (H, W)."""
    pooled = []
    for _ in range(stages):
        do_pool = min(height, width) >= 2
        pooled.append(do_pool)
        if do_pool:
            height, width = height // 2, width // 2
    return tuple(pooled), (height, width)


class CNN(nn.Module):
    """Conv3x3 (pad 1) + ReLU + MaxPool2 per stage, dropout, fc, ReLU, dropout, fc.

    With the defaults on 32x32x3 it is exactly the seeds' ``Net`` (conv1 16, conv2 32, conv3 64,
    fc1 64*4*4 -> 500, fc2 500 -> 10, dropout 0.25), with the same layer names, so the seeds'
    saved state dicts load as they are.
    """

    def __init__(self, in_channels: int, image_size: tuple, num_classes: int, channels: list,
                 hidden: int, dropout: float):
        super().__init__()
        widths = [in_channels, *channels]
        for i in range(len(channels)):
            setattr(self, f"conv{i + 1}", nn.Conv2d(widths[i], widths[i + 1], 3, padding=1))
        self.pool = nn.MaxPool2d(2, 2)
        self.pooled, (height, width) = pooled_stages(*image_size, len(channels))
        self.image_size = tuple(image_size)
        self.flat_features = widths[-1] * height * width
        self.fc1 = nn.Linear(self.flat_features, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        self.dropout = nn.Dropout(dropout)
        self.zoo_head = "fc2"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.image_size:
            raise ValueError(f"cnn was built for {self.image_size[0]}x{self.image_size[1]} images; "
                             f"got {x.shape[-2]}x{x.shape[-1]} (set model.image_size)")
        for i, pooled in enumerate(self.pooled):
            x = F.relu(getattr(self, f"conv{i + 1}")(x))
            if pooled:
                x = self.pool(x)
        x = self.dropout(x.flatten(1))
        x = self.dropout(F.relu(self.fc1(x)))
        return self.fc2(x)


def build_cnn(
    in_channels: int = 3,
    image_size: int | list[int] = 32,
    num_classes: int = 10,
    channels: list[int] = [16, 32, 64],
    hidden: int = 500,
    dropout: float = 0.25,
) -> nn.Module:
    """A small convolutional classifier: the seeds' CIFAR-10 CNN, adapted to the input size.

    in_channels: channels of the input images, 1 or 3 (filled from the dataset).
    image_size: height (= width) or [height, width] (filled from the dataset); each conv stage
        halves it with a 2x2 max-pool while it is at least 2 pixels, so 8x8 digits, 28x28
        MNIST and 32x32 CIFAR all work.
    num_classes: outputs (filled from the dataset).
    channels: output channels of the 3x3 conv stages.
    hidden: size of the fully connected hidden layer.
    dropout: dropout probability before each fully connected layer.
    """
    if not channels:
        raise UserError("model.channels: expected at least one conv stage, e.g. [16, 32, 64]")
    for i, width in enumerate(channels):
        positive(width, f"model.channels[{i}]")
    return CNN(positive(in_channels, "model.in_channels"), image_hw(image_size),
               positive(num_classes, "model.num_classes"), list(channels),
               positive(hidden, "model.hidden"), probability(dropout, "model.dropout"))

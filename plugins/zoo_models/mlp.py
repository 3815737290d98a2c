"""``mlp``: the seeds' fully connected MNIST classifier (784 -> 512 -> 512 -> 10)."""

import torch
import torch.nn.functional as F
from torch import nn

from zoo_models.shapes import image_hw, positive, probability


class MLP(nn.Module):
    """Flatten, then Linear+ReLU+Dropout per hidden layer, then a Linear to the classes.

    Layers are named ``fc1``, ``fc2``, ... and ``dropout`` as in the seeds' notebook, so its
    saved state dicts load as they are.
    """

    def __init__(self, in_features: int, hidden: list, num_classes: int, dropout: float):
        super().__init__()
        sizes = [in_features, *hidden, num_classes]
        self.in_features = in_features
        self.depth = len(sizes) - 1
        for i in range(self.depth):
            setattr(self, f"fc{i + 1}", nn.Linear(sizes[i], sizes[i + 1]))
        self.dropout = nn.Dropout(dropout)
        self.zoo_head = f"fc{self.depth}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        if x.shape[1] != self.in_features:
            raise ValueError(f"mlp was built for inputs of {self.in_features} values; got {x.shape[1]}")
        for i in range(1, self.depth):
            x = self.dropout(F.relu(getattr(self, f"fc{i}")(x)))
        return getattr(self, f"fc{self.depth}")(x)


def build_mlp(
    in_channels: int = 1,
    image_size: int | list[int] = 28,
    num_classes: int = 10,
    hidden: list[int] = [512, 512],
    dropout: float = 0.2,
) -> nn.Module:
    """A fully connected classifier: the seeds' MNIST MLP (784 -> 512 -> 512 -> 10, ReLU, dropout 0.2).

    in_channels: channels of the input images (filled from the dataset).
    image_size: height (= width) or [height, width] of the images (filled from the dataset).
    num_classes: outputs (filled from the dataset).
    hidden: sizes of the hidden layers ([] for a linear classifier).
    dropout: dropout probability after each hidden layer.
    """
    height, width = image_hw(image_size)
    for i, size in enumerate(hidden):
        positive(size, f"model.hidden[{i}]")
    in_features = positive(in_channels, "model.in_channels") * height * width
    return MLP(in_features, list(hidden), positive(num_classes, "model.num_classes"),
               probability(dropout, "model.dropout"))


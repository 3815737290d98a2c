"""Finding the classifier head of a torchvision model, whatever its architecture."""

from typing import Callable

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

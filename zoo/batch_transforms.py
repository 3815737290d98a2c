"""Batch transforms: what turns a gathered batch of images into model input.

A dataset plugin builds its preprocessing as callables on whole batches (B×C×H×W float
tensors), so one call resizes, normalises or augments every sample of a batch at once, on
whatever device the images live: ``transform(x) -> x`` is deterministic (resize, channels,
normalisation), ``augment(x, generator) -> x`` random (it draws its parameters per sample from
``generator``). ``BatchCompose`` and ``RandomBatchCompose`` chain them; ``finish_batch`` is
the one path every image dataset sends its batches through. torch only.
"""

from __future__ import annotations

from typing import Callable, Iterable, Optional

import torch

__all__ = ["BatchTransform", "BatchAugment", "BatchCompose", "RandomBatchCompose", "finish_batch"]

#: ``transform(x) -> x``: deterministic, on a float batch B×C×H×W.
BatchTransform = Callable[[torch.Tensor], torch.Tensor]
#: ``augment(x, generator) -> x``: random, on a float batch B×C×H×W in [0, 1].
BatchAugment = Callable[[torch.Tensor, Optional[torch.Generator]], torch.Tensor]


class BatchCompose:
    """Apply deterministic batch transforms ``f(x) -> x`` one after the other."""

    def __init__(self, transforms: Iterable[BatchTransform]):
        self.transforms = list(transforms)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for transform in self.transforms:
            x = transform(x)
        return x

    def __repr__(self) -> str:
        return f"BatchCompose({self.transforms!r})"


class RandomBatchCompose:
    """Apply random batch augmentations ``f(x, generator) -> x`` one after the other."""

    def __init__(self, augments: Iterable[BatchAugment]):
        self.augments = list(augments)

    def __call__(self, x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        for augment in self.augments:
            x = augment(x, generator)
        return x

    def __repr__(self) -> str:
        return f"RandomBatchCompose({self.augments!r})"


def finish_batch(
    x: torch.Tensor,
    *,
    transform: Optional[BatchTransform] = None,
    augment: Optional[BatchAugment] = None,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Turn a gathered batch into model input: to float in [0, 1], augment, transform.

    ``x``: B×C×H×W, uint8 (0..255) or floating point (0..1). ``augment`` (when given) is
    called as ``augment(x, generator)`` before ``transform(x)``. Returns a float32 batch.
    Every image dataset (``zoo.image_datasets``) goes through it, so all give the same values.
    """
    if x.dtype == torch.uint8:
        x = x.float().div_(255.0)  # exactly as torchvision ToTensor
    elif x.dtype != torch.float32:
        x = x.float()
    if augment is not None:
        x = augment(x, generator)
    if transform is not None:
        x = transform(x)
    return x

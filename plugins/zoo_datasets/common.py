"""Assembling a ``zoo.Splits`` from decoded tensors and a resolved pipeline."""

from __future__ import annotations

import sys
from typing import Sequence

import torch

from zoo import Splits, UserError
from zoo.toolkit import TensorImageDataset, split_indices
from zoo_datasets.images import LazyImageDataset, decode_images, image_size_notes, readable_header, warn_skipped
from zoo_datasets.transforms import Pipeline

ON_ERROR = ("fail", "skip")


def check_fraction(key: str, value: float) -> float:
    """Return ``value`` if it lies strictly between 0 and 1, else raise UserError naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
        raise UserError(f"{key}: expected a fraction between 0 and 1 (exclusive), got {value!r}")
    return float(value)


def check_on_error(on_error: str) -> str:
    """Return ``on_error`` if it is "fail" or "skip", else raise UserError."""
    if on_error not in ON_ERROR:
        raise UserError(f"on_error: expected 'fail' or 'skip', got {on_error!r}")
    return on_error


def check_labels(labels: torch.Tensor, classes: Sequence[str], source: str) -> None:
    """Raise UserError naming ``source`` when a label is outside ``0..len(classes)-1``."""
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= len(classes)):
        raise UserError(
            f"{source}: labels must lie in 0..{len(classes) - 1}, found {int(labels.min())}..{int(labels.max())} "
            f"(corrupt file?)"
        )


def tensor_dataset(images: torch.Tensor, labels: torch.Tensor, classes, pipeline: Pipeline, *, train: bool):
    """A ``TensorImageDataset`` for one split; only training splits get the augmentation."""
    return TensorImageDataset(
        images,
        labels,
        classes=classes,
        transform=pipeline.transform,
        augment=pipeline.augment if train else None,
    )


def make_splits(
    train,
    test,
    *,
    classes: Sequence[str],
    pipeline: Pipeline,
    info: dict,
    valid=None,
) -> Splits:
    """Wrap the datasets of each split in a ``zoo.Splits`` whose ``info`` also says shapes and counts."""
    counts = {"train": len(train), "test": len(test)}
    if valid is not None:
        counts["valid"] = len(valid)
    details = dict(info)
    details.update(
        sample_shape=list(train.sample_shape),
        counts=counts,
        num_classes=len(classes),
        cached=isinstance(train, TensorImageDataset),
        **pipeline.describe(),
    )
    return Splits(train=train, test=test, valid=valid, classes=list(classes), info=details)


def seeded_subsets(dataset, fraction: float, seed: int) -> tuple:
    """Split ``dataset`` into ``(rest, held_out)`` subsets, stratified by label, seeded."""
    rest, held = split_indices(dataset.targets, fraction, seed=seed)
    return dataset.subset(rest), dataset.subset(held)


def size_notes(samples: Sequence[tuple], size: int, source: str) -> list:
    """The log notes an image-file dataset's ``info`` carries about its image size (see
    ``images.image_size_notes``); a warning about upscaled files is printed now."""
    note, warning = image_size_notes([path for path, _ in samples], size, source)
    if warning is not None:
        print(f"zoo: warning: {warning}", file=sys.stderr)
    return [note]


def image_dataset(
    samples: Sequence[tuple],
    classes: Sequence[str],
    pipeline: Pipeline,
    size: int,
    *,
    plan: str,
    on_error: str,
) -> tuple:
    """A dataset of image files ``samples`` (``(path, label)`` pairs) at ``size`` × ``size``.

    ``plan`` (``images.decode_plan``): "memory" decodes every file now into a
    ``TensorImageDataset``; "file" and "none" make a ``LazyImageDataset`` that decodes each
    file when first read, at most once ("file", into a memory-mapped file) or at every read
    ("none"); with on_error "skip", files whose header cannot be read are left out now. The dataset carries the pipeline's augmentation (callers take
    it off with ``without_augment()`` for evaluation splits). Returns ``(dataset, skipped
    paths as strings)``.
    """
    mode = "L" if pipeline.channels == 1 else "RGB"
    if plan == "memory":
        images, kept = decode_images([p for p, _ in samples], size, mode, on_error=on_error)
        labels = torch.tensor([samples[i][1] for i in kept], dtype=torch.long)
        dataset = tensor_dataset(images, labels, classes, pipeline, train=True)
    else:
        kept = list(range(len(samples)))
        if on_error == "skip":
            kept = []
            for i, (path, _) in enumerate(samples):
                reason = readable_header(path)
                if reason is None:
                    kept.append(i)
                else:
                    warn_skipped(path, reason)
        dataset = LazyImageDataset(
            [samples[i][0] for i in kept],
            [samples[i][1] for i in kept],
            size=size,
            mode=mode,
            classes=classes,
            transform=pipeline.transform,
            augment=pipeline.augment,
            decode_once=plan == "file",
        )
    kept_set = set(kept)
    skipped = [str(path) for i, (path, _) in enumerate(samples) if i not in kept_set]
    return dataset, skipped

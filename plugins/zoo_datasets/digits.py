"""``digits``: scikit-learn's embedded 8×8 handwritten digits (no download, no files)."""

from typing import Optional

import torch

from zoo.toolkit import split_indices
from zoo_datasets.common import check_fraction, make_splits, tensor_dataset
from zoo_datasets.transforms import AugmentSpec, NormalizeSpec, build_pipeline


def digits_tensors() -> tuple:
    """The 1,797 digits as ``(uint8 images N×1×8×8 scaled 0..255, int64 labels)``."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(bunch.images).mul(255.0 / 16.0).round().clamp(0, 255).to(torch.uint8)
    return images.unsqueeze(1).contiguous(), torch.from_numpy(bunch.target).long()


def digits(
    test_fraction: float = 0.2,
    augment: AugmentSpec = None,
    normalize: NormalizeSpec = None,
    image_size: Optional[int] = None,
    channels: Optional[int] = None,
    seed: int = 0,
):
    """scikit-learn's 1,797 handwritten digits (8×8 grayscale, 10 classes), shipped offline.

    test_fraction: share of the images held out for testing, per class (seeded).
    augment: list of batch augmentations, applied to the training split only.
    normalize: null, a preset name or {mean: [..], std: [..]}.
    image_size: resize every image to this square side (e.g. 28 for MNIST-sized input;
      default 8, unchanged); resizing happens on each batch.
    channels: 3 to repeat the gray channel as RGB.
    seed: seeds the train/test split.
    """
    test_fraction = check_fraction("test_fraction", test_fraction)
    images, labels = digits_tensors()
    classes = [str(d) for d in range(10)]
    pipeline = build_pipeline(
        source_channels=1, augment=augment, normalize=normalize, image_size=image_size, channels=channels
    )
    train_idx, test_idx = split_indices(labels, test_fraction, seed=seed)
    return make_splits(
        tensor_dataset(images[train_idx], labels[train_idx], classes, pipeline, train=True),
        tensor_dataset(images[test_idx], labels[test_idx], classes, pipeline, train=False),
        classes=classes,
        pipeline=pipeline,
        info={"source": "sklearn.datasets.load_digits", "split": f"test_fraction {test_fraction} (seed {seed})"},
    )

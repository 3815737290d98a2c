"""Image datasets served a batch at a time: what a classification dataset's splits are.

``TensorImageDataset`` holds a whole split as one tensor of images decoded once (uint8, or
float in [0, 1]) and one int64 tensor of labels. A batch is gathered with one indexing
operation, converted to float, augmented with per-sample random parameters drawn for the
whole batch at once, and transformed (resize, channels, normalisation) as one tensor, on
whatever device the images live (``zoo.batch_transforms``). This replaces the per-sample PIL
round trip of a ``torchvision`` dataset plus ``DataLoader`` with a few tensor operations per
batch.

``ImageBatchDataset`` is what every such dataset shares (items through ``batch()``, views,
``prepare``, ``sample_shape``); ``TensorImageDataset`` and the plugins' lazy file-backed
dataset are its subclasses. It imports torch and nothing else from outside the standard library.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Optional, Sequence, Union

import torch
from torch.utils.data import Dataset

from zoo.batch_transforms import BatchAugment, BatchTransform, finish_batch
from zoo.feature_store import digest

__all__ = ["ImageBatchDataset", "TensorImageDataset", "Indices"]

#: Positions in a dataset: a LongTensor or a sequence of ints.
Indices = Union[torch.Tensor, Sequence[int]]


def _as_index(indices: Indices) -> torch.Tensor:
    if isinstance(indices, torch.Tensor):
        return indices.long().reshape(-1)
    return torch.as_tensor(list(indices), dtype=torch.long).reshape(-1)


class ImageBatchDataset(Dataset, ABC):
    """A split of images served by ``batch()``, item by item, or as views; the shared part.

    Subclasses hold the images their own way and provide ``batch(indices, *, augment=True,
    generator=None)``, ``__len__``, ``subset(indices)``, ``targets``, ``stored_shape`` and,
    when their images are not on the CPU, ``device``; ``copy_with`` makes their views.
    Everything else comes from here, built on those: items are ``(float tensor C×H×W,
    int label)`` computed through ``batch()`` with a batch of one, so item-wise and batch-wise
    access give the same values.

    ``classes``: the class names, ``classes[i]`` naming label ``i`` (optional).
    ``transform``: deterministic batch callable ``f(x) -> x`` applied to every batch.
    ``augment``: random batch callable ``f(x, generator) -> x`` applied before ``transform``
    when a batch asks for it (training).
    """

    def __init__(
        self,
        *,
        classes: Optional[Sequence[str]] = None,
        transform: Optional[BatchTransform] = None,
        augment: Optional[BatchAugment] = None,
    ):
        self._classes = list(classes) if classes is not None else None
        self.transform = transform
        self.augment = augment
        self._sample_shape: Optional[tuple] = None  # (transform, stored_shape, shape) once probed

    # -- what subclasses provide ---------------------------------------------------------

    @abstractmethod
    def batch(self, indices: Indices, *, augment: bool = True, generator: Optional[torch.Generator] = None) -> tuple:
        """The samples at ``indices`` as ``(x float B×C×H×W, y int64 B)``, augmented when asked.

        ``indices``: positions in ``[0, len(self))``. ``augment``: apply the augmentation
        (when the dataset has one). ``generator``: what the augmentation draws from.
        """

    @abstractmethod
    def __len__(self) -> int:
        """How many samples this dataset holds."""

    @abstractmethod
    def subset(self, indices: Indices) -> "ImageBatchDataset":
        """A view holding the samples at ``indices`` (negatives count from the end)."""

    @property
    @abstractmethod
    def targets(self) -> torch.Tensor:
        """The labels of this dataset's samples, int64, in order."""

    @property
    @abstractmethod
    def stored_shape(self) -> tuple:
        """``(C, H, W)`` of one sample as stored, before the transform (what ``prepare`` takes)."""

    @property
    def device(self) -> torch.device:
        """The device the stored images live on, where batches are made (the CPU here)."""
        return torch.device("cpu")

    # -- items ---------------------------------------------------------------------------

    def __getitem__(self, i: int) -> tuple:
        """Sample ``i`` as ``(float tensor C×H×W, int label)`` (augmented when the dataset is).

        Negative ``i`` counts from the end; outside the dataset raises ``IndexError``.
        """
        n = len(self)
        i = int(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"index {i} out of range for a dataset of {n} samples")
        x, y = self.batch(torch.tensor([i]))
        return x[0], int(y[0])

    def __getitems__(self, indices: Sequence[int]) -> list:
        """Many samples through one ``batch()`` call (``torch.utils.data.DataLoader`` uses it).

        Returns a list of ``(float tensor C×H×W, int label)``, one per index.
        """
        x, y = self.batch(indices)
        return list(zip(x.unbind(0), y.tolist()))

    # -- views ---------------------------------------------------------------------------

    def copy_with(self, **changes) -> "ImageBatchDataset":
        """A shallow copy of this dataset with the attributes ``changes`` names replaced.

        What views are made of (``without_augment``, and a subclass's ``subset``): the copy
        shares everything else, image storage included.
        """
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view.__dict__.update(changes)
        return view

    def without_augment(self) -> "ImageBatchDataset":
        """The same samples with no augmentation (for validation and testing)."""
        return self.copy_with(augment=None)

    # -- descriptions --------------------------------------------------------------------

    @property
    def has_augment(self) -> bool:
        """Whether batches are augmented (unless ``batch(augment=False)`` is asked)."""
        return self.augment is not None

    @property
    def classes(self) -> Optional[list]:
        """The class names (``classes[i]`` names label ``i``), or None."""
        return None if self._classes is None else list(self._classes)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Turn new images into model input exactly as this dataset's samples (no augmentation).

        ``images``: B×C×H×W at ``stored_shape``, uint8 (0..255) or floating point (0..1).
        Returns the float32 batch after the transform, on the device of this dataset.
        """
        return finish_batch(images.to(self.device), transform=self.transform)

    def preprocessing(self) -> dict:
        """How an image file becomes a sample of this dataset (no augmentation), as a model card
        holds it (``zoo.preprocessing``): read at ``stored_shape``, scaled to [0, 1], then the
        transform step by step. Raises ``ValueError`` for a transform step that does not
        describe itself (a ``describe()`` method returning one of ``zoo.preprocessing.STEP_OPS``).
        """
        from zoo.preprocessing import describe

        return describe(self.stored_shape, self.transform)

    def content_digest(self) -> Optional[str]:
        """A digest of what this dataset's unaugmented samples are made of (its stored images
        or the files they come from, their order, the labels and the transform), equal across
        runs for the same samples: what keys computed features on disk. None when the dataset
        can't say (a subclass reading files should override it)."""
        return None

    @property
    def sample_shape(self) -> tuple:
        """``(C, H, W)`` of one sample after the transform (probed once per transform)."""
        stored = tuple(self.stored_shape)
        probed = self._sample_shape
        if probed is None or probed[0] is not self.transform or probed[1] != stored:
            probe = torch.zeros((1,) + stored, device=self.device)
            if self.transform is not None:
                probe = self.transform(probe)
            probed = self._sample_shape = (self.transform, stored, tuple(probe.shape[1:]))
        return probed[2]


class TensorImageDataset(ImageBatchDataset):
    """A split of images held as one tensor, served by ``batch()`` or item by item.

    ``images``: N×C×H×W, uint8 (0..255) or floating point (0..1), decoded once.
    ``labels``: N integer labels (stored as int64).
    ``classes``: the class names, ``classes[i]`` naming label ``i`` (optional).
    ``transform``: deterministic batch callable ``f(x) -> x`` applied to every batch
    (resize, grayscale to RGB, normalisation), ``x`` float B×C×H×W in [0, 1].
    ``augment``: random batch callable ``f(x, generator) -> x`` applied before ``transform``
    when a batch asks for it (training); it draws its own parameters per sample.

    Items are ``(float tensor C×H×W, int label)``, computed through ``batch()`` with a batch
    of one, so item-wise and batch-wise access give the same values (``ImageBatchDataset``).
    Batches are made on the device of the images (see ``to``).
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: Union[torch.Tensor, Sequence[int]],
        *,
        classes: Optional[Sequence[str]] = None,
        transform: Optional[BatchTransform] = None,
        augment: Optional[BatchAugment] = None,
    ):
        if not isinstance(images, torch.Tensor) or images.dim() != 4:
            raise ValueError(f"images must be a tensor N×C×H×W, got {_describe(images)}")
        if images.dtype != torch.uint8 and not images.is_floating_point():
            raise ValueError(f"images must be uint8 or floating point, got {images.dtype}")
        labels = torch.as_tensor(labels)
        if labels.dim() != 1 or labels.is_floating_point() or labels.dtype == torch.bool:
            raise ValueError(f"labels must be a 1-D integer tensor, got {_describe(labels)}")
        if labels.numel() != images.shape[0]:
            raise ValueError(f"{images.shape[0]} images but {labels.numel()} labels")
        super().__init__(classes=classes, transform=transform, augment=augment)
        self._images = images
        self._labels = labels.to(device=images.device, dtype=torch.long)
        self._index: Optional[torch.Tensor] = None  # rows of _images this view holds
        self._digests: dict = {}  # the images' digest, computed once, shared with the views

    # -- the batch path ------------------------------------------------------------------

    def batch(
        self,
        indices: Indices,
        *,
        augment: bool = True,
        generator: Optional[torch.Generator] = None,
    ) -> tuple:
        """Gather, convert, augment and transform the samples at ``indices``.

        ``indices``: positions in this dataset, in ``[0, len(self))`` (a LongTensor or a
        sequence of ints). ``augment``: apply the augmentation (when the dataset has one).
        ``generator``: the ``torch.Generator`` the augmentation draws from (the global one
        when None). Returns ``(x, y)``: ``x`` float B×C×H×W and ``y`` int64 B, on the device
        of the images.
        """
        rows = _as_index(indices).to(self._images.device)
        if self._index is not None:
            rows = self._index.index_select(0, rows)
        x = finish_batch(
            self._images.index_select(0, rows),
            transform=self.transform,
            augment=self.augment if augment else None,
            generator=generator,
        )
        return x, self._labels.index_select(0, rows)

    def __len__(self) -> int:
        """How many samples this dataset (or view) holds."""
        return self._images.shape[0] if self._index is None else self._index.numel()

    # -- views ---------------------------------------------------------------------------

    def subset(self, indices: Indices) -> "TensorImageDataset":
        """The samples at ``indices`` (positions in this dataset, negatives count from the end).

        The result shares this dataset's image storage; only an index is kept.
        """
        n = len(self)
        idx = _as_index(indices).to(self._images.device)
        idx = torch.where(idx < 0, idx + n, idx)
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= n):
            raise IndexError(f"subset indices out of range for a dataset of {n} samples")
        if self._index is not None:
            idx = self._index.index_select(0, idx)
        return self.copy_with(_index=idx)

    def to(self, device: Union[str, torch.device]) -> "TensorImageDataset":
        """A copy whose images and labels live on ``device`` (the same object when already there)."""
        device = torch.device(device)
        if self._images.device == device:
            return self
        index = self._index.to(device) if self._index is not None else None
        return self.copy_with(
            _images=self._images.to(device), _labels=self._labels.to(device), _index=index
        )

    # -- descriptions --------------------------------------------------------------------

    @property
    def targets(self) -> torch.Tensor:
        """The labels of this dataset's samples, int64, in order."""
        if self._index is None:
            return self._labels
        return self._labels.index_select(0, self._index)

    @property
    def device(self) -> torch.device:
        """The device the images and labels live on, where batches are made."""
        return self._images.device

    @property
    def stored_shape(self) -> tuple:
        """``(C, H, W)`` of one sample as stored, before the transform (what ``prepare`` takes)."""
        return tuple(self._images.shape[1:])

    def content_digest(self) -> str:
        """A digest of the stored images and labels this view holds, in order, and the
        transform (see ``ImageBatchDataset.content_digest``); the images' storage is digested
        once and shared by the views made of it."""
        memo = self._digests
        if "images" not in memo:
            memo["images"] = digest(self._images, self._labels)
        return digest(memo["images"], self._index, repr(self.transform))

    @property
    def nbytes(self) -> int:
        """Bytes held by the image and label tensors (shared by subsets and views)."""
        return (
            self._images.numel() * self._images.element_size()
            + self._labels.numel() * self._labels.element_size()
        )

    def __repr__(self) -> str:
        c, h, w = self.sample_shape
        return (
            f"TensorImageDataset({len(self)} samples, {c}×{h}×{w}, "
            f"{len(self._classes) if self._classes is not None else '?'} classes, "
            f"augment={'yes' if self.has_augment else 'no'}, device={self.device})"
        )


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    return type(value).__name__

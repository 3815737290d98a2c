"""Kept for plugins written before ``zoo.toolkit``: the in-memory image datasets and batch
transforms that lived here, under the names they had.

Importing this module warns (``DeprecationWarning``) and gives the toolkit's objects themselves,
so ``isinstance`` checks and subclasses keep working. New code imports them from
``zoo.toolkit``; this module goes away in a later minor release (docs/toolkit.md).
"""

from __future__ import annotations

import warnings

from zoo.toolkit import (BatchCompose, ImageBatchDataset, RandomBatchCompose, TensorImageDataset, finish_batch,
                         split_indices)

__all__ = ["ImageBatchDataset", "TensorImageDataset", "BatchCompose", "RandomBatchCompose", "finish_batch",
           "split_indices"]

warnings.warn("zoo.data is deprecated: import ImageBatchDataset, TensorImageDataset, BatchCompose, "
              "RandomBatchCompose, finish_batch and split_indices from zoo.toolkit", DeprecationWarning, stacklevel=2)

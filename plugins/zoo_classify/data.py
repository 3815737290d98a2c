"""The data a classification run trains, validates and tests on: ``ClassificationData``.

``load_data(run, valid_fraction)`` builds the recipe's ``data:`` section and holds out a seeded,
stratified validation part when the dataset has no validation split of its own;
``ClassificationData.check_labels`` checks that every label is one of the classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch.utils.data import Dataset

from zoo import UserError
from zoo.toolkit import split_indices
from zoo_classify.batches import eval_view, labels_of, sample_shape, split_off


@dataclass(frozen=True)
class ClassificationData:
    """The splits of one run and what is known of them.

    ``train`` (possibly augmented), ``valid`` and ``test`` (never augmented; ``test`` None
    when the dataset has none) are map-style datasets of ``(image, label)``; ``classes`` the
    class names (``"0"``, ``"1"``... when the dataset names none), ``num_classes`` their
    number; ``sample_shape`` one image's ``(C, H, W)`` as the model gets it; ``train_labels``
    every training label (a long tensor); ``info`` what the dataset says of itself (e.g.
    ``{"normalize": {"mean": ..., "std": ...}}``).
    """

    train: Dataset
    valid: Dataset
    test: Optional[Dataset]
    classes: list
    num_classes: int
    sample_shape: tuple
    train_labels: torch.Tensor
    info: dict

    @property
    def has_test(self) -> bool:
        """Whether there is a test split with samples in it."""
        return self.test is not None and len(self.test) > 0

    def model_fill(self) -> dict:
        """The model factory's keys the data decides: ``num_classes``, ``in_channels``, ``image_size``."""
        c, h, w = self.sample_shape
        return {"num_classes": self.num_classes, "in_channels": c, "image_size": h if h == w else [h, w]}

    def check_labels(self, where: str) -> None:
        """Raise ``zoo.UserError`` (prefixed with ``where``, the recipe's ``data:`` line) for a
        label outside ``0..num_classes-1`` in any split."""
        k = self.num_classes
        for split, dataset in (("train", self.train), ("valid", self.valid), ("test", self.test)):
            if dataset is None or len(dataset) == 0:
                continue
            labels = self.train_labels if split == "train" else labels_of(dataset)
            bad = labels[(labels < 0) | (labels >= k)]
            if bad.numel():
                raise UserError(f"{where}: the {split} split has label {int(bad[0])}, outside 0..{k - 1} for {k} classes")


def load_data(run: Any, valid_fraction: float) -> ClassificationData:
    """Build ``run``'s data section (a ``zoo.task.Run``) into ``ClassificationData``.

    ``valid_fraction``: the share of the training split held out for validation when the
    dataset gives no validation split (seeded by ``run.seed``, stratified). Raises
    ``zoo.UserError`` for an empty training split.
    """
    where = run.recipe.where(("data",))
    splits = run.build("data")
    train, valid = splits.train, splits.valid
    if valid is None:
        kept, held = split_indices(labels_of(train), valid_fraction, seed=run.seed)
        train, valid = split_off(train, held, kept)
    if len(train) == 0:
        raise UserError(f"{where}: the training split is empty")
    train_labels = labels_of(train)
    classes = list(splits.classes) if splits.classes is not None else None
    num_classes = len(classes) if classes else int(train_labels.max()) + 1
    return ClassificationData(
        train=train, valid=eval_view(valid), test=eval_view(splits.test) if splits.test is not None else None,
        classes=classes or [str(i) for i in range(num_classes)], num_classes=num_classes,
        sample_shape=sample_shape(train), train_labels=train_labels, info=splits.info or {})

"""The model card of a classification run's best checkpoint, and the test images kept beside it.

Every ``best.pt`` records the card (``zoo.toolkit.model_card``: the model's registry name and
keys, the classes, the input shape, the test split's preprocessing, versions, the run) and
holds ``examples``, a few of the run's test images as the model takes them, so that
``zoo predict`` and ``zoo export`` need only the run folder.
"""

from __future__ import annotations

from typing import Any

import torch

from zoo.toolkit import ImageBatchDataset, model_card
from zoo_classify.batches import first_batch
from zoo_classify.data import ClassificationData

#: How many test images ``best.pt`` keeps as examples of the model's inputs.
EXAMPLES = 8


def classification_card(run: Any, data: ClassificationData, progress: dict) -> dict:
    """The card of the model ``run`` builds for ``data`` (the recipe's model with the data's
    ``num_classes``, ``in_channels`` and ``image_size``), its weights from ``progress``
    (``{"epoch": ..., "valid_loss": ...}``). Its preprocessing is the test split's (None when
    the dataset's transform does not describe itself: see ``ImageBatchDataset.preprocessing``)."""
    dataset = unwrap_subsets(evaluation_split(data))
    preprocessing = None
    if isinstance(dataset, ImageBatchDataset):
        try:
            preprocessing = dataset.preprocessing()
        except ValueError as exc:
            run.log(f"the model card has no preprocessing: {exc}")
    return model_card(run, model_keys=run.checked["model"].arguments(data.model_fill()), classes=data.classes,
                      input_shape=data.sample_shape, preprocessing=preprocessing, progress=progress)


def example_inputs(data: ClassificationData) -> torch.Tensor:
    """Up to ``EXAMPLES`` test images (validation images without a test split) as the model
    takes them, float32 on the CPU."""
    x, _ = first_batch(evaluation_split(data), EXAMPLES)
    return x.detach().to("cpu", torch.float32).contiguous()


def evaluation_split(data: ClassificationData) -> Any:
    """The test split, or the validation split when there are no test samples."""
    return data.test if data.has_test else data.valid


def unwrap_subsets(dataset: Any) -> Any:
    """The dataset under any ``torch.utils.data.Subset`` wrapping ``dataset``."""
    from torch.utils.data import Subset

    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return dataset

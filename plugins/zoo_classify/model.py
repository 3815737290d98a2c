"""The classifier a run trains: built from the recipe's ``model:`` section to fit the data, and
checked with one batch before any training."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from zoo import UserError
from zoo_classify.batches import first_batch
from zoo_classify.data import ClassificationData


def build_model(run: Any, data: ClassificationData) -> nn.Module:
    """The recipe's model (``run``: a ``zoo.task.Run``), given the data's ``num_classes``,
    ``in_channels`` and ``image_size`` where the recipe leaves them unset. Left on the CPU."""
    return run.build("model", fill=data.model_fill())


def check_forward(run: Any, model: nn.Module, data: ClassificationData, batch_size: int) -> None:
    """Push up to ``batch_size`` training images (4 at most) through ``model`` on ``run.device``,
    in eval mode without gradients (the mode it had is restored), so that a model that does
    not fit the data fails before training, clearly.

    Raises ``zoo.UserError`` naming the recipe's ``model:`` line when the model cannot take the
    images or does not give ``(batch, num_classes)`` outputs.
    """
    x, _ = first_batch(data.train, min(batch_size, 4))
    where, model_name = run.recipe.where(("model",)), run.section("model").get("name")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x.to(run.device))
    except Exception as exc:
        raise UserError(f"{where}: model {model_name!r} cannot take the data's {'x'.join(map(str, x.shape[1:]))} "
                        f"images: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}") from None
    finally:
        model.train(was_training)
    k = data.num_classes
    if out.dim() != 2 or out.shape[1] != k:
        raise UserError(f"{where}: model {model_name!r} gives outputs of shape {tuple(out.shape)} but the data has "
                        f"{k} classes (expected (batch, {k}))")

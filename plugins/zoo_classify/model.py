"""The classifier a run trains: built from the recipe's ``model:`` section to fit the data, and
checked with one batch (through the model and the loss) before any training."""

from __future__ import annotations

import warnings
from typing import Any, Optional

import torch
from torch import nn

from zoo import UserError
from zoo_classify.batches import first_batch
from zoo_classify.data import ClassificationData


def build_model(run: Any, data: ClassificationData) -> nn.Module:
    """The recipe's model (``run``: a ``zoo.task.Run``), given the data's ``num_classes``,
    ``in_channels`` and ``image_size`` where the recipe leaves them unset. Left on the CPU."""
    return run.build("model", fill=data.model_fill())


def check_forward(run: Any, model: nn.Module, data: ClassificationData, batch_size: int, criterion: Any) -> None:
    """Push up to ``batch_size`` training images (4 at most) through ``model`` on ``run.device``
    and their outputs and labels through the loss ``criterion``, in eval mode without gradients
    (the mode the model had is restored), so that data, model and loss that do not fit each
    other fail before training, clearly.

    Raises ``zoo.UserError`` naming the recipe's ``data:`` line when the data has fewer than two
    classes, its ``model:`` line when the model cannot take the images or does not give
    ``(batch, num_classes)`` outputs, and its ``loss:`` line when the loss cannot take those
    outputs with class labels or does not give one number.
    """
    k = data.num_classes
    if k < 2:
        root = data.info.get("root")
        raise UserError(f"{run.recipe.where(('data',))}: data {run.section('data').get('name')!r} has only one class "
                        f"({', '.join(map(str, data.classes))}){f' in {root}' if root else ''}: a classifier needs at "
                        f"least two; add the images of another class")
    x, y = first_batch(data.train, min(batch_size, 4))
    where, model_name = run.recipe.where(("model",)), run.section("model").get("name")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x.to(run.device))
    except Exception as exc:
        raise UserError(f"{where}: model {model_name!r} cannot take the data's {'x'.join(map(str, x.shape[1:]))} "
                        f"images: {_one_line(exc)}") from None
    finally:
        model.train(was_training)
    if out.dim() != 2 or out.shape[1] != k:
        raise UserError(f"{where}: model {model_name!r} gives outputs of shape {tuple(out.shape)} but the data has "
                        f"{k} classes (expected (batch, {k}))")
    _check_loss(run, criterion, out, y.to(run.device))


def _check_loss(run: Any, criterion: Any, out: torch.Tensor, y: torch.Tensor) -> None:
    """Raise ``zoo.UserError`` naming the ``loss:`` line when ``criterion(out, y)`` fails or is not one number."""
    where, loss_name = run.recipe.where(("loss",)), run.section("loss").get("name")
    taking = f"the model's {tuple(out.shape)} outputs with the data's class labels ({tuple(y.shape)}, {y.dtype})"
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's broadcasting warning: the error below says it, or training will
            loss = criterion(out, y)
    except UserError as exc:  # the loss's own check (class weights, say)
        raise UserError(f"{where}: {exc}") from None
    except Exception as exc:
        raise UserError(f"{where}: loss {loss_name!r} cannot take {taking}: {_one_line(exc)}") from None
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise UserError(f"{where}: loss {loss_name!r} gives {shape} for {taking}; training needs one number "
                        f"(a loss with reduction mean or sum)")


def log_weights(run: Any, model: nn.Module, num_classes: int) -> None:
    """Log one line saying what loading the model's pretrained weights did (its ``zoo_weights``
    report, as ``zoo.toolkit.apply_state_dict`` gives it): how many tensors came from which
    file, and which modules kept their fresh initialisation. Nothing when the model loaded no
    weights file, or the run resumes (its ``last.pt`` replaces them)."""
    report = getattr(model, "zoo_weights", None)
    if run.resumed or not isinstance(report, dict) or not report.get("source"):
        return
    line = f"weights: {report.get('loaded', 0)} tensors loaded from {report['source']}"
    fresh = sorted({key.rsplit(".", 1)[0] for key in report.get("replaced", ())})
    if fresh:
        line += (f"; {', '.join(fresh)} left freshly initialised (the new classifier for {num_classes} classes, "
                 f"trained from scratch)")
    run.log(line)


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"

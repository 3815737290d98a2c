"""Loss factories: ``factory(**recipe keys) -> loss(output, target) -> scalar tensor``.

Each returns an ``nn.Module``. Class weights given as a list in the recipe become a buffer
that follows the output's device, so a loss built on the CPU works on a model moved to a GPU.
"""

from typing import Literal, Optional

import torch
import torch.nn.functional as F
from torch import nn

from zoo import UserError

Reduction = Literal["mean", "sum"]


def _weights(values: Optional[list], key: str) -> Optional[torch.Tensor]:
    if values is None:
        return None
    tensor = torch.as_tensor(values, dtype=torch.float32)
    if tensor.ndim != 1 or not len(tensor) or (tensor < 0).any():
        raise UserError(f"loss.{key}: expected a list of non-negative numbers, one per class; got {values!r}")
    return tensor


def _on(tensor: Optional[torch.Tensor], like: torch.Tensor) -> Optional[torch.Tensor]:
    return None if tensor is None else tensor.to(device=like.device, dtype=like.dtype)


def _check_classes(weight: Optional[torch.Tensor], output: torch.Tensor, key: str) -> None:
    if weight is not None and output.ndim > 1 and weight.numel() != output.shape[1]:
        raise UserError(
            f"loss.{key} has {weight.numel()} values but the model outputs {output.shape[1]} classes"
        )


def dense_target(target: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """A target shaped and typed like ``output``: integer labels become one-hot rows when
    ``output`` has C>1 columns, and a column when it has one; float targets are reshaped."""
    if not target.is_floating_point():
        if output.ndim == 2 and output.shape[1] > 1 and target.ndim == 1:
            return F.one_hot(target.long(), output.shape[1]).to(output.dtype)
        return target.to(output.dtype).reshape(output.shape)
    if target.shape != output.shape and target.numel() == output.numel():
        return target.to(output.dtype).reshape(output.shape)
    return target.to(output.dtype)


class CrossEntropy(nn.Module):
    """Cross-entropy on logits with optional class weights and label smoothing."""

    def __init__(self, weight: Optional[torch.Tensor], label_smoothing: float, reduction: str):
        super().__init__()
        self.register_buffer("weight", weight, persistent=False)
        self.label_smoothing, self.reduction = label_smoothing, reduction

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_classes(self.weight, output, "weight")
        return F.cross_entropy(output, target, weight=_on(self.weight, output),
                               label_smoothing=self.label_smoothing, reduction=self.reduction)


class NLL(nn.Module):
    """Negative log-likelihood of log-probabilities (pair with a LogSoftmax head)."""

    def __init__(self, weight: Optional[torch.Tensor], reduction: str):
        super().__init__()
        self.register_buffer("weight", weight, persistent=False)
        self.reduction = reduction

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_classes(self.weight, output, "weight")
        return F.nll_loss(output, target, weight=_on(self.weight, output), reduction=self.reduction)


class BCEWithLogits(nn.Module):
    """Binary cross-entropy on logits; integer class labels become one-hot targets."""

    def __init__(self, pos_weight: Optional[torch.Tensor], reduction: str):
        super().__init__()
        self.register_buffer("pos_weight", pos_weight, persistent=False)
        self.reduction = reduction

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_classes(self.pos_weight, output, "pos_weight")
        return F.binary_cross_entropy_with_logits(
            output, dense_target(target, output), pos_weight=_on(self.pos_weight, output), reduction=self.reduction
        )


class MSE(nn.Module):
    """Mean squared error; integer class labels become one-hot targets."""

    def __init__(self, reduction: str):
        super().__init__()
        self.reduction = reduction

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(output, dense_target(target, output), reduction=self.reduction)


def cross_entropy(
    label_smoothing: float = 0.0,
    weight: Optional[list[float]] = None,
    reduction: Reduction = "mean",
) -> nn.Module:
    """Cross-entropy on raw logits (torch's CrossEntropyLoss: LogSoftmax + NLL in one).

    label_smoothing: 0..1, the share of each target spread over all classes.
    weight: one weight per class (for unbalanced classes), or none.
    reduction: "mean" or "sum" over the batch.
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise UserError(f"loss.label_smoothing: expected a number from 0 to 1; got {label_smoothing}")
    return CrossEntropy(_weights(weight, "weight"), label_smoothing, reduction)


def nll(weight: Optional[list[float]] = None, reduction: Reduction = "mean") -> nn.Module:
    """Negative log-likelihood of log-probabilities (for models ending in LogSoftmax, as the seeds' DenseNet).

    weight: one weight per class, or none.
    reduction: "mean" or "sum" over the batch.
    """
    return NLL(_weights(weight, "weight"), reduction)


def bce_with_logits(pos_weight: Optional[list[float]] = None, reduction: Reduction = "mean") -> nn.Module:
    """Binary cross-entropy on logits, for multi-label or two-class outputs.

    Targets may be float (same shape as the output, or one value per sample for a one-column
    output) or integer class labels: with an output of C>1 columns these become one-hot rows,
    with one column they become 0/1 floats.
    pos_weight: one weight per output column for the positive class, or none.
    reduction: "mean" or "sum".
    """
    return BCEWithLogits(_weights(pos_weight, "pos_weight"), reduction)


def mse(reduction: Reduction = "mean") -> nn.Module:
    """Mean squared error between output and target.

    Integer class labels become one-hot rows when the output has C>1 columns (regressing the
    class indicator), and the output's shape otherwise; float targets are used as they are.
    reduction: "mean" or "sum".
    """
    return MSE(reduction)

"""Parameter counts of a model (shown by ``zoo info``)."""

from typing import Any, NamedTuple


class ParameterCount(NamedTuple):
    """How many parameters a model has, and how many of them will be trained."""

    total: int
    trainable: int

    @property
    def frozen(self) -> int:
        return self.total - self.trainable

    def __str__(self) -> str:
        return f"{self.total:,} parameters ({self.trainable:,} trainable, {self.frozen:,} frozen)"


def count_parameters(model: Any) -> ParameterCount:
    """``ParameterCount(total, trainable)`` of a ``torch.nn.Module`` (shared parameters counted once)."""
    seen, total, trainable = set(), 0, 0
    for param in model.parameters():
        if id(param) in seen:
            continue
        seen.add(id(param))
        total += param.numel()
        if param.requires_grad:
            trainable += param.numel()
    return ParameterCount(total, trainable)

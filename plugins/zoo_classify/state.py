"""How far a classification run has got: ``TrainingState``, saved in ``last.pt`` and read back
on ``--resume``; the validation rounds update it, the trainer ends its epochs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Optional


@dataclass
class TrainingState:
    """``epoch``: epochs completed; ``best_valid_loss``: the lowest validation loss so far (inf
    before the first round), reached in ``best_epoch`` at ``best_step`` (the step counted over
    the run, with ``task.valid_every``; None otherwise); ``history``: one row per validation
    round (the metrics the pictures draw); ``bad_epochs``: epochs in a row without a better
    validation loss (for ``task.patience``); ``feature_format``: how a frozen backbone's
    features were computed (``FeatureFormat.describe()``; None when they weren't), so that a
    resumed run computes them the same way; ``memory_format``: "channels_last" or
    "contiguous", the format the model trains in (``zoo_classify.memory_format``; None before
    it is chosen), which a resumed run keeps."""

    epoch: int = 0
    best_valid_loss: float = math.inf
    best_epoch: Optional[int] = None
    best_step: Optional[int] = None
    history: list = field(default_factory=list)
    bad_epochs: int = 0
    feature_format: Optional[str] = None
    memory_format: Optional[str] = None

    def improves(self, valid_loss: float) -> bool:
        """Whether ``valid_loss`` is as low as the best so far or lower (never for NaN)."""
        return valid_loss <= self.best_valid_loss

    def keep_best(self, valid_loss: float, epoch: int, step: Optional[int]) -> None:
        """Record ``valid_loss`` of ``epoch`` (at the run's ``step``, or None) as the best."""
        self.best_valid_loss, self.best_epoch, self.best_step = valid_loss, epoch, step

    def end_epoch(self, epoch: int) -> None:
        """``epoch`` is complete: a bad epoch when none of its rounds gave a better validation loss."""
        self.bad_epochs = 0 if self.best_epoch == epoch else self.bad_epochs + 1
        self.epoch = epoch

    def as_dict(self) -> dict:
        """The state as the keys of a checkpoint (``epoch``, ``best_valid_loss``...)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_checkpoint(cls, saved: dict) -> "TrainingState":
        """The state a checkpoint holds; a key it lacks (an older checkpoint) keeps its default."""
        fresh = cls()
        return cls(**{f.name: saved.get(f.name, getattr(fresh, f.name)) for f in fields(cls)})

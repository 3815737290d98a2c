"""Validation rounds of a classification run: at the end of every epoch, and every
``task.valid_every`` steps inside it.

A round validates, logs its line, adds a row to the training state's history and keeps the
best model. What it leaves on disk waits for the end of the epoch, so that a run stopped
mid-epoch and resumed from ``last.pt`` (the epoch before) neither repeats a metrics row nor
finds a ``best.pt`` that its state doesn't know about: the epoch's best weights are held in
memory (a CPU copy, on the main process) and written just before ``last.pt``; the rounds'
metrics reach the loggers just after it.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Optional

from zoo.toolkit import RunFailure, broadcast_buffers
from zoo_classify.card import classification_card, example_inputs
from zoo_classify.health import bad_step_anywhere, non_finite_training, non_finite_validation
from zoo_classify.training_loss import TrainingLoss

if TYPE_CHECKING:
    from zoo_classify.trainer import Trainer


class ValidationRounds:
    """The rounds of one run of ``trainer``: each round updates ``trainer.state`` (the best
    validation loss, epoch and step, the history)."""

    def __init__(self, trainer: "Trainer", *, epochs: int, valid_every: Optional[int]):
        self.trainer = trainer
        self.epochs, self.valid_every = epochs, valid_every
        self.steps_per_epoch = len(trainer.train)
        self.epoch = 0
        self.started = time.perf_counter()
        self._best: Optional[dict] = None  # this epoch's best checkpoint, not yet written
        self._metrics: list = []  # this epoch's rounds, not yet reported
        self._examples = None  # test images kept in best.pt, taken once

    def start_epoch(self, epoch: int, started: Optional[float] = None) -> None:
        """Epoch ``epoch`` begins (``started``: when its clock started, default now)."""
        self.epoch, self.started = epoch, started or time.perf_counter()
        self._best, self._metrics = None, []

    def after_step(self, step: int, losses: TrainingLoss) -> None:
        """``Trainer.train_epoch``'s ``after_step``: a round every ``valid_every`` steps (not at
        the epoch's last step: the epoch's own round comes then), then back to training."""
        if self.valid_every is None or step % self.valid_every or step >= self.steps_per_epoch:
            return
        run = self.trainer.run
        if losses.policy == "stop" and bad_step_anywhere(losses, run.device):  # don't validate NaN weights
            raise RunFailure(non_finite_training(run, self.epoch, losses, self.steps_per_epoch, value=math.nan))
        self.validate(step, losses.mean)
        self.trainer.train_mode()

    def validate(self, step: int, train_loss: float) -> float:
        """One round after ``step`` steps of the epoch; returns the validation loss."""
        t, run, state = self.trainer, self.trainer.run, self.trainer.state
        broadcast_buffers(t.model)  # every process evaluates (and rank 0 keeps) the same model
        valid_loss, valid_accuracy, _ = t.validate()
        if not math.isfinite(valid_loss):  # never the best (every comparison with NaN is false)
            non_finite_validation(run, self.epoch, valid_loss, t.options.nan_policy)
        metrics = {"train_loss": train_loss, "valid_loss": valid_loss, "valid_accuracy": valid_accuracy,
                   "lr": t.optimizer.param_groups[0]["lr"], "seconds": time.perf_counter() - self.started}
        where = f"epoch {self.epoch}/{self.epochs}"
        row = dict(metrics, epoch=self.epoch)
        if self.valid_every is not None:  # rounds inside epochs: say where each one was
            global_step = (self.epoch - 1) * self.steps_per_epoch + step
            metrics["step"] = row["step"] = global_step
            row["progress"] = global_step / self.steps_per_epoch
            where += f" step {step}/{self.steps_per_epoch}"
        state.history.append(row)
        self._metrics.append(metrics)
        run.log(f"{where}  train loss {train_loss:.6f}  valid loss {valid_loss:.6f}  "
                f"valid accuracy {valid_accuracy:.2%}  ({metrics['seconds']:.1f} s)")
        if state.improves(valid_loss):
            run.log(f"validation loss decreased ({state.best_valid_loss:.6f} --> {valid_loss:.6f}), saving")
            state.keep_best(valid_loss, self.epoch, metrics.get("step"))
            if run.is_main:
                weights = {k: v.detach().to("cpu", copy=True) for k, v in t.model.state_dict().items()}
                self._best = {"model": weights, "epoch": self.epoch, "step": metrics.get("step"),
                              "valid_loss": valid_loss, "classes": t.data.classes}
        return valid_loss

    def save_best(self) -> None:
        """Write the epoch's best checkpoint, if it has one (before ``last.pt``), with its model
        card and examples of the test images (``zoo_classify.card``)."""
        if self._best is not None:
            t = self.trainer
            if self._examples is None:
                self._examples = example_inputs(t.data)
            progress = {k: self._best[k] for k in ("epoch", "step", "valid_loss") if self._best[k] is not None}
            card = classification_card(t.run, t.data, progress)
            t.run.save_checkpoint("best.pt", dict(self._best, examples=self._examples), card=card)
            self._best = None

    def report(self) -> None:
        """Give the epoch's rounds to the loggers, in order (after ``last.pt``)."""
        for metrics in self._metrics:
            self.trainer.run.epoch_end(self.epoch, metrics)
        self._metrics = []

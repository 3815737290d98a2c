"""The training loop of a classification run: ``Trainer``, its steps, epochs and validation.

An epoch trains with the model in training mode except its frozen modules (``train_unfrozen``:
a frozen backbone's BatchNorm statistics don't move, its dropout is off), losses averaged per
sample; then a validation round in eval mode without gradients may keep the best model; then
the scheduler steps and ``last.pt`` is written. ``fit`` runs the epochs a run has left.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

import torch

from zoo import UserError
from zoo.toolkit import RunFailure, all_reduce_sum, distributed_active, train_unfrozen, wrap_distributed
from zoo_classify.checkpoint import last_checkpoint
from zoo_classify.data import ClassificationData
from zoo_classify.evaluation import evaluate
from zoo_classify.health import finite_everywhere, non_finite_training
from zoo_classify.options import ClassificationOptions
from zoo_classify.rounds import ValidationRounds
from zoo_classify.state import TrainingState
from zoo_classify.training_loss import TrainingLoss


@dataclass
class Trainer:
    """What a classification run trains with, and how (``ClassificationTask.setup`` builds it).

    ``model`` is the model whose weights are saved; ``step_model`` computes the steps and the
    validation (the model, its ``torch.compile`` form, or only its head when the frozen
    backbone's features are cached); ``train_model`` is ``step_model`` as trained (wrapped in
    DistributedDataParallel under torchrun, see ``train_on``). ``train``/``valid`` are
    ``Batches``; ``scheduler_step`` says when the scheduler steps: "epoch", "batch" or
    "plateau" (after each epoch, given the validation loss). ``state`` is how far the run has got.
    ``channels_last``: training batches are made NHWC (the model's weights are too).
    """

    run: Any
    options: ClassificationOptions
    data: ClassificationData
    model: Any
    step_model: Any
    criterion: Any
    optimizer: Any
    precision: Any
    train: Any
    valid: Any
    scheduler: Any = None
    scheduler_step: str = "epoch"
    train_model: Any = None
    channels_last: bool = False
    state: TrainingState = field(default_factory=TrainingState)

    def __post_init__(self) -> None:
        if self.train_model is None:
            self.train_model = self.step_model

    def train_on(self, step_model: Any, train: Any, valid: Any) -> None:
        """From now on compute steps and validation with ``step_model`` on the batches ``train``
        and ``valid`` (the head on cached features, or what the trainer had); trained wrapped in
        DistributedDataParallel under torchrun."""
        self.step_model, self.train, self.valid = step_model, train, valid
        self.train_model = wrap_distributed(step_model, self.run.device)

    def train_mode(self) -> None:
        """Switch the trained model to training mode, its frozen modules kept in eval mode
        (``zoo.toolkit.train_unfrozen``): at each epoch's start and after a validation round."""
        train_unfrozen(self.train_model)

    def fit(self, started: Optional[float] = None) -> None:
        """Train the epochs after ``state.epoch`` up to ``options.epochs`` (fewer when
        ``options.patience`` stops it): each epoch trains, validates (also every
        ``options.valid_every`` steps), steps the scheduler, writes ``best.pt`` when a round
        was the best so far, then ``last.pt``, then reports the rounds' metrics.
        ``started``: when the first epoch's clock started (default now).
        """
        o, run = self.options, self.run
        rounds = ValidationRounds(self, epochs=o.epochs, valid_every=o.valid_every)
        for epoch in range(self.state.epoch + 1, o.epochs + 1):
            rounds.start_epoch(epoch, started)
            train_loss = self.train_epoch(epoch, after_step=rounds.after_step if o.valid_every else None)
            valid_loss = rounds.validate(len(self.train), train_loss)
            self.step_scheduler_after_epoch(valid_loss)
            self.state.end_epoch(epoch)  # patience counts epochs: one with no better round in it is bad
            rounds.save_best()  # best.pt, then last.pt: a resume never finds a best its state doesn't know
            run.save_checkpoint("last.pt", last_checkpoint(self))
            rounds.report()
            started = None
            if o.patience is not None and self.state.bad_epochs >= o.patience:
                run.log(f"early stop: no better validation loss for {o.patience} epochs")
                break

    def step_scheduler_after_epoch(self, valid_loss: float) -> None:
        """Step an epoch or plateau scheduler (the latter on ``valid_loss``); a batch one stepped already."""
        if self.scheduler is not None and self.scheduler_step == "plateau":
            self.scheduler.step(valid_loss)
        elif self.scheduler is not None and self.scheduler_step == "epoch":
            self.scheduler.step()

    def train_epoch(self, epoch: int, after_step: Optional[Callable] = None) -> float:
        """Train one epoch (``epoch`` counts from 1 and seeds its batch order); return the mean
        training loss per sample (over every process's samples under torchrun).
        ``after_step(step, losses)`` is called after each step (``step`` counts from 1 in the
        epoch; ``losses`` a ``TrainingLoss`` with the epoch so far). Raises ``zoo.RunFailure``
        for a NaN/infinite loss under ``nan_policy: stop``, and when every batch was left out."""
        run, batches, o = self.run, self.train, self.options
        batch_scheduler = self.scheduler if self.scheduler_step == "batch" else None
        self.train_mode()
        losses = TrainingLoss(o.nan_policy, run.device, single_process=batches.world_size == 1)
        for step, (x, y) in enumerate(progress(run, batches.epoch(epoch), total=len(batches),
                                               label=f"epoch {epoch}/{o.epochs}"), start=1):
            if self.channels_last and x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            loss = self.step(x, y)
            if batch_scheduler is not None:
                batch_scheduler.step()
            # a skipped batch (nan_policy skip) is no update and not in the mean;
            # nan_policy stop: a bad loss is seen at once on the CPU, every few steps elsewhere
            if losses.add(loss, x.shape[0]) and losses.failed():
                break
            if after_step is not None:  # every process calls it at the same step (validation rounds)
                after_step(step, losses)
        if batches.world_size == 1 and losses.first_bad is not None:
            raise RunFailure(non_finite_training(run, epoch, losses, len(batches)))
        if losses.skipped:
            run.log(f"epoch {epoch}: left out {losses.skipped} of {len(batches)} batches whose loss was not finite")
        if batches.world_size > 1:  # the mean over every process's samples, the same on each
            total = losses.sum_tensor(run.device)
            counted = torch.tensor(losses.seen, device=run.device)
            all_reduce_sum(total, counted)
            seen = int(counted)
            train_loss = float(total) / max(seen, 1)
        else:
            seen, train_loss = losses.seen, losses.mean
        if losses.skipped and not seen:  # every batch left out (under torchrun: on every process)
            raise RunFailure(non_finite_training(run, epoch, losses, len(batches)))
        if not math.isfinite(train_loss):  # under torchrun: another process's batch (the sum is shared)
            raise RunFailure(non_finite_training(run, epoch, losses, len(batches), value=train_loss))
        return train_loss

    def step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One optimisation step of ``train_model`` on the batch ``(x, y)``; returns the batch's loss.

        Optimizers that re-evaluate the loss (L-BFGS) get it as a closure. Under
        ``nan_policy: skip`` a batch whose loss is not finite (in any process) makes no update.
        """
        model, optimizer, precision, clip = self.train_model, self.optimizer, self.precision, self.options.clip_grad_norm

        def closure():
            optimizer.zero_grad(set_to_none=True)
            with precision.autocast():
                loss = self.criterion(model(x), y)
            precision.backward(loss)
            if clip is not None:
                precision.unscale(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            return loss

        if isinstance(optimizer, torch.optim.LBFGS):
            if precision.scaler is not None:
                raise UserError("task.amp: fp16 gradient scaling does not work with lbfgs; use bf16 or off")
            if distributed_active():
                raise UserError("optimizer.name: lbfgs's line search can't run across torchrun processes; "
                                "use it in a single process, or choose sgd/adam")
            first = []
            optimizer.step(lambda: first.append(closure()) or first[-1])
            return first[0]
        loss = closure()
        if self.options.nan_policy == "skip" and not finite_everywhere(loss):
            optimizer.zero_grad(set_to_none=True)  # leave this batch out: no update
            return loss
        precision.step(optimizer)
        return loss

    def validate(self) -> tuple:
        """``(mean loss per sample, accuracy, K×K confusion matrix)`` on the validation split."""
        return evaluate(self.step_model, self.criterion, self.valid, self.data.num_classes, self.precision)


def progress(run: Any, iterable: Iterable, *, total: int, label: str) -> Iterable:
    """A tqdm bar on a terminal (main process only); the plain iterable otherwise (logs, CI, files)."""
    if not run.is_main or run.quiet or not sys.stderr.isatty():
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=label, leave=False, unit="batch", dynamic_ncols=True)

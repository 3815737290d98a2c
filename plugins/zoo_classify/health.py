"""What a NaN or infinite loss does to a classification run (``task.nan_policy``), in words.

``stop`` ends the run with one line naming the epoch, the step and the last good checkpoint
(a checkpoint whose weights are not finite is never called good);
``skip`` leaves a bad training batch out and never takes a non-finite validation loss as the
best. The trainer and the validation rounds call these functions; none of them keeps state.
"""

from __future__ import annotations

from typing import Any, Optional

import torch

from zoo.toolkit import RunFailure, any_process, saved_progress
from zoo_classify.training_loss import TrainingLoss


def last_good_checkpoint(run: Any) -> str:
    """``last good checkpoint: DIR/checkpoints/last.pt (epoch N; ...)``, ``... none yet``, or, when
    last.pt's weights are not finite themselves, that it is no good one."""
    folder = run.checkpoint_dir
    epoch = saved_progress(folder / "last.pt") if folder is not None else None
    if epoch is None:
        return "last good checkpoint: none yet"
    bad = non_finite_weights(run.load_checkpoint("last.pt").get("model") or {})
    if bad:
        return (f"the last checkpoint, {folder / 'last.pt'} (epoch {epoch}), holds NaN or infinite weights "
                f"({', '.join(bad)}): no good one to continue from; run the recipe again")
    return f"last good checkpoint: {folder / 'last.pt'} (epoch {epoch}; continue with: zoo run --resume {run.directory})"


def non_finite_weights(state: dict, limit: int = 3) -> list:
    """The names of the floating-point tensors in the state dict ``state`` holding a NaN or an
    infinity: the first ``limit``, then ``and N more``; [] when all are finite."""
    bad = [name for name, value in state.items()
           if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all())]
    return bad[:limit] + ([f"and {len(bad) - limit} more"] if len(bad) > limit else [])


def non_finite_training(run: Any, epoch: int, losses: TrainingLoss, steps: int, value: Optional[float] = None) -> str:
    """The one-line error for a training loss that is NaN or infinite in ``epoch`` (of ``steps``
    steps); ``value``: the loss seen when no step of this process was bad (another process's)."""
    if losses.skipped and losses.first_bad is None:
        return (f"every batch of epoch {epoch} gave a non-finite training loss ({losses.skipped} left out); "
                f"{last_good_checkpoint(run)}; lower optimizer.lr or set task.clip_grad_norm")
    where = f"step {losses.first_bad} of {steps}" if losses.first_bad is not None else "a step of another process"
    shown = losses.bad_value if losses.bad_value is not None else value
    return (f"the training loss is {shown} at epoch {epoch}, {where}; {last_good_checkpoint(run)}; "
            f"lower optimizer.lr, set task.clip_grad_norm, or set task.nan_policy: skip to leave such batches out")


def non_finite_validation(run: Any, epoch: int, valid_loss: float, nan_policy: str) -> None:
    """A NaN/infinite validation loss in ``epoch``: never the best; logged as a warning under
    ``nan_policy`` "skip", a ``zoo.RunFailure`` under "stop"."""
    what = (f"the validation loss is {valid_loss} in epoch {epoch} (NaN or infinite values in the model's "
            f"outputs or the validation data): not taken as the best")
    if nan_policy == "skip":
        run.log(f"warning: {what}")
        return
    raise RunFailure(f"{what}; {last_good_checkpoint(run)}; set task.nan_policy: skip to train on regardless")


def finite_everywhere(loss: torch.Tensor) -> bool:
    """Whether ``loss`` is finite in every process (one sync; all processes agree, so none hangs)."""
    return not any_process((~torch.isfinite(loss.detach().float())).float().reshape(()))


def bad_step_anywhere(losses: TrainingLoss, device: Any) -> bool:
    """Whether any process has seen a non-finite training loss in this epoch so far (one sync)."""
    return any_process(torch.tensor(float(losses.first_bad is not None), device=device))

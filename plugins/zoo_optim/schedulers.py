"""Learning-rate scheduler factories: ``factory(optimizer, **recipe keys) -> scheduler``.

The runner passes ``epochs`` and ``steps_per_epoch`` (from the task) to the factories that
accept them; a recipe does not set them. Each entry's metadata ``step`` says when the task
steps the scheduler: ``"epoch"``, ``"batch"`` (onecycle) or ``"plateau"`` (stepped with the
validation loss).
"""

from typing import Any, Literal, Optional

import torch
from torch.optim import lr_scheduler

from zoo import UserError


def _positive(value: int, key: str) -> int:
    if value < 1:
        raise UserError(f"scheduler.{key}: expected a positive integer; got {value}")
    return value


def step(optimizer: torch.optim.Optimizer, step_size: int = 30, gamma: float = 0.1) -> Any:
    """Multiply the learning rate by gamma every step_size epochs (StepLR).

    step_size: epochs between decays. gamma: the decay factor.
    """
    return lr_scheduler.StepLR(optimizer, step_size=_positive(step_size, "step_size"), gamma=gamma)


def cosine(
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    t_max: Optional[int] = None,
    eta_min: float = 0.0,
) -> Any:
    """Cosine annealing of the learning rate down to eta_min (CosineAnnealingLR), stepped per epoch.

    t_max: epochs of one half cosine (default: the task's epochs). eta_min: the final rate.
    epochs: filled by the runner from the task.
    """
    t_max = _positive(t_max if t_max is not None else epochs, "t_max")
    return lr_scheduler.CosineAnnealingLR(optimizer, T_max=t_max, eta_min=eta_min)


def onecycle(
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    steps_per_epoch: int,
    max_lr: Optional[float] = None,
    pct_start: float = 0.3,
    anneal_strategy: Literal["cos", "linear"] = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> Any:
    """The one-cycle policy (OneCycleLR), stepped after every batch.

    max_lr: the peak rate (default: the optimizer's lr). pct_start: share of the cycle spent
    rising. anneal_strategy: "cos" or "linear". div_factor: initial rate = max_lr/div_factor.
    final_div_factor: final rate = initial/final_div_factor. three_phase: use three phases.
    epochs, steps_per_epoch: filled by the runner from the task and the data loader.
    """
    peak = max_lr if max_lr is not None else [group["lr"] for group in optimizer.param_groups]
    return lr_scheduler.OneCycleLR(
        optimizer, max_lr=peak, epochs=_positive(epochs, "epochs"),
        steps_per_epoch=_positive(steps_per_epoch, "steps_per_epoch"), pct_start=pct_start,
        anneal_strategy=anneal_strategy, div_factor=div_factor, final_div_factor=final_div_factor,
        three_phase=three_phase,
    )


def plateau(
    optimizer: torch.optim.Optimizer,
    mode: Literal["min", "max"] = "min",
    factor: float = 0.1,
    patience: int = 10,
    threshold: float = 1e-4,
    cooldown: int = 0,
    min_lr: float = 0.0,
) -> Any:
    """Cut the learning rate when the validation loss stops improving (ReduceLROnPlateau).

    mode: "min" (loss) or "max". factor: multiply the rate by this. patience: epochs without
    improvement before a cut. threshold: least relative change counted as improvement.
    cooldown: epochs to wait after a cut. min_lr: lower bound of the rate.
    """
    if not 0.0 < factor < 1.0:
        raise UserError(f"scheduler.factor: expected a number between 0 and 1; got {factor}")
    return lr_scheduler.ReduceLROnPlateau(optimizer, mode=mode, factor=factor, patience=patience,
                                          threshold=threshold, cooldown=cooldown, min_lr=min_lr)

"""An epoch's training loss: the per-sample sum over its steps, and whether any step's loss was
NaN or infinite.

Where reading a number off the device costs a synchronisation (CUDA, MPS), the sum and the
first bad step are kept on the device and looked at only every ``every`` steps and at the end
of the epoch. On the CPU reading a loss is free, and keeping a dozen tiny tensors per step
would cost more than the arithmetic of a small model's step (it was 7% of an MNIST-MLP epoch),
so there every loss is read as a Python float and checked at once.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch


class TrainingLoss:
    """The training loss of one epoch under ``nan_policy`` ("stop" or "skip").

    "stop": the first step whose loss is not finite is recorded; ``failed()`` says so (every
    step on the CPU, every ``every`` steps elsewhere, in one process only: under torchrun the
    processes decide together at the end of the epoch). "skip": a bad step was already left out
    of the update by the trainer (``Trainer.step``); ``add`` counts it and leaves it
    out of the mean.
    """

    def __init__(self, policy: str, device: torch.device, *, single_process: bool = True, every: int = 25,
                 read_each_step: Optional[bool] = None):
        """``read_each_step``: read every loss as a float (default: on the CPU only)."""
        self.policy = policy
        self.single_process = single_process
        self.on_host = device.type == "cpu" if read_each_step is None else read_each_step
        self.every = 1 if self.on_host else every
        self.step = 0
        self.skipped = 0
        self.seen = 0
        self._first_bad: Optional[int] = None
        self._bad_float: Optional[float] = None
        if self.on_host:
            self._sum: Any = 0.0
        else:
            self._sum = torch.zeros((), device=device)
            self._bad_step = torch.zeros((), dtype=torch.long, device=device)  # 0: none yet
            self._bad_value = torch.zeros((), device=device)

    def add(self, loss: torch.Tensor, samples: int) -> bool:
        """Count one step's mean ``loss`` over ``samples`` samples; False when the step is left
        out (policy "skip" and a loss that is not finite)."""
        self.step += 1
        if self.on_host:
            value = loss.detach().item()
            if not math.isfinite(value):
                if self.policy == "skip":
                    self.skipped += 1
                    return False
                if self._first_bad is None:
                    self._first_bad, self._bad_float = self.step, value
            self._sum += value * samples
            self.seen += samples
            return True
        loss = loss.detach().float()
        finite = torch.isfinite(loss)
        if self.policy == "skip":
            if not bool(finite):
                self.skipped += 1
                return False
        else:
            first = (self._bad_step == 0) & ~finite
            self._bad_step = torch.where(first, torch.full_like(self._bad_step, self.step), self._bad_step)
            self._bad_value = torch.where(first, loss, self._bad_value)
        self._sum += loss * samples
        self.seen += samples
        return True

    def failed(self) -> bool:
        """Policy "stop", one process: whether a bad step has been seen (looked at every ``every`` steps)."""
        if self.policy != "stop" or not self.single_process or self.step % self.every:
            return False
        return self.first_bad is not None

    def sum_tensor(self, device: torch.device) -> torch.Tensor:
        """The sum of the counted steps' losses × samples, as a float tensor on ``device`` (for all-reduce)."""
        if self.on_host:
            return torch.tensor(self._sum, dtype=torch.float32, device=device)
        return self._sum

    @property
    def mean(self) -> float:
        """The mean loss per counted sample (NaN when none was counted: every batch so far left out)."""
        return float(self._sum) / self.seen if self.seen else math.nan

    @property
    def first_bad(self) -> Optional[int]:
        """The first step (1-based) whose loss was not finite, or None (policy "stop")."""
        if self._first_bad is None and self.policy == "stop" and not self.on_host and int(self._bad_step):
            self._first_bad, self._bad_float = int(self._bad_step), float(self._bad_value)
        return self._first_bad

    @property
    def bad_value(self) -> Optional[float]:
        """That step's loss (nan, inf or -inf), or None."""
        return self._bad_float if self.first_bad is not None else None

"""Mixed precision: autocast and (for fp16 on CUDA) gradient scaling behind one small object."""

from __future__ import annotations

import contextlib
from typing import Any, Optional

import torch

from zoo import UserError


class Precision:
    """``amp``: ``off``, ``bf16`` or ``fp16``. fp16 needs CUDA (it scales the loss there)."""

    def __init__(self, amp: str, device: torch.device):
        self.amp = amp
        self.device = device
        self.dtype: Optional[torch.dtype] = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[amp]
        if amp == "fp16" and device.type != "cuda":
            raise UserError(f"task.amp: fp16 needs a CUDA device (this run is on {device.type}); use bf16")
        self.scaler = torch.amp.GradScaler("cuda") if amp == "fp16" else None

    def autocast(self) -> Any:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def unscale(self, optimizer: Any) -> None:
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: Any) -> None:
        if self.scaler is not None:
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            optimizer.step()

    def state_dict(self) -> Optional[dict]:
        return self.scaler.state_dict() if self.scaler is not None else None

    def load_state_dict(self, state: dict) -> None:
        if self.scaler is not None:
            self.scaler.load_state_dict(state)

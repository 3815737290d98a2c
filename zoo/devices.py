"""Choosing the device a run computes on, from a task's ``device`` option."""

from __future__ import annotations

from typing import Any, Optional

from zoo.errors import UserError


def resolve_device(spec: Optional[str] = "auto") -> Any:
    """``auto``: CUDA, then MPS, then CPU; otherwise the ``torch.device`` named (``cuda:1``, ``cpu``).

    Raises ``zoo.UserError`` for a name that is no device, or CUDA asked for where there is none.
    """
    import torch

    if spec in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except (RuntimeError, TypeError) as exc:
        raise UserError(f"task.device: {spec!r} is not a device ({exc})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"task.device: {spec!r} asked for, but CUDA is not available here (use auto or cpu)")
    return device


def device_available(spec: Any) -> bool:
    """Whether the ``task.device`` ``spec`` (None: not given) names a device this machine has:
    ``auto`` and ``cpu`` always; a CUDA device when CUDA has that index; MPS when MPS is there."""
    if spec in (None, "auto", "cpu"):
        return True
    try:
        device = resolve_device(spec)
    except UserError:
        return False
    import torch

    if device.type == "cuda" and device.index is not None:
        return device.index < torch.cuda.device_count()
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        return mps is not None and mps.is_available()
    return True

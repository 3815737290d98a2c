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

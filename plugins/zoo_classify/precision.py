"""Mixed precision: autocast and (for fp16 on CUDA) gradient scaling behind one small object
(``Precision``, for training), and the precisions and memory formats a frozen backbone's
features may be computed in (``feature_formats``: the fastest the device supports unless the
recipe says otherwise)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
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


#: CPU flags (Linux /proc/cpuinfo names) of native bfloat16 arithmetic, fastest first.
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
AUTOCAST_DTYPES = {"float32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class FeatureFormat:
    """How a frozen backbone computes its features: ``dtype`` (the autocast dtype, None for
    float32), ``channels_last`` (NHWC input and weights) and ``reason`` (why, for the log)."""

    dtype: Optional[torch.dtype]
    channels_last: bool
    reason: str

    @property
    def precision(self) -> str:
        """``"float32"``, ``"bf16"`` or ``"fp16"``."""
        return {None: "float32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]

    def describe(self) -> str:
        """``"bf16 autocast, channels_last"``, ``"float32"``...: what the log and the cache say."""
        text = "float32" if self.dtype is None else f"{self.precision} autocast"
        return f"{text}, channels_last" if self.channels_last else text

    def autocast(self, device: torch.device) -> Any:
        """The autocast context for ``device`` (nothing for float32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.dtype)


def cpu_flags() -> set:
    """This CPU's feature flags as Linux names them in /proc/cpuinfo (empty where it can't be read)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def native_cpu_bf16() -> Optional[str]:
    """The CPU flag that makes bfloat16 convolutions fast here (``amx_bf16``, ``avx512_bf16``),
    or None when the CPU emulates bfloat16 (slower than float32) or torch has no oneDNN."""
    if not torch.backends.mkldnn.is_available():
        return None
    flags = cpu_flags()
    return next((flag for flag in NATIVE_BF16_FLAGS if flag in flags), None)


def feature_formats(options: Any, device: torch.device) -> list:
    """The ways a frozen backbone's features may be computed in a run with task ``options``,
    fastest first where that is known; more than one when only measuring can tell (a CPU with
    native bfloat16 but no AMX: bf16 autocast or float32, both channels_last).

    ``feature_precision`` other than auto decides alone (with ``channels_last`` as set, default
    off): the automatic choice is off. With auto, ``task.amp`` decides where the recipe sets it,
    ``task.channels_last`` where it is true or false, the device the rest.
    """
    chosen = options.model_fields_set
    if options.feature_precision != "auto":
        return [FeatureFormat(AUTOCAST_DTYPES[options.feature_precision], options.channels_last is True,
                              f"task.feature_precision is {options.feature_precision}")]
    dtypes, channels_last, reason = device_choice(device)
    reasons = [reason]
    if "amp" in chosen:
        dtypes = [AUTOCAST_DTYPES["float32" if options.amp == "off" else options.amp]]
        reasons.append(f"task.amp: {options.amp} decides the precision")
    if options.channels_last != "auto":
        channels_last = options.channels_last
        reasons.append(f"task.channels_last: {str(options.channels_last).lower()} decides the memory format")
    return [FeatureFormat(dtype, channels_last, "; ".join(reasons)) for dtype in dtypes]


def device_choice(device: torch.device) -> tuple:
    """``(autocast dtypes to choose from, channels_last, why)`` for a frozen backbone on ``device``.

    On this repository's 2-core avx512_bf16 test CPU (no AMX), DenseNet-121's features at 224 px
    ran 1.51x faster than float32 in float32 channels_last and 1.35x in bf16 autocast
    channels_last (one thread; 1.68x and 1.67x on two): without AMX, bf16 is not always the
    faster, so both are measured. AMX's bfloat16 tiles are much faster than float32.
    """
    if device.type == "cpu":
        onednn = torch.backends.mkldnn.is_available()
        flag = native_cpu_bf16()
        if flag == "amx_bf16":
            return [torch.bfloat16], True, "this CPU computes bfloat16 natively (amx_bf16)"
        if flag is not None:
            return [torch.bfloat16, None], True, f"this CPU computes bfloat16 natively ({flag}), without AMX"
        if onednn:
            return [None], True, "this CPU has no native bfloat16 (no avx512_bf16 or amx_bf16); oneDNN convolutions " \
                                 "are fastest channels_last"
        return [None], False, "this torch has no oneDNN and the CPU no native bfloat16"
    if device.type == "cuda":
        tensor_cores = torch.cuda.get_device_capability(device)[0] >= 7
        if torch.cuda.is_bf16_supported():
            return [torch.bfloat16], tensor_cores, "this GPU computes bfloat16 natively"
        return [torch.float16], tensor_cores, "this GPU has no bfloat16, float16 instead"
    return [None], False, f"no reduced-precision path is chosen on {device.type}"


def format_named(name: str, formats: list) -> Optional[FeatureFormat]:
    """The format of ``formats`` that ``describe()`` calls ``name`` (a resumed run's), or None."""
    return next((f for f in formats if f.describe() == name), None)

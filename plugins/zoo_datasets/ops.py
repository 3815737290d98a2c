"""Deterministic batch transforms: resize, channel conversion, normalisation.

Each is a small picklable callable ``op(x) -> x`` on a float batch B×C×H×W; constants are
moved to the batch's device on first use there, so one pipeline serves CPU and GPU batches.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

#: ITU-R 601-2 luma weights, as PIL's ``convert("L")`` and torchvision's rgb_to_grayscale use.
LUMA = (0.299, 0.587, 0.114)


class Resize:
    """Resize every image of a batch to ``size`` × ``size`` (bilinear, antialiased when shrinking)."""

    def __init__(self, size: int):
        self.size = int(size)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] == (self.size, self.size):
            return x
        shrinking = x.shape[-1] > self.size or x.shape[-2] > self.size
        return F.interpolate(
            x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=shrinking
        )

    def __repr__(self) -> str:
        return f"Resize({self.size})"

    def describe(self) -> dict:
        """This step for a model card (``zoo.preprocessing``)."""
        return {"op": "resize", "size": [self.size, self.size], "interpolation": "bilinear",
                "antialias": "when shrinking"}


class GrayToRGB:
    """Repeat a one-channel batch to three channels."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x

    def __repr__(self) -> str:
        return "GrayToRGB()"

    def describe(self) -> dict:
        """This step for a model card (``zoo.preprocessing``)."""
        return {"op": "gray_to_rgb"}


class RGBToGray:
    """Turn a three-channel batch into one luma channel."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != 3:
            return x
        return luma(x)

    def __repr__(self) -> str:
        return "RGBToGray()"

    def describe(self) -> dict:
        """This step for a model card (``zoo.preprocessing``)."""
        return {"op": "rgb_to_gray", "weights": list(LUMA)}


def luma(x: torch.Tensor) -> torch.Tensor:
    """The B×1×H×W luma of an RGB batch B×3×H×W."""
    r, g, b = x.unbind(1)
    return (LUMA[0] * r + LUMA[1] * g + LUMA[2] * b).unsqueeze(1)


class Normalize:
    """``(x - mean) / std`` per channel; one value broadcasts over every channel."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]
        self._cache: dict = {}

    def _constants(self, x: torch.Tensor) -> tuple:
        key = (x.device, x.dtype)
        if key not in self._cache:
            mean = torch.tensor(self.mean, device=x.device, dtype=torch.float64).view(1, -1, 1, 1)
            std = torch.tensor(self.std, device=x.device, dtype=torch.float64).view(1, -1, 1, 1)
            self._cache[key] = ((-mean / std).to(x.dtype), (1.0 / std).to(x.dtype))
        return self._cache[key]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        shift, scale = self._constants(x)
        return torch.addcmul(shift, x, scale)  # (x - mean) / std in one pass

    def __getstate__(self) -> dict:  # the device cache does not travel to worker processes
        return {"mean": self.mean, "std": self.std, "_cache": {}}

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"

    def describe(self) -> dict:
        """This step for a model card (``zoo.preprocessing``)."""
        return {"op": "normalize", "mean": list(self.mean), "std": list(self.std)}

"""Random batch augmentations with per-sample parameters, vectorised over the batch.

Each is a picklable callable ``op(x, generator=None) -> x`` on a float batch B×C×H×W in
[0, 1]. The random parameters (one set per sample) are drawn from ``generator`` (the global
torch generator when None) on the generator's device and moved to the batch's device, so a
CPU generator drives CUDA batches too. Geometric ops resample all images in one
``grid_sample`` call; pixels brought in from outside the image are 0 (black), as
torchvision's ``RandomRotation`` and padded ``RandomCrop`` fill them.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F

from zoo_datasets.ops import luma


def uniform(n: int, low: float, high: float, generator: Optional[torch.Generator], device) -> torch.Tensor:
    """``n`` floats uniform in ``[low, high)`` drawn from ``generator``, returned on ``device``."""
    source = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand(n, generator=generator, device=source)
    return (low + (high - low) * u).to(device)


def _column(v: torch.Tensor) -> torch.Tensor:
    return v.view(-1, 1, 1, 1)


def _flip_some(x: torch.Tensor, flip: torch.Tensor, dim: int) -> torch.Tensor:
    """``x`` with the samples where ``flip`` is True mirrored along ``dim``."""
    if x.device.type != "cpu":  # no host sync on accelerators: flip all, then choose
        return torch.where(_column(flip), x.flip(dim), x)
    chosen = torch.nonzero(flip).flatten()  # on CPU: flip only the chosen samples
    if chosen.numel() == 0:
        return x
    out = x.clone()
    return out.index_copy_(0, chosen, x.index_select(0, chosen).flip(dim))


class HFlip:
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5):
        self.p = float(p)

    def __call__(self, x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        return _flip_some(x, uniform(x.shape[0], 0.0, 1.0, generator, x.device) < self.p, -1)

    def __repr__(self) -> str:
        return f"HFlip(p={self.p})"


class VFlip(HFlip):
    """Mirror each image upside down with probability ``p``."""

    def __call__(self, x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        return _flip_some(x, uniform(x.shape[0], 0.0, 1.0, generator, x.device) < self.p, -2)

    def __repr__(self) -> str:
        return f"VFlip(p={self.p})"


def affine_grid(theta: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The sampling grid B×H×W×2 of ``F.affine_grid(theta, ..., align_corners=False)``.

    Computed as one broadcast multiply-add into a B×2×H×W tensor, returned as a permuted
    view (``grid_sample`` accepts it): several times faster than ``F.affine_grid`` on CPU.
    """
    xs = (torch.arange(width, device=theta.device, dtype=theta.dtype) * 2 + 1) / width - 1
    ys = ((torch.arange(height, device=theta.device, dtype=theta.dtype) * 2 + 1) / height - 1)[:, None]
    t = theta[:, :, :, None, None]  # B×2×3×1×1
    grid = t[:, :, 0] * xs + t[:, :, 1] * ys + t[:, :, 2]  # B×2×H×W: x then y coordinates
    return grid.permute(0, 2, 3, 1)


def _resample(x: torch.Tensor, theta: torch.Tensor, size: tuple) -> torch.Tensor:
    """Sample ``x`` through the per-sample affine maps ``theta`` (B×2×3, normalised coordinates)."""
    grid = affine_grid(theta.to(x.dtype), size[0], size[1])
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class Rotate:
    """Rotate each image by an angle drawn uniformly from ``[low, high]`` degrees about its centre."""

    def __init__(self, low: float, high: float):
        self.low, self.high = float(low), float(high)

    def __call__(self, x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        b, _, h, w = x.shape
        angle = uniform(b, self.low, self.high, generator, x.device) * (math.pi / 180.0)
        cos, sin = torch.cos(angle), torch.sin(angle)
        zero = torch.zeros_like(cos)
        # a rotation in pixel space, written in the [-1, 1] coordinates affine_grid uses
        theta = torch.stack(
            [torch.stack([cos, -sin * (h / w), zero], 1), torch.stack([sin * (w / h), cos, zero], 1)], 1
        )
        return _resample(x, theta, (h, w))

    def __repr__(self) -> str:
        return f"Rotate({self.low}, {self.high})"


class RandomResizedCrop:
    """Crop a random area and aspect ratio of each image and resize it to ``size`` (default: the input size).

    ``scale``: the range of the crop's area as a fraction of the image; ``ratio``: the range
    of its width/height (drawn log-uniformly), as torchvision's ``RandomResizedCrop``. A crop
    that would not fit is clamped to the image.
    """

    def __init__(self, size: Optional[int] = None, scale: tuple = (0.08, 1.0), ratio: tuple = (3 / 4, 4 / 3)):
        self.size = None if size is None else int(size)
        self.scale = (float(scale[0]), float(scale[1]))
        self.ratio = (float(ratio[0]), float(ratio[1]))

    def __call__(self, x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        b, _, h, w = x.shape
        area = uniform(b, self.scale[0], self.scale[1], generator, x.device)
        log_ratio = uniform(b, math.log(self.ratio[0]), math.log(self.ratio[1]), generator, x.device)
        ratio = torch.exp(log_ratio)
        # crop width and height as fractions of the image's (area counted in pixels)
        fw = torch.sqrt(area * ratio * (h / w)).clamp(max=1.0)
        fh = torch.sqrt(area / ratio * (w / h)).clamp(max=1.0)
        cx = (uniform(b, -1.0, 1.0, generator, x.device)) * (1.0 - fw)
        cy = (uniform(b, -1.0, 1.0, generator, x.device)) * (1.0 - fh)
        zero = torch.zeros_like(fw)
        theta = torch.stack([torch.stack([fw, zero, cx], 1), torch.stack([zero, fh, cy], 1)], 1)
        size = (self.size, self.size) if self.size is not None else (h, w)
        return _resample(x, theta, size)

    def __repr__(self) -> str:
        return f"RandomResizedCrop(size={self.size}, scale={self.scale}, ratio={self.ratio})"


class RandomCrop:
    """Pad each image with ``padding`` black pixels on every side and crop it back at a random offset.

    The CIFAR recipe (``transforms.RandomCrop(32, padding=4)``): a shift of up to
    ``padding`` pixels each way, exact (no interpolation).
    """

    def __init__(self, padding: int):
        self.padding = int(padding)

    def __call__(self, x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        p = self.padding
        if p == 0:
            return x
        b, _, h, w = x.shape
        padded = F.pad(x, (p, p, p, p))
        top = (uniform(b, 0.0, 2 * p + 1, generator, x.device)).long().clamp_(max=2 * p)
        left = (uniform(b, 0.0, 2 * p + 1, generator, x.device)).long().clamp_(max=2 * p)
        rows = top[:, None] + torch.arange(h, device=x.device)  # B×H
        cols = left[:, None] + torch.arange(w, device=x.device)  # B×W
        batch = torch.arange(b, device=x.device)[:, None, None]
        out = padded[batch, :, rows[:, :, None], cols[:, None, :]]  # B×H×W×C
        return out.permute(0, 3, 1, 2)

    def __repr__(self) -> str:
        return f"RandomCrop(padding={self.padding})"


class ColorJitter:
    """Scale brightness, contrast and saturation of each image by random factors.

    Each factor is drawn uniformly from ``[max(0, 1 - v), 1 + v]`` for its strength ``v``
    (0 leaves that property alone), applied in that order and clipped to [0, 1] as
    torchvision's ``ColorJitter`` does. Saturation only changes three-channel images.
    """

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0):
        self.brightness, self.contrast, self.saturation = float(brightness), float(contrast), float(saturation)

    def _factors(self, strength: float, n: int, generator, device) -> torch.Tensor:
        return _column(uniform(n, max(0.0, 1.0 - strength), 1.0 + strength, generator, device))

    def __call__(self, x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        b, c = x.shape[:2]
        if self.brightness:
            x = (x * self._factors(self.brightness, b, generator, x.device)).clamp_(0.0, 1.0)
        if self.contrast:
            gray = luma(x) if c == 3 else x
            mean = gray.mean(dim=(1, 2, 3), keepdim=True)
            f = self._factors(self.contrast, b, generator, x.device)
            x = (f * x + (1.0 - f) * mean).clamp_(0.0, 1.0)
        if self.saturation and c == 3:
            f = self._factors(self.saturation, b, generator, x.device)
            x = (f * x + (1.0 - f) * luma(x)).clamp_(0.0, 1.0)
        return x

    def __repr__(self) -> str:
        return f"ColorJitter(brightness={self.brightness}, contrast={self.contrast}, saturation={self.saturation})"

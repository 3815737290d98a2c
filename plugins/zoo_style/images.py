"""Pictures in and out: reading images as tensors, resizing, writing PNG files.

Tensors here are float RGB in [0, 1], 3×H×W (or 1×3×H×W where a batch is expected).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from zoo import UserError

SAMPLE_CONTENT = "china.jpg"  # scikit-learn's embedded sample photos
SAMPLE_STYLE = "flower.jpg"


def array_to_tensor(array: np.ndarray) -> Tensor:
    """H×W×3 uint8 array -> 3×H×W float tensor in [0, 1]."""
    array = np.ascontiguousarray(array)
    if not array.flags.writeable:  # torch.from_numpy warns on read-only arrays
        array = array.copy()
    return torch.from_numpy(array).permute(2, 0, 1).float().div_(255.0)


def read_image(path: Union[str, Path], key: str = "image") -> Tensor:
    """Read the picture at ``path`` (any format Pillow reads) as a 3×H×W RGB tensor in [0, 1].

    ``key`` names the recipe key the path came from (``data.content``), for the message of
    the UserError raised when the file is missing or is not an image.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"{key}: image file not found: {path}")
    try:
        with Image.open(path) as picture:
            array = np.asarray(picture.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise UserError(f"{key}: {path} is not an image Pillow can read ({type(exc).__name__})") from exc
    return array_to_tensor(array)


def sample_image(name: str) -> Tensor:
    """One of scikit-learn's embedded sample photos (``china.jpg``, ``flower.jpg``), 3×H×W in [0, 1]."""
    from sklearn.datasets import load_sample_image

    return array_to_tensor(load_sample_image(name))


def resize_long_side(image: Tensor, size: int) -> Tensor:
    """Resize ``image`` (3×H×W or N×3×H×W) so its longer side is ``size``, keeping the aspect ratio."""
    h, w = image.shape[-2:]
    scale = size / max(h, w)
    return resize(image, (max(1, round(h * scale)), max(1, round(w * scale))))


def resize(image: Tensor, size: tuple) -> Tensor:
    """Resize ``image`` (3×H×W or N×3×H×W) to ``size`` = (H, W): bilinear, antialiased, clamped to [0, 1]."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    batch = image if image.dim() == 4 else image.unsqueeze(0)
    out = F.interpolate(batch, size=tuple(size), mode="bilinear", antialias=True, align_corners=False)
    out = out.clamp_(0.0, 1.0)
    return out if image.dim() == 4 else out.squeeze(0)


def to_uint8(image: Tensor) -> np.ndarray:
    """3×H×W or 1×3×H×W tensor in [0, 1] -> H×W×3 uint8 array (values clamped and rounded)."""
    if image.dim() == 4:
        image = image[0]
    return image.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def save_png(image: Tensor, path: Union[str, Path]) -> Path:
    """Write ``image`` (3×H×W or 1×3×H×W in [0, 1]) as an RGB PNG at ``path`` (folders created)."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_uint8(image), mode="RGB").save(path, format="PNG")
    return path


@dataclass
class StylePair:
    """What the ``images`` dataset gives: the content and the style picture.

    ``content``, ``style``: 3×H×W float tensors in [0, 1] at the files' own sizes;
    ``names``: where each came from (a path, or ``sklearn:china.jpg`` for the embedded photos).
    """

    content: Tensor
    style: Tensor
    names: tuple = ("content", "style")


def load_style_pair(content: Optional[str] = None, style: Optional[str] = None) -> StylePair:
    """A content and a style picture for style transfer (returns a ``StylePair``, not a Splits).

    content: path of the picture to repaint; default scikit-learn's embedded china.jpg.
    style: path of the picture whose style is copied; default scikit-learn's flower.jpg.
    Any format Pillow reads; a missing file or one that is not an image is an error naming it.
    """
    content_image = read_image(content, "data.content") if content else sample_image(SAMPLE_CONTENT)
    style_image = read_image(style, "data.style") if style else sample_image(SAMPLE_STYLE)
    names = (str(content) if content else f"sklearn:{SAMPLE_CONTENT}",
             str(style) if style else f"sklearn:{SAMPLE_STYLE}")
    return StylePair(content_image, style_image, names)

"""A model card's preprocessing: what turns an image file into the batch a model takes.

A card holds it as plain JSON, so that a model can be used where its dataset is not::

    {"read": {"mode": "L", "size": [8, 8], "resize": "cover", "interpolation": "bilinear", "crop": "centre"},
     "scale": 255,
     "steps": [{"op": "resize", "size": [28, 28], "interpolation": "bilinear", "antialias": "when shrinking"},
               {"op": "normalize", "mean": [0.5], "std": [0.5]}]}

``read``: the file is decoded with PIL in ``mode`` (``L`` or ``RGB``), resized (bilinear) so
that it covers ``size`` (height, width) and centre-cropped to it, as zoo's image datasets store
their files. ``scale``: the uint8 values are divided by it (to [0, 1]). ``steps``: the test
split's own batch transform, step by step, on a float batch B×C×H×W:

- ``rgb_to_gray`` (``weights``: the luma weights of R, G, B), ``gray_to_rgb`` (one channel repeated);
- ``resize`` to ``size``, bilinear (half-pixel centres), antialiased when shrinking either side,
  as ``torch.nn.functional.interpolate(..., antialias=True)`` and PIL do;
- ``normalize``: ``(x - mean) / std`` per channel (one value serves every channel).

This module describes a dataset's transform (``describe``: each step says what it is through
its ``describe()`` method) and applies a description with numpy alone (``prepare``): the ONNX
path of ``zoo predict`` runs without torch.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from zoo.errors import UserError

__all__ = ["STEP_OPS", "describe", "prepare", "resize_matrix", "check", "shape_problem"]

#: The step names a card may hold, with the keys each one needs.
STEP_OPS = {"rgb_to_gray": ("weights",), "gray_to_rgb": (), "resize": ("size",), "normalize": ("mean", "std")}


def describe(stored_shape: Sequence[int], transform: Any) -> dict:
    """The preprocessing of a dataset whose samples are stored at ``stored_shape`` (C, H, W)
    and go through ``transform`` (None, one step, or a composition with a ``transforms`` list).

    Every step must have a ``describe()`` method returning one of the ``STEP_OPS`` dicts;
    raises ``ValueError`` naming the first step that has none (its dataset's test images can
    then be prepared only by the dataset itself).
    """
    channels, height, width = (int(v) for v in stored_shape)
    if channels not in (1, 3):
        raise ValueError(f"{channels}-channel images cannot be read from image files")
    if transform is None:
        parts: list = []
    else:
        parts = list(getattr(transform, "transforms", [transform]))
    steps = []
    for part in parts:
        describe_step = getattr(part, "describe", None)
        step = describe_step() if callable(describe_step) else None
        if not isinstance(step, dict) or step.get("op") not in STEP_OPS:
            raise ValueError(f"the transform step {part!r} does not describe itself")
        steps.append(step)
    return {"read": {"mode": "L" if channels == 1 else "RGB", "size": [height, width], "resize": "cover",
                     "interpolation": "bilinear", "crop": "centre"},
            "scale": 255, "steps": steps}


def check(preprocessing: Any, where: str) -> dict:
    """``preprocessing`` if it is a description this module can apply, else ``zoo.UserError``
    (``where``: the file or card it came from)."""
    try:
        read = preprocessing["read"]
        assert read["mode"] in ("L", "RGB") and len(read["size"]) == 2 and all(int(v) > 0 for v in read["size"])
        assert float(preprocessing["scale"]) > 0
        for step in preprocessing["steps"]:
            assert step["op"] in STEP_OPS and all(key in step for key in STEP_OPS[step["op"]])
            if step["op"] == "resize":
                size = [step["size"]] * 2 if isinstance(step["size"], int) else step["size"]
                assert len(size) == 2 and all(int(v) > 0 for v in size)
    except (AssertionError, KeyError, TypeError, ValueError):
        raise UserError(f"{where}: the model card's preprocessing is not one zoo can apply: "
                        f"{str(preprocessing)[:200]}") from None
    return preprocessing


def shape_problem(preprocessing: dict, input_shape: Sequence[int]) -> str:
    """What keeps ``preprocessing`` (a ``check``-ed description) from giving the model's
    ``input_shape`` (C, H, W): the shape it gives instead, or a normalisation of another number of
    channels; "" when they agree."""
    read = preprocessing["read"]
    channels, size = (1 if read["mode"] == "L" else 3), tuple(int(v) for v in read["size"])
    for step in preprocessing["steps"]:
        if step["op"] == "resize":
            size = (int(step["size"]),) * 2 if isinstance(step["size"], int) else tuple(int(v) for v in step["size"])
        elif step["op"] in ("rgb_to_gray", "gray_to_rgb"):
            channels = 1 if step["op"] == "rgb_to_gray" else 3
        else:
            for key in ("mean", "std"):
                count = len(step[key]) if isinstance(step[key], (list, tuple)) else 1
                if count not in (1, channels):
                    return f"its preprocessing normalizes {count} channels but its input has {channels}"
    given, expected = (channels, *size), tuple(int(v) for v in input_shape)
    if given != expected:
        return (f"its preprocessing gives {'x'.join(map(str, given))} inputs but its input is "
                f"{'x'.join(map(str, expected))}")
    return ""


def prepare(images: Sequence[np.ndarray], preprocessing: dict) -> np.ndarray:
    """Images read as the card says (uint8 H×W×C arrays at ``read.size``) as the float32 batch
    B×C×H×W the model takes: scaled, then each step applied in order."""
    batch = np.ascontiguousarray(np.stack([np.asarray(image) for image in images]).transpose(0, 3, 1, 2),
                                 dtype=np.float32)
    batch /= np.float32(preprocessing["scale"])
    for step in preprocessing["steps"]:
        batch = _APPLY[step["op"]](batch, step)
    return np.ascontiguousarray(batch, dtype=np.float32)


def _rgb_to_gray(x: np.ndarray, step: dict) -> np.ndarray:
    if x.shape[1] != 3:
        return x
    r, g, b = (np.float32(w) for w in step["weights"])
    return (r * x[:, 0] + g * x[:, 1] + b * x[:, 2])[:, None]


def _gray_to_rgb(x: np.ndarray, step: dict) -> np.ndarray:
    return np.repeat(x, 3, axis=1) if x.shape[1] == 1 else x


def _normalize(x: np.ndarray, step: dict) -> np.ndarray:
    mean = np.asarray(step["mean"], dtype=np.float64).reshape(1, -1, 1, 1)
    std = np.asarray(step["std"], dtype=np.float64).reshape(1, -1, 1, 1)
    return x * (1.0 / std).astype(np.float32) + (-mean / std).astype(np.float32)


def _resize(x: np.ndarray, step: dict) -> np.ndarray:
    size = step["size"]
    height, width = (size, size) if isinstance(size, int) else size
    if x.shape[-2:] == (height, width):
        return x
    antialias = x.shape[-2] > height or x.shape[-1] > width
    rows = resize_matrix(x.shape[-2], height, antialias)
    columns = resize_matrix(x.shape[-1], width, antialias)
    return np.einsum("oh,bchw,pw->bcop", rows, x, columns, optimize=True).astype(np.float32)


def resize_matrix(in_size: int, out_size: int, antialias: bool) -> np.ndarray:
    """The out_size × in_size weights of bilinear resizing along one axis, as torch computes
    them: half-pixel centres; with ``antialias``, the triangle filter widened by the scale when
    shrinking (PIL's and ``interpolate(antialias=True)``'s)."""
    scale = in_size / out_size
    weights = np.zeros((out_size, in_size), dtype=np.float64)
    for i in range(out_size):
        if antialias:
            support = scale if scale >= 1.0 else 1.0
            inverse = 1.0 / scale if scale >= 1.0 else 1.0
            center = scale * (i + 0.5)
            low = max(int(center - support + 0.5), 0)
            high = min(int(center + support + 0.5), in_size)
            taps = np.arange(low, high)
            w = np.clip(1.0 - np.abs((taps - center + 0.5) * inverse), 0.0, None)
            weights[i, low:high] = w / w.sum()
        else:
            source = max(scale * (i + 0.5) - 0.5, 0.0)
            first = int(source)
            second = first + (1 if first < in_size - 1 else 0)
            fraction = source - first
            weights[i, first] += 1.0 - fraction
            weights[i, second] += fraction
    return weights.astype(np.float32)


_APPLY = {"rgb_to_gray": _rgb_to_gray, "gray_to_rgb": _gray_to_rgb, "resize": _resize, "normalize": _normalize}


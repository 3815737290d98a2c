"""The recipe keys every dataset shares, parsed into batch callables.

``augment``, ``normalize``, ``image_size`` and ``channels`` arrive as factory keyword
arguments; ``build_pipeline`` checks them (a mistake is a ``zoo.UserError`` naming the key
and listing what is accepted) and returns the ``augment(x, generator)`` and ``transform(x)``
callables a ``zoo.toolkit.TensorImageDataset`` applies to each batch.

``augment`` is a list; each item is a name or a one-key mapping ``{name: argument}``:

- ``hflip`` / ``vflip``: mirror with probability p (default 0.5); ``{hflip: 0.3}``.
- ``rotate``: rotate by a random angle in [-d, d] degrees (default 10); ``{rotate: 15}``
  or ``{rotate: [-5, 20]}``.
- ``random_resized_crop``: crop a random area (scale, default [0.08, 1]) and aspect ratio
  (ratio, default [3/4, 4/3]) and resize it back; ``{random_resized_crop: 224}`` sets the
  output size, ``{random_resized_crop: {size: 224, scale: [0.5, 1], ratio: [0.75, 1.33]}}``.
  Without a size the crop keeps the image's size.
- ``crop``: pad by n pixels (default 4) and crop back at a random offset, as CIFAR
  training does; ``{crop: 4}``.
- ``color_jitter``: random brightness, contrast and saturation factors in [1-v, 1+v]
  (default 0.4 each); ``{color_jitter: 0.2}`` or ``{color_jitter: {brightness: 0.3}}``.

``normalize`` is null (none), a preset name (``imagenet``, ``mnist``, ``cifar10``,
``cifar100``, ``half``: mean 0.5 std 0.5) or ``{mean: [...], std: [...]}`` (one value, or
one per channel). ``channels`` 1 or 3 converts grayscale to RGB (by repetition) or RGB to
grayscale (luma). ``image_size`` resizes every image to a square of that side.

The transform resizes, converts channels (to grayscale before resizing, to RGB after: the
cheaper order) and normalises last; augmentations run before it, on values in [0, 1].
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

from zoo import UserError
from zoo.toolkit import BatchCompose, RandomBatchCompose
from zoo_datasets.augment import ColorJitter, HFlip, RandomCrop, RandomResizedCrop, Rotate, VFlip
from zoo_datasets.ops import GrayToRGB, Normalize, Resize, RGBToGray

#: The annotation of the ``augment`` key (the recipe validator reads it).
AugmentSpec = Optional[list[Union[str, dict[str, Any]]]]
#: The annotation of the ``normalize`` key.
NormalizeSpec = Union[None, str, dict[str, Union[float, list[float]]]]

NORMALIZE_PRESETS = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "mnist": ((0.1307,), (0.3081,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "half": ((0.5,), (0.5,)),
}


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _pair(value: Any) -> Optional[tuple]:
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_number(v) for v in value):
        return float(value[0]), float(value[1])
    return None


class _BadArgument(Exception):
    pass


def _flip(cls: type) -> Callable[[Any], Any]:
    def build(arg: Any) -> Any:
        p = 0.5 if arg is None else arg
        if not _is_number(p) or not 0.0 <= p <= 1.0:
            raise _BadArgument
        return cls(p)

    return build


def _rotate(arg: Any) -> Rotate:
    if arg is None:
        return Rotate(-10.0, 10.0)
    if _is_number(arg) and arg >= 0:
        return Rotate(-float(arg), float(arg))
    pair = _pair(arg)
    if pair is None or pair[0] > pair[1]:
        raise _BadArgument
    return Rotate(*pair)


def _random_resized_crop(arg: Any) -> RandomResizedCrop:
    if arg is None:
        return RandomResizedCrop()
    if isinstance(arg, int) and not isinstance(arg, bool):
        arg = {"size": arg}
    if not isinstance(arg, dict) or set(arg) - {"size", "scale", "ratio"}:
        raise _BadArgument
    size = arg.get("size")
    if size is not None and not (isinstance(size, int) and not isinstance(size, bool) and size > 0):
        raise _BadArgument
    scale = _pair(arg.get("scale", (0.08, 1.0)))
    ratio = _pair(arg.get("ratio", (3 / 4, 4 / 3)))
    if scale is None or not 0.0 < scale[0] <= scale[1] <= 1.0:
        raise _BadArgument
    if ratio is None or not 0.0 < ratio[0] <= ratio[1]:
        raise _BadArgument
    return RandomResizedCrop(size, scale, ratio)


def _crop(arg: Any) -> RandomCrop:
    if isinstance(arg, dict) and set(arg) == {"padding"}:
        arg = arg["padding"]
    padding = 4 if arg is None else arg
    if not isinstance(padding, int) or isinstance(padding, bool) or padding < 0:
        raise _BadArgument
    return RandomCrop(padding)


def _color_jitter(arg: Any) -> ColorJitter:
    if arg is None:
        arg = 0.4
    if _is_number(arg):
        arg = {"brightness": arg, "contrast": arg, "saturation": arg}
    keys = {"brightness", "contrast", "saturation"}
    if not isinstance(arg, dict) or not arg or set(arg) - keys:
        raise _BadArgument
    if not all(_is_number(v) and v >= 0 for v in arg.values()):
        raise _BadArgument
    return ColorJitter(**{k: float(v) for k, v in arg.items()})


#: name -> (builder from the item's argument, what the argument may be)
AUGMENTATIONS: dict = {
    "hflip": (_flip(HFlip), "a probability 0..1 (default 0.5)"),
    "vflip": (_flip(VFlip), "a probability 0..1 (default 0.5)"),
    "rotate": (_rotate, "degrees d >= 0 for [-d, d] (default 10), or [low, high]"),
    "random_resized_crop": (
        _random_resized_crop,
        "an output size, or {size: N, scale: [min, max] in (0, 1], ratio: [min, max]}",
    ),
    "crop": (_crop, "a padding in pixels >= 0 (default 4)"),
    "color_jitter": (
        _color_jitter,
        "a strength >= 0 (default 0.4), or {brightness: v, contrast: v, saturation: v}",
    ),
}


def parse_augment(spec: AugmentSpec) -> tuple:
    """Parse the ``augment`` key into ``(RandomBatchCompose or None, crop output size or None)``."""
    if spec is None:
        return None, None
    if not isinstance(spec, (list, tuple)):
        raise UserError(
            f"augment: expected a list of augmentations, got {spec!r}; valid names: {', '.join(AUGMENTATIONS)}"
        )
    ops, crop_size = [], None
    for position, item in enumerate(spec, 1):
        if isinstance(item, str):
            name, arg = item, None
        elif isinstance(item, dict) and len(item) == 1:
            (name, arg), = item.items()
        else:
            raise UserError(
                f"augment item {position}: expected a name or {{name: argument}}, got {item!r}; "
                f"valid names: {', '.join(AUGMENTATIONS)}"
            )
        if name not in AUGMENTATIONS:
            raise UserError(
                f"augment item {position}: unknown augmentation {name!r}; valid names: {', '.join(AUGMENTATIONS)}"
            )
        build, expected = AUGMENTATIONS[name]
        try:
            op = build(arg)
        except _BadArgument:
            raise UserError(
                f"augment item {position}: bad argument {arg!r} for {name!r}; expected {expected}"
            ) from None
        if isinstance(op, RandomResizedCrop) and op.size is not None:
            crop_size = op.size
        ops.append(op)
    return (RandomBatchCompose(ops) if ops else None), crop_size


def parse_normalize(spec: NormalizeSpec, channels: int) -> Optional[Normalize]:
    """Parse the ``normalize`` key for images of ``channels`` channels (after conversion)."""
    if spec is None:
        return None
    if isinstance(spec, str):
        if spec not in NORMALIZE_PRESETS:
            raise UserError(
                f"normalize: unknown preset {spec!r}; choose one of {', '.join(NORMALIZE_PRESETS)} "
                f"or give {{mean: [...], std: [...]}}"
            )
        mean, std = NORMALIZE_PRESETS[spec]
        where = f"normalize {spec!r}"
    elif isinstance(spec, dict) and set(spec) == {"mean", "std"}:
        mean, std = spec["mean"], spec["std"]
        mean = [mean] if _is_number(mean) else mean
        std = [std] if _is_number(std) else std
        where = "normalize"
        if not (
            isinstance(mean, (list, tuple)) and isinstance(std, (list, tuple))
            and mean and std and all(_is_number(v) for v in list(mean) + list(std))
        ):
            raise UserError(f"normalize: mean and std must be numbers or lists of numbers, got {spec!r}")
        if any(s <= 0 for s in std):
            raise UserError(f"normalize: every std must be > 0, got {list(std)}")
    else:
        raise UserError(
            f"normalize: expected null, a preset ({', '.join(NORMALIZE_PRESETS)}) or {{mean: [...], std: [...]}}, "
            f"got {spec!r}"
        )
    for values in (mean, std):
        if len(values) not in (1, channels):
            hint = "; set channels: 3 to turn grayscale images into RGB" if channels == 1 else ""
            raise UserError(
                f"{where}: {len(values)} values for images of {channels} channel(s){hint}"
            )
    if len(mean) != len(std) and 1 not in (len(mean), len(std)):
        raise UserError(f"{where}: mean has {len(mean)} values but std has {len(std)}")
    if len(mean) == 1 and len(std) > 1:
        mean = list(mean) * len(std)
    if len(std) == 1 and len(mean) > 1:
        std = list(std) * len(mean)
    return Normalize(mean, std)


@dataclass
class Pipeline:
    """What ``build_pipeline`` resolved: the batch callables and the resulting sample layout."""

    augment: Optional[RandomBatchCompose]
    transform: Optional[BatchCompose]
    channels: int
    image_size: Optional[int]  # square side after the transform; None keeps the source size
    normalize: Optional[Normalize]

    def describe(self) -> dict:
        """JSON-ready summary for ``Splits.info`` (``normalize`` lets pictures undo the normalisation)."""
        return {
            "augment": [repr(op) for op in self.augment.augments] if self.augment else [],
            "transform": [repr(op) for op in self.transform.transforms] if self.transform else [],
            "normalize": {"mean": self.normalize.mean, "std": self.normalize.std} if self.normalize else None,
        }


def check_image_size(image_size: Optional[int]) -> Optional[int]:
    """Return ``image_size`` if it is None or a positive int, else raise UserError."""
    if image_size is None:
        return None
    if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size <= 0:
        raise UserError(f"image_size: expected a positive number of pixels, got {image_size!r}")
    return image_size


def check_channels(channels: Optional[int]) -> Optional[int]:
    """Return ``channels`` if it is None, 1 or 3, else raise UserError."""
    if channels not in (None, 1, 3):
        raise UserError(f"channels: expected 1 (grayscale) or 3 (RGB), got {channels!r}")
    return channels


def build_pipeline(
    *,
    source_channels: int,
    augment: AugmentSpec = None,
    normalize: NormalizeSpec = None,
    image_size: Optional[int] = None,
    channels: Optional[int] = None,
) -> Pipeline:
    """Turn the shared recipe keys into batch callables for images of ``source_channels`` channels.

    ``image_size``: side of the square output (None keeps the stored size, unless a
    ``random_resized_crop`` sets one: evaluation images are then resized to it too).
    ``channels``: 1 or 3, the output channels (None keeps ``source_channels``).
    Returns a ``Pipeline``; raises ``zoo.UserError`` for a bad key.
    """
    image_size = check_image_size(image_size)
    channels = check_channels(channels) or source_channels
    augment_op, crop_size = parse_augment(augment)
    if image_size is None:
        image_size = crop_size
    normalize_op = parse_normalize(normalize, channels)
    steps: list = []
    if source_channels == 3 and channels == 1:
        steps.append(RGBToGray())
    if image_size is not None:
        steps.append(Resize(image_size))
    if source_channels == 1 and channels == 3:
        steps.append(GrayToRGB())
    if normalize_op is not None:
        steps.append(normalize_op)
    transform = BatchCompose(steps) if steps else None
    return Pipeline(augment_op, transform, channels, image_size, normalize_op)

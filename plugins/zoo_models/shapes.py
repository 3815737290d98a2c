"""Input-size helpers shared by the model factories."""

from typing import Union

from zoo import UserError


def image_hw(image_size: Union[int, list], key: str = "model.image_size") -> tuple:
    """``28`` -> ``(28, 28)``; ``[H, W]`` -> ``(H, W)``; ``[C, H, W]`` -> ``(H, W)``. UserError otherwise."""
    if isinstance(image_size, int) and not isinstance(image_size, bool):
        size = (image_size, image_size)
    elif isinstance(image_size, (list, tuple)) and len(image_size) in (2, 3):
        size = tuple(image_size[-2:])
    else:
        raise UserError(f"{key}: expected an integer or [height, width]; got {image_size!r}")
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in size):
        raise UserError(f"{key}: sizes must be positive integers; got {image_size!r}")
    return size


def positive(value: int, key: str) -> int:
    """``value`` if it is a positive integer, else a UserError naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"{key}: expected a positive integer; got {value!r}")
    return value


def probability(value: float, key: str) -> float:
    """``value`` if it lies in [0, 1), else a UserError naming ``key``."""
    if not 0.0 <= value < 1.0:
        raise UserError(f"{key}: expected a number from 0 up to (not including) 1; got {value!r}")
    return float(value)

"""The image files ``zoo predict`` is given: found (files, folders, globs) and read with PIL.

numpy and PIL only: the ONNX path of ``zoo predict`` imports no torch.
"""

from __future__ import annotations

import glob
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from zoo.errors import UserError

__all__ = ["IMAGE_SUFFIXES", "collect_images", "images_under", "UnreadableImage", "decode_image", "read_image",
           "read_images"]

#: The file suffixes a folder is searched for (case-insensitive).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")

#: A file that decodes faster than this (seconds) is read in the calling thread with the rest of
#: its batch: a thread pool's hand-offs cost more than decoding an 8×8 PNG (measured here: 1,000
#: such files in 0.07 s on one thread, 0.17-0.26 s on four). A 224 px JPEG takes ~2-4 ms.
THREADED_DECODE_SECONDS = 0.001


def collect_images(arguments: Iterable[str]) -> list:
    """The image files that ``arguments`` name, in order, each once.

    A file is taken as it is (whatever its suffix, hidden or not); a folder is searched
    recursively for files with an ``IMAGE_SUFFIXES`` suffix (``images_under``), in sorted order; an argument with ``*``, ``?`` or ``[``
    is a glob (``**`` spans folders), its matches sorted. Raises ``zoo.UserError`` for a path
    that does not exist, and for a folder or glob with no image in it.
    """
    found: list = []
    for argument in arguments:
        path = Path(argument)
        if path.is_file():
            matches = [path]
        elif path.is_dir():
            matches = images_under(path)
            if not matches:
                raise UserError(f"no image files in folder {argument} (looked for {', '.join(IMAGE_SUFFIXES)})")
        elif glob.has_magic(argument):
            matches = sorted(Path(p) for p in glob.glob(argument, recursive=True) if os.path.isfile(p))
            if not matches:
                raise UserError(f"no files match {argument}")
        else:
            raise UserError(f"image not found: {argument}")
        found.extend(matches)
    return list(dict.fromkeys(found))


def images_under(folder: Path) -> list:
    """The files under ``folder`` (recursively, following no symlinked folder) whose suffix is
    one of ``IMAGE_SUFFIXES``, sorted by path. Hidden files and folders (names starting with
    ".": macOS's ``._x.png`` resource forks, ``.cache/``) are left out, as the imagefolder
    dataset leaves them out, and so is ``__MACOSX/``, the folder of those forks in a zip."""
    found = []
    for parent, folders, names in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(".") and name != "__MACOSX"]
        found.extend(os.path.join(parent, name) for name in names
                     if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES)
    found.sort(key=lambda p: p.split(os.sep))  # Path order: part by part
    return [Path(p) for p in found if os.path.isfile(p)]


class UnreadableImage(Exception):
    """A file that is not a readable image: ``path`` names it, ``reason`` says why (one line)."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason


def decode_image(path: Path, mode: str, size: Sequence[int]) -> np.ndarray:
    """Decode ``path`` as a uint8 array H×W×C (``mode`` "L" or "RGB", ``size`` (H, W)).

    The image is resized (bilinear) to cover ``size`` and its centre cropped, as zoo's image
    datasets store their files (JPEGs are decoded at the smallest scale still covering it).
    16-bit and float images are scaled to 8 bits first (``_as_8_bits``), never clipped.
    Raises ``UnreadableImage`` for a file PIL cannot decode.
    """
    from PIL import Image

    height, width = size
    try:
        with Image.open(path) as image:
            image.draft(mode, (width, height))  # JPEG: decode at the smallest scale still covering size
            image = _as_8_bits(image)
            if image.mode != mode:
                image = image.convert(mode)
            w, h = image.size
            if (w, h) != (width, height):
                scale = max(width / w, height / h)
                new = (max(width, round(w * scale)), max(height, round(h * scale)))
                if new != image.size:
                    image = image.resize(new, Image.BILINEAR)
                left, top = int(round((new[0] - width) / 2.0)), int(round((new[1] - height) / 2.0))
                image = image.crop((left, top, left + width, top + height))
            array = np.asarray(image, dtype=np.uint8)
    except Exception as exc:  # PIL raises OSError, ValueError, SyntaxError... for files it can't read
        raise UnreadableImage(path, " ".join(str(exc).split()) or type(exc).__name__) from exc
    return array[:, :, None] if array.ndim == 2 else array


def _as_8_bits(image):
    """``image`` (a PIL image) with 8-bit channels: a 16-bit one (``I;16*``, or ``I`` holding
    values above 255) scaled from 0..65535, a float one (``F``) from 0..1 when its values lie
    there (else taken as 0..255), as an ``L`` image; any other image as it is."""
    from PIL import Image

    if not (image.mode.startswith("I;16") or image.mode in ("I", "F")):
        return image
    values = np.asarray(image, dtype=np.float64)
    if image.mode.startswith("I;16") or (image.mode == "I" and values.size and values.max() > 255):
        values = values * (255.0 / 65535.0)
    elif image.mode == "F" and values.size and values.min() >= 0.0 and values.max() <= 1.0:
        values = values * 255.0
    return Image.fromarray(np.clip(np.round(values), 0, 255).astype(np.uint8), "L")


def read_image(path: Path, mode: str, size: Sequence[int]) -> np.ndarray:
    """``decode_image``, with a file PIL cannot decode a ``zoo.UserError`` naming it."""
    try:
        return decode_image(path, mode, size)
    except UnreadableImage as exc:
        raise UserError(f"cannot read image {exc.path}: {exc.reason}") from None


def read_images(paths: Sequence[Path], mode: str, size: Sequence[int], workers: int = 4,
                skipped: Optional[list] = None) -> list:
    """``read_image`` of every path, in order.

    The first file is decoded in the calling thread and timed: files that decode in under
    ``THREADED_DECODE_SECONDS`` (small PNGs, thumbnails) are all read there, since handing them
    to threads costs more than decoding them; slower ones (photos: PIL decodes without holding
    the GIL) go to up to ``workers`` threads. A file PIL cannot decode is a ``zoo.UserError``;
    with ``skipped`` (a list), its message is appended there instead and its entry is None.
    """
    if not paths:
        return []

    def read(path: Path) -> tuple:
        if skipped is None:
            return read_image(path, mode, size), None
        try:
            return read_image(path, mode, size), None
        except UserError as exc:
            return None, str(exc)

    started = time.perf_counter()
    first = read(paths[0])
    if workers <= 1 or len(paths) <= 2 or time.perf_counter() - started < THREADED_DECODE_SECONDS:
        done = [first] + [read(p) for p in paths[1:]]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            done = [first] + list(pool.map(read, paths[1:]))
    if skipped is not None:
        skipped.extend(problem for _, problem in done if problem is not None)  # in the paths' order
    return [image for image, _ in done]

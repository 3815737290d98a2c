"""Image files: decode to fixed-size uint8 tensors, once for a whole list or lazily per item.

An image is decoded with PIL (JPEG files at a reduced DCT scale when much larger than
needed), its shorter side resized to ``size`` and the centre ``size`` × ``size`` cropped,
as torchvision's ``Resize(size)`` + ``CenterCrop(size)`` evaluation transform does. PIL
measured faster here than ``torchvision.io.decode_image`` + an antialiased torch resize for
JPEG photos (5.8 vs 6.5 ms for 500×375, 10.7 vs 23.9 ms for 1280×853, one thread); torchvision
was faster only for 32×32 PNGs (0.08 vs 0.11 ms), which are decoded once anyway.

How a list of files is kept (``decode_plan``): decoded up front into memory when the uint8
images fit (``CACHE_LIMIT_BYTES``), else decoded when first read into a memory-mapped file
(``DecodedImages``), each file at most once per run; ``cache: false`` decodes per item.
"""

from __future__ import annotations

import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch
from PIL import Image

from zoo import UserError
from zoo.toolkit import ImageBatchDataset, UnreadableImage, decode_image, digest, finish_batch

#: "auto" caching decodes a whole list into memory when it needs at most this many bytes.
CACHE_LIMIT_BYTES = 2 * 1024**3


#: An image file that could not be decoded: ``path`` names it, ``reason`` says why.
ImageReadError = UnreadableImage


def load_image(path: Path, size: int, mode: str = "RGB") -> torch.Tensor:
    """Decode ``path`` into a uint8 tensor C×size×size (C = 3 for mode "RGB", 1 for "L"), resized
    to cover size × size and centre-cropped (``zoo.toolkit.decode_image``, which ``zoo predict``
    reads image files with too).

    Raises ``ImageReadError`` naming the file when it is not a readable image.
    """
    return torch.from_numpy(decode_image(path, mode, (size, size)).copy()).permute(2, 0, 1)


def image_size_notes(paths: Sequence[Path], size: int, source: str, *, probes: int = 16) -> tuple:
    """What a dataset of ``paths`` decoded at ``size`` × ``size`` says about its image size:
    ``(note, warning)``. ``note`` (for the log) says the size the images become, why, and the
    files' own sizes (from the headers of up to ``probes`` files, evenly spaced); ``warning``
    is None unless the files are upscaled 2x or more, when it says by how much and how to set
    the size."""
    step = max(1, len(paths) // probes)
    sides = []
    for path in list(paths)[::step][:probes]:
        try:
            with Image.open(path) as image:
                sides.append(image.size)
        except Exception:  # an unreadable file is reported where it is decoded
            continue
    note = (f"{source}: images become {size}x{size} (data.image_size: {size}; the shorter side is scaled "
            f"to it and the centre cropped, as torchvision's Resize + CenterCrop)")
    if not sides:
        return note, None
    shorter = sorted(min(w, h) for w, h in sides)
    if len(set(sides)) == 1:
        note += f"; the files are {sides[0][0]}x{sides[0][1]}"
    else:
        note += f"; the files' shorter sides are {shorter[0]} to {shorter[-1]} pixels"
    typical = shorter[len(shorter) // 2]
    if typical * 2 > size:
        return note, None
    warning = (f"{source}: the images are about {typical} pixels on a side but become {size}x{size}: upscaled "
               f"{size / typical:.0f}x, which costs {(size / typical) ** 2:.0f}x the computation and adds no "
               f"detail; set data.image_size={typical} (or the size your model needs)")
    return note, warning


def readable_header(path: Path) -> Optional[str]:
    """None when PIL recognises ``path`` as an image (header only), else the reason it does not."""
    try:
        with Image.open(path):
            return None
    except Exception as error:
        return str(error).splitlines()[0] if str(error) else type(error).__name__


def unreadable_message(path: Path, reason: str) -> str:
    """The one-line error for an image that cannot be decoded."""
    return f"cannot read image {path}: {reason}; fix or delete the file, or set on_error: skip"


def warn_skipped(path: Path, reason: str) -> None:
    """Print the one-line warning for an image ``on_error: skip`` leaves out."""
    print(f"zoo: warning: skipping unreadable image {path}: {reason}", file=sys.stderr)


def decode_images(
    paths: Sequence[Path], size: int, mode: str = "RGB", *, on_error: str = "fail", workers: Optional[int] = None
) -> tuple:
    """Decode every file of ``paths`` into one uint8 tensor N×C×size×size, using threads.

    ``on_error``: "fail" raises ``zoo.UserError`` naming the first unreadable file; "skip"
    prints a one-line warning per unreadable file and leaves it out. Returns
    ``(images, kept)``: ``kept`` lists the positions in ``paths`` that ``images`` holds.
    """
    channels = 1 if mode == "L" else 3
    out = torch.empty((len(paths), channels, size, size), dtype=torch.uint8)
    failed: dict = {}

    def decode(i: int) -> None:
        try:
            out[i] = load_image(paths[i], size, mode)
        except ImageReadError as error:
            failed[i] = error

    workers = workers or min(8, os.cpu_count() or 1)
    if workers > 1 and len(paths) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(decode, range(len(paths)), chunksize=16))
    else:
        for i in range(len(paths)):
            decode(i)
    if failed and on_error != "skip":
        first = failed[min(failed)]
        raise UserError(unreadable_message(first.path, first.reason))
    for i in sorted(failed):
        warn_skipped(failed[i].path, failed[i].reason)
    kept = [i for i in range(len(paths)) if i not in failed]
    if failed:
        out = out[torch.tensor(kept, dtype=torch.long)]
    return out, kept


def decode_plan(cache, count: int, channels: int, size: int) -> str:
    """How ``count`` images of ``channels``×``size``×``size`` are kept, for a dataset's ``cache``
    key: "memory" (decoded up front, uint8 in memory: ``cache`` true, or "auto" when they take at
    most ``CACHE_LIMIT_BYTES``), "file" ("auto" beyond it: decoded when first read into a
    memory-mapped file, ``DecodedImages``) or "none" (``cache`` false: decoded per item)."""
    if cache == "auto":
        return "memory" if count * channels * size * size <= CACHE_LIMIT_BYTES else "file"
    return "memory" if cache else "none"


class DecodedImages:
    """``count`` uint8 images C×H×W (``shape``) decoded at most once: kept in a memory-mapped
    file in the temporary folder (removed when this object goes), with a flag per image saying
    whether it is decoded yet. The file and the flags are shared with DataLoader worker
    processes, so an image a worker decoded is not decoded again."""

    def __init__(self, count: int, shape: tuple, folder: Optional[str] = None):
        self.count, self.shape = int(count), tuple(shape)
        self._file = tempfile.NamedTemporaryFile(prefix="zoo-decoded-", suffix=".uint8", dir=folder)
        self.path = self._file.name
        self.images = self._open()
        self.decoded = torch.zeros(self.count, dtype=torch.bool).share_memory_()

    def _open(self) -> torch.Tensor:
        size = self.count * int(np.prod(self.shape))
        return torch.from_file(self.path, shared=True, size=size, dtype=torch.uint8).view(self.count, *self.shape)

    def __getstate__(self) -> dict:  # a spawned worker maps the same file
        return {"count": self.count, "shape": self.shape, "path": self.path, "decoded": self.decoded}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._file = None
        self.images = self._open()

    def rows(self, positions: torch.Tensor, decode: Any) -> torch.Tensor:
        """The images at ``positions``, decoding those not decoded yet with ``decode(position)``
        (a C×H×W uint8 tensor), in threads when several are missing."""
        missing = [int(i) for i in positions[~self.decoded[positions]].unique()]

        def fill(i: int) -> None:
            self.images[i] = decode(i)
            self.decoded[i] = True

        if len(missing) > 1:
            with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1, len(missing))) as pool:
                list(pool.map(fill, missing))
        elif missing:
            fill(missing[0])
        return self.images.index_select(0, positions)


class LazyImageDataset(ImageBatchDataset):
    """Image files decoded when read, for lists too big to hold decoded in memory.

    With ``decode_once`` each file is decoded at most once (into a memory-mapped file,
    ``DecodedImages``, shared by the views and the DataLoader's workers); else every read
    decodes it again. Items are ``(float tensor C×size×size, int label)`` produced like a
    ``zoo.toolkit.TensorImageDataset``'s (same ``transform``/``augment`` callables, same
    ``batch``/``subset``/``without_augment`` methods, both ``zoo.toolkit.ImageBatchDataset``),
    decoding each file when asked, on the CPU. A file that cannot be decoded raises
    ``zoo.UserError`` naming it.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        labels: Sequence[int],
        *,
        size: int,
        mode: str = "RGB",
        classes: Optional[Sequence[str]] = None,
        transform=None,
        augment=None,
        decode_once: bool = False,
    ):
        if len(paths) != len(labels):
            raise ValueError(f"{len(paths)} paths but {len(labels)} labels")
        super().__init__(classes=classes, transform=transform, augment=augment)
        self.paths = [Path(p) for p in paths]
        self.labels = torch.as_tensor(list(labels), dtype=torch.long)
        self.size, self.mode = int(size), mode
        # decode_once: each file decoded at most once, into a memory-mapped file shared by the views
        self.store = DecodedImages(len(self.paths), self.stored_shape) if decode_once else None
        self.store_paths = self.paths  # the store's files, in its order
        self.positions = torch.arange(len(self.paths))  # this view's files in the store

    def _decode(self, path: Path) -> torch.Tensor:
        try:
            return load_image(path, self.size, self.mode)
        except ImageReadError as error:
            raise UserError(unreadable_message(error.path, error.reason)) from None

    def batch(self, indices, *, augment: bool = True, generator: Optional[torch.Generator] = None) -> tuple:
        """Decode the samples at ``indices`` and return ``(x float B×C×H×W, y int64 B)``.

        ``indices``: positions in ``[0, len(self))``. ``augment``: apply the augmentation
        (when the dataset has one); ``generator``: what it draws from. On the CPU.
        """
        rows = torch.as_tensor(indices, dtype=torch.long).reshape(-1)
        if len(rows) and self.store is not None:
            x = self.store.rows(self.positions.index_select(0, rows), lambda i: self._decode(self.store_paths[i]))
        elif len(rows):
            x = torch.stack([self._decode(self.paths[int(i)]) for i in rows])
        else:
            x = torch.empty((0,) + self.stored_shape, dtype=torch.uint8)
        x = finish_batch(x, transform=self.transform, augment=self.augment if augment else None, generator=generator)
        return x, self.labels.index_select(0, rows)

    def __len__(self) -> int:
        """How many files this dataset holds."""
        return len(self.paths)

    def subset(self, indices) -> "LazyImageDataset":
        """The samples at ``indices`` (positions in this dataset, negatives count from the end)."""
        n = len(self)
        rows = [int(i) + (n if int(i) < 0 else 0) for i in torch.as_tensor(indices, dtype=torch.long).reshape(-1)]
        return self.copy_with(paths=[self.paths[i] for i in rows], labels=self.labels[rows],
                              positions=self.positions[rows])

    def content_digest(self) -> str:
        """A digest of the files (path, size, modification time), their order and labels, the
        decoding (size, mode) and the transform: a file edited or replaced changes it."""
        files = []
        for path in self.paths:
            try:
                stat = path.stat()
                files.append((str(path.resolve()), stat.st_size, stat.st_mtime_ns))
            except OSError:
                files.append((str(path), None, None))
        return digest(files, self.labels, self.size, self.mode, repr(self.transform))

    @property
    def targets(self) -> torch.Tensor:
        """The labels of this dataset's files, int64, in order."""
        return self.labels

    @property
    def stored_shape(self) -> tuple:
        """``(C, H, W)`` of one decoded file, before the transform (what ``prepare`` takes)."""
        return (1 if self.mode == "L" else 3, self.size, self.size)

    def __repr__(self) -> str:
        return f"LazyImageDataset({len(self)} files, {self.mode} {self.size}×{self.size})"

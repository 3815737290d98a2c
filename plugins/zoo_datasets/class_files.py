"""The image files of a dataset's class folders: each real file once, under one class.

A class folder is walked like torchvision's ImageFolder walks it (sub-folders too, folders in
the order of their paths, files by name), with what ImageFolder does not guard against:

- a link to a folder inside the dataset, or to a folder holding it (``cat/loop -> .``,
  ``dog/up -> <root>``), is skipped with a warning: its images are listed under their own
  folder already, or would be listed again under this class; a folder met twice in one walk
  (a loop outside the dataset) likewise;
- links to folders outside the dataset (a pool of images kept elsewhere) are followed;
- each file is known by its real path (links resolved): found again under the same class of
  the same split it is skipped with a warning, found under another class or split it is a
  ``zoo.UserError`` naming both paths (the image would be mislabelled, or leak from training
  into testing);
- hidden files and folders (names starting with ".") are ignored, and so is what is not a
  regular file once links are followed (a dangling link, a FIFO), with a warning when its
  name is an image's.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

from zoo import UserError


def _within(path: str, folder: str) -> bool:
    """Whether real path ``path`` is ``folder`` or lies inside it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def warn(message: str) -> None:
    """Print one ``zoo: warning: imagefolder: ...`` line on stderr."""
    print(f"zoo: warning: imagefolder: {message}", file=sys.stderr)


class ClassFiles:
    """Lists the image files of the class folders of one dataset, remembering every real file
    it listed (see the module docstring).

    root: the dataset's root folder; links leading into it, or to a folder holding it, are
        not followed.
    is_image: whether a file name counts as an image (its extension).
    """

    def __init__(self, root: Path, is_image: Callable[[str], bool]):
        self.root = os.path.realpath(root)
        self.is_image = is_image
        self.owners: dict = {}  # real path -> (listed path, "train/cat")

    def list(self, folder: Path, owner: str) -> list:
        """The image files under class folder ``folder`` (listed paths, in ImageFolder's order);
        ``owner`` names the class and split they belong to (``"train/cat"``) in messages."""
        found = []
        for listed, real, entries in sorted(self._folders(folder), key=lambda f: f[0]):
            for entry in sorted(entries, key=lambda e: e.name):
                path = self._accept(entry, real, owner)
                if path is not None:
                    found.append(path)
        return found

    def _folders(self, top: Path) -> list:
        """``(listed path, real path, file entries)`` of ``top`` and every folder under it worth walking."""
        folders = []
        pending = [(str(top), os.path.realpath(top))]
        visited = {pending[0][1]}
        while pending:
            listed, real = pending.pop()
            files = []
            with os.scandir(listed) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    if not entry.is_dir():
                        files.append(entry)
                        continue
                    target = os.path.realpath(entry.path) if entry.is_symlink() else os.path.join(real, entry.name)
                    if entry.is_symlink() and (_within(target, self.root) or _within(self.root, target)):
                        where = "inside the dataset" if _within(target, self.root) else "to a folder holding the dataset"
                        warn(f"not following link {entry.path} -> {target}: it leads {where}; its images are listed "
                             f"under their own folder")
                    elif target in visited:
                        warn(f"not following {entry.path}: it leads back to {target}, listed already (a loop)")
                    else:
                        visited.add(target)
                        pending.append((entry.path, target))
            folders.append((listed, real, files))
        return folders

    def _accept(self, entry: os.DirEntry, folder_real: str, owner: str):
        """``Path(entry.path)`` when it is an image file listed for the first time, else None
        (with a warning where that means something); a UserError when another class has it."""
        if not self.is_image(entry.name):
            return None
        if not entry.is_file():
            warn(f"skipping {entry.path}: not a regular file"
                 f"{' (a link to nothing)' if entry.is_symlink() and not os.path.exists(entry.path) else ''}")
            return None
        real = os.path.realpath(entry.path) if entry.is_symlink() else os.path.join(folder_real, entry.name)
        first = self.owners.get(real)
        if first is None:
            self.owners[real] = (entry.path, owner)
            return Path(entry.path)
        if first[1] == owner:
            warn(f"skipping {entry.path}: the same file as {first[0]} ({real}), listed already")
            return None
        raise UserError(
            f"imagefolder: {entry.path} ({owner}) and {first[0]} ({first[1]}) are the same file ({real}); "
            f"an image belongs to one class of one split: remove one of them"
        )

"""``imagefolder``: a tree of class folders of image files, torchvision ImageFolder style."""

import os
from pathlib import Path
from typing import Literal, Optional, Union

from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension

from zoo import UserError
from zoo_datasets.class_files import ClassFiles
from zoo_datasets.common import check_fraction, check_on_error, image_dataset, make_splits, seeded_subsets, size_notes
from zoo_datasets.images import decode_plan
from zoo_datasets.transforms import AugmentSpec, NormalizeSpec, build_pipeline, check_image_size

VALID_FOLDERS = ("valid", "val")


def is_image_file(path: str) -> bool:
    """Whether ``path`` counts as an image: an image extension (torchvision's list), not hidden."""
    return has_file_allowed_extension(path, IMG_EXTENSIONS) and not os.path.basename(path).startswith(".")


def scan_class_folders(directory: Path, files: ClassFiles, split: str) -> tuple:
    """The classes (sorted sub-folder names) and ``(path, label)`` samples under ``directory``.

    Hidden folders and files (names starting with '.') and files without an image extension
    are ignored. ``files`` lists each class folder (``zoo_datasets.class_files``: each real file
    once, links that would mislabel not followed) and remembers the files of every split it
    listed; ``split`` names this one in its messages ("" for a root without splits). A class
    folder with no image is a ``zoo.UserError`` naming it.
    """
    if not directory.is_dir():
        raise UserError(f"imagefolder: {directory} is not a folder")
    classes = sorted(e.name for e in os.scandir(directory) if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise UserError(
            f"imagefolder: no class folders in {directory}; expected {directory}/<class name>/<image files>"
        )
    samples = []
    for label, name in enumerate(classes):
        found = files.list(directory / name, f"{split}/{name}" if split else name)
        if not found:
            raise UserError(
                f"imagefolder: class folder {directory / name} holds no image files "
                f"(looked for {', '.join(IMG_EXTENSIONS)})"
            )
        samples += [(path, label) for path in found]
    return classes, samples


def _layout(root: Path) -> dict:
    """``{split: folder}`` for the splits present under ``root`` (train/test[/valid]), or ``{"all": root}``."""
    if not root.is_dir():
        raise UserError(
            f"imagefolder: root {root} does not exist; expected {root}/train and {root}/test holding one "
            f"folder per class, or {root}/<class name>/<image files>"
        )
    if (root / "train").is_dir():
        folders = {"train": root / "train"}
        if (root / "test").is_dir():
            folders["test"] = root / "test"
        for name in VALID_FOLDERS:
            if (root / name).is_dir():
                folders["valid"] = root / name
                break
        return folders
    return {"all": root}


def _check_same_classes(reference: tuple, other: tuple) -> None:
    (folder_a, classes_a), (folder_b, classes_b) = reference, other
    if classes_a != classes_b:
        only_a = sorted(set(classes_a) - set(classes_b))
        only_b = sorted(set(classes_b) - set(classes_a))
        raise UserError(
            f"imagefolder: {folder_a} and {folder_b} hold different classes "
            f"(only in {folder_a.name}: {only_a or 'none'}; only in {folder_b.name}: {only_b or 'none'})"
        )


def imagefolder(
    root: str,
    image_size: int = 224,
    test_fraction: float = 0.2,
    cache: Union[bool, Literal["auto"]] = "auto",
    on_error: Literal["fail", "skip"] = "fail",
    augment: AugmentSpec = None,
    normalize: NormalizeSpec = None,
    channels: Optional[int] = None,
    seed: int = 0,
):
    """Images sorted into one folder per class (torchvision ImageFolder layout).

    root: either root/train/<class>/... and root/test/<class>/... (optionally root/valid or
      root/val too), or root/<class>/... split by test_fraction. Class names are the folder
      names, sorted; hidden files and folders, and files without an image extension (.jpg,
      .jpeg, .png, .ppm, .bmp, .pgm, .tif, .tiff, .webp) are ignored; a class folder with no
      image is an error, and so are train/test folders with different classes. Each file is
      read once (links resolved): one file under two classes or splits is an error; links to
      folders inside the dataset (a loop, another class) are not followed, with a warning.
    image_size: side of the square images: the shorter side is resized to it and the centre
      cropped, as torchvision's Resize + CenterCrop evaluation transform.
    test_fraction: share of the images held out for testing (seeded, per class) when there is
      no test folder.
    cache: decode every image once into memory (true), decode per item (false), or "auto":
      into memory when the decoded images take at most 2 GiB, else each when first read into a
      memory-mapped file (once per run).
    on_error: what an unreadable image does: "fail" stops with its path, "skip" leaves it out
      with a one-line warning (without caching only files whose header is unreadable are
      found up front).
    augment: list of batch augmentations (hflip, vflip, rotate, random_resized_crop, crop,
      color_jitter), applied to the training split only.
    normalize: null, a preset (imagenet, half, ...) or {mean: [..], std: [..]}.
    channels: 1 to decode as grayscale (default 3, RGB).
    seed: seeds the test_fraction split.
    """
    check_image_size(image_size)
    check_on_error(on_error)
    if cache not in (True, False, "auto"):
        raise UserError(f"cache: expected true, false or 'auto', got {cache!r}")
    folders = _layout(Path(root))
    files = ClassFiles(Path(root), is_image_file)
    scanned = {split: scan_class_folders(folder, files, split if split != "all" else "")
               for split, folder in folders.items()}
    reference = next(iter(scanned))
    for split in scanned:
        _check_same_classes((folders[reference], scanned[reference][0]), (folders[split], scanned[split][0]))
    classes = scanned[reference][0]
    if "test" not in folders:
        test_fraction = check_fraction("test_fraction", test_fraction)
    pipeline = build_pipeline(
        source_channels=1 if channels == 1 else 3,
        augment=augment,
        normalize=normalize,
        image_size=image_size,
        channels=channels,
    )
    total = sum(len(samples) for _, samples in scanned.values())
    plan = decode_plan(cache, total, pipeline.channels, image_size)

    datasets, skipped = {}, []
    for split, (_, samples) in scanned.items():
        datasets[split], missed = image_dataset(
            samples, classes, pipeline, image_size, plan=plan, on_error=on_error
        )
        skipped += missed
    if "all" in datasets:
        datasets["train"], held = seeded_subsets(datasets.pop("all"), test_fraction, seed)
        datasets["test"] = held
    elif "test" not in datasets:
        datasets["train"], datasets["test"] = seeded_subsets(datasets["train"], test_fraction, seed)
    valid = datasets.get("valid")
    return make_splits(
        datasets["train"],
        datasets["test"].without_augment(),
        valid=valid.without_augment() if valid is not None else None,
        classes=classes,
        pipeline=pipeline,
        info={
            "source": "imagefolder",
            "root": str(Path(root)),
            "folders": {split: str(folder) for split, folder in folders.items()},
            "split": "folders" if "test" in folders else f"test_fraction {test_fraction} (seed {seed})",
            "skipped": skipped,
            "notes": size_notes(scanned[reference][1], image_size, "imagefolder"),
        },
    )

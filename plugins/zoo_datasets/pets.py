"""``oxford_pets``: the Oxford-IIIT Pet dataset through torchvision's ``OxfordIIITPet``."""

from pathlib import Path
from typing import Literal, Optional, Union

import torchvision.datasets as tvd

from zoo import UserError
from zoo_datasets.common import check_on_error, image_dataset, make_splits, size_notes
from zoo_datasets.images import decode_plan
from zoo_datasets.transforms import AugmentSpec, NormalizeSpec, build_pipeline, check_image_size

SPLIT_FILES = ("trainval.txt", "test.txt")


def _breed_name(image_id: str) -> str:
    """``"american_pit_bull_terrier_12"`` -> ``"American Pit Bull Terrier"`` (torchvision's naming)."""
    return " ".join(part.title() for part in image_id.rsplit("_", 1)[0].split("_"))


def _read_splits(root: str, download: bool) -> dict:
    base = Path(root) / "oxford-iiit-pet"
    expected = [base / "images", *(base / "annotations" / f for f in SPLIT_FILES)]
    missing = [p for p in expected if not p.exists()]
    if missing and not download:
        raise UserError(
            f"oxford_pets: missing {', '.join(str(p.relative_to(base)) for p in missing)} in {base}; "
            f"set download: true to fetch them, or "
            f"unpack images.tar.gz and annotations.tar.gz (https://www.robots.ox.ac.uk/~vgg/data/pets/) into {base}"
        )
    sets = {}
    for split in ("trainval", "test"):
        try:
            sets[split] = tvd.OxfordIIITPet(root, split=split, target_types="category", download=download)
        except Exception as error:
            text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            if missing:
                raise UserError(
                    f"oxford_pets: could not download into {base} ({text}); unpack images.tar.gz and "
                    f"annotations.tar.gz there instead"
                ) from None
            raise UserError(
                f"oxford_pets: cannot parse {base / 'annotations' / (split + '.txt')}: {text} "
                f"(expected lines 'Image_id CLASS-ID SPECIES BREED-ID')"
            ) from None
    return sets


def oxford_pets(
    root: str = "data",
    target: Literal["binary", "breed"] = "binary",
    download: bool = False,
    image_size: int = 224,
    cache: Union[bool, Literal["auto"]] = "auto",
    on_error: Literal["fail", "skip"] = "fail",
    augment: AugmentSpec = None,
    normalize: NormalizeSpec = "imagenet",
    channels: Optional[int] = None,
    seed: int = 0,
):
    """Oxford-IIIT Pet: 7,349 photos of 37 cat and dog breeds, as cat-vs-dog or breed classification.

    root: folder holding oxford-iiit-pet/images/*.jpg and oxford-iiit-pet/annotations/
      (trainval.txt and test.txt: the official splits, 3,680 and 3,669 images).
    target: "binary" (classes Cat, Dog: the SPECIES column of the annotations) or "breed"
      (the 37 breeds, named as torchvision names them).
    download: fetch images.tar.gz and annotations.tar.gz when missing (needs a network).
    image_size: side of the square images (shorter side resized, centre cropped).
    cache: decode every image once into memory (true), per item (false), or "auto" (into
      memory when the decoded images take at most 2 GiB, else each when first read into a
      memory-mapped file, once per run).
    on_error: an unreadable image: "fail" stops with its path, "skip" leaves it out.
    augment: list of batch augmentations, applied to the training split only.
    normalize: null, a preset (default imagenet, for pretrained models) or {mean: [..], std: [..]}.
    channels: 1 to decode as grayscale (default 3, RGB).
    seed: unused (official splits); accepted so recipes can swap datasets.
    """
    check_image_size(image_size)
    check_on_error(on_error)
    if target not in ("binary", "breed"):
        raise UserError(f"target: expected 'binary' or 'breed', got {target!r}")
    if cache not in (True, False, "auto"):
        raise UserError(f"cache: expected true, false or 'auto', got {cache!r}")
    sets = _read_splits(root, download)
    # torchvision keeps the parsed annotation columns in these attributes
    samples = {
        split: list(zip(ds._images, ds._bin_labels if target == "binary" else ds._labels))
        for split, ds in sets.items()
    }
    if target == "binary":
        classes = list(sets["trainval"].bin_classes)
    else:
        # number the breeds present 0..K-1 in the annotations' order (all 37 in the real set)
        names = {label: _breed_name(Path(path).stem) for split in samples.values() for path, label in split}
        order = sorted(names)
        classes = [names[label] for label in order]
        renumber = {label: i for i, label in enumerate(order)}
        samples = {split: [(p, renumber[label]) for p, label in items] for split, items in samples.items()}
    pipeline = build_pipeline(
        source_channels=1 if channels == 1 else 3,
        augment=augment,
        normalize=normalize,
        image_size=image_size,
        channels=channels,
    )
    total = sum(len(items) for items in samples.values())
    plan = decode_plan(cache, total, pipeline.channels, image_size)
    train, skipped_train = image_dataset(samples["trainval"], classes, pipeline, image_size, plan=plan, on_error=on_error)
    test, skipped_test = image_dataset(samples["test"], classes, pipeline, image_size, plan=plan, on_error=on_error)
    base = Path(root) / "oxford-iiit-pet"
    return make_splits(
        train,
        test.without_augment(),
        classes=classes,
        pipeline=pipeline,
        info={
            "source": "oxford_pets",
            "root": str(base),
            "files": [str(base / "images"), *(str(base / "annotations" / f) for f in SPLIT_FILES)],
            "target": target,
            "skipped": skipped_train + skipped_test,
            "notes": size_notes(samples["trainval"], image_size, "oxford_pets"),
        },
    )

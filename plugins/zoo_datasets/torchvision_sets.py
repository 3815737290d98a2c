"""MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100 through torchvision's own readers.

torchvision parses the files (IDX for MNIST, pickled batches for CIFAR); its parsed arrays
are turned once into uint8 N×C×H×W tensors served by ``zoo.toolkit.TensorImageDataset``, with
no per-sample PIL image. Missing or unreadable files are a ``zoo.UserError`` naming them.
"""

import gzip
import numbers
import pickle
import shutil
from pathlib import Path
from typing import Optional

import torch
import torchvision.datasets as tvd
from torchvision.datasets.utils import check_integrity

from zoo import UserError
from zoo_datasets.common import check_labels, make_splits, tensor_dataset
from zoo_datasets.transforms import AugmentSpec, NormalizeSpec, build_pipeline


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# -- MNIST family ------------------------------------------------------------------------------

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def _gunzip_missing(raw: Path) -> None:
    """Unpack ``<file>.gz`` copies for IDX files present only compressed (as the download does)."""
    for name in MNIST_FILES:
        target, packed = raw / name, raw / (name + ".gz")
        if target.is_file() or not packed.is_file():
            continue
        partial = target.with_name(target.name + ".partial")
        try:
            with gzip.open(packed, "rb") as source, open(partial, "wb") as sink:
                shutil.copyfileobj(source, sink)
        except (OSError, EOFError) as error:
            partial.unlink(missing_ok=True)
            raise UserError(f"cannot unpack {packed}: {_first_line(error)}; replace it with a good copy") from None
        partial.replace(target)


def _idx_problem(path: Path, images: bool) -> Optional[str]:
    """Why torchvision cannot read the IDX file ``path``, or None when it can."""
    from torchvision.datasets.mnist import read_image_file, read_label_file

    try:
        (read_image_file if images else read_label_file)(str(path))
    except Exception as error:
        return _first_line(error) or "not a valid IDX file"
    return None


def _load_mnist_like(cls: type, name: str, root: str, download: bool) -> tuple:
    """Read the train and test splits of an MNIST-format dataset; return (train, test, files)."""
    raw = Path(root) / cls.__name__ / "raw"
    processed = Path(root) / cls.__name__ / "processed"
    legacy = all((processed / f).is_file() for f in (cls.training_file, cls.test_file))
    if raw.is_dir():
        _gunzip_missing(raw)
    files = [raw / f for f in MNIST_FILES]
    missing = [p for p in files if not p.is_file()]
    if missing and not legacy and not download:
        raise UserError(
            f"{name}: missing {', '.join(p.name for p in missing)} in {raw}; set download: true to fetch "
            f"them, or copy the four IDX files (or their .gz) there"
        )
    try:
        train = cls(root, train=True, download=download)
        test = cls(root, train=False, download=False)
    except Exception as error:
        if missing and download:
            raise UserError(
                f"{name}: could not download into {raw} ({_first_line(error)}); "
                f"copy the four IDX files (or their .gz) there instead"
            ) from None
        for path in files:
            problem = _idx_problem(path, images="images" in path.name)
            if problem:
                raise UserError(f"{name}: cannot read {path}: {problem} (truncated or corrupt?); replace it") from None
        raise UserError(f"{name}: cannot read the files in {raw}: {_first_line(error)}") from None
    for split, prefix in ((train, "train"), (test, "t10k")):
        if split.data.shape[0] != split.targets.shape[0]:
            raise UserError(
                f"{name}: {raw / (prefix + '-images-idx3-ubyte')} holds {split.data.shape[0]} images but "
                f"{raw / (prefix + '-labels-idx1-ubyte')} holds {split.targets.shape[0]} labels"
            )
        check_labels(split.targets, cls.classes, str(raw / f"{prefix}-labels-idx1-ubyte"))
    return train, test, [str(p) for p in files]


def _mnist_splits(cls, name, root, download, augment, normalize, image_size, channels):
    train, test, files = _load_mnist_like(cls, name, root, download)
    pipeline = build_pipeline(
        source_channels=1, augment=augment, normalize=normalize, image_size=image_size, channels=channels
    )
    classes = list(cls.classes)
    return make_splits(
        tensor_dataset(train.data.unsqueeze(1), train.targets, classes, pipeline, train=True),
        tensor_dataset(test.data.unsqueeze(1), test.targets, classes, pipeline, train=False),
        classes=classes,
        pipeline=pipeline,
        info={"source": name, "root": str(Path(root)), "files": files},
    )


def mnist(
    root: str = "data",
    download: bool = False,
    augment: AugmentSpec = None,
    normalize: NormalizeSpec = None,
    image_size: Optional[int] = None,
    channels: Optional[int] = None,
    seed: int = 0,
):
    """MNIST handwritten digits: 60,000 train and 10,000 test 28×28 grayscale images, 10 classes.

    root: folder holding MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte (or their .gz).
    download: fetch the files from the official mirrors when missing (needs a network).
    augment: list of batch augmentations (hflip, vflip, rotate, random_resized_crop, crop,
      color_jitter), applied to the training split only.
    normalize: null, a preset (imagenet, mnist, cifar10, cifar100, half) or {mean: [..], std: [..]}.
    image_size: resize every image to this square side (default: 28, unchanged).
    channels: 3 to repeat the gray channel as RGB (for models that expect colour).
    seed: unused (MNIST has fixed splits); accepted so recipes can swap datasets.
    """
    return _mnist_splits(tvd.MNIST, "mnist", root, download, augment, normalize, image_size, channels)


def fashion_mnist(
    root: str = "data",
    download: bool = False,
    augment: AugmentSpec = None,
    normalize: NormalizeSpec = None,
    image_size: Optional[int] = None,
    channels: Optional[int] = None,
    seed: int = 0,
):
    """Fashion-MNIST clothing images: 60,000 train and 10,000 test 28×28 grayscale images, 10 classes.

    root: folder holding FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte (or .gz).
    download: fetch the files when missing (needs a network).
    augment: list of batch augmentations, applied to the training split only.
    normalize: null, a preset name or {mean: [..], std: [..]}.
    image_size: resize every image to this square side (default: 28, unchanged).
    channels: 3 to repeat the gray channel as RGB.
    seed: unused (fixed splits); accepted so recipes can swap datasets.
    """
    return _mnist_splits(
        tvd.FashionMNIST, "fashion_mnist", root, download, augment, normalize, image_size, channels
    )


# -- CIFAR family ------------------------------------------------------------------------------


def _unverified(cls: type) -> type:
    """``cls`` with its md5 checks turned off: zoo checks the files itself before loading."""
    return type(
        cls.__name__,
        (cls,),
        {
            "train_list": [[f, None] for f, _ in cls.train_list],
            "test_list": [[f, None] for f, _ in cls.test_list],
            "meta": {**cls.meta, "md5": None},
            "__module__": __name__,
        },
    )


def _cifar_entries(cls: type) -> list:
    return [*cls.train_list, *cls.test_list, [cls.meta["filename"], cls.meta["md5"]]]


def _cifar_problem(cls: type, name: str, folder: Path, checksum: bool) -> Optional[str]:
    """What keeps the CIFAR files in ``folder`` from loading (missing, or not the official md5), or None."""
    entries = _cifar_entries(cls)
    missing = [folder / f for f, _ in entries if not (folder / f).is_file()]
    if missing:
        return (
            f"{name}: missing {', '.join(p.name for p in missing)} in {folder}; set download: true to fetch "
            f"them, or unpack {cls.filename} (from {cls.url}) into {folder.parent}"
        )
    if checksum:
        for filename, md5 in entries:
            if not check_integrity(str(folder / filename), md5):
                return (
                    f"{name}: {folder / filename} does not match the official release's md5 (truncated or "
                    f"corrupt?); delete it and set download: true, or set checksum: false for your own files"
                )
    return None


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles what CIFAR batches hold (dicts, lists, strings, numbers, numpy arrays), nothing else.

    A pickle may name any importable function to call while it loads (``os.system``...), so a
    file that is not proven to be the official release is read with this first: any global
    outside numpy's array reconstruction is refused before it is looked up, so nothing runs.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("_codecs", "encode"),  # how Python 3 writes bytes in protocol 2 pickles
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refused: it names {module}.{name}, which loading would call (a CIFAR batch holds only arrays, "
            f"lists and strings; loading it could run code)")


def _cifar_file_problem(path: Path) -> Optional[str]:
    """Why ``path`` is not a readable CIFAR pickle, or None. Nothing in the file is run (``_CifarUnpickler``)."""
    try:
        with open(path, "rb") as f:
            entry = _CifarUnpickler(f, encoding="latin1").load()
    except Exception as error:
        return _first_line(error) or "not a pickle"
    if not isinstance(entry, dict):
        return "not a CIFAR batch (expected a pickled dict)"
    if "label_names" in entry or "fine_label_names" in entry:
        return None
    key = "labels" if "labels" in entry else "fine_labels"
    labels = entry.get(key)
    data = entry.get("data")
    if data is None or labels is None:
        return "not a CIFAR batch (expected keys 'data' and 'labels' or 'fine_labels')"
    if isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__"):
        return f"'{key}' holds a {type(labels).__name__}, not a list of class numbers"
    not_a_number = next((x for x in labels if isinstance(x, bool) or not isinstance(x, numbers.Integral)), None)
    if not_a_number is not None:
        return f"'{key}' holds {not_a_number!r} ({type(not_a_number).__name__}) where class numbers belong"
    if getattr(data, "size", 0) != len(labels) * 3 * 32 * 32:
        return f"'data' does not hold {len(labels)} images of 3×32×32 bytes"
    return None


def _cifar_splits(cls, name, root, download, checksum, augment, normalize, image_size, channels):
    folder = Path(root) / cls.base_folder
    problem = _cifar_problem(cls, name, folder, checksum)
    if problem and download:
        try:
            cls(str(root), train=True, download=True)  # torchvision downloads and unpacks the archive
        except Exception as error:
            raise UserError(
                f"{name}: could not download {cls.url} into {root} ({_first_line(error)}); "
                f"unpack {cls.filename} into {root} instead"
            ) from None
        problem = _cifar_problem(cls, name, folder, checksum)
    if problem:
        raise UserError(problem)
    if not checksum:  # files not proven official: read each safely before torchvision unpickles it
        for filename, _ in _cifar_entries(cls):
            bad = _cifar_file_problem(folder / filename)
            if bad:
                raise UserError(f"{name}: cannot read {folder / filename}: {bad}; replace it")
    reader = _unverified(cls)
    try:
        train = reader(str(root), train=True)
        test = reader(str(root), train=False)
    except Exception as error:
        for filename, _ in _cifar_entries(cls):
            bad = _cifar_file_problem(folder / filename)
            if bad:
                raise UserError(f"{name}: cannot read {folder / filename}: {bad}; replace it") from None
        raise UserError(f"{name}: cannot read the files in {folder}: {_first_line(error)}") from None
    classes = list(train.classes)
    pipeline = build_pipeline(
        source_channels=3, augment=augment, normalize=normalize, image_size=image_size, channels=channels
    )
    splits = []
    for split, part in ((train, cls.train_list), (test, cls.test_list)):
        labels = torch.as_tensor(split.targets, dtype=torch.long)
        check_labels(labels, classes, ", ".join(str(folder / f) for f, _ in part))
        images = torch.from_numpy(split.data).permute(0, 3, 1, 2).contiguous()  # NHWC -> NCHW
        splits.append((images, labels))
    return make_splits(
        tensor_dataset(*splits[0], classes, pipeline, train=True),
        tensor_dataset(*splits[1], classes, pipeline, train=False),
        classes=classes,
        pipeline=pipeline,
        info={
            "source": name,
            "root": str(Path(root)),
            "files": [str(folder / f) for f, _ in _cifar_entries(cls)],
            "checksum": checksum,
        },
    )


def cifar10(
    root: str = "data",
    download: bool = False,
    checksum: bool = True,
    augment: AugmentSpec = None,
    normalize: NormalizeSpec = None,
    image_size: Optional[int] = None,
    channels: Optional[int] = None,
    seed: int = 0,
):
    """CIFAR-10: 50,000 train and 10,000 test 32×32 colour images of 10 classes (airplane ... truck).

    root: folder holding cifar-10-batches-py/ (data_batch_1..5, test_batch, batches.meta).
    download: fetch and unpack cifar-10-python.tar.gz when files are missing (needs a network).
    checksum: check every file against the official release's md5 (false for your own
      files written in the CIFAR format).
    augment: list of batch augmentations (e.g. [hflip, {rotate: 10}] or [{crop: 4}, hflip]),
      applied to the training split only.
    normalize: null, a preset (cifar10, half, imagenet, ...) or {mean: [..], std: [..]}.
    image_size: resize every image to this square side (default: 32, unchanged).
    channels: 1 to turn the images into grayscale.
    seed: unused (fixed splits); accepted so recipes can swap datasets.
    """
    return _cifar_splits(tvd.CIFAR10, "cifar10", root, download, checksum, augment, normalize, image_size, channels)


def cifar100(
    root: str = "data",
    download: bool = False,
    checksum: bool = True,
    augment: AugmentSpec = None,
    normalize: NormalizeSpec = None,
    image_size: Optional[int] = None,
    channels: Optional[int] = None,
    seed: int = 0,
):
    """CIFAR-100: 50,000 train and 10,000 test 32×32 colour images of 100 fine classes.

    root: folder holding cifar-100-python/ (train, test, meta).
    download: fetch and unpack cifar-100-python.tar.gz when files are missing (needs a network).
    checksum: check every file against the official release's md5 (false for your own files).
    augment: list of batch augmentations, applied to the training split only.
    normalize: null, a preset (cifar100, half, imagenet, ...) or {mean: [..], std: [..]}.
    image_size: resize every image to this square side (default: 32, unchanged).
    channels: 1 to turn the images into grayscale.
    seed: unused (fixed splits); accepted so recipes can swap datasets.
    """
    return _cifar_splits(
        tvd.CIFAR100, "cifar100", root, download, checksum, augment, normalize, image_size, channels
    )

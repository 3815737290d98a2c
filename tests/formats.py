"""Writers of small data files in the real on-disk formats, for tests and benchmarks.

Every writer puts files where the real dataset's files go, byte for byte in the real format,
so that the real readers (torchvision's MNIST/CIFAR/OxfordIIITPet/ImageFolder code, PIL)
parse them. Image content is synthetic but learnable: each class draws a bright block at
its own place (and, in colour, its own tint) over noise, so a tiny model can fit it.

    from tests.formats import write_mnist, write_cifar10, write_image_folder, write_oxford_pets

Writers take the destination root first, keyword-only options after, and return what they
wrote (arrays and paths) so tests can compare what a loader gives back.
"""

from __future__ import annotations

import gzip
import io
import pickle
from pathlib import Path
from typing import Iterable, Sequence, Union

import numpy as np
from PIL import Image

PathLike = Union[str, Path]

MNIST_CLASSES = [
    "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
    "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine",
]
CIFAR10_CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]
#: The 37 Oxford-IIIT Pet breeds as the image names spell them: capitalised = cat.
PET_BREEDS = sorted(
    [
        "Abyssinian", "Bengal", "Birman", "Bombay", "British_Shorthair", "Egyptian_Mau", "Maine_Coon",
        "Persian", "Ragdoll", "Russian_Blue", "Siamese", "Sphynx",
        "american_bulldog", "american_pit_bull_terrier", "basset_hound", "beagle", "boxer", "chihuahua",
        "english_cocker_spaniel", "english_setter", "german_shorthaired", "great_pyrenees", "havanese",
        "japanese_chin", "keeshond", "leonberger", "miniature_pinscher", "newfoundland", "pomeranian",
        "pug", "saint_bernard", "samoyed", "scottish_terrier", "shiba_inu", "staffordshire_bull_terrier",
        "wheaten_terrier", "yorkshire_terrier",
    ],
    key=str.lower,
)


# -- image content -----------------------------------------------------------------------------


def pattern_images(
    labels: Sequence[int],
    *,
    height: int = 28,
    width: int = 28,
    channels: int = 1,
    seed: int = 0,
) -> np.ndarray:
    """Synthetic uint8 images, one per label: noise plus a class-specific bright block (and tint).

    Returns N×H×W for ``channels == 1``, else N×H×W×C (the layout PIL and CIFAR's ``.data`` use).
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels, dtype=np.int64)
    images = rng.integers(0, 64, size=(len(labels), height, width, channels), dtype=np.uint8)
    bh, bw = max(1, height // 4), max(1, width // 4)
    for i, label in enumerate(labels):
        spot = int(label) % 9
        top = (spot // 3) * (height - bh) // 2
        left = (spot % 3) * (width - bw) // 2
        images[i, top : top + bh, left : left + bw, :] = 200 + rng.integers(0, 56, dtype=np.uint8)
        if channels == 3:
            images[i, :, :, int(label) % 3] |= 96  # class tint
        if int(label) >= 9:  # classes past the 9 block spots also get a bright frame
            images[i, 0, :, :] = images[i, -1, :, :] = 255
    return images[..., 0] if channels == 1 else images


def balanced_labels(n: int, num_classes: int, seed: int = 0) -> np.ndarray:
    """``n`` labels covering the classes as evenly as possible, shuffled (int64)."""
    labels = np.arange(n, dtype=np.int64) % num_classes
    np.random.default_rng(seed).shuffle(labels)
    return labels


def write_image(path: PathLike, array: np.ndarray, *, quality: int = 95) -> Path:
    """Save ``array`` (H×W gray or H×W×3 RGB, uint8) as the format its suffix names (.png, .jpg, ...)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(np.ascontiguousarray(array))
    if path.suffix.lower() in (".jpg", ".jpeg"):
        image.save(path, format="JPEG", quality=quality)
    else:
        image.save(path)
    return path


def write_truncated_image(path: PathLike, *, size: tuple = (32, 32), keep: float = 0.5) -> Path:
    """A real JPEG/PNG (by suffix) of ``size`` (W, H) cut after ``keep`` of its bytes: a corrupt image."""
    path = Path(path)
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    fmt = "JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    Image.fromarray(rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)).save(buffer, format=fmt)
    data = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: max(16, int(len(data) * keep))])
    return path


def write_not_an_image(path: PathLike, text: str = "this is not an image\n") -> Path:
    """A text file (whatever its suffix says): unreadable as an image."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# -- MNIST (IDX) -------------------------------------------------------------------------------

_IDX_TYPES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B,
              np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """``array`` in the IDX format: magic (0, 0, type, ndim), big-endian int32 dims, big-endian data."""
    array = np.asarray(array)
    if array.dtype.kind in "iuf" and array.dtype.itemsize > 1:
        array = array.astype(array.dtype.newbyteorder(">"))
    code = _IDX_TYPES[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def write_idx(path: PathLike, array: np.ndarray, *, gz: bool = False) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed when ``gz``; the caller names the file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def write_mnist(
    root: PathLike,
    *,
    n_train: int = 60,
    n_test: int = 20,
    folder: str = "MNIST",
    raw: bool = True,
    gz: bool = False,
    size: int = 28,
    seed: int = 0,
) -> dict:
    """Write an MNIST-format dataset under ``root/<folder>/raw`` (folder "FashionMNIST" for Fashion-MNIST).

    Files: ``{train,t10k}-images-idx3-ubyte`` (magic 2051) and ``{train,t10k}-labels-idx1-ubyte``
    (magic 2049), uncompressed when ``raw``, as ``.gz`` when ``gz``. Returns
    ``{"train": (images N×H×W uint8, labels int64), "test": (...), "raw_folder": Path, "files": [Path]}``.
    """
    raw_folder = Path(root) / folder / "raw"
    written = {"raw_folder": raw_folder, "files": []}
    for split, prefix, n, offset in (("train", "train", n_train, 0), ("test", "t10k", n_test, 1)):
        labels = balanced_labels(n, 10, seed + offset)
        images = pattern_images(labels, height=size, width=size, channels=1, seed=seed + 10 + offset)
        written[split] = (images, labels)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels.astype(np.uint8))):
            name = f"{prefix}-{kind}-ubyte"
            if raw:
                written["files"].append(write_idx(raw_folder / name, array))
            if gz:
                written["files"].append(write_idx(raw_folder / (name + ".gz"), array, gz=True))
    return written


# -- CIFAR (python pickles) --------------------------------------------------------------------


def _pickle(path: Path, obj: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)
    return path


def cifar_rows(images_hwc: np.ndarray) -> np.ndarray:
    """N×32×32×3 images as CIFAR's N×3072 rows (all red, then green, then blue, row-major)."""
    return np.ascontiguousarray(images_hwc.transpose(0, 3, 1, 2)).reshape(len(images_hwc), -1)


def write_cifar10(root: PathLike, *, n_per_batch: int = 10, n_test: int = 10, seed: int = 0) -> dict:
    """Write ``root/cifar-10-batches-py``: data_batch_1..5, test_batch, batches.meta.

    Each batch is a pickled dict with ``data`` (uint8 N×3072), ``labels`` (list of int),
    ``batch_label`` and ``filenames``, as in the real release (the md5 sums differ, of course).
    Returns ``{"train": (images N×32×32×3, labels), "test": (...), "folder": Path, "classes": [...]}``.
    """
    folder = Path(root) / "cifar-10-batches-py"
    train_images, train_labels = [], []
    for b in range(1, 6):
        labels = balanced_labels(n_per_batch, 10, seed + b)
        images = pattern_images(labels, height=32, width=32, channels=3, seed=seed + 100 + b)
        _pickle(folder / f"data_batch_{b}", {
            "batch_label": f"training batch {b} of 5",
            "labels": labels.tolist(),
            "data": cifar_rows(images),
            "filenames": [f"image_{b}_{i}.png" for i in range(n_per_batch)],
        })
        train_images.append(images)
        train_labels.append(labels)
    test_labels = balanced_labels(n_test, 10, seed + 50)
    test_images = pattern_images(test_labels, height=32, width=32, channels=3, seed=seed + 150)
    _pickle(folder / "test_batch", {
        "batch_label": "testing batch 1 of 1",
        "labels": test_labels.tolist(),
        "data": cifar_rows(test_images),
        "filenames": [f"test_{i}.png" for i in range(n_test)],
    })
    _pickle(folder / "batches.meta", {
        "num_cases_per_batch": n_per_batch, "label_names": list(CIFAR10_CLASSES), "num_vis": 3072,
    })
    return {
        "train": (np.concatenate(train_images), np.concatenate(train_labels)),
        "test": (test_images, test_labels),
        "folder": folder,
        "classes": list(CIFAR10_CLASSES),
    }


def write_cifar100(root: PathLike, *, n_train: int = 50, n_test: int = 20, seed: int = 0) -> dict:
    """Write ``root/cifar-100-python``: train, test (``fine_labels``, ``coarse_labels``) and meta.

    Class names are ``class_00`` .. ``class_99`` (fine) and ``super_00`` .. ``super_19`` (coarse).
    Returns ``{"train": (images N×32×32×3, fine labels), "test": (...), "folder": Path, "classes": [...]}``.
    """
    folder = Path(root) / "cifar-100-python"
    fine_names = [f"class_{i:02d}" for i in range(100)]
    written = {"folder": folder, "classes": fine_names}
    for split, n, offset in (("train", n_train, 0), ("test", n_test, 1)):
        labels = balanced_labels(n, 100, seed + offset)
        images = pattern_images(labels, height=32, width=32, channels=3, seed=seed + 200 + offset)
        _pickle(folder / split, {
            "filenames": [f"{split}_{i}.png" for i in range(n)],
            "batch_label": f"{split}ing batch 1 of 1",
            "fine_labels": labels.tolist(),
            "coarse_labels": (labels // 5).tolist(),
            "data": cifar_rows(images),
        })
        written[split] = (images, labels)
    _pickle(folder / "meta", {
        "fine_label_names": fine_names, "coarse_label_names": [f"super_{i:02d}" for i in range(20)],
    })
    return written


# -- ImageFolder -------------------------------------------------------------------------------


def write_image_folder(
    root: PathLike,
    classes: Union[Sequence[str], dict],
    *,
    per_class: int = 3,
    size: Union[tuple, Sequence[tuple]] = (32, 24),
    formats: Sequence[str] = ("png", "jpg"),
    mode: str = "RGB",
    seed: int = 0,
) -> dict:
    """Write ``root/<class>/<class>_<i>.<ext>`` image files, ImageFolder style.

    ``classes``: names (``per_class`` images each) or ``{name: count}``. ``size``: (W, H) of
    every image, or a list of sizes used in turn. ``formats``: extensions used in turn
    (png, jpg, bmp, ...). ``mode``: "RGB" or "L". Returns ``{class name: [paths]}``.
    """
    counts = dict(classes) if isinstance(classes, dict) else {name: per_class for name in classes}
    sizes = [size] if isinstance(size[0], int) else list(size)
    channels = 1 if mode == "L" else 3
    written: dict = {}
    k = 0
    for label, (name, count) in enumerate(sorted(counts.items())):
        (Path(root) / name).mkdir(parents=True, exist_ok=True)
        written[name] = []
        for i in range(count):
            w, h = sizes[k % len(sizes)]
            array = pattern_images([label], height=h, width=w, channels=channels, seed=seed + k)[0]
            ext = formats[k % len(formats)]
            written[name].append(write_image(Path(root) / name / f"{name}_{i}.{ext}", array))
            k += 1
    return written


# -- Oxford-IIIT Pet ---------------------------------------------------------------------------


def pet_annotation(breed: str, number: int) -> str:
    """One annotation line ``Image CLASS-ID SPECIES BREED-ID`` for ``<breed>_<number>``."""
    cats = [b for b in PET_BREEDS if b[0].isupper()]
    dogs = [b for b in PET_BREEDS if b[0].islower()]
    is_cat = breed[0].isupper()
    class_id = PET_BREEDS.index(breed) + 1
    breed_id = (cats if is_cat else dogs).index(breed) + 1
    return f"{breed}_{number} {class_id} {1 if is_cat else 2} {breed_id}"


def write_oxford_pets(
    root: PathLike,
    *,
    breeds: Iterable[str] = ("Abyssinian", "Bengal", "beagle", "pug"),
    trainval_per_breed: int = 2,
    test_per_breed: int = 1,
    size: tuple = (40, 30),
    seed: int = 0,
) -> dict:
    """Write ``root/oxford-iiit-pet``: images/<Breed>_<n>.jpg and annotations/list.txt, trainval.txt, test.txt.

    ``breeds`` are spelled as in the real set (capitalised for cats) and keep their real
    CLASS-ID (1..37), SPECIES (1 cat, 2 dog) and BREED-ID columns. Returns
    ``{"trainval": [lines], "test": [lines], "images": [paths], "base": Path}``.
    """
    base = Path(root) / "oxford-iiit-pet"
    annotations = base / "annotations"
    annotations.mkdir(parents=True, exist_ok=True)
    written = {"trainval": [], "test": [], "images": [], "base": base}
    number = 0
    for breed in breeds:
        if breed not in PET_BREEDS:
            raise ValueError(f"unknown breed {breed!r}; choose from {PET_BREEDS}")
        label = PET_BREEDS.index(breed)
        for split, count in (("trainval", trainval_per_breed), ("test", test_per_breed)):
            for _ in range(count):
                number += 1
                array = pattern_images([label], height=size[1], width=size[0], channels=3, seed=seed + number)[0]
                written["images"].append(write_image(base / "images" / f"{breed}_{number}.jpg", array))
                written[split].append(pet_annotation(breed, number))
    header = [
        "#Image CLASS-ID SPECIES BREED ID",
        "#ID: 1:37 Class ids",
        "#SPECIES: 1:Cat 2:Dog",
        "#BREED ID: 1-25:Cat 1:12:Dog",
        "#All images with 1st letter as captial are cat images",
        "#images with small first letter are dog images",
    ]
    (annotations / "list.txt").write_text("\n".join(header + written["trainval"] + written["test"]) + "\n")
    (annotations / "trainval.txt").write_text("\n".join(written["trainval"]) + "\n")
    (annotations / "test.txt").write_text("\n".join(written["test"]) + "\n")
    return written


def write_bytes_truncated(path: PathLike, keep: float = 0.5) -> Path:
    """Cut an existing file to ``keep`` of its bytes (a download that stopped half-way)."""
    path = Path(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path

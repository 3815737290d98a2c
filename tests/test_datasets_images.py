"""zoo_datasets: imagefolder and oxford_pets on real PNG/JPEG trees read by PIL and torchvision."""

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.formats import (
    write_image_folder,
    write_not_an_image,
    write_oxford_pets,
    write_truncated_image,
)
from zoo import UserError
from zoo.toolkit import TensorImageDataset
from zoo_datasets.class_files import ClassFiles
from zoo_datasets.folder import imagefolder, is_image_file, scan_class_folders
from zoo_datasets.images import LazyImageDataset
from zoo_datasets.pets import oxford_pets


@pytest.fixture
def split_tree(tmp_path):
    """root/train and root/test, PNG and JPEG files of different sizes."""
    sizes = [(40, 30), (24, 50), (16, 16)]
    write_image_folder(tmp_path / "train", ["cat", "dog"], per_class=4, size=sizes, formats=("png", "jpg"))
    write_image_folder(tmp_path / "test", ["cat", "dog"], per_class=2, size=sizes, formats=("jpg", "png"), seed=9)
    return tmp_path


def test_train_test_folders_give_named_classes_and_square_images(split_tree):
    splits = imagefolder(root=str(split_tree), image_size=12)
    assert splits.classes == ["cat", "dog"]
    assert isinstance(splits.train, TensorImageDataset) and splits.info["cached"]
    assert splits.info["counts"] == {"train": 8, "test": 4}
    assert splits.train.targets.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    x, y = splits.test.batch(torch.arange(4))
    assert x.shape == (4, 3, 12, 12) and x.dtype == torch.float32
    assert y.tolist() == [0, 0, 1, 1]
    assert splits.valid is None


def test_decoded_pixels_match_pil_resize_and_center_crop(tmp_path):
    from PIL import Image

    write_image_folder(tmp_path / "train", ["a"], per_class=1, size=(8, 8), formats=("png",))
    paths = write_image_folder(tmp_path / "test", ["a"], per_class=1, size=(40, 30), formats=("png",))
    splits = imagefolder(root=str(tmp_path), image_size=10)
    # shorter side 30 -> 10, so 40 -> 13; the centre 10 columns start at round(1.5) = 2
    image = Image.open(paths["a"][0]).convert("RGB").resize((13, 10), Image.BILINEAR).crop((2, 0, 12, 10))
    expected = torch.from_numpy(np.array(image)).permute(2, 0, 1)
    got = (splits.test[0][0] * 255).round().to(torch.uint8)
    assert torch.equal(got, expected)


def test_lazy_mode_gives_the_same_samples_as_the_cache(split_tree):
    cached = imagefolder(root=str(split_tree), image_size=12, normalize="imagenet")
    lazy = imagefolder(root=str(split_tree), image_size=12, normalize="imagenet", cache=False)
    assert isinstance(lazy.train, LazyImageDataset) and not lazy.info["cached"]
    for i in range(len(cached.test)):
        assert torch.equal(cached.test[i][0], lazy.test[i][0])
        assert cached.test[i][1] == lazy.test[i][1]
    assert lazy.train.sample_shape == cached.train.sample_shape == (3, 12, 12)


def test_single_folder_is_split_per_class_with_the_seed(tmp_path):
    write_image_folder(tmp_path, {"a": 10, "b": 10, "c": 5}, formats=("png",), size=(8, 8))
    splits = imagefolder(root=str(tmp_path), image_size=8, test_fraction=0.2, seed=0)
    assert len(splits.test) == 5 and len(splits.train) == 20
    assert torch.bincount(splits.test.targets, minlength=3).tolist() == [2, 2, 1]
    assert splits.train.has_augment is False and splits.test.has_augment is False
    again = imagefolder(root=str(tmp_path), image_size=8, test_fraction=0.2, seed=0)
    other = imagefolder(root=str(tmp_path), image_size=8, test_fraction=0.2, seed=1)
    first = splits.test.batch(torch.arange(5))[0]
    assert torch.equal(first, again.test.batch(torch.arange(5))[0])
    assert not torch.equal(first, other.test.batch(torch.arange(5))[0])


def test_valid_folder_becomes_the_valid_split(split_tree):
    write_image_folder(split_tree / "valid", ["cat", "dog"], per_class=1, formats=("png",))
    splits = imagefolder(root=str(split_tree), image_size=8, augment=["hflip"])
    assert len(splits.valid) == 2 and not splits.valid.has_augment
    assert splits.train.has_augment and not splits.test.has_augment


def test_non_image_and_hidden_files_are_ignored(split_tree):
    write_not_an_image(split_tree / "train" / "cat" / "notes.txt")
    write_not_an_image(split_tree / "train" / "dog" / "._dog_0.jpg")  # macOS metadata file
    (split_tree / "train" / ".ipynb_checkpoints").mkdir()
    splits = imagefolder(root=str(split_tree), image_size=8)
    assert splits.classes == ["cat", "dog"] and len(splits.train) == 8


def test_corrupt_image_fails_with_its_path(split_tree):
    bad = write_truncated_image(split_tree / "train" / "dog" / "broken.jpg")
    with pytest.raises(UserError) as error:
        imagefolder(root=str(split_tree), image_size=8)
    assert str(bad) in str(error.value) and "on_error: skip" in str(error.value)


def test_corrupt_and_fake_images_are_skipped_with_a_warning(split_tree, capsys):
    bad = write_truncated_image(split_tree / "train" / "dog" / "broken.png")
    fake = write_not_an_image(split_tree / "train" / "cat" / "fake.jpg")
    splits = imagefolder(root=str(split_tree), image_size=8, on_error="skip")
    assert len(splits.train) == 8
    assert sorted(splits.info["skipped"]) == sorted([str(bad), str(fake)])
    lines = [line for line in capsys.readouterr().err.splitlines() if "skipping" in line]
    assert len(lines) == 2 and any(str(bad) in line for line in lines) and any(str(fake) in line for line in lines)


def test_lazy_mode_skips_unreadable_headers_and_names_late_failures(split_tree, capsys):
    fake = write_not_an_image(split_tree / "test" / "cat" / "fake.png")
    splits = imagefolder(root=str(split_tree), image_size=8, cache=False, on_error="skip")
    assert len(splits.test) == 4 and str(fake) in capsys.readouterr().err
    bad = write_truncated_image(split_tree / "test" / "dog" / "late.jpg")
    splits = imagefolder(root=str(split_tree), image_size=8, cache=False, on_error="skip")
    position = [str(p) for p in splits.test.paths].index(str(bad))
    with pytest.raises(UserError, match="late.jpg"):
        splits.test[position]


def test_empty_class_folder_is_named(split_tree):
    (split_tree / "train" / "emu").mkdir()
    (split_tree / "test" / "emu").mkdir()
    write_not_an_image(split_tree / "train" / "emu" / "readme.txt")
    with pytest.raises(UserError) as error:
        imagefolder(root=str(split_tree), image_size=8)
    assert str(split_tree / "train" / "emu") in str(error.value)


def test_train_and_test_with_different_classes_is_an_error(split_tree):
    write_image_folder(split_tree / "test", ["emu"], per_class=1, formats=("png",))
    with pytest.raises(UserError, match="different classes") as error:
        imagefolder(root=str(split_tree), image_size=8)
    assert "emu" in str(error.value)


# -- links: each real file once, under one class ----------------------------------------------


def listed(splits) -> list:
    """``(file name, class)`` of every training and test sample, in order."""
    out = []
    for dataset in (splits.train, splits.test):
        names = [splits.classes[int(y)] for y in dataset.targets]
        out += [(path.name, name) for path, name in zip(dataset.paths, names)]
    return out


def test_symlink_loops_and_links_into_the_dataset_are_not_followed(tmp_path, capsys):
    root = tmp_path / "images"
    write_image_folder(root, ["cat", "dog"], per_class=4, size=(20, 20))
    (root / "cat" / "loop").symlink_to(".")
    (root / "dog" / "up").symlink_to(root)
    (root / "dog" / "cats").symlink_to(Path("..") / "cat")
    # torchvision's ImageFolder walk follows all three: 8 images became 3,608 samples, mislabelled
    splits = imagefolder(root=str(root), image_size=8, cache=False, test_fraction=0.25)
    assert sorted(listed(splits)) == sorted([(f"cat_{i}.{'png' if i % 2 == 0 else 'jpg'}", "cat") for i in range(4)]
                                            + [(f"dog_{i}.{'png' if i % 2 == 0 else 'jpg'}", "dog") for i in range(4)])
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("zoo: warning: imagefolder:")]
    assert len(warnings) == 3
    assert any(f"not following link {root / 'cat' / 'loop'} -> {root / 'cat'}: it leads inside the dataset" in line
               for line in warnings)
    assert any(f"not following link {root / 'dog' / 'up'} -> {root}: it leads inside the dataset" in line
               for line in warnings)


def test_links_to_folders_outside_the_dataset_are_followed_once(tmp_path, capsys):
    root, pool = tmp_path / "images", tmp_path / "pool"
    write_image_folder(root, ["cat", "dog"], per_class=2, size=(20, 20))
    write_image_folder(pool, ["tabby"], per_class=3, size=(20, 20))
    (root / "cat" / "more").symlink_to(pool / "tabby")
    (pool / "tabby" / "again").symlink_to(pool / "tabby")  # a loop outside the dataset
    splits = imagefolder(root=str(root), image_size=8, cache=False, test_fraction=0.25)
    names = sorted(listed(splits))
    assert [n for n in names if n[0].startswith("tabby")] == [(f"tabby_{i}.{e}", "cat") for i, e in
                                                              ((0, "png"), (1, "jpg"), (2, "png"))]
    assert len(names) == 7
    assert f"not following {root / 'cat' / 'more' / 'again'}: it leads back to {pool / 'tabby'}" in capsys.readouterr().err


def test_a_file_under_two_classes_or_two_splits_is_refused(split_tree):
    cat = split_tree / "train" / "cat" / "cat_0.png"
    (split_tree / "train" / "dog" / "also_a_dog.png").symlink_to(cat)
    with pytest.raises(UserError) as error:
        imagefolder(root=str(split_tree), image_size=8)
    assert str(error.value) == (
        f"imagefolder: {split_tree / 'train' / 'dog' / 'also_a_dog.png'} (train/dog) and {cat} (train/cat) are "
        f"the same file ({cat}); an image belongs to one class of one split: remove one of them")
    (split_tree / "train" / "dog" / "also_a_dog.png").unlink()
    (split_tree / "test" / "cat" / "leak.png").symlink_to(cat)  # a training image tested on
    with pytest.raises(UserError, match=r"leak\.png \(test/cat\) and .*train/cat/cat_0\.png \(train/cat\) are the same"):
        imagefolder(root=str(split_tree), image_size=8)


def test_a_file_linked_twice_in_its_class_is_read_once(split_tree, capsys):
    cat = split_tree / "train" / "cat" / "cat_0.png"
    (split_tree / "train" / "cat" / "zz_copy.png").symlink_to(cat.name)
    (split_tree / "train" / "cat" / "gone.png").symlink_to("nowhere.png")
    splits = imagefolder(root=str(split_tree), image_size=8)
    assert len(splits.train) == 8
    err = capsys.readouterr().err
    assert f"skipping {split_tree / 'train' / 'cat' / 'zz_copy.png'}: the same file as {cat}" in err
    assert f"skipping {split_tree / 'train' / 'cat' / 'gone.png'}: not a regular file (a link to nothing)" in err


def test_nested_folders_are_listed_in_torchvisions_order(tmp_path):
    from torchvision.datasets.folder import make_dataset

    root = tmp_path / "images"
    for sub in ("", "a", "a/x", "a-b", "b"):  # "a-b" sorts before "a/x"
        write_image_folder(root / "cat" / sub, ["s"], per_class=2, size=(8, 8), formats=("png",))
    write_image_folder(root, ["dog"], per_class=2, size=(8, 8), formats=("png",))
    classes, samples = scan_class_folders(root, ClassFiles(root, is_image_file), "")
    expected = make_dataset(str(root), {"cat": 0, "dog": 1}, is_valid_file=is_image_file)
    assert classes == ["cat", "dog"] and len(expected) == 12
    assert [(str(path), label) for path, label in samples] == expected


def test_missing_root_is_explained(tmp_path):
    with pytest.raises(UserError, match="does not exist") as error:
        imagefolder(root=str(tmp_path / "nowhere"))
    assert str(tmp_path / "nowhere" / "train") in str(error.value)


def test_grayscale_decoding_with_channels_one(split_tree):
    splits = imagefolder(root=str(split_tree), image_size=8, channels=1, normalize="half")
    x, _ = splits.train.batch([0, 1])
    assert x.shape == (2, 1, 8, 8) and x.min() >= -1 and x.max() <= 1


# -- Oxford-IIIT Pet -----------------------------------------------------------------------------


@pytest.fixture
def pets_root(tmp_path):
    write_oxford_pets(tmp_path, breeds=("Abyssinian", "beagle", "Bengal", "pug"), trainval_per_breed=2, test_per_breed=1)
    return tmp_path


def test_pets_binary_target_is_cat_vs_dog_from_the_species_column(pets_root):
    splits = oxford_pets(root=str(pets_root), image_size=16)
    assert splits.classes == ["Cat", "Dog"]
    # the fixture writes breeds in the order Abyssinian, beagle, Bengal, pug: cat, dog, cat, dog
    assert splits.train.targets.tolist() == [0, 0, 1, 1, 0, 0, 1, 1]
    assert splits.test.targets.tolist() == [0, 1, 0, 1]
    x, _ = splits.test.batch(torch.arange(4))
    assert x.shape == (4, 3, 16, 16)
    assert splits.info["normalize"]["mean"] == [0.485, 0.456, 0.406]  # pretrained models' default


def test_pets_breed_target_numbers_present_breeds_consecutively(pets_root):
    splits = oxford_pets(root=str(pets_root), image_size=16, target="breed", cache=False)
    assert splits.classes == ["Abyssinian", "Beagle", "Bengal", "Pug"]
    assert splits.train.targets.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert max(splits.test.targets.tolist()) < len(splits.classes)


def test_pets_missing_files_error_names_them(tmp_path):
    with pytest.raises(UserError) as error:
        oxford_pets(root=str(tmp_path / "data"))
    message = str(error.value)
    assert f"images, annotations/trainval.txt, annotations/test.txt in {tmp_path / 'data' / 'oxford-iiit-pet'};" in message
    assert "download: true" in message


# -- what every zoo image dataset shares (zoo.toolkit.ImageBatchDataset) ------------------------


SHARED_LABELS = [0, 1, 2, 0, 1, 2]


def shared_pipeline():
    """The same transform (to gray, resize 8 -> 4) and augmentation for both datasets."""
    from zoo.toolkit import BatchCompose, RandomBatchCompose
    from zoo_datasets.augment import ColorJitter
    from zoo_datasets.ops import Resize, RGBToGray

    return BatchCompose([RGBToGray(), Resize(4)]), RandomBatchCompose([ColorJitter(brightness=0.5)])


@pytest.fixture
def stored_images(tmp_path):
    """Six 8×8 RGB PNG files and the uint8 tensor 6×3×8×8 of the same pixels."""
    from tests.formats import pattern_images, write_image

    arrays = pattern_images(SHARED_LABELS, height=8, width=8, channels=3, seed=5)
    paths = [write_image(tmp_path / f"img_{i}.png", array) for i, array in enumerate(arrays)]
    return paths, torch.from_numpy(arrays).permute(0, 3, 1, 2).contiguous()


def make_shared_dataset(kind, stored_images):
    paths, images = stored_images
    transform, augment = shared_pipeline()
    options = dict(classes=["a", "b", "c"], transform=transform, augment=augment)
    if kind == "tensor":
        return TensorImageDataset(images, SHARED_LABELS, **options)
    return LazyImageDataset(paths, SHARED_LABELS, size=8, mode="RGB", **options)


@pytest.mark.parametrize("kind", ["tensor", "lazy"])
def test_image_datasets_share_items_views_prepare_and_shapes(kind, stored_images):
    from torch.utils.data import DataLoader

    from zoo.toolkit import ImageBatchDataset

    _, images = stored_images
    ds = make_shared_dataset(kind, stored_images)
    assert isinstance(ds, ImageBatchDataset) and len(ds) == 6 and ds.classes == ["a", "b", "c"]
    assert ds.stored_shape == (3, 8, 8) and ds.sample_shape == (1, 4, 4)
    assert ds.device == torch.device("cpu")

    plain, labels = ds.batch(torch.arange(6), augment=False)
    assert plain.shape == (6, 1, 4, 4) and labels.tolist() == SHARED_LABELS
    assert torch.equal(ds.prepare(images), plain)  # the stored images, unaugmented

    # the augmentation is on, random, and drawn from the generator given
    assert ds.has_augment
    jittered, _ = ds.batch(torch.arange(6), generator=torch.Generator().manual_seed(0))
    again, _ = ds.batch(torch.arange(6), generator=torch.Generator().manual_seed(0))
    assert torch.equal(jittered, again) and not torch.equal(jittered, plain)

    # without_augment: a view whose items are the unaugmented batch rows; the original keeps it
    view = ds.without_augment()
    assert type(view) is type(ds) and not view.has_augment and ds.has_augment
    for i in range(6):
        x, y = view[i]
        assert isinstance(y, int) and y == SHARED_LABELS[i]
        assert torch.equal(x, plain[i])
    assert torch.equal(view[-1][0], view[5][0]) and view[-6][1] == SHARED_LABELS[0]
    with pytest.raises(IndexError, match="index 6 out of range for a dataset of 6 samples"):
        view[6]
    with pytest.raises(IndexError, match="index -1 out of range for a dataset of 6 samples"):
        view[-7]

    # many items go through one batch() call, as a DataLoader asks for them
    items = view.__getitems__([4, 0])
    assert [y for _, y in items] == [1, 0]
    assert torch.equal(items[0][0], plain[4]) and torch.equal(items[1][0], plain[0])
    x, y = next(iter(DataLoader(view, batch_size=4, shuffle=False)))
    assert torch.equal(x, plain[:4]) and y.tolist() == SHARED_LABELS[:4]

    # subset: a view of the same kind, negatives from the end, unaugmented items as before
    sub = view.subset([5, -4])
    assert type(sub) is type(ds) and sub.targets.tolist() == [2, 2] and sub.classes == ["a", "b", "c"]
    assert torch.equal(sub[1][0], plain[2]) and sub.sample_shape == (1, 4, 4)


def test_tensor_and_lazy_datasets_give_the_same_values(stored_images):
    tensor = make_shared_dataset("tensor", stored_images)
    lazy = make_shared_dataset("lazy", stored_images)
    x_tensor, y_tensor = tensor.batch([3, 1, 4], augment=False)
    x_lazy, y_lazy = lazy.batch([3, 1, 4], augment=False)
    assert torch.equal(x_tensor, x_lazy) and torch.equal(y_tensor, y_lazy)
    jittered_tensor, _ = tensor.batch([0, 2], generator=torch.Generator().manual_seed(7))
    jittered_lazy, _ = lazy.batch([0, 2], generator=torch.Generator().manual_seed(7))
    assert torch.equal(jittered_tensor, jittered_lazy)
    assert torch.equal(tensor.without_augment()[2][0], lazy.without_augment()[2][0])

"""zoo_datasets: the built-in datasets on small files in the real formats, read by torchvision."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from tests.formats import (
    CIFAR10_CLASSES,
    MNIST_CLASSES,
    write_bytes_truncated,
    write_cifar10,
    write_cifar100,
    write_mnist,
)
from zoo import Splits, UserError
from zoo.toolkit import TensorImageDataset
from zoo.registry import Registry
from zoo_datasets import plugin
from zoo_datasets.digits import digits
from zoo_datasets.torchvision_sets import cifar10, cifar100, fashion_mnist, mnist


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    return root, write_mnist(root, n_train=40, n_test=20)


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    return root, write_cifar10(root, n_per_batch=8, n_test=10)


def as_uint8(x):
    return (x * 255).round().to(torch.uint8)


# -- registration ------------------------------------------------------------------------------


def test_plugin_registers_every_dataset_without_importing_torch():
    registry = Registry("datasets")
    plugin.zoo_register_datasets(registry)
    assert set(registry.names()) >= {
        "mnist", "fashion_mnist", "cifar10", "cifar100", "imagefolder", "oxford_pets", "digits",
    }
    assert registry.get("cifar10").metadata["input_size"] == (3, 32, 32)
    code = "import sys, zoo_datasets.plugin; print('torch' in sys.modules, 'torchvision' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_every_factory_parameter_is_annotated_for_the_recipe_schema():
    registry = Registry("datasets")
    plugin.zoo_register_datasets(registry)
    for name in registry.names():
        entry = registry.get(name)
        assert entry.doc.splitlines()[0], name
        for param in entry.signature().parameters.values():
            assert param.annotation is not param.empty, f"{name}.{param.name}"
            assert param.kind is param.POSITIONAL_OR_KEYWORD, f"{name}.{param.name}"


# -- MNIST ---------------------------------------------------------------------------------------


def test_mnist_reads_idx_files_into_tensor_datasets(mnist_root):
    root, written = mnist_root
    splits = mnist(root=str(root))
    assert isinstance(splits, Splits) and splits.classes == MNIST_CLASSES
    assert isinstance(splits.train, TensorImageDataset)
    assert len(splits.train) == 40 and len(splits.test) == 20
    assert splits.info["sample_shape"] == [1, 28, 28]
    assert splits.info["counts"] == {"train": 40, "test": 20}
    assert any(f.endswith("train-images-idx3-ubyte") for f in splits.info["files"])
    x, y = splits.test.batch(torch.arange(20))
    assert x.dtype == torch.float32 and x.shape == (20, 1, 28, 28)
    assert torch.equal(as_uint8(x[:, 0]), torch.from_numpy(written["test"][0]))
    assert y.tolist() == written["test"][1].tolist()
    image, label = splits.train[3]
    assert image.shape == (1, 28, 28) and label == int(written["train"][1][3])


def test_mnist_reads_gz_only_files(tmp_path):
    written = write_mnist(tmp_path, n_train=10, n_test=10, raw=False, gz=True)
    splits = mnist(root=str(tmp_path))
    assert splits.train.targets.tolist() == written["train"][1].tolist()


def test_mnist_matches_torchvision_totensor_normalize(mnist_root):
    from torchvision import datasets, transforms

    root, _ = mnist_root
    splits = mnist(root=str(root), normalize="mnist")
    reference = datasets.MNIST(
        str(root), train=False,
        transform=transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]),
    )
    for i in (0, 7, 19):
        assert torch.allclose(splits.test[i][0], reference[i][0], atol=1e-6)
        assert splits.test[i][1] == reference[i][1]


def test_fashion_mnist_uses_its_own_folder_and_class_names(tmp_path):
    write_mnist(tmp_path, n_train=10, n_test=10, folder="FashionMNIST")
    splits = fashion_mnist(root=str(tmp_path))
    assert splits.classes[0] == "T-shirt/top" and len(splits.classes) == 10


def test_mnist_missing_files_error_names_them_and_how_to_get_them(tmp_path):
    with pytest.raises(UserError) as error:
        mnist(root=str(tmp_path / "data"))
    message = str(error.value)
    assert f"train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte " \
        f"in {tmp_path / 'data' / 'MNIST' / 'raw'};" in message
    assert "download: true" in message and "\n" not in message


def test_mnist_truncated_file_is_named(tmp_path):
    written = write_mnist(tmp_path, n_train=10, n_test=10)
    bad = written["raw_folder"] / "train-images-idx3-ubyte"
    write_bytes_truncated(bad, keep=0.6)
    with pytest.raises(UserError, match="train-images-idx3-ubyte") as error:
        mnist(root=str(tmp_path))
    assert str(bad) in str(error.value)


def test_mnist_image_and_label_counts_must_agree(tmp_path):
    from tests.formats import write_idx

    written = write_mnist(tmp_path, n_train=10, n_test=10)
    write_idx(written["raw_folder"] / "train-labels-idx1-ubyte", np.zeros(7, dtype=np.uint8))
    with pytest.raises(UserError, match="10 images but .* 7 labels"):
        mnist(root=str(tmp_path))


def test_mnist_grayscale_to_rgb_and_resize(mnist_root):
    root, _ = mnist_root
    splits = mnist(root=str(root), channels=3, image_size=32, normalize="imagenet")
    x, _ = splits.train.batch(torch.arange(4), augment=False)
    assert x.shape == (4, 3, 32, 32) and splits.info["sample_shape"] == [3, 32, 32]
    # the three channels come from one gray channel: undo the per-channel normalisation
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    raw = x * std + mean
    assert torch.allclose(raw[:, 0], raw[:, 1], atol=1e-5) and torch.allclose(raw[:, 1], raw[:, 2], atol=1e-5)


def test_imagenet_normalize_on_gray_images_asks_for_three_channels(mnist_root):
    root, _ = mnist_root
    with pytest.raises(UserError, match="channels: 3"):
        mnist(root=str(root), normalize="imagenet")


# -- CIFAR ---------------------------------------------------------------------------------------


def test_cifar10_reads_pickled_batches(cifar_root):
    root, written = cifar_root
    splits = cifar10(root=str(root), checksum=False)
    assert splits.classes == CIFAR10_CLASSES
    assert len(splits.train) == 40 and len(splits.test) == 10
    x, y = splits.train.batch(torch.arange(40))
    assert x.shape == (40, 3, 32, 32)
    # NCHW tensor == the HWC arrays written into the pickles
    assert torch.equal(as_uint8(x).permute(0, 2, 3, 1), torch.from_numpy(written["train"][0]))
    assert y.tolist() == written["train"][1].tolist()


def test_cifar10_checks_md5_by_default_and_names_the_file(cifar_root):
    root, written = cifar_root
    with pytest.raises(UserError) as error:
        cifar10(root=str(root))
    message = str(error.value)
    assert str(written["folder"] / "data_batch_1") in message and "checksum: false" in message


def test_cifar10_missing_files_error_lists_them(tmp_path):
    with pytest.raises(UserError) as error:
        cifar10(root=str(tmp_path))
    message = str(error.value)
    assert f"test_batch, batches.meta in {tmp_path / 'cifar-10-batches-py'};" in message
    assert "data_batch_1" in message and "download: true" in message


def test_cifar10_truncated_pickle_is_named(tmp_path):
    written = write_cifar10(tmp_path, n_per_batch=4, n_test=4)
    bad = write_bytes_truncated(written["folder"] / "data_batch_3", keep=0.5)
    with pytest.raises(UserError) as error:
        cifar10(root=str(tmp_path), checksum=False)
    assert str(bad) in str(error.value)


@pytest.mark.parametrize("labels, said", [
    (["cat", "dog", "cat", "dog"], "'labels' holds 'cat' (str) where class numbers belong"),
    ([0, 1, 2.5, 3], "'labels' holds 2.5 (float) where class numbers belong"),
    ("0123", "'labels' holds a str, not a list of class numbers"),
])
def test_cifar10_labels_that_are_not_class_numbers_name_the_file(tmp_path, labels, said):
    written = write_cifar10(tmp_path, n_per_batch=4, n_test=4)
    batch = written["folder"] / "data_batch_2"
    with open(batch, "rb") as f:
        entry = pickle.load(f, encoding="latin1")
    with open(batch, "wb") as f:
        pickle.dump(dict(entry, labels=labels), f, protocol=2)
    with pytest.raises(UserError) as error:
        cifar10(root=str(tmp_path), checksum=False)
    assert str(error.value) == f"cifar10: cannot read {batch}: {said}; replace it"


def test_cifar100_uses_fine_labels(tmp_path):
    written = write_cifar100(tmp_path, n_train=30, n_test=10)
    splits = cifar100(root=str(tmp_path), checksum=False, channels=1)
    assert len(splits.classes) == 100 and splits.classes[5] == "class_05"
    assert splits.train.targets.tolist() == written["train"][1].tolist()
    assert splits.train.sample_shape == (1, 32, 32)


def test_cifar_augmentation_applies_to_train_only_and_varies_per_sample(cifar_root):
    root, _ = cifar_root
    splits = cifar10(root=str(root), checksum=False, augment=[{"rotate": 30}, {"crop": 4}], normalize="cifar10")
    assert splits.train.has_augment and not splits.test.has_augment
    same = torch.zeros(16, dtype=torch.long)  # sixteen copies of sample 0
    a, _ = splits.train.batch(same, generator=torch.Generator().manual_seed(0))
    distinct = {tuple(a[i].flatten()[:200].tolist()) for i in range(16)}
    assert len(distinct) > 8
    b, _ = splits.train.batch(same, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    plain = splits.train.without_augment().batch(same)[0]
    assert torch.equal(plain[0], plain[15])
    assert torch.equal(plain, splits.train.batch(same, augment=False)[0])
    mean = torch.tensor([0.4914, 0.4822, 0.4465]).view(3, 1, 1)
    std = torch.tensor([0.2470, 0.2435, 0.2616]).view(3, 1, 1)
    raw = splits.test.batch([0])[0][0] * std + mean
    assert raw.min() >= -1e-5 and raw.max() <= 1 + 1e-5


# -- digits --------------------------------------------------------------------------------------


def test_digits_are_offline_split_per_class_and_resizable():
    splits = digits(image_size=28, seed=1)
    assert len(splits.train) + len(splits.test) == 1797
    assert len(splits.test) == round(0.2 * 1797)
    assert splits.classes == [str(d) for d in range(10)]
    counts_train = torch.bincount(splits.train.targets, minlength=10)
    counts_test = torch.bincount(splits.test.targets, minlength=10)
    assert (counts_test.float() / (counts_train + counts_test) - 0.2).abs().max() < 0.02
    x, y = splits.test.batch(torch.arange(8))
    assert x.shape == (8, 1, 28, 28) and 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.9
    again = digits(image_size=28, seed=1)
    assert torch.equal(again.test.targets, splits.test.targets)
    assert not torch.equal(digits(seed=2).test.targets, splits.test.targets)


def test_digits_native_size_is_eight_pixels():
    splits = digits()
    assert splits.info["sample_shape"] == [1, 8, 8]
    with pytest.raises(UserError, match="test_fraction"):
        digits(test_fraction=1.5)

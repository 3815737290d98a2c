"""The in-memory batch path every image dataset serves through (zoo.toolkit's
TensorImageDataset, batch transforms and split_indices)."""

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from zoo.toolkit import BatchCompose, RandomBatchCompose, TensorImageDataset, finish_batch, split_indices


def make_images(n=10, c=1, h=6, w=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, c, h, w), generator=g, dtype=torch.uint8)


def add_noise(x, generator=None):
    """A random batch op drawing one value per sample from ``generator``."""
    shift = torch.rand(x.shape[0], generator=generator).view(-1, 1, 1, 1)
    return x + shift


def test_batch_converts_uint8_to_float_in_unit_range_and_keeps_labels():
    images = make_images()
    labels = torch.arange(10) % 3
    ds = TensorImageDataset(images, labels, classes=["a", "b", "c"])
    x, y = ds.batch(torch.tensor([4, 0, 9]))
    assert x.dtype == torch.float32 and x.shape == (3, 1, 6, 5)
    assert torch.equal(x, images[[4, 0, 9]].float() / 255)
    assert y.dtype == torch.int64 and y.tolist() == [1, 0, 0]
    assert ds.classes == ["a", "b", "c"] and len(ds) == 10


def test_float_images_are_used_as_they_are():
    images = torch.rand(4, 3, 2, 2, dtype=torch.float64)
    ds = TensorImageDataset(images, [0, 1, 0, 1])
    x, _ = ds.batch([1, 2])
    assert x.dtype == torch.float32
    assert torch.allclose(x, images[1:3].float())


def test_item_and_batch_paths_give_identical_values():
    ds = TensorImageDataset(make_images(), torch.arange(10), transform=lambda x: (x - 0.5) / 0.25)
    xb, yb = ds.batch(torch.arange(10))
    for i in (0, 3, 9, -1):
        x, y = ds[i]
        assert isinstance(y, int) and y == yb[i].item()
        assert torch.equal(x, xb[i])
    with pytest.raises(IndexError):
        ds[10]


def test_transform_runs_after_augment_and_sets_sample_shape():
    calls = []

    def augment(x, generator=None):
        calls.append("augment")
        return x

    def resize(x):
        calls.append("transform")
        return F.interpolate(x, size=(8, 8), mode="bilinear", align_corners=False)

    ds = TensorImageDataset(make_images(), torch.zeros(10, dtype=torch.long), transform=resize, augment=augment)
    x, _ = ds.batch([0, 1])
    assert calls == ["augment", "transform"]
    assert x.shape == (2, 1, 8, 8)
    assert ds.sample_shape == (1, 8, 8)


def test_augment_is_random_per_sample_reproducible_and_switchable():
    images = torch.zeros(6, 1, 2, 2, dtype=torch.uint8)
    ds = TensorImageDataset(images, torch.zeros(6, dtype=torch.long), augment=add_noise)
    assert ds.has_augment
    x1, _ = ds.batch(torch.arange(6), generator=torch.Generator().manual_seed(1))
    x2, _ = ds.batch(torch.arange(6), generator=torch.Generator().manual_seed(1))
    assert torch.equal(x1, x2)  # same generator state, same draws
    assert len(set(x1[:, 0, 0, 0].tolist())) == 6  # one draw per sample
    plain, _ = ds.batch(torch.arange(6), augment=False)
    assert torch.equal(plain, torch.zeros_like(plain))
    eval_ds = ds.without_augment()
    assert not eval_ds.has_augment and ds.has_augment
    assert torch.equal(eval_ds.batch(torch.arange(6))[0], plain)


def test_subset_shares_storage_and_composes_indices():
    images = make_images(n=8)
    labels = torch.arange(8)
    ds = TensorImageDataset(images, labels)
    sub = ds.subset([6, 2, 4, -1])
    assert len(sub) == 4 and sub.targets.tolist() == [6, 2, 4, 7]
    subsub = sub.subset(torch.tensor([3, 1]))
    x, y = subsub.batch([0, 1])
    assert y.tolist() == [7, 2]
    assert torch.equal(x, images[[7, 2]].float() / 255)
    assert subsub.nbytes == ds.nbytes  # the view holds no copy
    assert subsub._images.data_ptr() == images.data_ptr()
    with pytest.raises(IndexError):
        sub.subset([4])


def test_to_same_device_returns_the_dataset_itself():
    ds = TensorImageDataset(make_images(), torch.arange(10))
    assert ds.to("cpu") is ds
    assert ds.device == torch.device("cpu")


def test_dataloader_uses_the_batch_path():
    ds = TensorImageDataset(make_images(), torch.arange(10), transform=lambda x: x * 2)
    loader = DataLoader(ds, batch_size=4, shuffle=False)
    x, y = next(iter(loader))
    xb, yb = ds.batch(torch.arange(4))
    assert torch.equal(x, xb) and torch.equal(y, yb)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="N×C×H×W"):
        TensorImageDataset(torch.zeros(3, 4, 4, dtype=torch.uint8), [0, 1, 2])
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        TensorImageDataset(torch.zeros(3, 1, 4, 4, dtype=torch.uint8), [0, 1])
    with pytest.raises(ValueError, match="integer"):
        TensorImageDataset(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.tensor([0.5, 1.0]))


def test_compose_helpers_apply_in_order():
    compose = BatchCompose([lambda x: x + 1, lambda x: x * 3])
    assert compose(torch.tensor([1.0])).item() == 6.0
    seen = []
    random_compose = RandomBatchCompose([lambda x, g: seen.append(g) or x + 1, lambda x, g: x * 2])
    g = torch.Generator()
    assert random_compose(torch.tensor([1.0]), g).item() == 4.0 and seen == [g]


def test_finish_batch_scales_uint8_and_skips_missing_steps():
    x = torch.tensor([[[[0, 255]]]], dtype=torch.uint8)
    assert finish_batch(x).tolist() == [[[[0.0, 1.0]]]]


def test_split_indices_is_stratified_disjoint_and_seeded():
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    kept, held = split_indices(labels, 0.2, seed=3)
    assert len(held) == 20 and len(kept) == 80
    assert set(kept.tolist()).isdisjoint(held.tolist())
    assert sorted(kept.tolist() + held.tolist()) == list(range(100))
    assert torch.bincount(labels[held]).tolist() == [10, 6, 4]
    again = split_indices(labels, 0.2, seed=3)[1]
    other = split_indices(labels, 0.2, seed=4)[1]
    assert torch.equal(held, again) and not torch.equal(held, other)


def test_split_indices_total_matches_fraction_with_uneven_classes():
    labels = torch.tensor([0] * 7 + [1] * 7 + [2] * 7)
    _, held = split_indices(labels, 0.25, seed=0)
    assert len(held) == round(0.25 * 21)
    with pytest.raises(ValueError):
        split_indices(labels, 1.5)

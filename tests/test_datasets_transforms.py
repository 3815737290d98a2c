"""zoo_datasets.transforms and augment: the shared augment/normalize/channels/image_size keys."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from zoo import UserError
from zoo_datasets.augment import ColorJitter, HFlip, RandomCrop, RandomResizedCrop, Rotate
from zoo_datasets.transforms import AUGMENTATIONS, build_pipeline, parse_augment, parse_normalize


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_every_listed_augmentation_parses_in_all_its_forms():
    spec = [
        "hflip", {"hflip": 0.2}, "vflip", "rotate", {"rotate": 15}, {"rotate": [-5, 20]},
        "random_resized_crop", {"random_resized_crop": 24},
        {"random_resized_crop": {"scale": [0.5, 1.0], "ratio": [0.8, 1.25]}},
        "crop", {"crop": 2}, {"crop": {"padding": 3}},
        "color_jitter", {"color_jitter": 0.2}, {"color_jitter": {"brightness": 0.3, "saturation": 0.1}},
    ]
    augment, crop_size = parse_augment(spec)
    assert len(augment.augments) == len(spec) and crop_size == 24
    x = torch.rand(5, 3, 16, 16)
    out = augment(x, gen())
    assert out.shape == (5, 3, 24, 24)
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_unknown_augmentation_lists_the_valid_names():
    with pytest.raises(UserError) as error:
        parse_augment(["hflip", "flip"])
    message = str(error.value)
    assert "item 2" in message and "'flip'" in message
    for name in AUGMENTATIONS:
        assert name in message


@pytest.mark.parametrize(
    "item, expected",
    [
        ({"hflip": 2}, "probability"),
        ({"rotate": "ten"}, "degrees"),
        ({"rotate": [10, -10]}, "degrees"),
        ({"random_resized_crop": {"scale": [0, 1]}}, "scale"),
        ({"random_resized_crop": {"zoom": 2}}, "scale"),
        ({"crop": -1}, "padding"),
        ({"color_jitter": {"hue": 0.1}}, "brightness"),
        ({"hflip": 0.5, "vflip": 0.5}, "name or"),
    ],
)
def test_bad_augmentation_arguments_say_what_is_expected(item, expected):
    with pytest.raises(UserError, match=expected):
        parse_augment([item])


def test_augment_must_be_a_list():
    with pytest.raises(UserError, match="list"):
        parse_augment("hflip")


def test_normalize_presets_and_explicit_values():
    assert parse_normalize(None, 3) is None
    imagenet = parse_normalize("imagenet", 3)
    assert imagenet.mean == [0.485, 0.456, 0.406] and imagenet.std == [0.229, 0.224, 0.225]
    mnist = parse_normalize("mnist", 1)
    x = torch.full((1, 1, 2, 2), 0.1307)
    assert torch.allclose(mnist(x), torch.zeros_like(x))
    half = parse_normalize({"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}, 3)
    assert torch.allclose(half(torch.ones(1, 3, 1, 1)), torch.ones(1, 3, 1, 1))
    scalar = parse_normalize({"mean": 0.5, "std": 0.25}, 3)
    assert scalar.mean == [0.5] and scalar.std == [0.25]
    assert parse_normalize("cifar10", 3).mean[0] == pytest.approx(0.4914)


@pytest.mark.parametrize(
    "spec, match",
    [
        ("imagenette", "imagenet, mnist"),
        ({"mean": [0.5, 0.5], "std": [0.5, 0.5]}, "2 values for images of 3"),
        ({"mean": [0.5]}, "mean: \\[...\\], std"),
        ({"mean": [0.5], "std": [0]}, "std must be > 0"),
    ],
)
def test_bad_normalize_is_a_user_error(spec, match):
    with pytest.raises(UserError, match=match):
        parse_normalize(spec, 3)


def test_pipeline_resizes_converts_channels_then_normalizes():
    pipeline = build_pipeline(source_channels=1, image_size=16, channels=3, normalize="imagenet")
    out = pipeline.transform(torch.full((2, 1, 8, 8), 0.5))
    assert out.shape == (2, 3, 16, 16) and pipeline.channels == 3
    expected = (0.5 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    assert torch.allclose(out[0, :, 3, 3], expected, atol=1e-6)
    gray = build_pipeline(source_channels=3, channels=1).transform(torch.rand(2, 3, 4, 4))
    assert gray.shape == (2, 1, 4, 4)


def test_crop_size_sets_the_evaluation_size_when_image_size_is_unset():
    pipeline = build_pipeline(source_channels=3, augment=[{"random_resized_crop": 12}])
    assert pipeline.image_size == 12
    assert pipeline.transform(torch.rand(1, 3, 32, 32)).shape == (1, 3, 12, 12)


@pytest.mark.parametrize("key, value", [("image_size", 0), ("channels", 2)])
def test_bad_size_and_channels_are_user_errors(key, value):
    with pytest.raises(UserError, match=key):
        build_pipeline(source_channels=3, **{key: value})


# -- the random ops ------------------------------------------------------------------------------


def test_hflip_flips_about_p_of_the_samples_and_nothing_else():
    x = torch.arange(4.0).view(1, 1, 1, 4).repeat(400, 1, 1, 1)
    out = HFlip(0.3)(x, gen(1))
    flipped = (out[:, 0, 0, 0] == 3).float()
    assert torch.all((out == x).all(dim=(1, 2, 3)) | (out == x.flip(-1)).all(dim=(1, 2, 3)))
    assert 0.22 < flipped.mean().item() < 0.38


def test_rotate_turns_each_sample_by_its_own_angle():
    x = torch.rand(3, 3, 8, 8)
    quarter = Rotate(90, 90)(x, gen())
    assert torch.allclose(quarter, torch.rot90(x, 1, (-2, -1)), atol=1e-5)
    wide = torch.rand(2, 3, 6, 10)
    assert torch.allclose(Rotate(180, 180)(wide), wide.flip(-1).flip(-2), atol=1e-5)
    copies = x[:1].repeat(8, 1, 1, 1)
    varied = Rotate(-30, 30)(copies, gen())
    assert len({tuple(v.flatten()[:40].tolist()) for v in varied}) == 8


def test_padded_crop_is_an_exact_shift_of_at_most_the_padding():
    x = torch.rand(6, 3, 6, 10)
    out = RandomCrop(2)(x, gen(3))
    padded = F.pad(x, (2, 2, 2, 2))
    shifts = set()
    for b in range(6):
        matches = [
            (dy, dx)
            for dy, dx in itertools.product(range(5), repeat=2)
            if torch.equal(padded[b, :, dy : dy + 6, dx : dx + 10], out[b])
        ]
        assert matches, f"sample {b} is not a shifted copy"
        shifts.add(matches[0])
    assert len(shifts) > 1


def test_random_resized_crop_of_the_whole_image_is_the_identity():
    x = torch.rand(2, 3, 8, 8)
    assert torch.allclose(RandomResizedCrop(scale=(1, 1), ratio=(1, 1))(x, gen()), x, atol=1e-6)
    small = RandomResizedCrop(size=5, scale=(0.1, 0.5))(x, gen())
    assert small.shape == (2, 3, 5, 5)


def test_color_jitter_draws_one_factor_per_sample_and_stays_in_range():
    x = torch.full((16, 3, 4, 4), 0.5)
    out = ColorJitter(brightness=0.5)(x, gen())
    factors = out[:, 0, 0, 0] / 0.5
    assert factors.min() >= 0.5 - 1e-6 and factors.max() <= 1.5 + 1e-6
    assert len(set(factors.tolist())) == 16
    assert torch.equal(out, out[:, :, :1, :1].expand_as(out))  # one factor over the whole image
    saturated = ColorJitter(saturation=1.0)(torch.rand(4, 3, 4, 4), gen())
    assert 0.0 <= saturated.min() and saturated.max() <= 1.0

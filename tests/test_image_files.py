"""How `zoo predict` finds and reads image files (zoo.image_files): folder order, and which
files are decoded in the calling thread and which on threads."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PIL import Image

from zoo import image_files
from zoo.image_files import collect_images, images_under, read_images


def test_a_folder_is_listed_in_path_order_with_suffixes_of_any_case(tmp_path):
    for name in ["a/x.png", "a-b/x.png", "a/b/c.JPG", "Z.png", "a/notes.txt", "b.jpeg"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    listed = [p.relative_to(tmp_path).as_posix() for p in images_under(tmp_path)]
    # Path order compares part by part: "a/..." before "a-b/..." (plain string order would not)
    assert listed == ["Z.png", "a/b/c.JPG", "a/x.png", "a-b/x.png", "b.jpeg"]
    assert collect_images([str(tmp_path)]) == [tmp_path / p for p in listed]


def spy_threads(monkeypatch) -> set:
    """The idents of the threads ``zoo.image_files.read_image`` runs on from now on."""
    seen: set = set()
    real = image_files.read_image

    def recording(path, mode, size):
        seen.add(threading.get_ident())
        return real(path, mode, size)

    monkeypatch.setattr(image_files, "read_image", recording)
    return seen


def test_small_files_are_decoded_in_the_calling_thread(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(40):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8), "L").save(paths[-1])
    expected = [np.asarray(Image.open(p))[:, :, None] for p in paths]
    seen = spy_threads(monkeypatch)
    got = read_images(paths, "L", (8, 8), workers=4)
    assert seen == {threading.get_ident()}
    assert all(np.array_equal(a, b) for a, b in zip(got, expected))


def test_photos_are_decoded_on_threads_in_order(tmp_path, monkeypatch):
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images  # two 427×640 photos: several ms each to decode
    paths = []
    for i in range(12):
        paths.append(tmp_path / f"{i:02d}.jpg")
        Image.fromarray(photos[i % 2]).save(paths[-1], quality=90)
    one_thread = read_images(paths, "RGB", (224, 224), workers=1)
    seen = spy_threads(monkeypatch)
    threaded = read_images(paths, "RGB", (224, 224), workers=4)
    assert len(seen) > 1  # a 640×427 JPEG takes milliseconds: past THREADED_DECODE_SECONDS
    assert all(np.array_equal(a, b) for a, b in zip(threaded, one_thread))
    assert not np.array_equal(threaded[0], threaded[1])  # the two photos, in their order


def test_hidden_files_and_folders_are_left_out_of_a_folder_but_a_file_named_is_read(tmp_path):
    for name in ["a.png", "._a.png", ".cache/b.png", "__MACOSX/._a.png", "sub/.DS_Store", "sub/c.png"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert [p.relative_to(tmp_path).as_posix() for p in images_under(tmp_path)] == ["a.png", "sub/c.png"]
    assert collect_images([str(tmp_path / "._a.png")]) == [tmp_path / "._a.png"]


def test_unreadable_files_are_skipped_in_order_when_asked(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.full((8, 8), 7, dtype=np.uint8), "L").save(good)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    skipped: list = []
    got = read_images([bad, good, bad], "L", (8, 8), skipped=skipped)
    assert got[0] is None and got[2] is None and int(got[1].max()) == 7
    assert skipped == [f"cannot read image {bad}: cannot identify image file {str(bad)!r}"] * 2


def test_16_bit_and_float_images_are_scaled_to_8_bits_not_clipped(tmp_path):
    from zoo.image_files import decode_image

    ramp = (np.arange(64).reshape(8, 8) * 1040).astype(np.uint16)  # 0 .. 65520: nearly all above 255
    expected = np.round(ramp / 257.0).astype(np.uint8)[:, :, None]
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode == "I;16"
    Image.fromarray(ramp.astype(np.int32)).save(tmp_path / "deep.tif")
    Image.fromarray(ramp.astype(np.float32) / 65535).save(tmp_path / "unit.tif")
    for name in ("deep.png", "deep.tif", "unit.tif"):
        got = decode_image(tmp_path / name, "L", (8, 8))
        assert np.abs(got.astype(int) - expected).max() <= 1, name
    rgb = decode_image(tmp_path / "deep.png", "RGB", (8, 8))
    assert rgb.shape == (8, 8, 3) and np.abs(rgb[:, :, 1:2].astype(int) - expected).max() <= 1
    small = (np.arange(64).reshape(8, 8) * 4).astype(np.int32)  # an "I" image of 8-bit values stays as it is
    Image.fromarray(small).save(tmp_path / "small.tif")
    assert np.array_equal(decode_image(tmp_path / "small.tif", "L", (8, 8))[:, :, 0], small.astype(np.uint8))

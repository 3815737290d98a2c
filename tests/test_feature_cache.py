"""A frozen backbone's features: computed in the fastest precision the device has (bf16 and
channels_last on CPUs with native bfloat16), the choice logged and overridable, and a head
trained on bf16 features as accurate as one trained on float32 features."""

from __future__ import annotations

import json
import re
import textwrap
from collections import OrderedDict

import pytest
import torch
from torch import nn

from tests.conftest import register_in_process
from zoo.cli import main
from zoo_classify.precision import native_cpu_bf16

RECIPE = textwrap.dedent("""\
    seed: 0
    task: {name: classification, epochs: 12, batch_size: 64, plots: false, device: cpu}
    data: {name: digits, normalize: {mean: [0.3], std: [0.4]}}
    model: {name: acme/random_convnet}
    loss: {name: cross_entropy}
    optimizer: {name: adam, lr: 0.01}
""")

#: Test accuracy a head trained on bf16 features may lose (or gain) against float32 features,
#: in percentage points: 359 test digits, so 3 points are 11 images.
ACCURACY_TOLERANCE = 3.0


def random_convnet(num_classes: int = 10, in_channels: int = 1) -> nn.Module:
    """A frozen, randomly initialised (seeded) conv backbone with BatchNorm, and a linear head."""
    from zoo.toolkit import freeze

    generator_state = torch.random.get_rng_state()
    torch.manual_seed(1234)
    backbone = nn.Sequential(nn.Conv2d(in_channels, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                             nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(2), nn.Flatten())
    model = nn.Sequential(OrderedDict(backbone=backbone, head=nn.Linear(256, num_classes)))
    torch.random.set_rng_state(generator_state)
    model.zoo_head = "head"
    freeze(model, "backbone")
    return model


def train(tmp_path, name, *overrides, capsys) -> tuple:
    """Run the recipe into ``tmp_path/name``; return ``(log, report)``."""
    recipe = tmp_path / "digits.yaml"
    recipe.write_text(RECIPE)
    folder = tmp_path / name
    assert main(["run", str(recipe), "--output", str(folder), *overrides]) == 0
    return capsys.readouterr().out, json.loads((folder / "report.json").read_text())


@pytest.fixture(autouse=True)
def convnet():
    register_in_process("models", "acme/random_convnet", random_convnet)


def test_a_head_trained_on_bf16_features_is_as_accurate_as_on_float32_features(tmp_path, capsys):
    out, float32 = train(tmp_path, "float32", "task.feature_precision=float32", capsys=capsys)
    assert "features in float32 (task.feature_precision is float32); the head trains in float32" in out
    out, bf16 = train(tmp_path, "bf16", "task.feature_precision=bf16", capsys=capsys)
    assert "features in bf16 autocast (task.feature_precision is bf16); the head trains in float32" in out
    a, b = 100 * float32["test"]["accuracy"], 100 * bf16["test"]["accuracy"]
    assert a > 80, f"the float32 head learned too little to compare ({a:.1f}%)"
    assert abs(a - b) <= ACCURACY_TOLERANCE, f"float32 features {a:.1f}%, bf16 features {b:.1f}%"


def test_the_automatic_choice_is_logged_with_its_reason(tmp_path, capsys):
    out, _ = train(tmp_path, "auto", "task.epochs=1", capsys=capsys)
    flag = native_cpu_bf16()
    if flag == "amx_bf16":
        assert "features in bf16 autocast, channels_last (this CPU computes bfloat16 natively (amx_bf16))" in out
    elif flag is not None:  # bf16 or float32, whichever measures faster
        assert re.search(rf"features in (bf16 autocast|float32), channels_last \(this CPU computes bfloat16 natively "
                         rf"\({flag}\), without AMX; the fastest measured on 1 image\(s\): bf16 autocast, "
                         rf"channels_last \d+ ms, float32, channels_last \d+ ms\)", out)
    else:
        assert "features in float32" in out
    # a second run takes the format whose features the cache holds, measuring nothing
    out, _ = train(tmp_path, "again", "task.epochs=1", capsys=capsys)
    assert "measured" not in out and "read from the feature cache" in out


def test_a_resumed_run_computes_its_features_as_before(tmp_path, capsys, isolated_cache):
    # nothing in the feature cache: the resumed run chooses again, and must choose as before
    train(tmp_path, "stopped", "task.epochs=1", "task.feature_cache=memory", capsys=capsys)
    saved = torch.load(tmp_path / "stopped" / "checkpoints" / "last.pt", weights_only=True)["feature_format"]
    assert main(["run", "--resume", str(tmp_path / "stopped"), "task.epochs=2"]) == 0
    out = capsys.readouterr().out
    assert f"features in {saved} (" in out
    if native_cpu_bf16() not in (None, "amx_bf16"):  # a choice between two: the saved one wins
        assert "as the run it resumes" in out and "measured" not in out
    precision = "bf16" if saved.startswith("bf16") else "float32"
    train(tmp_path, "straight", "task.epochs=2", "task.feature_cache=memory", f"task.feature_precision={precision}",
          f"task.channels_last={str('channels_last' in saved).lower()}", capsys=capsys)
    straight = last_checkpoint(tmp_path / "straight")
    resumed = last_checkpoint(tmp_path / "stopped")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_task_amp_and_channels_last_decide_when_set(tmp_path, capsys):
    out, _ = train(tmp_path, "amp", "task.epochs=1", "task.amp=off", "task.channels_last=false", capsys=capsys)
    assert "features in float32 (" in out
    assert "task.amp: off decides the precision; task.channels_last: false decides the memory format)" in out
    out, _ = train(tmp_path, "amp-bf16", "task.epochs=1", "task.amp=bf16", capsys=capsys)
    assert "features in bf16 autocast" in out and "task.amp: bf16 decides the precision" in out
    assert "the head trains in bf16" in out


# -- the on-disk feature cache ------------------------------------------------------------

@pytest.fixture
def counted(convnet):
    """``counting/convnet``: random_convnet whose backbone counts the images it takes (a list
    of one int, shared by every model built)."""
    seen = [0]

    def counting_convnet(num_classes: int = 10, in_channels: int = 1) -> nn.Module:
        model = random_convnet(num_classes, in_channels)
        model.backbone.register_forward_hook(lambda module, inputs, output: seen.__setitem__(0, seen[0] + len(output)))
        return model

    register_in_process("models", "counting/convnet", counting_convnet, plugin="counting")
    return seen


def cache_files(cache) -> list:
    return sorted((cache / "features").glob("*.safetensors"))


def last_checkpoint(folder):
    return torch.load(folder / "checkpoints" / "last.pt", weights_only=True)["model"]


def test_a_second_run_reads_the_features_and_runs_the_backbone_on_nothing(tmp_path, capsys, counted,
                                                                         isolated_cache):
    quick = ("task.epochs=2", "model.name=counting/convnet")
    out, first = train(tmp_path, "first", *quick, capsys=capsys)
    assert "features of 1150 training and 288 validation images computed once (kept in the feature cache" in out
    assert len(cache_files(isolated_cache)) == 2  # one entry per split
    computed = counted[0]
    assert computed >= 1150 + 288
    out, second = train(tmp_path, "second", *quick, capsys=capsys)
    assert "features of 1150 training and 288 validation images read from the feature cache" in out
    # the backbone ran only on the probe batches (2 + a training batch) and the test split (359)
    assert counted[0] - computed <= 2 + 64 + 359
    assert second["test"] == first["test"]
    a, b = last_checkpoint(tmp_path / "first"), last_checkpoint(tmp_path / "second")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_other_weights_data_or_precision_are_other_entries(tmp_path, capsys, isolated_cache):
    train(tmp_path, "a", "task.epochs=1", capsys=capsys)
    out, _ = train(tmp_path, "b", "task.epochs=1", "data.normalize={mean: [0.5], std: [0.5]}", capsys=capsys)
    assert "computed once" in out  # other preprocessing
    out, _ = train(tmp_path, "c", "task.epochs=1", "task.feature_precision=float32", capsys=capsys)
    assert "computed once" in out
    out, _ = train(tmp_path, "d", "task.epochs=1", "task.valid_fraction=0.25", capsys=capsys)
    assert "computed once" in out  # other images in each split
    assert len(cache_files(isolated_cache)) == 8


def test_the_backbones_weights_are_part_of_the_key(tmp_path, capsys, isolated_cache):
    from zoo_classify.feature_cache import backbone_digest

    model = random_convnet()
    before = backbone_digest(model, "head")
    with torch.no_grad():
        model.head.weight.add_(1.0)  # the head is not part of it
    assert backbone_digest(model, "head") == before
    with torch.no_grad():
        model.backbone[0].weight[0, 0, 0, 0] += 1e-3
    assert backbone_digest(model, "head") != before
    model.backbone[1].running_mean.add_(0.1)  # buffers decide the features too


def test_a_truncated_or_foreign_cache_file_is_rebuilt_not_trusted(tmp_path, capsys, isolated_cache):
    _, first = train(tmp_path, "first", "task.epochs=1", capsys=capsys)
    train_file, valid_file = sorted(cache_files(isolated_cache), key=lambda p: p.stat().st_size, reverse=True)
    data = train_file.read_bytes()
    train_file.write_bytes(data[: len(data) // 2])  # truncated
    # a sound entry written for other features, under the validation entry's name
    train(tmp_path, "other", "task.epochs=1", "task.feature_precision=float32", capsys=capsys)
    other_valid = min((p for p in cache_files(isolated_cache) if p not in (train_file, valid_file)),
                      key=lambda p: p.stat().st_size)
    other_valid.replace(valid_file)
    out, second = train(tmp_path, "second", "task.epochs=1", capsys=capsys)
    assert f"zoo: warning: feature cache file {train_file} was not used: it can't be read" in out
    assert f"zoo: warning: feature cache file {valid_file} was not used: it was written for something else" in out
    assert "computed once" in out and "read from the feature cache" not in out
    assert second["test"] == first["test"]
    assert len(cache_files(isolated_cache)) == 2 + 1  # rebuilt, and the other run's training entry


def test_cache_files_are_read_without_unpickling(tmp_path, capsys, isolated_cache):
    train(tmp_path, "first", "task.epochs=1", capsys=capsys)
    marker = tmp_path / "unpickled"
    for path in cache_files(isolated_cache):  # a pickle that would create a file when loaded
        torch.save({"features": Unpickled(str(marker))}, path)
    out, _ = train(tmp_path, "second", "task.epochs=1", capsys=capsys)
    assert "was not used: it can't be read" in out and "computed once" in out
    assert not marker.exists()


class Unpickled:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_the_cache_keeps_within_its_size_cap(tmp_path, capsys, isolated_cache, monkeypatch):
    monkeypatch.setenv("ZOO_FEATURE_CACHE_SIZE", "2MB")  # the digits' features: ~1.2 MB and ~0.3 MB
    train(tmp_path, "a", "task.epochs=1", capsys=capsys)
    train(tmp_path, "b", "task.epochs=1", "task.feature_precision=float32", capsys=capsys)
    files = cache_files(isolated_cache)
    assert sum(p.stat().st_size for p in files) <= 2_000_000
    assert len(files) < 4  # the least recently used went
    monkeypatch.setenv("ZOO_FEATURE_CACHE_SIZE", "100kB")
    out, _ = train(tmp_path, "c", "task.epochs=1", "task.feature_precision=fp16", capsys=capsys)
    assert ("feature cache: training features not kept on disk: they take 598.6 kB, more than the feature cache's "
            "100.0 kB (set ZOO_FEATURE_CACHE_SIZE to keep them)") in out
    monkeypatch.setenv("ZOO_FEATURE_CACHE_SIZE", "lots")
    assert main(["run", str(tmp_path / "digits.yaml"), "--output", str(tmp_path / "d")]) == 2
    assert "ZOO_FEATURE_CACHE_SIZE='lots' is not a size" in capsys.readouterr().err


def test_feature_cache_memory_keeps_nothing_on_disk(tmp_path, capsys, isolated_cache):
    out, _ = train(tmp_path, "a", "task.epochs=1", "task.feature_cache=memory", capsys=capsys)
    assert "validation images computed once (" in out and "kept in the feature cache" not in out
    assert cache_files(isolated_cache) == []


def test_zoo_cache_shows_what_each_entry_is_for_and_clears_them(tmp_path, capsys, isolated_cache):
    train(tmp_path, "a", "task.epochs=1", capsys=capsys)
    assert main(["list", "models"]) == 0  # writes the plugin catalog
    capsys.readouterr()
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert f"zoo cache: {isolated_cache}: 3 entries" in out
    assert "digits train: acme/random_convnet features of 1150 images (digits)" in out
    assert "digits valid: acme/random_convnet features of 288 images (digits)" in out
    assert "this Python environment's plugin catalog" in out
    assert main(["cache", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert sorted(e["kind"] for e in shown) == ["catalog", "features", "features"]
    valid = next(e for e in shown if "valid:" in e["for"])
    assert main(["cache", "clear", valid["entry"][:6]]) == 0
    assert "removed 1 cache entry" in capsys.readouterr().out
    assert len(cache_files(isolated_cache)) == 1
    assert main(["cache", "clear", "nothing-like-it"]) == 2
    assert "zoo: error: cache clear: no cache entry 'nothing-like-it' (zoo cache show lists them)" in capsys.readouterr().err
    assert main(["cache", "clear"]) == 0
    assert "removed 2 cache entries" in capsys.readouterr().out
    assert cache_files(isolated_cache) == [] and not list(isolated_cache.glob("catalog-*.json"))


def test_a_damaged_entry_fails_its_checksum_and_is_deleted(tmp_path):
    from zoo.toolkit import FeatureStore

    store = FeatureStore(tmp_path, limit=10**6)
    features = torch.randn(50, 16).bfloat16()
    assert store.save("k", {"features": features}, {"recipe": "r"}) is None
    tensors, problem = store.load("k")
    assert problem is None and torch.equal(tensors["features"], features)
    data = bytearray(store.path("k").read_bytes())
    data[-3] ^= 0xFF  # one flipped byte in the tensor data: the file still parses
    store.path("k").write_bytes(bytes(data))
    tensors, problem = store.load("k")
    assert tensors is None and problem.endswith("was not used: its contents don't match its checksum")
    assert not store.path("k").exists()


class ScaledHead(nn.Module):
    """The backbone and head of ``random_convnet``, but the model scales the head's output."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        inner = random_convnet(num_classes, in_channels)
        self.backbone, self.head, self.zoo_head = inner.backbone, inner.head, "head"

    def forward(self, x):
        return 2 * self.head(self.backbone(x))


def test_a_model_that_does_more_than_apply_its_head_runs_the_backbone_every_step(tmp_path, capsys):
    register_in_process("models", "scaled/convnet", ScaledHead, plugin="scaled")
    out, _ = train(tmp_path, "scaled", "task.epochs=1", "model.name=scaled/convnet", capsys=capsys)
    assert "frozen backbone, but head 'head' is not simply applied to the backbone's output" in out
    assert "computed once" not in out

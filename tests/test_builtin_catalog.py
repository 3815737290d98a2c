"""What a fresh install lists: the built-in plugins, and torchvision's and timm's catalogs."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    import os
    import subprocess
    import sys

    env = dict(os.environ, ZOO_CACHE_DIR=str(tmp_path_factory.mktemp("cache")))
    found = {}
    for kind in ("models", "datasets", "losses", "optimizers", "schedulers", "tasks"):
        result = subprocess.run([sys.executable, "-m", "zoo", "list", kind, "--json"], env=env,
                                capture_output=True, text=True, check=True)
        found[kind] = {row["name"]: row for row in json.loads(result.stdout)}
    plugins = subprocess.run([sys.executable, "-m", "zoo", "plugins", "--json"], env=env,
                             capture_output=True, text=True, check=True)
    found["plugins"] = {p["name"]: p for p in json.loads(plugins.stdout)}
    return found


def test_every_built_in_entry_is_listed_with_its_plugin(catalog):
    expected = {
        "models": {"mlp": "models", "cnn": "models", "densenet121": "models"},
        "datasets": {n: "datasets" for n in ("mnist", "fashion_mnist", "cifar10", "cifar100", "imagefolder",
                                             "oxford_pets", "digits")},
        "losses": {n: "optim" for n in ("cross_entropy", "nll", "bce_with_logits", "mse")},
        "optimizers": {n: "optim" for n in ("sgd", "adam", "adamw", "rmsprop", "lbfgs")},
        "schedulers": {n: "optim" for n in ("step", "cosine", "onecycle", "plateau")},
        "tasks": {"classification": "classify"},
    }
    for kind, names in expected.items():
        for name, plugin in names.items():
            assert catalog[kind][name]["plugin"] == plugin, (kind, name)
            assert catalog[kind][name]["summary"], (kind, name)


def test_torchvision_and_timm_catalogs_are_listed(catalog):
    models = catalog["models"]
    torchvision = [n for n in models if n.startswith("torchvision/")]
    timm = [n for n in models if n.startswith("timm/")]
    assert "torchvision/resnet18" in torchvision and "torchvision/densenet121" in torchvision
    assert len(torchvision) >= 60
    assert "timm/resnet18" in timm and len(timm) >= 1000
    assert {models[n]["plugin"] for n in torchvision} == {"torchvision"}
    assert {models[n]["plugin"] for n in timm} == {"timm"}
    for name in ("datasets", "models", "optim", "torchvision", "timm", "classify", "loggers"):
        assert catalog["plugins"][name]["status"] == "loaded"
        assert catalog["plugins"][name]["distribution"] == "zoo"


def test_a_glob_finds_a_name_in_every_catalog(zoo_cli):
    rows = json.loads(zoo_cli("list", "models", "resnet18", "--json").stdout)
    assert {r["name"] for r in rows} >= {"timm/resnet18", "torchvision/resnet18"}
    only_timm = json.loads(zoo_cli("list", "models", "timm/resnet1*", "--json").stdout)
    assert {r["plugin"] for r in only_timm} == {"timm"}


def test_info_counts_densenet_parameters_with_the_recipe_freeze(zoo_cli):
    default = json.loads(zoo_cli("info", "model", "densenet121", "--json").stdout)
    assert default["parameter_count"] > 6_900_000
    assert default["trainable_parameter_count"] < 300_000  # features frozen: the new head only
    assert default["input_size"] == [3, 224, 224]
    unfrozen = json.loads(zoo_cli("info", "model", "densenet121", "freeze=false", "--json").stdout)
    assert unfrozen["trainable_parameter_count"] == unfrozen["parameter_count"] == default["parameter_count"]
    text = zoo_cli("info", "model", "densenet121").stdout
    assert "trainable" in text and "default input size: 3 x 224 x 224" in text

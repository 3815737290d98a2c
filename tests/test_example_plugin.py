"""The example third-party distribution in examples/acme-zoo, installed for real with pip."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def acme_site(tmp_path_factory):
    """examples/acme-zoo pip-installed into a private folder (put on PYTHONPATH by the tests)."""
    target = tmp_path_factory.mktemp("acme-site")
    build = tmp_path_factory.mktemp("acme-build")
    import shutil

    source = build / "acme-zoo"
    shutil.copytree(REPO / "examples" / "acme-zoo", source)  # pip builds in place: keep the repo clean
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(source)],
        check=True, capture_output=True, text=True,
    )
    return target


def test_installed_plugin_entries_are_listed_with_their_plugin(acme_site, zoo_cli):
    models = json.loads(zoo_cli("list", "models", "acme/*", "--json", extra_path=[acme_site]).stdout)
    assert [(m["name"], m["plugin"], m["distribution"], m["version"]) for m in models] == [
        ("acme/tinynet", "acme", "acme-zoo", "1.2.0")]
    losses = zoo_cli("list", "losses", extra_path=[acme_site]).stdout
    assert "acme/focal" in losses and "Focal loss" in losses
    recipes = json.loads(zoo_cli("list", "recipes", "--json", extra_path=[acme_site]).stdout)
    assert {"name": "acme_digits", "plugin": "acme"}.items() <= {
        k: v for r in recipes if r["name"] == "acme_digits" for k, v in r.items()}.items()
    plugins = {p["name"]: p for p in json.loads(zoo_cli("plugins", "--json", extra_path=[acme_site]).stdout)}
    assert plugins["acme"]["status"] == "loaded"
    assert plugins["acme"]["counts"] == {"models": 1, "losses": 1}
    assert "zoo_recipe_dirs" in plugins["acme"]["hooks"]


def test_installed_plugin_entries_are_created(acme_site, monkeypatch):
    monkeypatch.syspath_prepend(str(acme_site))
    import importlib

    importlib.invalidate_caches()
    import torch

    from zoo.plugins import get_manager

    registries = get_manager().registries
    model = registries.models.create("acme/tinynet", num_classes=3, in_channels=1)
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 3)
    loss = registries.losses.create("acme/focal", gamma=0.0)
    logits, target = torch.randn(4, 3), torch.tensor([0, 1, 2, 1])
    assert torch.allclose(loss(logits, target), torch.nn.functional.cross_entropy(logits, target))

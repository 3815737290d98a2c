"""What enters the catalog is what a listing can use: non-finite figures are unknown, not a
dropped card; a plugin's card values of the wrong type are dropped with a warning."""

from __future__ import annotations

import json
import math

import pytest

from zoo.registry import Entry


def test_a_non_finite_figure_is_unknown_and_keeps_the_rest_of_the_card():
    entry = Entry("acme/net", "models", "acme:net", metadata={
        "card": {"top1": math.nan, "params": 5, "pretrained": True},
        "pretrained_tags": {"features": {"top5": math.inf}}, "opaque": object()})
    metadata = entry.describe()["metadata"]
    assert metadata == {"card": {"top1": None, "params": 5, "pretrained": True},
                        "pretrained_tags": {"features": {"top5": None}}}


def test_torchvision_publishes_no_nan_figure_and_vgg16_features_keeps_its_tags():
    from zoo_torchvision.catalog import architecture_metadata

    metadata = architecture_metadata("vgg16")
    features = metadata["pretrained_tags"]["imagenet1k_features"]
    assert features.get("top1") is None and features.get("top5") is None
    assert all(not isinstance(v, float) or math.isfinite(v) for v in features.values())


def register_card(name: str, card: dict, tags: dict = None) -> None:
    """Register model ``name`` in this process, as plugin 'acme' would, publishing ``card``."""
    import torch

    from zoo import hookimpl
    from zoo.plugins import get_manager

    def register(registry):
        extra = {"pretrained_tags": tags} if tags else {}
        registry.register(name, lambda num_classes=3: torch.nn.Linear(4, num_classes), card=card, **extra)

    get_manager().register(type("acme", (), {"zoo_register_models": staticmethod(hookimpl(register))})(), "acme")


def test_a_plugins_card_value_of_the_wrong_type_is_dropped_with_one_warning(isolated_cache, capsys):
    from zoo.cli import main

    register_card("acme/strings", {"top1": "55.5", "params": True, "input_size": [3, 32], "mean": [0.5, "x", 0.5],
                                   "res": 32, "license": "mit", "pretrained": "yes", "top5": 90},
                  tags={"v1": {"top5": "91"}})
    assert main(["list", "models", "acme/*", "--refresh", "--pretrained", "--json"]) == 0
    first = capsys.readouterr()
    warnings = [line for line in first.err.splitlines() if "acme/strings" in line]
    assert len(warnings) == 1 and "plugin 'acme'" in warnings[0]
    assert all(key in warnings[0] for key in ("top1", "params", "input_size", "mean", "pretrained", "v1"))
    (row,) = json.loads(first.out)
    assert row["top1"] is None and row["top5"] is None and row["params"] is None and row["license"] == "mit"
    for args in (["--where", "top1 > 50"], ["--sort", "top1"], ["--columns", "name,top1,input_size,mean"]):
        assert main(["list", "models", *args]) == 0, args  # over the whole catalog
    assert "acme/strings" not in capsys.readouterr().err  # warned once: when the catalog was built


def test_a_computed_card_value_of_the_wrong_type_is_unknown_when_read(isolated_cache):
    from zoo.catalog_cards import CardStore, read_cards

    with CardStore("acme-9") as store:
        store.add("mlp", {"params": "12", "gmacs": 0.5, "features": [3]})
    assert read_cards("acme-9")["cards"] == {"mlp": {"gmacs": 0.5}}


def test_a_tag_does_not_inherit_a_figure_its_source_does_not_publish_for_it(models):
    from zoo.catalog_columns import entry_rows

    bamboo = models.get("timm/resnet50.bamboo").metadata["card"]  # timm publishes no license for it
    assert bamboo["license"] is None and bamboo["num_classes"] == 0
    features = models.get("torchvision/vgg16.imagenet1k_features").metadata["card"]  # no categories: no classifier
    assert features["num_classes"] is None and features["top1"] is None and features["input_size"] == [3, 224, 224]
    rows = {r["name"]: r for r in entry_rows(models.get("timm/resnet50").describe(), pretrained=True)}
    assert rows["timm/resnet50.bamboo"]["card"]["license"] is None
    assert rows["timm/resnet50.a1_in1k"]["card"]["license"] == "apache-2.0"


@pytest.fixture
def models():
    from zoo.plugins import get_manager

    return get_manager().registries.models

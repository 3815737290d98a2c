"""What enters the catalog is what a listing can use: non-finite figures are unknown, not a
dropped card; a plugin's card values of the wrong type are dropped with a warning."""

from __future__ import annotations

import math

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

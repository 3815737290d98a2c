"""A model card's preprocessing, applied with numpy alone, prepares image files exactly as the
dataset's own transform (torch) prepares its samples; a transform that cannot describe itself
leaves the card without preprocessing, and predicting without the data then says so."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from zoo.preprocessing import prepare


@pytest.mark.parametrize("source, keys", [
    (1, {"channels": 3, "image_size": 16, "normalize": "imagenet"}),      # gray to RGB, enlarged
    (3, {"channels": 1, "image_size": 5, "normalize": {"mean": [0.4], "std": [0.2]}}),  # RGB to gray, shrunk
    (3, {"image_size": 7, "normalize": "cifar10"}),                     # shrunk, antialiased, both sides
    (1, {}),                                                             # nothing but the scaling
])
def test_the_cards_preprocessing_matches_the_datasets_transform(source, keys):
    from zoo.toolkit import TensorImageDataset
    from zoo_datasets.transforms import build_pipeline

    pipeline = build_pipeline(source_channels=source, **keys)
    images = torch.randint(0, 256, (6, source, 13, 9), dtype=torch.uint8)
    dataset = TensorImageDataset(images, [0, 1] * 3, transform=pipeline.transform)
    preprocessing = json.loads(json.dumps(dataset.preprocessing()))  # as a card holds it: plain JSON
    assert preprocessing["read"]["size"] == [13, 9] and preprocessing["read"]["mode"] == ("L" if source == 1 else "RGB")
    ours = prepare(list(images.permute(0, 2, 3, 1).numpy()), preprocessing)
    np.testing.assert_allclose(ours, dataset.prepare(images).numpy(), atol=5e-6)


def test_a_transform_that_does_not_describe_itself_leaves_the_card_without_preprocessing():
    from zoo.predictor import predict
    from zoo.toolkit import TensorImageDataset

    dataset = TensorImageDataset(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), [0, 1], transform=lambda x: x * 2)
    with pytest.raises(ValueError, match="does not describe itself"):
        dataset.preprocessing()
    card = {"classes": ["a", "b"], "preprocessing": None}
    from zoo import UserError

    with pytest.raises(UserError, match="model.onnx: its model card has no preprocessing"):
        predict(["x.png"], card, lambda batch: batch, 1, where="model.onnx")


def card_with(preprocessing: dict, channels: int = 1, side: int = 8) -> str:
    return json.dumps({"card": "zoo-model-card/1", "model": {"name": "cnn", "keys": {}}, "classes": ["a", "b"],
                       "input": {"channels": channels, "height": side, "width": side}, "preprocessing": preprocessing})


READ = {"mode": "L", "size": [8, 8], "resize": "cover", "interpolation": "bilinear", "crop": "centre"}


@pytest.mark.parametrize("preprocessing, channels, message", [
    ({"read": dict(READ, size=[16, 16]), "scale": 255, "steps": []}, 1,
     "its preprocessing gives 1x16x16 inputs but its input is 1x8x8"),
    ({"read": dict(READ, size=[16, 16]), "scale": 255, "steps": [{"op": "resize", "size": [8, 6]}]}, 1,
     "its preprocessing gives 1x8x6 inputs but its input is 1x8x8"),
    ({"read": READ, "scale": 255, "steps": []}, 3, "its preprocessing gives 1x8x8 inputs but its input is 3x8x8"),
    ({"read": READ, "scale": 255, "steps": [{"op": "gray_to_rgb"}, {"op": "normalize", "mean": [0.5] * 2,
                                                                   "std": [0.5] * 2}]}, 3,
     "its preprocessing normalizes 2 channels but its input has 3"),
])
def test_a_card_whose_preprocessing_disagrees_with_its_input_is_refused(preprocessing, channels, message):
    from zoo import UserError
    from zoo.model_card import parse_card

    with pytest.raises(UserError) as caught:
        parse_card(card_with(preprocessing, channels), "model.onnx")
    assert str(caught.value) == f"model.onnx: its model card does not hold together: {message}"


def test_a_card_whose_preprocessing_agrees_with_its_input_is_taken():
    from zoo.model_card import parse_card

    steps = [{"op": "resize", "size": [8, 8]}, {"op": "gray_to_rgb"}, {"op": "normalize", "mean": [0.5], "std": [0.5]},
             {"op": "normalize", "mean": [0.1, 0.2, 0.3], "std": [1, 1, 1]}]
    assert parse_card(card_with({"read": dict(READ, size=[20, 12]), "scale": 255, "steps": steps}, 3), "m")

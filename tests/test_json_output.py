"""What zoo prints or writes as JSON is JSON any reader accepts: no NaN or Infinity tokens."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from zoo.registry import Registry
from zoo.run_folder import json_text


def strict_loads(text: str):
    """``json.loads`` refusing Python's extensions (NaN, Infinity, -Infinity), as JavaScript's JSON.parse does."""
    def refuse(token):
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def test_reports_with_nan_and_infinity_are_valid_json():
    """A report (report.json, zoo eval --json) whose loss went NaN used to hold the token NaN."""
    report = {"test": {"loss": float("nan"), "accuracy": torch.tensor(0.5), "per_class": np.array([1.0, np.inf])},
              "best": {"valid_loss": torch.tensor(float("-inf")), "checkpoint": Path("checkpoints/best.pt")},
              "curve": (1, 2.5)}
    assert strict_loads(json_text(report)) == {
        "test": {"loss": "nan", "accuracy": 0.5, "per_class": [1.0, "inf"]},
        "best": {"valid_loss": "-inf", "checkpoint": "checkpoints/best.pt"},
        "curve": [1, 2.5]}


def test_catalog_entries_leave_out_metadata_that_is_not_json_and_make_non_finite_numbers_unknown():
    registry = Registry("models")
    registry.register("acme/net", lambda: None, top1=float("nan"), input_size=(3, 224, 224), bound=float("inf"),
                      opaque=object())
    described = registry.get("acme/net").describe()
    assert described["metadata"] == {"input_size": [3, 224, 224], "top1": None, "bound": None}
    strict_loads(json.dumps(described))

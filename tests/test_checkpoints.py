"""Checkpoints are written atomically and read without running code."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from zoo import checkpoints
from zoo.errors import UserError


def test_round_trip_of_tensors_and_plain_values(tmp_path):
    state = {"model": {"w": torch.randn(3, 2)}, "epoch": 4, "best": 0.25, "classes": ["a", "b"],
             "rng": [3, [1, 2, 3], None]}
    path = checkpoints.save_atomic(state, tmp_path / "ckpt" / "last.pt")
    loaded = checkpoints.load(path)
    assert torch.equal(loaded["model"]["w"], state["model"]["w"])
    assert loaded["epoch"] == 4 and loaded["classes"] == ["a", "b"]
    assert os.listdir(tmp_path / "ckpt") == ["last.pt"]  # no temporary file left


class Payload:
    """Unpickling this object would create a file: the proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_malicious_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"model": Payload(str(marker))}, path)
    assert not marker.exists()
    with pytest.raises(UserError, match="refusing to load .*evil.pt"):
        checkpoints.load(path)
    assert not marker.exists()
    with open(path, "wb") as f:  # a bare pickle (not torch's zip format) too
        pickle.dump(Payload(str(marker)), f)
    with pytest.raises(UserError):
        checkpoints.load(path)
    assert not marker.exists()


def test_truncated_and_missing_files_are_user_errors(tmp_path):
    path = checkpoints.save_atomic({"model": {"w": torch.randn(100, 100)}}, tmp_path / "best.pt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="cannot read checkpoint .*best.pt"):
        checkpoints.load(path)
    with pytest.raises(UserError, match="checkpoint not found"):
        checkpoints.load(tmp_path / "nope.pt")


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = checkpoints.save_atomic({"epoch": 1}, tmp_path / "best.pt")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        checkpoints.save_atomic({"epoch": 2}, path)
    monkeypatch.undo()
    assert checkpoints.load(path)["epoch"] == 1
    assert os.listdir(tmp_path) == ["best.pt"]

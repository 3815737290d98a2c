"""The metrics writers on the lifecycle hooks: JSONL always, TensorBoard when it is installed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from zoo.cli import main

RECIPE = textwrap.dedent("""\
    task: {name: classification, epochs: 2, batch_size: 64, plots: false}
    data: {name: digits}
    model: {name: mlp, hidden: [32]}
    loss: {name: cross_entropy}
    optimizer: {name: adam, lr: 0.01}
""")


def test_tensorboard_gets_every_epoch_when_installed(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (tmp_path / "r.yaml").write_text(RECIPE)
    assert main(["run", str(tmp_path / "r.yaml"), "--output", str(tmp_path / "run")]) == 0
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    assert {"train_loss", "valid_loss", "valid_accuracy"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("valid_loss")] == [1, 2]
    jsonl = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [round(e.value, 5) for e in events.Scalars("valid_loss")] == [round(j["valid_loss"], 5) for j in jsonl]


def test_without_tensorboard_the_run_is_quiet_and_complete(tmp_path):
    """tensorboard made unimportable in a fresh process: no folder, no warning, metrics still written."""
    (tmp_path / "r.yaml").write_text(RECIPE)
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(textwrap.dedent("""\
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "tensorboard" or name.startswith("tensorboard."):
                    raise ModuleNotFoundError("No module named 'tensorboard'")
        sys.meta_path.insert(0, Block())
    """))
    import os

    env = dict(os.environ, PYTHONPATH=str(blocker))
    result = subprocess.run([sys.executable, "-m", "zoo", "run", str(tmp_path / "r.yaml"), "--output",
                             str(tmp_path / "run")], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "tensorboard" not in result.stderr.lower()
    assert not (tmp_path / "run" / "tensorboard").exists()
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 2

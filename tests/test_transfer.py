"""Transfer learning on a tiny ImageFolder: DenseNet-121 with a frozen backbone and a new head."""

from __future__ import annotations

import json
import textwrap

import functools

import pytest
import torch

from tests.conftest import register_in_process
from tests.formats import write_image_folder
from zoo import hookimpl
from zoo.cli import main

RECIPE = textwrap.dedent("""\
    seed: 0
    task: {name: classification, epochs: 3, batch_size: 8, valid_fraction: 0.25, plots: false}
    data: {name: imagefolder, root: ROOT, image_size: 32, test_fraction: 0.25, normalize: imagenet}
    model: {name: densenet121, pretrained: false, freeze: features, head: [32], dropout: 0.2, log_softmax: true}
    loss: {name: nll}
    optimizer: {name: adam, lr: 0.003, params: head}
""")


@pytest.fixture(scope="module")
def cats_dogs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cats_dogs")
    write_image_folder(root, ["cat", "dog"], per_class=16, size=(40, 40), formats=("png", "jpg"))
    return root


@pytest.fixture
def backbone_images():
    """Registers ``acme/counted_densenet121``: densenet121 whose backbone (``features``) counts the
    images it takes. Returns the counts at the end of each epoch (a list, filled as the run goes)."""
    from zoo.plugins import get_manager

    densenet121 = get_manager().registries.models.get("densenet121").load()
    seen = torch.zeros((), dtype=torch.long)
    at_epoch_end = []

    def count(module, inputs, output):
        seen.add_(len(output))

    @functools.wraps(densenet121)  # its signature: the recipe's keys as densenet121's
    def counted(*args, **kwargs):
        model = densenet121(*args, **kwargs)
        model.features.register_forward_hook(count)
        return model

    class EpochCounts:
        @hookimpl
        def zoo_epoch_end(self, run, epoch, metrics):
            at_epoch_end.append(int(seen))

    register_in_process("models", "acme/counted_densenet121", counted)
    get_manager().register(EpochCounts(), "epoch-counts")
    return at_epoch_end


@pytest.fixture
def recipe(tmp_path, cats_dogs):
    path = tmp_path / "transfer.yaml"
    path.write_text(RECIPE.replace("ROOT", str(cats_dogs)))
    return path


def test_frozen_backbone_features_are_computed_once_and_only_the_head_trains(recipe, tmp_path, capsys,
                                                                            backbone_images):
    assert main(["run", str(recipe), "--output", str(tmp_path / "run"), "model.name=acme/counted_densenet121"]) == 0
    out = capsys.readouterr().out
    assert "frozen backbone: features of 18 training and 6 validation images computed once" in out
    assert "training the head 'classifier' on them" in out
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert sorted(report["test"]["per_class"]) == ["cat", "dog"]
    assert sum(c["total"] for c in report["test"]["per_class"].values()) == 8
    best = torch.load(tmp_path / "run" / "checkpoints" / "best.pt", weights_only=True)["model"]
    last = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)["model"]
    # whatever epoch was best, the backbone is the same in both: frozen means frozen
    assert [k for k in last if not k.startswith("classifier") and not torch.equal(last[k], best[k])] == []
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 3
    # the backbone took the 18 training and 6 validation images once (and a few probe images)
    # before the first epoch ended, and nothing after it
    assert len(backbone_images) == 3
    assert 18 + 6 <= backbone_images[0] < 2 * (18 + 6)
    assert backbone_images[1:] == [backbone_images[0]] * 2


def test_random_augmentation_runs_the_backbone_every_step_and_says_why(recipe, tmp_path, capsys, backbone_images):
    assert main(["run", str(recipe), "--output", str(tmp_path / "run"), "task.epochs=2",
                 "data.augment=[hflip]", "model.name=acme/counted_densenet121"]) == 0
    out = capsys.readouterr().out
    assert "randomly augmented, so the backbone runs every step" in out
    assert "computed once" not in out
    assert backbone_images[1] - backbone_images[0] == 18 + 6  # the second epoch: its training and validation


def test_feature_cache_resume_matches_a_straight_run(recipe, tmp_path, capsys):
    assert main(["run", str(recipe), "--output", str(tmp_path / "a"), "task.epochs=2"]) == 0
    assert main(["run", str(recipe), "--output", str(tmp_path / "b"), "task.epochs=1"]) == 0
    assert main(["run", "--resume", str(tmp_path / "b"), "task.epochs=2"]) == 0
    capsys.readouterr()
    a = torch.load(tmp_path / "a" / "checkpoints" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "b" / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)

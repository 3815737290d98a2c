"""Every built-in entry is created from a recipe section: `zoo run --dry-run` builds the data,
the model, the loss, the optimizer and the scheduler, and pushes one batch through the model."""

from __future__ import annotations

import textwrap

import pytest

from tests.formats import write_cifar10, write_cifar100, write_image_folder, write_mnist, write_oxford_pets
from zoo.cli import main

BASE = {
    "task": "{name: classification, epochs: 2, batch_size: 8}",
    "data": "{name: digits}",
    "model": "{name: mlp, hidden: [16]}",
    "loss": "{name: cross_entropy}",
    "optimizer": "{name: sgd, lr: 0.01}",
}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_mnist(root, n_train=40, n_test=20)
    write_mnist(root, n_train=40, n_test=20, folder="FashionMNIST")
    write_cifar10(root, n_per_batch=8, n_test=10)
    write_cifar100(root, n_train=100, n_test=100)
    write_oxford_pets(root)
    write_image_folder(root / "folder", ["cat", "dog"], per_class=6, size=(24, 24))
    return root


def dry_run(tmp_path, capsys, **sections):
    recipe = dict(BASE, **sections)
    path = tmp_path / "r.yaml"
    path.write_text("".join(f"{key}: {value}\n" for key, value in recipe.items() if value is not None))
    status = main(["run", str(path), "--dry-run"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "the recipe is valid" in captured.err
    return captured


@pytest.mark.parametrize("data", [
    "{name: mnist, root: ROOT}",
    "{name: fashion_mnist, root: ROOT}",
    "{name: cifar10, root: ROOT, checksum: false, augment: [hflip, {rotate: 10}], normalize: cifar10}",
    "{name: cifar100, root: ROOT, checksum: false}",
    "{name: oxford_pets, root: ROOT, target: binary, image_size: 32}",
    "{name: oxford_pets, root: ROOT, target: breed, image_size: 32}",
    "{name: imagefolder, root: ROOT/folder, image_size: 16, test_fraction: 0.3}",
    "{name: digits, image_size: 28, channels: 3, normalize: mnist}",
])
def test_every_dataset(data, data_root, tmp_path, capsys):
    dry_run(tmp_path, capsys, data=data.replace("ROOT", str(data_root)))


@pytest.mark.parametrize("model", [
    "{name: mlp, hidden: [32, 16], dropout: 0.1}",
    "{name: cnn}",
    "{name: densenet121, pretrained: false, freeze: features, head: [32], log_softmax: true}",
    "{name: torchvision/resnet18}",
    "{name: timm/resnet18}",
])
def test_every_kind_of_model(model, tmp_path, capsys):
    dry_run(tmp_path, capsys, model=model, data="{name: digits, image_size: 32}")


@pytest.mark.parametrize("loss", ["{name: cross_entropy, label_smoothing: 0.1}", "{name: nll}",
                                  "{name: bce_with_logits}", "{name: mse}"])
def test_every_loss(loss, tmp_path, capsys):
    dry_run(tmp_path, capsys, loss=loss)


@pytest.mark.parametrize("optimizer", [
    "{name: sgd, lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 1e-4}",
    "{name: adam, lr: 1e-3}",
    "{name: adamw, lr: 1e-3}",
    "{name: rmsprop, lr: 1e-3}",
    "{name: lbfgs}",
    "{name: adam, params: head}",
    "{name: adam, params: [fc1, fc2]}",
])
def test_every_optimizer(optimizer, tmp_path, capsys):
    dry_run(tmp_path, capsys, optimizer=optimizer)


@pytest.mark.parametrize("scheduler", ["{name: step, step_size: 1}", "{name: cosine}",
                                       "{name: onecycle, max_lr: 0.1}", "{name: plateau, patience: 1}"])
def test_every_scheduler(scheduler, tmp_path, capsys):
    dry_run(tmp_path, capsys, scheduler=scheduler)


def test_a_scheduler_steps_the_learning_rate_in_a_real_run(tmp_path, capsys):
    import json

    path = tmp_path / "r.yaml"
    path.write_text(textwrap.dedent("""\
        task: {name: classification, epochs: 3, batch_size: 64, plots: false}
        data: {name: digits}
        model: {name: mlp, hidden: [16]}
        loss: {name: cross_entropy}
        optimizer: {name: sgd, lr: 0.1}
        scheduler: {name: step, step_size: 1, gamma: 0.5}
    """))
    assert main(["run", str(path), "--output", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    lrs = [json.loads(line)["lr"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert lrs == pytest.approx([0.1, 0.05, 0.025])  # the rate each epoch trained with


def test_lbfgs_trains_with_a_closure(tmp_path, capsys):
    import json

    path = tmp_path / "r.yaml"
    path.write_text(textwrap.dedent("""\
        task: {name: classification, epochs: 2, batch_size: 256, plots: false}
        data: {name: digits}
        model: {name: mlp, hidden: [32]}
        loss: {name: cross_entropy}
        optimizer: {name: lbfgs, lr: 0.5}
    """))
    assert main(["run", str(path), "--output", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["test"]["accuracy"] > 0.5

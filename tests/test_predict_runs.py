"""`zoo predict` and `zoo export` from a run folder need only what the card and the model need.

A run whose dataset transform can't describe itself (its card has no preprocessing) still
predicts while its data is where the recipe says, preparing images with the test split as the
dataset does; without the data it says why it can't.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import numpy as np
import torch

from tests.conftest import register_in_process
from tests.test_export import write_digit_pngs
from zoo.cli import main


class Halve:
    """A deterministic transform without ``describe()``: the card cannot hold it."""

    def __call__(self, x):
        return (x - 0.5) / 0.5


def halved_folder(root: str, image_size: int = 8, seed: int = 0):
    """The imagefolder dataset of ``root`` in gray, every split's transform ``Halve``."""
    from zoo_datasets.folder import imagefolder

    splits = imagefolder(root=root, image_size=image_size, channels=1, seed=seed)
    for name in ("train", "valid", "test"):
        dataset, seen = getattr(splits, name, None), set()
        while dataset is not None and id(dataset) not in seen:
            seen.add(id(dataset))
            if hasattr(dataset, "transform"):
                dataset.transform = Halve()
            dataset = getattr(dataset, "dataset", None)
    return splits


def train_run(base: Path, data_name: str, data_keys: str, extra: str = "") -> Path:
    recipe = base / "recipe.yaml"
    recipe.write_text(textwrap.dedent(f"""\
        seed: 0
        task: {{name: classification, epochs: 1, batch_size: 32, plots: false{extra}}}
        data: {{name: {data_name}, {data_keys}}}
        model: {{name: cnn}}
        loss: {{name: cross_entropy}}
        optimizer: {{name: adam, lr: 0.003}}
    """))
    assert main(["run", str(recipe), "--output", str(base / "run")]) == 0
    return base / "run"


def eager_halved(run_dir: Path, paths: list) -> list:
    """The best checkpoint's top class of each 8×8 gray PNG, prepared as ``Halve`` does, by hand."""
    from PIL import Image

    from zoo.model_card import checkpoint_card
    from zoo_models.cnn import build_cnn

    best = run_dir / "checkpoints" / "best.pt"
    card = checkpoint_card(best)
    model = build_cnn(**card["model"]["keys"]).eval()
    model.load_state_dict(torch.load(best, weights_only=True)["model"])
    x = np.stack([np.asarray(Image.open(p).convert("L"), dtype=np.float32)[None] / 255 for p in paths])
    with torch.no_grad():
        scores = model(torch.from_numpy((x - 0.5) / 0.5)).numpy()
    return [card["classes"][i] for i in scores.argmax(1)]


def test_a_card_without_preprocessing_predicts_with_the_test_split_while_the_data_is_there(tmp_path, capsys):
    register_in_process("datasets", "acme/halved", halved_folder)
    data = tmp_path / "digits"
    write_digit_pngs(data, count=300)
    run_dir = train_run(tmp_path, "acme/halved", f"root: {data}")
    from zoo.model_card import checkpoint_card

    assert checkpoint_card(run_dir / "checkpoints" / "best.pt")["preprocessing"] is None
    images = tmp_path / "images"
    write_digit_pngs(images, count=20)
    capsys.readouterr()
    assert main(["predict", str(run_dir), str(images), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["top"][0]["class"] for r in results] == eager_halved(run_dir, [r["path"] for r in results])

    shutil.rmtree(data)
    assert main(["predict", str(run_dir), str(images)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"zoo: error: {run_dir / 'checkpoints' / 'best.pt'}: its model card has no preprocessing"), err
    assert "cannot be prepared for it without the data" in err and str(data) in err and len(err.splitlines()) == 1


def acme_digits(seed: int = 0):
    """scikit-learn's digits under a plugin's name (the plugin is gone on the new machine)."""
    from zoo_datasets.digits import digits

    return digits(seed=seed, normalize={"mean": [0.5], "std": [0.5]})


def test_a_run_moved_to_a_machine_without_its_data_plugin_or_its_device_predicts_and_exports(tmp_path, capsys):
    import yaml

    from zoo.plugins import reset_manager

    register_in_process("datasets", "acme/digits", acme_digits)
    run_dir = train_run(tmp_path, "acme/digits", "seed: 0")
    images = tmp_path / "images"
    write_digit_pngs(images, count=12)
    capsys.readouterr()
    assert main(["predict", str(run_dir), str(images), "--json"]) == 0
    before = json.loads(capsys.readouterr().out)

    reset_manager()  # a new machine: no acme plugin, and the recipe asks for a device it lacks
    recipe = yaml.safe_load((run_dir / "recipe.yaml").read_text())
    device = "cuda" if not torch.cuda.is_available() else f"cuda:{torch.cuda.device_count()}"
    recipe["task"]["device"] = device
    (run_dir / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    assert main(["predict", str(run_dir), str(images), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == before
    assert err.strip() == (f"zoo: warning: {run_dir / 'recipe.yaml'}: task.device {device!r} is not available "
                           f"here; predicting on the CPU"), err
    assert main(["export", str(run_dir), "--format", "onnx"]) == 0, capsys.readouterr().err
    assert (run_dir / "exported" / "model.onnx").is_file()
    assert capsys.readouterr().err == ""  # export runs on the CPU whatever the recipe says

    assert main(["eval", str(run_dir)]) == 2  # testing again needs the data: its plugin is named
    assert "acme/digits" in capsys.readouterr().err

"""`zoo export` writes a run's best model in four formats, each checked by its own runtime, and
`zoo predict` uses the exported files and the run folder alike, without the training data.

One quickstart-sized run (the seeds' CNN on scikit-learn's digits, written as a folder of PNG
files and read back by the imagefolder dataset) is trained once for the module; its data folder
is deleted before anything is exported or predicted, so everything below works from the card.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import REPO, register_in_process, train_in_process
from zoo.cli import main

FORMATS = {"onnx": "model.onnx", "exported": "model.pt2", "torchscript": "model.ts.pt",
           "safetensors": "model.safetensors"}


def write_digit_pngs(root: Path, count: int = 1797) -> tuple:
    """scikit-learn's digits as ``root/<digit>/<i>.png``; returns ``(uint8 images, labels)``."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.clip(np.round(bunch.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)[:count]
    for i, (image, label) in enumerate(zip(images, bunch.target[:count])):
        folder = root / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, "L").save(folder / f"{i:04d}.png")
    return images, bunch.target[:count]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``(run folder, folder of 40 digit PNGs to classify)``; the training data is deleted."""
    base = tmp_path_factory.mktemp("export")
    data = base / "digits"
    write_digit_pngs(data)
    recipe = base / "quick.yaml"
    recipe.write_text(textwrap.dedent(f"""\
        seed: 0
        task: {{name: classification, epochs: 2, batch_size: 32, plots: false}}
        data: {{name: imagefolder, root: {data}, image_size: 8, channels: 1, normalize: {{mean: [0.5], std: [0.5]}}}}
        model: {{name: cnn}}
        loss: {{name: cross_entropy}}
        optimizer: {{name: adam, lr: 0.003}}
    """))
    train_in_process(recipe, base / "run", base / "cache")
    shutil.rmtree(data)  # from here on only the run folder is left
    images = base / "images"
    write_digit_pngs(images, count=40)
    return base / "run", images


def zoo(*args, capsys):
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return status, out.out, out.err


def predictions(target, images, capsys, *extra) -> list:
    status, out, err = zoo("predict", target, images, "--top-k", "10", "--json", *extra, capsys=capsys)
    assert status == 0, err
    return json.loads(out)


def run_eager_scores(run_dir: Path, batch: np.ndarray) -> np.ndarray:
    """The best checkpoint's scores for ``batch``, with the model built by hand from its factory."""
    from zoo.model_card import checkpoint_card
    from zoo_models.cnn import build_cnn

    card = checkpoint_card(run_dir / "checkpoints" / "best.pt")
    model = build_cnn(**card["model"]["keys"]).eval()
    model.load_state_dict(torch.load(run_dir / "checkpoints" / "best.pt", weights_only=True)["model"])
    with torch.no_grad():
        return model(torch.from_numpy(batch)).numpy()


def runtime_scores(fmt: str, path: Path, batch: np.ndarray) -> np.ndarray:
    """Scores of the exported file at ``path`` by the format's own runtime, without zoo."""
    if fmt == "onnx":
        import onnxruntime

        return onnxruntime.InferenceSession(str(path)).run(None, {"images": batch})[0]
    if fmt == "exported":
        return torch.export.load(str(path)).module()(torch.from_numpy(batch)).detach().numpy()
    if fmt == "torchscript":
        return torch.jit.load(str(path))(torch.from_numpy(batch)).detach().numpy()
    from safetensors import safe_open
    from safetensors.torch import load_model
    from zoo_models.cnn import build_cnn

    with safe_open(str(path), "pt") as f:
        card = json.loads(f.metadata()["zoo_model_card"])
    model = build_cnn(**card["model"]["keys"]).eval()
    load_model(model, str(path))
    with torch.no_grad():
        return model(torch.from_numpy(batch)).numpy()


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_is_checked_loads_in_its_runtime_and_predicts_like_the_run_folder(trained, capsys, fmt):
    run_dir, images = trained
    status, out, err = zoo("export", run_dir, "--format", fmt, capsys=capsys)
    assert status == 0, err
    path = run_dir / "exported" / FORMATS[fmt]
    checked, written = out.strip().splitlines()
    assert written == f"written {path}"
    largest, tolerance = (float(v) for v in
                          checked.split("largest difference ")[1].rstrip(")").split(" (tolerance "))
    assert checked.startswith("checked against the eager model on 8 test images") and largest <= tolerance
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(
        name for name in FORMATS.values() if (path.parent / name).exists())  # no temporary file left

    batch = np.random.default_rng(0).normal(size=(5, 1, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(runtime_scores(fmt, path, batch), run_eager_scores(run_dir, batch), atol=1e-4)

    from_run = predictions(run_dir, images, capsys)
    from_file = predictions(path, images, capsys)
    assert [r["path"] for r in from_file] == [r["path"] for r in from_run] and len(from_run) == 40
    for a, b in zip(from_file, from_run):
        assert [t["class"] for t in a["top"][:1]] == [t["class"] for t in b["top"][:1]]
        np.testing.assert_allclose([t["probability"] for t in a["top"]], [t["probability"] for t in b["top"]],
                                   atol=1e-5)
    labels = [Path(r["path"]).parent.name for r in from_run]
    assert sum(r["top"][0]["class"] == label for r, label in zip(from_run, labels)) >= 30


def test_predict_from_the_card_prepares_images_as_the_dataset_did(trained, capsys):
    run_dir, images = trained
    status, _, err = zoo("eval", run_dir, capsys=capsys)
    assert status == 2 and "digits" in err  # the data is gone: eval cannot run ...
    results = predictions(run_dir, images, capsys)  # ... but predict needs only the card
    card = json.loads(_card_text(run_dir / "checkpoints" / "best.pt"))
    assert card["preprocessing"]["read"] == {"mode": "L", "size": [8, 8], "resize": "cover",
                                             "interpolation": "bilinear", "crop": "centre"}
    assert card["preprocessing"]["steps"] == [  # the dataset's transform, step by step
        {"op": "resize", "size": [8, 8], "interpolation": "bilinear", "antialias": "when shrinking"},
        {"op": "normalize", "mean": [0.5], "std": [0.5]}]
    assert card["classes"] == [str(d) for d in range(10)] and card["input"] == {"channels": 1, "height": 8, "width": 8}
    assert card["model"]["name"] == "cnn" and card["model"]["keys"]["num_classes"] == 10
    assert torch.__version__.startswith(card["versions"]["torch"].split("+")[0]) and card["versions"]["zoo"]
    assert card["source"]["run"] == str(run_dir.resolve()) and card["source"]["epoch"] in (1, 2)
    # the same files as a batch prepared by hand through the model give the same probabilities
    files = sorted(images.rglob("*.png"))
    batch = np.stack([np.asarray(Image.open(f).convert("L"), dtype=np.float32)[None] / 255 for f in files])
    scores = run_eager_scores(run_dir, (batch - 0.5) / 0.5)
    expected = np.exp(scores - scores.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    for result, row in zip(results, expected):
        assert result["top"][0]["probability"] == pytest.approx(float(row.max()), abs=1e-5)


def _card_text(checkpoint: Path) -> str:
    import zipfile

    with zipfile.ZipFile(checkpoint) as archive:  # plain JSON in the zip: nothing unpickled
        return archive.read(next(n for n in archive.namelist() if n.endswith("/zoo/model_card.json"))).decode()


def test_an_existing_file_is_replaced_only_with_force(trained, tmp_path, capsys):
    run_dir, _ = trained
    target = tmp_path / "out" / "digits.onnx"
    assert zoo("export", run_dir, "--format", "onnx", "--output", target, capsys=capsys)[0] == 0
    target.write_bytes(b"someone's file")
    status, _, err = zoo("export", run_dir, "--format", "onnx", "--output", target, capsys=capsys)
    assert status == 2 and f"{target} exists; pass --force to replace it" in err
    assert target.read_bytes() == b"someone's file"
    status, _, err = zoo("export", run_dir, "--format", "onnx", "--output", target, "--force", capsys=capsys)
    assert status == 0, err
    assert target.read_bytes()[:4] != b"some" and sorted(p.name for p in target.parent.iterdir()) == ["digits.onnx"]
    status, _, err = zoo("export", run_dir, "--format", "tflite", capsys=capsys)
    assert status == 2 and "unknown format 'tflite'; choose one of onnx, exported, torchscript, safetensors" in err


@pytest.mark.parametrize("fmt, name, expected", [
    ("exported", "model.pt", "the file zoo predict reads as exported must end with .pt2"),
    ("onnx", "digits.bin", "the file zoo predict reads as onnx must end with .onnx"),
    ("safetensors", "model.st", "the file zoo predict reads as safetensors must end with .safetensors"),
    ("torchscript", "model.onnx", "a torchscript file must not end with .onnx"),
])
def test_an_output_whose_suffix_zoo_predict_would_misread_is_refused_before_any_work(trained, tmp_path, capsys,
                                                                                      fmt, name, expected):
    run_dir, _ = trained
    status, out, err = zoo("export", run_dir, "--format", fmt, "--output", tmp_path / name, capsys=capsys)
    assert status == 2 and out == "" and err.startswith(f"zoo: error: --output {tmp_path / name}: {expected}"), err
    assert len(err.strip().splitlines()) == 1 and ".tmp" not in err and list(tmp_path.iterdir()) == []


def test_an_output_of_another_suffix_that_zoo_predict_reads_by_content_is_written(trained, tmp_path, capsys):
    run_dir, images = trained
    status, out, err = zoo("export", run_dir, "--format", "torchscript", "--output", tmp_path / "digits.pt",
                           capsys=capsys)
    assert status == 0, err
    assert len(predictions(tmp_path / "digits.pt", images, capsys)) == 40


def test_an_unreadable_file_is_skipped_with_a_warning_and_exit_1_or_stops_with_on_error_stop(trained, tmp_path,
                                                                                                capsys):
    run_dir, images = trained
    folder = tmp_path / "photos"
    shutil.copytree(images / "3", folder)
    (folder / "._0003.png").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")  # hidden: never collected
    bad = folder / "broken.png"
    bad.write_bytes(b"not a png")
    status, out, err = zoo("predict", run_dir, folder, "--csv", capsys=capsys)
    good = sorted(p for p in folder.glob("[0-9]*.png"))
    assert status == 1
    assert [line.split(",")[0] for line in out.splitlines()[1::3]] == [str(p) for p in good]
    assert err.splitlines() == [f"zoo: warning: cannot read image {bad}: cannot identify image file {str(bad)!r}; "
                                f"skipped",
                                f"zoo: error: 1 of {len(good) + 1} images could not be read (skipped: see the "
                                f"warnings above)"]
    status, out, err = zoo("predict", run_dir, folder, "--on-error", "stop", capsys=capsys)
    assert status == 2 and out == "" and err == f"zoo: error: cannot read image {bad}: cannot identify image file " \
                                                f"{str(bad)!r}\n"


def test_onnx_export_works_with_a_torch_whose_exporter_has_no_dynamo_keyword(trained, tmp_path, capsys,
                                                                            monkeypatch):
    """torch 2.1-2.4's torch.onnx.export (pyproject allows them) has no ``dynamo`` keyword: it came with 2.5."""
    real = torch.onnx.export

    def export_of_torch_2_4(model, args, f, export_params=True, verbose=False, training=None, input_names=None,
                            output_names=None, operator_export_type=None, opset_version=None,
                            do_constant_folding=True, dynamic_axes=None, keep_initializers_as_inputs=None,
                            custom_opsets=None, export_modules_as_functions=False, autograd_inlining=True):
        return real(model, args, f, dynamo=False, input_names=input_names, output_names=output_names,
                    opset_version=opset_version, do_constant_folding=do_constant_folding, dynamic_axes=dynamic_axes)

    monkeypatch.setattr(torch.onnx, "export", export_of_torch_2_4)
    status, _, err = zoo("export", trained[0], "--format", "onnx", "--output", tmp_path / "old.onnx", capsys=capsys)
    assert status == 0, err


def test_exporting_twice_gives_identical_bytes(trained, tmp_path):
    run_dir, _ = trained
    script = textwrap.dedent(f"""\
        import sys
        from zoo.cli import main
        for fmt, name in {sorted(FORMATS.items())!r}:
            assert main(["export", {str(run_dir)!r}, "--format", fmt, "--output", sys.argv[1] + "/" + name]) == 0
    """)
    for out in ("a", "b"):  # each zoo export is a process of its own, as a user runs it
        done = subprocess.run([sys.executable, "-c", script, str(tmp_path / out)], capture_output=True, text=True,
                              cwd=REPO, timeout=600)
        assert done.returncode == 0, done.stderr
    for name in FORMATS.values():
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


class Branchy(torch.nn.Module):
    """A classifier whose path depends on the values it gets (torch.export refuses it)."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.fc = torch.nn.Linear(64, num_classes)

    def forward(self, x):
        if x.mean() > 0:
            return self.fc(x.flatten(1))
        return -self.fc(x.flatten(1))


class Bessel(torch.nn.Module):
    """A classifier using an operator ONNX lacks (``aten::i0``)."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.fc = torch.nn.Linear(64, num_classes)

    def forward(self, x):
        return self.fc(torch.special.i0(x).flatten(1))


def branchy(num_classes: int = 10) -> torch.nn.Module:
    """A test model with data-dependent control flow."""
    return Branchy(num_classes)


def bessel(num_classes: int = 10) -> torch.nn.Module:
    """A test model with an operator ONNX lacks."""
    return Bessel(num_classes)


def run_with_model(trained_run: Path, folder: Path, name: str, module: torch.nn.Module) -> Path:
    """A copy of the trained run whose best.pt holds ``module``'s weights and a card naming ``name``."""
    from zoo.checkpoints import save_atomic
    from zoo.model_card import checkpoint_card

    shutil.copytree(trained_run, folder, ignore=shutil.ignore_patterns("exported"))
    best = folder / "checkpoints" / "best.pt"
    card = checkpoint_card(best)
    card["model"] = {"name": name, "keys": {"num_classes": 10}}
    state = dict(torch.load(best, weights_only=True), model=module.state_dict())
    save_atomic(state, best, card=card)
    return folder


@pytest.mark.parametrize("name, factory, fmt, cause", [
    ("test/branchy", branchy, "exported", "data-dependent"),
    ("test/branchy", branchy, "onnx", "its scores depend on the values of its input"),
    ("test/branchy", branchy, "torchscript", "its scores depend on the values of its input"),
    ("test/bessel", bessel, "onnx", "Exporting the operator 'aten::i0' to ONNX opset version 17 is not supported"),
])
def test_a_model_a_format_cannot_hold_is_one_line_and_leaves_nothing(trained, tmp_path, capfd, name, factory,
                                                                     fmt, cause):
    register_in_process("models", name, factory)
    folder = run_with_model(trained[0], tmp_path / "run", name, factory())
    status = main(["export", str(folder), "--format", fmt])
    out, err = capfd.readouterr()
    assert status == 2 and out == ""
    assert err.startswith(f"zoo: error: cannot export model {name!r} to {fmt}: ") and cause in err, err
    assert len(err.strip().splitlines()) == 1  # the exporter's own printing is silenced
    assert not (folder / "exported").exists() or not any((folder / "exported").iterdir())


def test_a_card_that_does_not_match_its_model_is_refused(trained, tmp_path, capsys):
    import onnx

    run_dir, images = trained
    source = run_dir / "exported"
    for fmt in ("onnx", "safetensors"):
        if not (source / FORMATS[fmt]).exists():
            assert zoo("export", run_dir, "--format", fmt, capsys=capsys)[0] == 0
    # an ONNX file whose card claims 3 classes and 16x16 inputs
    model = onnx.load(str(source / "model.onnx"))
    card = json.loads(model.metadata_props[0].value)
    for fake, expected in (({"classes": ["a", "b", "c"]}, "the card names 3 classes [a, b, c] but the model gives 10"),
                           ({"input": {"channels": 1, "height": 16, "width": 16},  # prepared at 16x16 too
                             "preprocessing": json.loads(json.dumps(card["preprocessing"]).replace("[8, 8]",
                                                                                                 "[16, 16]"))},
                            "the card says 1x16x16 inputs but the model takes 8 height")):
        model.metadata_props[0].value = json.dumps(dict(card, **fake))
        onnx.save(model, str(tmp_path / "fake.onnx"))
        status, _, err = zoo("predict", tmp_path / "fake.onnx", images, capsys=capsys)
        assert status == 2 and "its model card does not match the model" in err and expected in err, err
    # a safetensors file whose card builds a model its weights do not fit
    from safetensors.torch import load_file, save_file

    weights = load_file(str(source / "model.safetensors"))
    for keys, expected in (({"num_classes": 4}, "its weights do not fit model 'cnn'"),
                           ({}, "the card names 3 classes [a, b, c] but the model gives 10 scores")):
        fake = dict(card, model={"name": "cnn", "keys": dict(card["model"]["keys"], **keys)})
        if not keys:
            fake["classes"] = ["a", "b", "c"]
        save_file(weights, str(tmp_path / "fake.safetensors"), metadata={"zoo_model_card": json.dumps(fake)})
        status, _, err = zoo("predict", tmp_path / "fake.safetensors", images, capsys=capsys)
        assert status == 2 and expected in err, err


def test_predicting_with_an_onnx_file_imports_neither_torch_nor_torchvision(trained, capsys):
    run_dir, images = trained
    if not (run_dir / "exported" / "model.onnx").exists():
        assert zoo("export", run_dir, "--format", "onnx", capsys=capsys)[0] == 0
    script = textwrap.dedent(f"""\
        import sys
        from zoo.cli import main
        assert main(["predict", {str(run_dir / 'exported' / 'model.onnx')!r}, {str(images)!r}, "--csv"]) == 0
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision", "timm")))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "path,rank,class,probability" and len(lines) == 1 + 40 * 3 + 1
    assert lines[-1] == "[]"


def test_a_style_transfer_run_has_no_model_to_export(tmp_path, capsys):
    folder = tmp_path / "style"
    folder.mkdir()
    shutil.copy(REPO / "recipes" / "style_transfer.yaml", folder / "recipe.yaml")
    status, _, err = zoo("export", folder, "--format", "onnx", capsys=capsys)
    assert status == 2 and len(err.splitlines()) == 1
    assert err == ("zoo: error: task 'style_transfer' trains no model to export: zoo export writes a run's best "
                   "classifier, and this task's result is not one (a style-transfer run's is its picture; see "
                   "'Export a model' in the README)\n")


def test_an_output_inside_a_file_is_one_line(trained, tmp_path, capsys):
    (tmp_path / "notes").write_text("mine")
    status, out, err = zoo("export", trained[0], "--format", "onnx", "--output", tmp_path / "notes" / "x.onnx",
                           capsys=capsys)
    assert status == 2 and out == "" and (tmp_path / "notes").read_text() == "mine"
    assert err == f"zoo: error: --output {tmp_path / 'notes' / 'x.onnx'}: {tmp_path / 'notes'} is a file, not a " \
                  f"folder to write in\n"


def test_a_card_whose_classes_differ_from_the_checkpoints_is_refused(trained, tmp_path, capsys):
    from zoo.checkpoints import save_atomic
    from zoo.model_card import checkpoint_card

    folder = tmp_path / "run"
    shutil.copytree(trained[0], folder, ignore=shutil.ignore_patterns("exported"))
    best = folder / "checkpoints" / "best.pt"
    card = checkpoint_card(best)
    card["classes"] = list(reversed(card["classes"]))
    save_atomic(torch.load(best, weights_only=True), best, card=card)
    for command in (["export", folder, "--format", "onnx"], ["predict", folder, trained[1]]):
        status, out, err = zoo(*command, capsys=capsys)
        assert status == 2 and out == "" and err.startswith(f"zoo: error: {best}: its model card names 10 classes "
                                                            f"[9, 8, 7, 6, 5, 4, ... (10 in all)] but the checkpoint "
                                                            f"was trained on 10 classes [0, 1, 2, 3, 4, 5, "), err

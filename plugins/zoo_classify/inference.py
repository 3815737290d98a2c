"""A finished classification run, used again: test its best checkpoint, or classify image files.

Both functions take the ``ClassificationTask`` and a ``zoo.run.Run`` whose ``directory`` is the
run folder. They rebuild the recipe's data and model as the run did (so overrides such as
``data.root=other_folder`` take effect), load ``checkpoints/best.pt`` (``weights_only``) and
refuse a checkpoint trained on other classes than the data has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
from torch.utils.data import Subset

from zoo.errors import UserError


def evaluate_run(task: Any, run: Any) -> dict:
    """Test the run's best checkpoint on the recipe's test split and log the per-class table.

    Returns the report as report.json's ``test`` part (loss, accuracy, per_class,
    confusion_matrix) plus ``checkpoint`` (its path) and ``epoch`` (the epoch it was saved at).
    """
    from zoo_classify.batches import Batches
    from zoo_classify.precision import Precision
    from zoo_classify.task import evaluate

    o = task.options
    data = task._data(run)
    task._check_labels(run, data)
    test = data["test"]
    if test is None or len(test) == 0:
        raise UserError(f"{run.recipe.where(('data',))}: data {_data_name(run)!r} has no test samples to evaluate on")
    model, state = load_best(task, run, data)
    criterion = run.build("loss")
    precision = Precision(o.amp, run.device)
    batches = Batches(test, batch_size=o.evaluation_batch_size, device=run.device, train=False,
                      num_workers=o.num_workers, data_on_device=o.data_on_device)
    checkpoint = run.checkpoint_dir / "best.pt"
    run.log(f"{run.name}: testing {checkpoint} (epoch {state.get('epoch', '?')}) on {len(test)} test samples "
            f"of data {_data_name(run)!r}")
    loss, accuracy, confusion = evaluate(model, criterion, batches, data["num_classes"], precision)
    report = test_report(loss, accuracy, confusion, data["classes"])
    log_test_table(run, report)
    return dict(report, checkpoint=str(checkpoint), epoch=state.get("epoch"))


def predict_images(task: Any, run: Any, paths: Sequence[Path], top_k: int) -> list:
    """The ``top_k`` most probable classes of each image file, by the run's best checkpoint.

    Each file is read with PIL, converted to the dataset's channels (L or RGB), resized (shorter
    side, then centre crop) to the size the dataset stores its images at, and passed through
    the test split's own transform (``dataset.prepare``). Returns one dict per path, in order:
    ``{"path": str, "top": [{"class": name, "probability": p}, ...]}``, most probable first.
    A file that is not a readable image is a ``zoo.UserError`` naming it.
    """
    data = task._data(run)
    dataset = _unwrap(data["test"] if data["test"] is not None and len(data["test"]) else data["valid"])
    stored = getattr(dataset, "stored_shape", None)
    prepare = getattr(dataset, "prepare", None)
    if stored is None or not callable(prepare):
        raise UserError(f"{run.recipe.where(('data',))}: data {_data_name(run)!r} gives {type(dataset).__name__} "
                        f"datasets, which do not say how their images are stored (stored_shape, prepare), "
                        f"so image files cannot be prepared like its samples")
    channels, height, width = stored
    mode = {1: "L", 3: "RGB"}.get(channels)
    if mode is None:
        raise UserError(f"{run.recipe.where(('data',))}: data {_data_name(run)!r} stores {channels}-channel images; "
                        f"only 1 (grayscale) or 3 (RGB) can be read from image files")
    images = torch.stack([read_image(Path(p), mode, (height, width)) for p in paths])
    model, _ = load_best(task, run, data)
    size = task.options.evaluation_batch_size
    probabilities = []
    with torch.no_grad():
        for start in range(0, len(images), size):
            x = prepare(images[start:start + size]).to(run.device)
            probabilities.append(output_probabilities(model(x).float()).cpu())
    probs = torch.cat(probabilities)
    k = min(top_k, probs.shape[1])
    values, indices = probs.topk(k, dim=1)
    classes = data["classes"]
    return [{"path": str(path), "top": [{"class": classes[int(i)], "probability": float(p)}
                                         for p, i in zip(row_values, row_indices)]}
            for path, row_values, row_indices in zip(paths, values, indices)]


def load_best(task: Any, run: Any, data: dict) -> tuple:
    """``(model in eval mode on run.device, checkpoint dict)`` from the run's ``checkpoints/best.pt``.

    Refuses (``zoo.UserError``) a checkpoint whose classes differ from ``data["classes"]``, or
    whose weights do not fit the model the recipe builds now.
    """
    path = run.checkpoint_dir / "best.pt"
    state = run.load_checkpoint("best.pt")
    saved_classes = state.get("classes")
    if saved_classes is not None and list(saved_classes) != list(data["classes"]):
        raise UserError(f"{path} was trained on {_describe_classes(saved_classes)} but data {_data_name(run)!r} "
                        f"({run.recipe.where(('data',))}) has {_describe_classes(data['classes'])}")
    if not isinstance(state.get("model"), dict):
        raise UserError(f"{path}: no model weights in it (expected a 'model' state dict)")
    model = task._model(run, data)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError:
        from zoo.checkpoints import mismatch

        raise UserError(f"{path}: its weights do not fit model {run.section('model').get('name')!r} as "
                        f"{run.recipe.where(('model',))} builds it now ({mismatch(model.state_dict(), state['model'])})"
                        ) from None
    return model.to(run.device).eval(), state


def read_image(path: Path, mode: str, size: tuple) -> torch.Tensor:
    """Decode ``path`` as a uint8 tensor C×H×W (``mode`` "L" or "RGB", ``size`` (H, W)).

    The shorter side is resized to fit and the centre cropped, as zoo's image datasets store
    their files. A file PIL cannot decode is a ``zoo.UserError`` naming it.
    """
    import numpy as np
    from PIL import Image

    height, width = size
    try:
        with Image.open(path) as image:
            image = image.convert(mode)
            w, h = image.size
            scale = max(width / w, height / h)
            new = (max(width, round(w * scale)), max(height, round(h * scale)))
            if new != image.size:
                image = image.resize(new, Image.BILINEAR)
            left, top = int(round((new[0] - width) / 2.0)), int(round((new[1] - height) / 2.0))
            image = image.crop((left, top, left + width, top + height))
            array = np.asarray(image, dtype=np.uint8)
    except Exception as exc:  # PIL raises OSError, ValueError, SyntaxError... for files it can't read
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise UserError(f"cannot read image {path}: {reason}") from None
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


def output_probabilities(outputs: torch.Tensor) -> torch.Tensor:
    """Class probabilities from a model's outputs (B×K): raw logits or log-probabilities.

    Softmax serves both: for log-probabilities (a model ending in LogSoftmax) it equals their
    exponential, since they already sum to one in probability.
    """
    return outputs.softmax(dim=1)


def test_report(loss: float, accuracy: float, confusion: torch.Tensor, classes: Sequence[str]) -> dict:
    """report.json's ``test`` part: loss, accuracy, per_class {name: correct, total, accuracy}, confusion_matrix."""
    per_class = {}
    for k, name in enumerate(classes):
        total, correct = int(confusion[k].sum()), int(confusion[k, k])
        per_class[name] = {"correct": correct, "total": total, "accuracy": correct / total if total else None}
    return {"loss": loss, "accuracy": accuracy, "per_class": per_class, "confusion_matrix": confusion.tolist()}


def log_test_table(run: Any, report: dict) -> None:
    """Log the test loss, one ``acc% (correct/total)`` line per class ("N/A" without samples), the overall accuracy."""
    run.log(f"test loss {report['loss']:.6f}")
    for name, row in report["per_class"].items():
        text = (f"{100 * row['accuracy']:3.0f}% ({row['correct']}/{row['total']})"
                if row["total"] else "N/A (no test samples)")
        run.log(f"test accuracy of {name:>12}: {text}")
    correct = sum(row["correct"] for row in report["per_class"].values())
    total = sum(row["total"] for row in report["per_class"].values())
    run.log(f"test accuracy (overall): {report['accuracy']:.2%} ({correct}/{total})")


def _unwrap(dataset: Any) -> Any:
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return dataset


def _data_name(run: Any) -> str:
    return str(run.section("data").get("name"))


def _describe_classes(classes: Sequence[str], shown: int = 6) -> str:
    names = [str(c) for c in classes]
    listed = ", ".join(names[:shown]) + (f", ... ({len(names)} in all)" if len(names) > shown else "")
    return f"{len(names)} classes [{listed}]"

"""A finished classification run, used again: test its best checkpoint, or classify image files.

Both ``evaluate_run`` and ``predict_images`` take a ``zoo.task.Run`` whose ``directory`` is the
run folder and the run's ``ClassificationOptions``. They rebuild the recipe's data and model as
the run did (so overrides such as ``data.root=other_folder`` take effect), load
``checkpoints/best.pt`` (``weights_only``) and refuse a checkpoint trained on other classes
than the data has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
from torch.utils.data import Subset

from zoo import UserError
from zoo.toolkit import checkpoint_mismatch
from zoo_classify.batches import Batches
from zoo_classify.data import ClassificationData, load_data
from zoo_classify.evaluation import evaluate, log_test_table, test_report
from zoo_classify.model import build_model
from zoo_classify.options import ClassificationOptions
from zoo_classify.precision import Precision


def evaluate_run(run: Any, options: ClassificationOptions) -> dict:
    """Test the run's best checkpoint on the recipe's test split and log the per-class table.

    Returns the report as report.json's ``test`` part (loss, accuracy, per_class,
    confusion_matrix) plus ``checkpoint`` (its path) and ``epoch`` (the epoch it was saved at).
    Raises ``zoo.UserError`` when the data has no test samples or the checkpoint doesn't fit.
    """
    data = load_data(run, options.valid_fraction)
    data.check_labels(run.recipe.where(("data",)))
    if not data.has_test:
        raise UserError(f"{run.recipe.where(('data',))}: data {_data_name(run)!r} has no test samples to evaluate on")
    model, state = load_best(run, data)
    criterion = run.build("loss")
    precision = Precision(options.amp, run.device)
    batches = Batches(data.test, batch_size=options.evaluation_batch_size, device=run.device, train=False,
                      num_workers=options.num_workers, data_on_device=options.data_on_device)
    checkpoint = run.checkpoint_dir / "best.pt"
    run.log(f"{run.name}: testing {checkpoint} (epoch {state.get('epoch', '?')}) on {len(data.test)} test samples "
            f"of data {_data_name(run)!r}")
    loss, accuracy, confusion = evaluate(model, criterion, batches, data.num_classes, precision)
    report = test_report(loss, accuracy, confusion, data.classes)
    log_test_table(run, report)
    return dict(report, checkpoint=str(checkpoint), epoch=state.get("epoch"))


def predict_images(run: Any, options: ClassificationOptions, paths: Sequence[Path], top_k: int) -> list:
    """The ``top_k`` most probable classes of each image file, by the run's best checkpoint.

    Each file is read with PIL, converted to the dataset's channels (L or RGB), resized (shorter
    side, then centre crop) to the size the dataset stores its images at, and passed through
    the test split's own transform (``dataset.prepare``). Returns one dict per path, in order:
    ``{"path": str, "top": [{"class": name, "probability": p}, ...]}``, most probable first.
    A file that is not a readable image is a ``zoo.UserError`` naming it.
    """
    data = load_data(run, options.valid_fraction)
    dataset = _unwrap(data.test if data.has_test else data.valid)
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
    model, _ = load_best(run, data)
    size = options.evaluation_batch_size
    probabilities = []
    with torch.no_grad():
        for start in range(0, len(images), size):
            x = prepare(images[start:start + size]).to(run.device)
            probabilities.append(output_probabilities(model(x).float()).cpu())
    probs = torch.cat(probabilities)
    k = min(top_k, probs.shape[1])
    values, indices = probs.topk(k, dim=1)
    return [{"path": str(path), "top": [{"class": data.classes[int(i)], "probability": float(p)}
                                         for p, i in zip(row_values, row_indices)]}
            for path, row_values, row_indices in zip(paths, values, indices)]


def load_best(run: Any, data: ClassificationData) -> tuple:
    """``(model in eval mode on run.device, checkpoint dict)`` from the run's ``checkpoints/best.pt``.

    Refuses (``zoo.UserError``) a checkpoint whose classes differ from ``data.classes``, or
    whose weights do not fit the model the recipe builds now.
    """
    path = run.checkpoint_dir / "best.pt"
    state = run.load_checkpoint("best.pt")
    saved_classes = state.get("classes")
    if saved_classes is not None and list(saved_classes) != list(data.classes):
        raise UserError(f"{path} was trained on {_describe_classes(saved_classes)} but data {_data_name(run)!r} "
                        f"({run.recipe.where(('data',))}) has {_describe_classes(data.classes)}")
    if not isinstance(state.get("model"), dict):
        raise UserError(f"{path}: no model weights in it (expected a 'model' state dict)")
    model = build_model(run, data)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError:
        raise UserError(f"{path}: its weights do not fit model {run.section('model').get('name')!r} as "
                        f"{run.recipe.where(('model',))} builds it now ({checkpoint_mismatch(model.state_dict(), state['model'])})"
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

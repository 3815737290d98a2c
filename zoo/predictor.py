"""Classifying image files with a model and its card, whatever runs the model.

``predict(paths, card, scores, top_k)`` reads the files as the card's preprocessing says
(``zoo.image_files``, ``zoo.preprocessing``), pushes them through ``scores`` a batch at a time
and returns each file's most probable classes. ``scores`` is any function from a float32 numpy
batch B×C×H×W to B×K scores: eager PyTorch (``zoo.card_models.torch_scores``), onnxruntime,
a ``torch.export`` program or TorchScript (``zoo.model_files``). numpy and PIL only.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from zoo.errors import UserError
from zoo.image_files import read_images
from zoo.preprocessing import prepare

__all__ = ["predict", "top_classes", "as_text", "as_csv"]


def predict(paths: Sequence[Path], card: dict, scores: Callable, top_k: int, *, batch_size: int = 64,
            where: str = "the model", preparation: Optional[Callable[[], Any]] = None,
            skipped: Optional[list] = None) -> list:
    """The ``top_k`` most probable classes of each image file in ``paths``, in order:
    ``[{"path": str, "top": [{"class": name, "probability": p}, ...]}]``, most probable first.

    Images are read and prepared as the card's preprocessing says; for a card without one,
    ``preparation()`` gives the run's own way (a ``zoo.task.ImagePreparation``: the run's data
    is needed). Raises ``zoo.UserError`` when the card has no preprocessing and there is no
    ``preparation`` (``where`` names the model), for a model whose scores are not one per class
    of the card, and for a file that is not a readable image unless ``skipped`` (a list) is
    given: then its message (``cannot read image PATH: why``) is appended there and the file
    left out of the results.
    """
    preprocessing = card.get("preprocessing")
    if preprocessing is not None:
        mode, size = preprocessing["read"]["mode"], preprocessing["read"]["size"]
        prepare_batch = lambda images: prepare(images, preprocessing)  # noqa: E731
    elif preparation is not None:
        own = preparation()
        mode, size = own.mode, own.size
        prepare_batch = lambda images: own.prepare(np.stack(images))  # noqa: E731
    else:
        raise UserError(f"{where}: its model card has no preprocessing (the run's dataset prepares its images "
                        f"its own way), so image files cannot be prepared for it without the data")
    results: list = []
    for start in range(0, len(paths), batch_size):
        images = read_images(paths[start:start + batch_size], mode, size, skipped=skipped)
        chunk = [path for path, image in zip(paths[start:start + batch_size], images) if image is not None]
        if not chunk:
            continue
        batch = prepare_batch([image for image in images if image is not None])
        out = np.asarray(scores(batch), dtype=np.float32)
        if out.shape != (len(chunk), len(card["classes"])):
            raise UserError(f"{where}: the model gives scores of shape {out.shape} for {len(chunk)} images, "
                            f"but its model card names {len(card['classes'])} classes")
        results.extend(top_classes(chunk, out, card["classes"], top_k))
    return results


def top_classes(paths: Sequence[Path], scores: np.ndarray, classes: Sequence[str], top_k: int) -> list:
    """Each path's ``top_k`` classes by the softmax of its row of ``scores`` (logits or
    log-probabilities: for the latter the softmax is their exponential)."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted.astype(np.float64))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    k = min(top_k, probabilities.shape[1])
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return [{"path": str(path), "top": [{"class": str(classes[i]), "probability": float(row[i])} for i in ranked]}
            for path, row, ranked in zip(paths, probabilities, order)]


def as_text(results: Sequence[dict]) -> str:
    """One line per image: ``path: class (p%), class (p%), ...``."""
    return "\n".join(f"{r['path']}: " + ", ".join(f"{t['class']} ({t['probability']:.1%})" for t in r["top"])
                     for r in results)


def as_csv(results: Sequence[dict]) -> str:
    """CSV with a header, one row per image and rank: ``path,rank,class,probability``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["path", "rank", "class", "probability"])
    for result in results:
        for rank, item in enumerate(result["top"], 1):
            writer.writerow([result["path"], rank, item["class"], f"{item['probability']:.6g}"])
    return out.getvalue().rstrip("\n")

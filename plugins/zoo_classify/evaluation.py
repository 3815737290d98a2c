"""A classifier measured on a split: loss, accuracy and confusion matrix, and the per-class
report and table a test gives (``zoo run``'s test and ``zoo eval`` alike)."""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import torch

from zoo.toolkit import all_reduce_sum


def evaluate(model: Any, criterion: Any, batches: Any, num_classes: int, precision: Any,
             outputs: Optional[list] = None) -> tuple:
    """``(mean loss per sample, accuracy, confusion matrix K×K)`` of ``model`` over ``batches``
    (a ``Batches``), in eval mode without gradients, under ``precision``'s autocast. When
    ``outputs`` is a list, ``(predicted classes, true classes)`` of each batch (CPU tensors) are
    appended to it, in the order of this process's samples.

    When ``batches`` is one process's shard (torchrun), the loss sum, the count and the
    confusion matrix are added up over the processes first: every process returns the figures
    of the whole split, exactly as one process would. ``model`` must not be the DDP wrapper.
    Loss and accuracy are NaN for an empty split.
    """
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=batches.device)
    confusion = torch.zeros(num_classes * num_classes, dtype=torch.long, device=batches.device)
    seen = 0
    with torch.no_grad():
        for x, y in batches.epoch(0):
            with precision.autocast():
                output = model(x)
                loss = criterion(output, y)
            total += loss.double() * x.shape[0]
            predicted = output.argmax(1)
            confusion += torch.bincount(y * num_classes + predicted, minlength=num_classes ** 2)
            if outputs is not None:
                outputs.append((predicted.cpu(), y.cpu()))
            seen += x.shape[0]
    if batches.world_size > 1:
        counted = torch.tensor(seen, device=confusion.device)
        all_reduce_sum(total, confusion, counted)
        seen = int(counted)
    confusion = confusion.view(num_classes, num_classes).cpu()
    if seen == 0:
        return math.nan, math.nan, confusion
    return float(total) / seen, int(confusion.trace()) / seen, confusion


def test_report(loss: float, accuracy: float, confusion: torch.Tensor, classes: Sequence[str]) -> dict:
    """report.json's ``test`` part: loss, accuracy, per_class {name: correct, total, accuracy}, confusion_matrix."""
    per_class = {}
    for k, name in enumerate(classes):
        total, correct = int(confusion[k].sum()), int(confusion[k, k])
        per_class[name] = {"correct": correct, "total": total, "accuracy": correct / total if total else None}
    return {"loss": loss, "accuracy": accuracy, "per_class": per_class, "confusion_matrix": confusion.tolist()}


TABLE_NAME_WIDTH = 30  # longer class names are printed whole, past the column


def log_test_table(run: Any, report: dict) -> None:
    """Log (``run.log``) the test loss, one ``acc% (correct/total)`` line per class ("N/A"
    without samples) and the overall accuracy of a ``test_report``. The names stay as written,
    each followed by its colon; the figures start in one column (``test accuracy of cat:  97%``)."""
    run.log(f"test loss {report['loss']:.6f}")
    width = min(max((len(str(name)) for name in report["per_class"]), default=0), TABLE_NAME_WIDTH) + 1
    for name, row in report["per_class"].items():
        text = (f"{100 * row['accuracy']:3.0f}% ({row['correct']}/{row['total']})"
                if row["total"] else "N/A (no test samples)")
        run.log(f"test accuracy of {f'{name}:':<{width}} {text}")
    correct = sum(row["correct"] for row in report["per_class"].values())
    total = sum(row["total"] for row in report["per_class"].values())
    run.log(f"test accuracy (overall): {report['accuracy']:.2%} ({correct}/{total})")

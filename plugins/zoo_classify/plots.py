"""Pictures a classification run leaves in its run folder: curves, a prediction grid, a confusion matrix.

Each ``plot_*`` function draws one figure with matplotlib's headless Agg backend, writes it as a
PNG and returns the file's path. Nothing here touches pyplot's global figure state: figures are
``matplotlib.figure.Figure`` objects rendered through ``FigureCanvasAgg`` and cleared afterwards,
so drawing in a long run (or inside a notebook) leaves no figure behind.

matplotlib and torch are imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch
    from matplotlib.figure import Figure

PathLike = Union[str, Path]

RIGHT_COLOUR = "green"
WRONG_COLOUR = "red"
GRID_LIMIT = 20          # as the seeds' "Visualize sample test results": 20 test images
CELL_TEXT_MAX_CLASSES = 20   # write counts in the cells up to this many classes
TICK_LABEL_MAX_CLASSES = 60  # name the classes on the axes up to this many
DPI = 100


# --------------------------------------------------------------------------- helpers


def _new_figure(width: float, height: float) -> "Figure":
    """A Figure attached to an Agg canvas (no pyplot, no GUI)."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        # Only choose the backend while pyplot is not loaded: switching it under a user's
        # interactive session would break their windows. We never use pyplot ourselves.
        matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: "Figure", path: PathLike) -> Path:
    """Write ``figure`` as a PNG at ``path`` (parents created), release it, return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        figure.savefig(path, format="png", dpi=DPI)
    finally:
        figure.clear()
    return path


def _as_float(value: Any) -> float:
    """``value`` as a float; NaN for anything missing or unreadable (metrics.jsonl writes NaN as "nan")."""
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _short(name: str, limit: int = 16) -> str:
    """Class names cut to ``limit`` characters (head…tail, both ends kept) so labels stay on their cell."""
    if len(name) <= limit:
        return name
    tail = (limit - 1) // 2
    return name[: limit - 1 - tail] + "\u2026" + name[len(name) - tail:]


def _class_name(classes: Optional[Sequence[str]], index: int) -> str:
    if classes is not None and 0 <= index < len(classes):
        return str(classes[index])
    return str(index)


# --------------------------------------------------------------------------- curves


def _series(history: Sequence[dict], key: str, scale: float = 1.0) -> tuple[list[float], list[float]]:
    """(epochs, values) of ``key`` over ``history``, keeping only finite values."""
    epochs, values = [], []
    for position, row in enumerate(history):
        epoch = _as_float(row.get("progress", row.get("epoch", position + 1)))  # progress: rounds inside epochs
        value = _as_float(row.get(key))
        if math.isfinite(epoch) and math.isfinite(value):
            epochs.append(epoch)
            values.append(value * scale)
    return epochs, values


def best_epoch(history: Sequence[dict]) -> Optional[dict]:
    """The history row with the lowest finite ``valid_loss`` (the first on a tie); None when there is none."""
    best, best_loss = None, math.inf
    for row in history:
        loss = _as_float(row.get("valid_loss"))
        if math.isfinite(loss) and loss < best_loss:
            best, best_loss = row, loss
    return best


def curves_figure(history: Sequence[dict]) -> "Figure":
    """The two-panel figure ``plot_curves`` writes (losses | validation accuracy in percent)."""
    from matplotlib.ticker import MaxNLocator

    figure = _new_figure(11, 4)
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    style = dict(marker="o", markersize=3, linewidth=1.5)

    for key, label in (("train_loss", "train"), ("valid_loss", "validation")):
        epochs, values = _series(history, key)
        if values:
            loss_axes.plot(epochs, values, label=label, **style)
    for key, label in (("train_accuracy", "train"), ("valid_accuracy", "validation")):
        epochs, values = _series(history, key, scale=100.0)
        if values:
            accuracy_axes.plot(epochs, values, label=label, **style)

    best = best_epoch(history)
    if best is not None:
        position = next(i for i, row in enumerate(history) if row is best)
        epoch = _as_float(best.get("progress", best.get("epoch", position + 1)))
        loss = _as_float(best.get("valid_loss"))
        accuracy = _as_float(best.get("valid_accuracy")) * 100.0
        for axes in (loss_axes, accuracy_axes):
            axes.axvline(epoch, color="gray", linestyle="--", linewidth=1, zorder=0)
        loss_axes.plot([epoch], [loss], "o", color="black", markersize=7, zorder=3,
                       label=f"best (epoch {epoch:g})")
        if math.isfinite(accuracy):
            accuracy_axes.plot([epoch], [accuracy], "o", color="black", markersize=7, zorder=3,
                               label=f"best (epoch {epoch:g}): {accuracy:.1f}%")

    all_epochs = [e for key in ("train_loss", "valid_loss", "train_accuracy", "valid_accuracy")
                  for e in _series(history, key)[0]]
    if all_epochs and max(all_epochs) - min(all_epochs) < 1:  # one epoch: centre it, integer ticks
        for axes in (loss_axes, accuracy_axes):
            axes.set_xlim(min(all_epochs) - 1, max(all_epochs) + 1)

    loss_axes.set_title("loss")
    loss_axes.set_ylabel("loss")
    accuracy_axes.set_title("validation accuracy")
    accuracy_axes.set_ylabel("accuracy (%)")
    for axes in (loss_axes, accuracy_axes):
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(True, alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize="small")
        else:
            axes.text(0.5, 0.5, "no values", ha="center", va="center", transform=axes.transAxes,
                      color="gray")
    figure.tight_layout()
    return figure


def plot_curves(history: Sequence[dict], path: PathLike) -> Path:
    """Draw training curves from ``history`` into the PNG ``path``; return the path.

    ``history`` holds one dict per epoch, e.g. ``{"epoch": 1, "train_loss": 0.9, "valid_loss": 0.8,
    "valid_accuracy": 0.71, "lr": 0.01}`` (missing keys are fine; ``train_accuracy`` is drawn too
    when present). Left panel: train and validation loss against epoch; right panel: validation
    accuracy in percent. The best epoch (lowest ``valid_loss``) is marked with a dot and a dashed
    vertical line on both panels. NaN, infinite or missing values are left out (lines join the
    points around them); a single epoch is drawn as markers.
    """
    return _save(curves_figure(list(history)), path)


# --------------------------------------------------------------------------- prediction grid


def unnormalize(images: "torch.Tensor", mean: Sequence[float], std: Sequence[float]) -> "torch.Tensor":
    """Undo ``Normalize(mean, std)``: return ``images * std + mean`` per channel (a new tensor).

    ``images`` is N×C×H×W or C×H×W; ``mean`` and ``std`` hold one value per channel (or one value
    for all). Raises ValueError when their length fits neither.
    """
    import torch

    images = torch.as_tensor(images).detach().float()
    channels = images.shape[-3] if images.dim() >= 3 else 1
    mean_t = torch.as_tensor(mean, dtype=images.dtype, device=images.device).flatten()
    std_t = torch.as_tensor(std, dtype=images.dtype, device=images.device).flatten()
    for name, values in (("mean", mean_t), ("std", std_t)):
        if values.numel() not in (1, channels):
            raise ValueError(
                f"unnormalize: {name} has {values.numel()} values, images have {channels} channels"
            )
    return images * std_t.view(-1, 1, 1) + mean_t.view(-1, 1, 1)


def grid_titles(predicted: Sequence[int], truth: Sequence[int],
                classes: Optional[Sequence[str]]) -> list[tuple[str, str]]:
    """``(title, colour)`` for each image of the prediction grid.

    The title is ``"PREDICTED (TRUE)"`` with class names (the index when ``classes`` lacks it),
    the colour ``"green"`` when the prediction is right and ``"red"`` when it is wrong.
    """
    predicted = [int(p) for p in predicted]
    truth = [int(t) for t in truth]
    if len(predicted) != len(truth):
        raise ValueError(f"grid_titles: {len(predicted)} predictions but {len(truth)} true labels")
    return [
        (f"{_short(_class_name(classes, p))} ({_short(_class_name(classes, t))})",
         RIGHT_COLOUR if p == t else WRONG_COLOUR)
        for p, t in zip(predicted, truth)
    ]


def grid_sample(predicted: Sequence[int], truth: Sequence[int], limit: int = GRID_LIMIT) -> list[int]:
    """The positions (in ``predicted``/``truth``) of at most ``limit`` samples for the prediction
    grid: the mistakes first, then right ones, each group spread across the true classes (one
    sample of each class in turn, in class order, each class's in the order they came)."""
    predicted = [int(p) for p in predicted]
    truth = [int(t) for t in truth]
    if len(predicted) != len(truth):
        raise ValueError(f"grid_sample: {len(predicted)} predictions but {len(truth)} true labels")
    wrong = [i for i, (p, t) in enumerate(zip(predicted, truth)) if p != t]
    right = [i for i, (p, t) in enumerate(zip(predicted, truth)) if p == t]
    chosen = _across_classes(wrong, truth, limit)
    return chosen + _across_classes(right, truth, limit - len(chosen))


def _across_classes(positions: list[int], truth: list[int], count: int) -> list[int]:
    """Up to ``count`` of ``positions``, taking one of each true class in turn."""
    by_class: dict = {}
    for position in positions:
        by_class.setdefault(truth[position], []).append(position)
    queues = [by_class[k][::-1] for k in sorted(by_class)]
    chosen: list[int] = []
    while len(chosen) < count and any(queues):
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(queue.pop())
    return chosen


def grid_caption(shown_wrong: int, wrong: int, total: int, shown: int) -> str:
    """The prediction grid's title: how its ``shown`` images were chosen from ``total`` tested
    (``wrong`` of them mistaken, ``shown_wrong`` of those in the grid, drawn first)."""
    if total == 0:
        return "no test images"
    if wrong == 0:
        return f"no mistakes among the {total:,} test images: a sample across the classes"
    if shown > shown_wrong:  # every mistake fits, with room for right ones
        return (f"the {wrong:,} mistake{'s' if wrong > 1 else ''} among the {total:,} test images first (red), "
                f"then right ones across the classes")
    return f"{shown_wrong:,} of the {wrong:,} mistakes among the {total:,} test images (red), across the true classes"


def _to_numpy_image(image: "torch.Tensor"):
    """C×H×W float tensor -> (array for imshow, colormap or None), values clipped to [0, 1]."""
    array = image.detach().cpu().float().clamp(0.0, 1.0)
    if array.dim() == 2:
        array = array.unsqueeze(0)
    channels = array.shape[0]
    if channels == 3 or channels == 4:
        return array.permute(1, 2, 0).numpy(), None
    return array[0].numpy(), "gray"  # grayscale (or an odd channel count: show the first)


def prediction_grid_figure(images: "torch.Tensor", predicted: Sequence[int], truth: Sequence[int],
                           classes: Optional[Sequence[str]], *, mean: Optional[Sequence[float]] = None,
                           std: Optional[Sequence[float]] = None, columns: int = 10,
                           limit: int = GRID_LIMIT, title: Optional[str] = None) -> "Figure":
    """The figure ``plot_prediction_grid`` writes (one titled, tick-less cell per image, and
    ``title`` above them all when given)."""
    import torch

    images = torch.as_tensor(images).detach().cpu().float()
    if images.dim() == 3:  # N×H×W: one channel
        images = images.unsqueeze(1)
    titles = grid_titles(predicted, truth, classes)
    if len(titles) > len(images):
        raise ValueError(f"prediction grid: {len(titles)} labels but only {len(images)} images")
    count = min(len(titles), max(int(limit), 0))
    images = images[:count]
    if mean is not None or std is not None:
        images = unnormalize(images, mean if mean is not None else 0.0, std if std is not None else 1.0)

    columns = max(1, min(int(columns), count or 1))
    rows = max(1, math.ceil(count / columns))
    figure = _new_figure(1.7 * columns, 1.9 * rows + (0.4 if title else 0.0))
    for index in range(count):
        axes = figure.add_subplot(rows, columns, index + 1, xticks=[], yticks=[])
        array, cmap = _to_numpy_image(images[index])
        axes.imshow(array, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest"
                    if min(array.shape[:2]) < 64 else "antialiased")
        cell_title, colour = titles[index]
        axes.set_title(cell_title, color=colour, fontsize=9)
    if count == 0:
        figure.text(0.5, 0.5, "no images", ha="center", va="center", color="gray")
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    return figure


def plot_prediction_grid(images: "torch.Tensor", predicted: Sequence[int], truth: Sequence[int],
                         classes: Optional[Sequence[str]], path: PathLike, *,
                         mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None,
                         columns: int = 10, limit: int = GRID_LIMIT, title: Optional[str] = None) -> Path:
    """Draw up to ``limit`` (20) test images with their predictions into the PNG ``path``; return it.

    ``images``: float tensor N×C×H×W (C = 1 grayscale, shown with a gray colormap; C = 3 RGB) with
    values in [0, 1], or normalised ones together with the ``mean``/``std`` that normalised them.
    ``predicted``/``truth``: class indices, one per image; ``classes``: the class names. Each cell
    is titled ``"PREDICTED (TRUE)"``, green when right, red when wrong, as in the seeds'
    "Visualize sample test results". ``columns`` cells a row; values are clipped to [0, 1];
    ``title`` (how the images were chosen: ``grid_sample``, ``grid_caption``) goes above them.
    """
    figure = prediction_grid_figure(images, predicted, truth, classes, mean=mean, std=std,
                                    columns=columns, limit=limit, title=title)
    return _save(figure, path)


# --------------------------------------------------------------------------- confusion matrix


def confusion_matrix_figure(matrix: "torch.Tensor", classes: Optional[Sequence[str]]) -> "Figure":
    """The figure ``plot_confusion_matrix`` writes."""
    import torch

    counts = torch.as_tensor(matrix).detach().cpu().to(torch.float64)
    if counts.dim() != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"confusion matrix must be K×K, got shape {tuple(counts.shape)}")
    size = counts.shape[0]
    if classes is not None and len(classes) != size:
        raise ValueError(f"confusion matrix is {size}×{size} but {len(classes)} class names were given")
    names = [_class_name(classes, i) for i in range(size)]

    row_totals = counts.sum(dim=1, keepdim=True)
    fractions = torch.where(row_totals > 0, counts / row_totals.clamp(min=1), torch.zeros_like(counts))
    total = counts.sum().item()
    correct = counts.diagonal().sum().item()

    # Grow with the class count up to 20 classes, then more slowly, to at most 16 inches a side.
    if size <= CELL_TEXT_MAX_CLASSES:
        side = max(4.5, 0.45 * size + 2.5)
    else:
        side = min(11.5 + 0.12 * (size - CELL_TEXT_MAX_CLASSES), 16.0)
    cell_points = side * 72 * 0.75 / max(size, 1)
    figure = _new_figure(side + 1.2, side)
    axes = figure.add_subplot(1, 1, 1)
    image = axes.imshow(fractions.numpy(), cmap="Blues", vmin=0.0, vmax=1.0,
                        interpolation="nearest" if size <= 200 else "antialiased")
    colorbar = figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    colorbar.set_label("fraction of the true class")

    if size <= TICK_LABEL_MAX_CLASSES:
        fontsize = max(4.0, min(9.0, 0.55 * cell_points))
        short = [_short(n, 14) for n in names]
        rotation = tick_rotation(short, fontsize, cell_points)
        axes.set_xticks(range(size), short, rotation=rotation,
                        ha="right" if rotation == 45 else "center", fontsize=fontsize)
        axes.set_yticks(range(size), short, fontsize=fontsize)
    if size <= CELL_TEXT_MAX_CLASSES:
        for true_index in range(size):
            for predicted_index in range(size):
                value = counts[true_index, predicted_index].item()
                shade = fractions[true_index, predicted_index].item()
                axes.text(predicted_index, true_index, f"{value:g}", ha="center", va="center",
                          fontsize=8, color="white" if shade > 0.5 else "black")

    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    if total > 0:
        axes.set_title(f"accuracy {100.0 * correct / total:.1f}% ({correct:g}/{total:g})")
    else:
        axes.set_title("accuracy: no samples")
    figure.tight_layout()
    return figure


def tick_rotation(labels: Sequence[str], fontsize: float, cell_points: float) -> int:
    """How to turn the class names under a confusion matrix's columns: 0 (upright) when the longest
    fits in its column (``cell_points`` wide, in points, at ``fontsize``), else 45 up to 10
    classes and 90 above (where columns are narrow)."""
    widest = max((len(label) for label in labels), default=0) * 0.6 * fontsize  # points, an average glyph
    if widest <= 0.9 * cell_points:
        return 0
    return 45 if len(labels) <= 10 else 90


def plot_confusion_matrix(matrix: "torch.Tensor", classes: Optional[Sequence[str]], path: PathLike) -> Path:
    """Draw the confusion matrix ``matrix`` as a heat map into the PNG ``path``; return the path.

    ``matrix``: K×K counts, rows = true class, columns = predicted class; ``classes``: the K
    names (None: indices). Colours are row-normalised (the share of each true class predicted as
    each class; a class with no samples stays blank), counts are written in the cells up to 20
    classes, class names label the axes up to 60 (smaller above 20), and the title gives the
    overall accuracy.
    """
    return _save(confusion_matrix_figure(matrix, classes), path)


__all__ = [
    "best_epoch",
    "confusion_matrix_figure",
    "curves_figure",
    "grid_caption",
    "grid_sample",
    "grid_titles",
    "plot_confusion_matrix",
    "plot_curves",
    "plot_prediction_grid",
    "prediction_grid_figure",
    "tick_rotation",
    "unnormalize",
]

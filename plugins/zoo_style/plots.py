"""Pictures of a style-transfer run: the loss curve and a content | style | result panel."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence, Union

from torch import Tensor

from zoo_style.images import to_uint8


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_losses(history: Sequence[dict], path: Union[str, Path], *, content_weight: float = 1.0,
                style_weight: float = 1.0) -> Path:
    """Draw total, weighted content and weighted style loss per step (log scale) into the PNG ``path``.

    ``history``: dicts with ``step``, ``content_loss``, ``style_loss``, ``total_loss`` (as
    ``StyleResult.history``). Returns ``path``.
    """
    plt = _pyplot()
    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    ax.plot(steps, [h["total_loss"] for h in history], label="total", color="black")
    ax.plot(steps, [content_weight * h["content_loss"] for h in history], label="content × weight")
    ax.plot(steps, [style_weight * h["style_loss"] for h in history], label="style × weight")
    if all(h["total_loss"] > 0 for h in history):
        ax.set_yscale("log")
    ax.set_xlabel("step (loss-and-gradient evaluation)")
    ax.set_ylabel("loss")
    ax.set_title("style transfer losses")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


PANEL_WIDTH = 4.0   # inches per picture in comparison.png
TITLE_HEIGHT = 0.4  # inches above the pictures for their titles
MARGIN = 0.06       # inches around and between the pictures


def plot_panel(content: Tensor, style: Tensor, result: Tensor, path: Union[str, Path]) -> Path:
    """Save the content, style and result images side by side (titled) as the PNG ``path``.

    The figure takes the pictures' shape (the content's; the others are drawn in the same box),
    so there are no empty bands above or below a wide picture, nor beside a tall one.
    """
    plt = _pyplot()
    pictures = [to_uint8(image) for image in (content, style, result)]
    height, width = pictures[0].shape[:2]
    picture_height = PANEL_WIDTH * height / width
    figure_width = 3 * PANEL_WIDTH + 4 * MARGIN
    figure_height = picture_height + TITLE_HEIGHT + 2 * MARGIN
    fig, axes = plt.subplots(1, 3, figsize=(figure_width, figure_height), dpi=100)
    fig.subplots_adjust(left=MARGIN / figure_width, right=1 - MARGIN / figure_width,
                        bottom=MARGIN / figure_height, top=1 - (TITLE_HEIGHT + MARGIN) / figure_height,
                        wspace=MARGIN / PANEL_WIDTH)
    for ax, picture, title in zip(axes, pictures, ("content", "style", "result")):
        ax.imshow(picture, aspect="auto" if picture.shape[:2] == (height, width) else "equal")
        ax.set_title(title)
        ax.axis("off")
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path

"""Curves drawn as PNG bytes with matplotlib's Agg backend (no pyplot, no window): a run's
metrics on its report page, several runs' validation losses overlaid by ``zoo compare``.
matplotlib is imported when a picture is drawn, never when this module is.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass, field
from typing import Any, Sequence


@dataclass
class Panel:
    """One set of axes: its ``title``, the y axis' ``label``, the x axis' ``axis`` name, and
    ``lines``: ``(label, xs, ys)`` each. ``log``: a logarithmic y axis when every value is positive."""

    title: str
    label: str
    axis: str = "epoch"
    lines: list = field(default_factory=list)
    log: bool = False


def agg_figure(width: float, height: float, dpi: int = 100) -> Any:
    """A matplotlib ``Figure`` of ``width`` × ``height`` inches on an Agg canvas, laid out
    "constrained"; the backend is chosen only while pyplot is not loaded."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # never switch the backend under a user's pyplot session
        matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
           "tab:olive", "tab:cyan")
DASHES = ("-", "--", ":", "-.")


def line_style(index: int) -> dict:
    """The colour and dash of line ``index`` among many overlaid: the ten colours, then the ten
    again dashed, and so on, so that up to 40 lines are told apart (matplotlib's own cycle
    repeats its colours after ten)."""
    return {"color": COLOURS[index % len(COLOURS)], "linestyle": DASHES[index // len(COLOURS) % len(DASHES)]}


def panels_png(panels: Sequence[Panel], *, panel_width: float = 5.2, height: float = 3.4) -> bytes:
    """The ``panels`` side by side in one picture, as PNG bytes."""
    from matplotlib.ticker import MaxNLocator

    figure = agg_figure(panel_width * max(1, len(panels)), height)
    for index, panel in enumerate(panels):
        axes = figure.add_subplot(1, max(1, len(panels)), index + 1)
        for number, (label, xs, ys) in enumerate(panel.lines):
            axes.plot(xs, ys, marker="o" if len(xs) <= 30 else None, markersize=3, linewidth=1.4, label=label,
                      **line_style(number))
        values = [y for _, _, ys in panel.lines for y in ys if y == y]
        if panel.log and values and min(values) > 0 and max(values) / min(values) > 20:
            axes.set_yscale("log")
        if all(float(x).is_integer() for _, xs, _ in panel.lines for x in xs):
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_title(panel.title, fontsize=11)
        axes.set_xlabel(panel.axis)
        axes.set_ylabel(panel.label)
        axes.grid(True, alpha=0.3)
        if len(panel.lines) > 1:
            axes.legend(fontsize=8, loc="best")
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=100)
    finally:
        figure.clear()
    return buffer.getvalue()

"""A style-transfer run's part of report.html: the result beside its content and style, the
final losses and settings, the loss curve and the snapshots taken along the way."""

from __future__ import annotations

from pathlib import Path

from zoo.task import Heading, Picture, Table

FIGURES = (("content loss", "content_loss"), ("style loss", "style_loss"), ("total loss", "total_loss"),
           ("steps", "steps"), ("seconds per step", "seconds_per_step"), ("optimizer", "optimizer"),
           ("precision", "precision"), ("device", "device"), ("VGG-19 weights", "weights"),
           ("content picture", "content"), ("style picture", "style"))
MOST_SNAPSHOTS = 12


def report_sections(folder: Path, report: dict) -> list:
    """The sections of the style-transfer run in ``folder`` with ``report`` (its report.json):
    the comparison panel (or the result alone), the figures, the loss curve, the snapshots
    (at most ``MOST_SNAPSHOTS``, evenly spread), each picture only when its file is there."""
    sections: list = [Heading("Result")]
    shown = [name for name in (report.get("comparison"), report.get("result")) if name and (folder / name).is_file()]
    if shown:
        sections.append(Picture(folder / shown[0], width=1100))
    rows = [(label, report[key]) for label, key in FIGURES if report.get(key) is not None]
    size = report.get("image_size")
    if isinstance(size, list) and len(size) == 2:
        rows.insert(5, ("image size", f"{size[1]}\u00d7{size[0]} px"))
    sections += [Heading("Figures"), Table((), rows)]
    curve = report.get("loss_curve")
    if curve and (folder / curve).is_file():
        sections += [Heading("Losses"), Picture(folder / curve, width=760)]
    snapshots = [name for name in report.get("snapshots") or () if (folder / name).is_file()]
    if len(snapshots) > MOST_SNAPSHOTS:
        last = len(snapshots) - 1
        snapshots = [snapshots[round(i * last / (MOST_SNAPSHOTS - 1))] for i in range(MOST_SNAPSHOTS)]
    if snapshots:
        sections.append(Heading("Snapshots"))
        sections += [Picture(folder / name, Path(name).stem, width=240) for name in snapshots]
    return sections

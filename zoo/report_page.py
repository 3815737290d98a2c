"""A run folder's ``report.html``: one self-contained page of what the run did.

From the top: the run's name, its headline and state, then the sections its task contributes
(``Task.report_sections``: the classification task's test figures, per-class table, curves,
predictions and confusion matrix), or, for a task that contributes none, the default sections
(``default_sections``: report.json's scalar figures, the metrics curves, every PNG in the
folder); then the recipe and the run's facts (run.json: start, seconds, host, device, versions,
overrides). Pictures are inlined (``zoo.html_page``), so the page can be mailed or archived alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from zoo.html_page import Heading, Paragraph, Picture, Preformatted, Table, write_page
from zoo.metrics_file import numeric_keys, read_metrics, series
from zoo.run_record import duration_text, live_state, read_record
from zoo.runs_index import read_object, recipe_name

PAGE = "report.html"
MOST_FIGURES = 80


def write_run_page(folder: Path, traits: Any = None, report: Optional[dict] = None) -> Path:
    """Write ``folder``/report.html for the run folder ``folder``; return its path.

    ``traits``: the task's ``zoo.task.TaskTraits`` (its headline and sections), or None for the
    default page; ``report``: the run's report (default: its report.json; {} without one).
    """
    folder = Path(folder)
    record = read_record(folder) or {}
    report = report if report is not None else (read_object(folder / "report.json") or {})
    state = live_state(record) if record else ("finished" if report else "unknown")
    if record:  # written as the run ended
        headline = record.get("headline") or ""
    else:
        headline = traits.headline(report, quiet=True) if traits is not None and report else ""
    sections: list = []
    if headline:
        sections.append(Paragraph(headline, strong=True))
    sections.append(Paragraph(status_line(state, record)))
    if record.get("error"):
        sections.append(Paragraph(f"error: {record['error']}"))
    contributed = traits.report_sections(folder, report) if traits is not None and report else None
    sections += contributed if contributed is not None else default_sections(folder, report)
    recipe = folder / "recipe.yaml"
    if recipe.is_file():
        sections += [Heading("Recipe"), Preformatted(recipe.read_text(encoding="utf-8", errors="replace"))]
    sections += [Heading("Run"), Table((), run_facts(folder, record, state))]
    name = record.get("name") or recipe_name(folder)
    return write_page(folder / PAGE, f"{name} \u00b7 {folder.name}", sections)


def status_line(state: str, record: dict) -> str:
    """``finished · started 2026-11-30 10:00:00 · 12.3 s · cpu`` from a run.json ``record``."""
    parts = [state]
    if record.get("started"):
        parts.append(f"started {str(record['started']).replace('T', ' ')}")
    if isinstance(record.get("seconds"), (int, float)) and record.get("ended"):
        parts.append(duration_text(record["seconds"]))
    if record.get("device"):
        parts.append(str(record["device"]))
    return " \u00b7 ".join(parts)


def run_facts(folder: Path, record: dict, state: str) -> list:
    """The facts table's rows (name, value) of a run: its folder, state and run.json's facts."""
    versions = record.get("versions") or {}
    rows = [("folder", str(folder.resolve())), ("state", state),
            ("started", record.get("started")), ("ended", record.get("ended")),
            ("seconds", record.get("seconds")), ("resumed", ", ".join(record.get("resumed") or []) or None),
            ("recipe", record.get("recipe")), ("overrides", " ".join(record.get("overrides") or []) or None),
            ("host", record.get("host")), ("process", record.get("pid")), ("device", record.get("device")),
            ("versions", ", ".join(f"{k} {v}" for k, v in versions.items()) or None)]
    return [(k, v) for k, v in rows if v is not None or k in ("started", "state")]


def default_sections(folder: Path, report: dict) -> list:
    """The sections of a run whose task contributes none: report.json's scalar figures, the
    curves of every metric in metrics.jsonl, and every PNG in the run folder."""
    sections: list = []
    figures = scalar_figures(report)
    if figures:
        sections += [Heading("Figures"), Table((), figures[:MOST_FIGURES])]
    curves = metrics_picture(folder)
    if curves is not None:
        sections += [Heading("Curves"), Picture(curves, "metrics.jsonl", width=1100)]
    pictures = sorted(folder.glob("*.png"))
    if pictures:
        sections.append(Heading("Pictures"))
        sections += [Picture(p, p.name, width=540) for p in pictures]
    return sections


def scalar_figures(report: dict, prefix: str = "") -> list:
    """``(dotted key, value)`` for every number, string and boolean in ``report``, nested dicts
    flattened (``best.valid_loss``); lists are left out."""
    rows = []
    for key, value in report.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += scalar_figures(value, f"{name}.")
        elif value is None or isinstance(value, (str, int, float, bool)):
            rows.append((name, value))
    return rows


def metrics_picture(folder: Path) -> Optional[bytes]:
    """The run's metrics against the epoch (or step) as PNG bytes: the losses in one panel, each
    other metric in its own (at most three); None without metrics or matplotlib."""
    rows = read_metrics(folder)
    keys = numeric_keys(rows)
    if not keys:
        return None
    from zoo.curve_plots import Panel, panels_png

    losses = [k for k in keys if "loss" in k]
    others = [k for k in keys if "loss" not in k][:3 if losses else 4]
    panels = []
    if losses:
        lines = [(k, *series(rows, k)[:2]) for k in losses]
        panels.append(Panel("losses", "loss", series(rows, losses[0])[2], lines, log=True))
    for key in others:
        xs, ys, axis = series(rows, key)
        panels.append(Panel(key, key, axis, [(key, xs, ys)]))
    try:
        return panels_png(panels, panel_width=4.2 if len(panels) > 2 else 5.2)
    except ImportError:
        return None

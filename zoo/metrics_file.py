"""Reading a run's ``metrics.jsonl`` (one JSON object a line, written by the loggers plugin as the
run goes): every line, only the last, or one figure over all lines, without json-parsing a long
file when one number is wanted. A line cut short by a kill is skipped. Standard library only.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any, Optional

METRICS = "metrics.jsonl"
TAIL_BLOCK = 8192


def read_metrics(folder: Path) -> list:
    """Every metrics line of the run folder ``folder``, as dicts, in order ([] without the file)."""
    try:
        with open(Path(folder) / METRICS, encoding="utf-8") as f:
            lines = f.readlines()
    except OSError:
        return []
    rows = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def last_metrics(folder: Path) -> Optional[dict]:
    """The last complete metrics line of ``folder``, read from the end of the file; None without one."""
    try:
        with open(Path(folder) / METRICS, "rb") as f:
            end = f.seek(0, os.SEEK_END)
            start = end
            tail = b""
            while start > 0:
                start = max(0, start - TAIL_BLOCK)
                f.seek(start)
                tail = f.read(end - start)
                if tail.count(b"\n") >= 2 or start == 0:
                    break
    except OSError:
        return None
    for line in reversed(tail.splitlines()):
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            return row
    return None


def lowest(folder: Path, key: str) -> Optional[float]:
    """The lowest finite value of ``key`` over every metrics line of ``folder`` (a regular
    expression over the file, not a JSON parse per line); None when no line has one."""
    try:
        data = (Path(folder) / METRICS).read_bytes()
    except OSError:
        return None
    pattern = re.compile(rb'"' + re.escape(key.encode()) + rb'": (-?[0-9][0-9.eE+-]*)')
    values = []
    for match in pattern.finditer(data):
        try:
            values.append(float(match.group(1)))
        except ValueError:
            continue
    finite = [v for v in values if math.isfinite(v)]
    return min(finite) if finite else None


def as_number(value: Any) -> Optional[float]:
    """A metric's value as a float (``"nan"`` as written for NaN included); None when it is no number."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def series(rows: list, key: str) -> tuple:
    """``(xs, ys, axis)``: the values of ``key`` in ``rows`` (``read_metrics``) against the epoch,
    or against the step where the lines have one (validation rounds inside epochs); ``axis`` names it."""
    by_step = any("step" in row for row in rows if key in row)
    axis = "step" if by_step else "epoch"
    xs, ys = [], []
    for row in rows:
        y, x = as_number(row.get(key)), as_number(row.get(axis))
        if y is not None and x is not None:
            xs.append(x)
            ys.append(y)
    return xs, ys, axis


def numeric_keys(rows: list) -> list:
    """The metrics ``rows`` hold numbers for, in first-seen order, without the counters and clocks."""
    skip = {"epoch", "step", "time", "seconds"}
    keys: dict = {}
    for row in rows:
        for key, value in row.items():
            if key not in skip and as_number(value) is not None:
                keys[key] = True
    return list(keys)


def logged_epoch(folder: Path) -> Optional[Any]:
    """The ``epoch`` of the last complete line of the run folder ``folder``'s metrics.jsonl: 0 when
    the file has none, None when there is no such file (no JSONL logger installed)."""
    if not (Path(folder) / METRICS).is_file():
        return None
    last = last_metrics(folder)
    return last.get("epoch", 0) if last else 0

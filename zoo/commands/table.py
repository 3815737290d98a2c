"""Plain-text tables for the terminal."""

from __future__ import annotations

import os
import shutil
import sys
from typing import Optional, Sequence

from zoo.type_text import printable


def render(headers: Sequence[str], rows: Sequence[Sequence[str]], *, flexible: int = -1) -> str:
    """Columns padded to their widest cell; column ``flexible`` is cut (with '…') to fit the terminal
    (``terminal_width``: not when the output goes to a file or a pipe).

    Cells come from plugins (names, summaries, errors): unprintable characters are shown escaped
    (``\\x1b``), so no cell can send the terminal an escape sequence."""
    rows = [[printable("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    total = terminal_width()
    flex = flexible % len(headers)
    others = sum(w for i, w in enumerate(widths) if i != flex) + 2 * (len(headers) - 1)
    room = max(20, total - others) if total is not None else widths[flex]
    if widths[flex] > room:
        widths[flex] = room
    lines = []
    for row in [list(headers)] + rows:
        cells = []
        for i, cell in enumerate(row):
            if len(cell) > widths[i]:
                cell = cell[: widths[i] - 1] + "…"
            cells.append(cell.ljust(widths[i]) if i < len(row) - 1 else cell)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def terminal_width() -> Optional[int]:
    """The width a table fits: ``$COLUMNS`` when set, else the terminal's; None when the output
    goes to a file or a pipe (``zoo runs | grep lr``), where nothing is cut."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        if not sys.stdout.isatty():
            return None
    except (AttributeError, ValueError):  # a replaced or closed stdout
        return None
    return shutil.get_terminal_size((120, 24)).columns

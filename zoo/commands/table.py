"""Plain-text tables for the terminal."""

from __future__ import annotations

import shutil
from typing import Sequence

from zoo.type_text import printable


def render(headers: Sequence[str], rows: Sequence[Sequence[str]], *, flexible: int = -1) -> str:
    """Columns padded to their widest cell; column ``flexible`` is cut (with '…') to fit the terminal.

    Cells come from plugins (names, summaries, errors): unprintable characters are shown escaped
    (``\\x1b``), so no cell can send the terminal an escape sequence."""
    rows = [[printable("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    total = shutil.get_terminal_size((120, 24)).columns
    flex = flexible % len(headers)
    others = sum(w for i, w in enumerate(widths) if i != flex) + 2 * (len(headers) - 1)
    room = max(20, total - others)
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

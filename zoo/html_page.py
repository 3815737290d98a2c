"""A small builder of self-contained HTML pages (report.html): sections in, one file out.

A page is a title and a list of sections: ``Heading``, ``Paragraph``, ``Table``, ``Picture`` and
``Preformatted``; a table cell may be a ``Link`` to a file beside the page. Every text is escaped
(``html.escape``), pictures are inlined as ``data:`` URIs (PNG, JPEG or GIF, recognised by their
bytes), the style sheet is in the page, and nothing refers to another site: a ``Link`` takes
only a relative path. Consecutive pictures are laid out side by side, wrapping as the window
narrows. Imports only the standard library.
"""

from __future__ import annotations

import base64
import html
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence, Union
from urllib.parse import quote, urlsplit

__all__ = ["Heading", "Paragraph", "Table", "Picture", "Preformatted", "Link", "render_page", "write_page",
           "cell_text"]


@dataclass(frozen=True)
class Heading:
    """A heading: ``level`` 2 for a section, 3 for a part of one (1 is the page's title)."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of plain text (``strong``: in bold, for a headline)."""

    text: str
    strong: bool = False


@dataclass(frozen=True)
class Link:
    """A link to a file beside the page, by its relative path (``trials/0003/report.html``)."""

    text: str
    href: str

    def __post_init__(self) -> None:
        parts = urlsplit(self.href)
        if parts.scheme or parts.netloc or self.href.startswith("/"):
            raise ValueError(f"a page links only to files beside it, by a relative path: got {self.href!r}")


@dataclass(frozen=True)
class Table:
    """A table: ``columns`` (none: a table of facts, a name and its value per row) and ``rows``
    of cells (str, numbers, None shown as a dash, ``Link``, a list of them); numbers, and texts that are one
    (``97.1%``, ``89.69% (322/359)``), are right-aligned."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    caption: str = ""


@dataclass(frozen=True)
class Picture:
    """A picture, inlined: ``source`` is a file path or the image's bytes; ``width``: the width
    it is shown at, in CSS pixels (narrower when the window is, and never wider than a PNG's or
    GIF's own pixels, which would blur it)."""

    source: Union[Path, bytes]
    caption: str = ""
    width: int = 640


@dataclass(frozen=True)
class Preformatted:
    """Text shown as written, in a monospaced block (a recipe, a log)."""

    text: str


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:#1f2328;background:#fff;margin:0}
main{max-width:1180px;margin:0 auto;padding:16px 24px 40px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:17px;margin:26px 0 8px;padding-bottom:4px;
border-bottom:1px solid #d8dee4}h3{font-size:15px;margin:18px 0 6px}
p{margin:6px 0}p.strong{font-size:16px;font-weight:600}
table{border-collapse:collapse;margin:6px 0 10px;font-variant-numeric:tabular-nums}
th,td{padding:3px 10px;border-bottom:1px solid #e5e8eb;text-align:left;vertical-align:top}
th{background:#f3f5f7;font-weight:600;border-bottom:1px solid #c9d1d9;white-space:nowrap}
tbody tr:nth-child(even){background:#fafbfc}td.num{text-align:right;white-space:nowrap}
table.facts th{background:none;border-bottom:1px solid #e5e8eb;color:#57606a;font-weight:500}
table.facts td.num{text-align:left}
caption{caption-side:top;text-align:left;color:#57606a;padding:2px 0}
pre{background:#f6f8fa;border:1px solid #e5e8eb;border-radius:4px;padding:8px 12px;overflow-x:auto;
font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.pictures{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
figure{margin:4px 0}figure img{width:100%;height:auto;border:1px solid #e5e8eb;display:block}
figcaption{color:#57606a;font-size:12.5px;margin-top:2px}
.missing{color:#9a6700}a{color:#0969da}
"""


def render_page(title: str, sections: Sequence[Any]) -> str:
    """The whole HTML document: ``title`` as its title and first heading, then ``sections``."""
    body: list = [f"<h1>{_text(title)}</h1>"]
    pictures: list = []
    for section in list(sections) + [None]:
        if isinstance(section, Picture):
            pictures.append(_picture(section))
            continue
        if pictures:
            body.append('<div class="pictures">' + "".join(pictures) + "</div>")
            pictures = []
        if section is not None:
            body.append(_section(section))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_text(title)}</title><style>{STYLE}</style></head>\n<body><main>\n"
            + "\n".join(body) + "\n</main></body></html>\n")


def write_page(path: Path, title: str, sections: Sequence[Any]) -> Path:
    """Write the page (``render_page``) at ``path``, atomically; return ``path``."""
    from zoo.atomic import write_text

    write_text(path, render_page(title, sections))
    return Path(path)


def cell_text(value: Any) -> str:
    """A table cell's text: floats to 4 significant digits (``0.2311``, ``1.2e-05``), None a dash."""
    if value is None:
        return "\u2014"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:.1f}"
    return str(value)


def _text(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _section(section: Any) -> str:
    if isinstance(section, Heading):
        level = min(max(int(section.level), 2), 4)
        return f"<h{level}>{_text(section.text)}</h{level}>"
    if isinstance(section, Paragraph):
        return f'<p class="strong">{_text(section.text)}</p>' if section.strong else f"<p>{_text(section.text)}</p>"
    if isinstance(section, Table):
        return _table(section)
    if isinstance(section, Preformatted):
        return f"<pre>{_text(section.text)}</pre>"
    raise TypeError(f"not a page section: {type(section).__name__} (expected Heading, Paragraph, Table, "
                    f"Picture or Preformatted)")


def _cell(value: Any, tag: str = "td") -> str:
    if isinstance(value, (list, tuple)):  # several links (or texts) in one cell
        inner = " ".join(_cell(v, "span") for v in value)
        return f"<{tag}>{inner}</{tag}>"
    if isinstance(value, Link):
        return f'<{tag}><a href="{_text(quote(value.href, safe="/#?=&%.-_~"))}">{_text(value.text)}</a></{tag}>'
    numeric = (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
        isinstance(value, str) and NUMBER_TEXT.match(value) is not None)
    align = ' class="num"' if numeric else ""
    return f"<{tag}{align}>{_text(cell_text(value))}</{tag}>"


def _table(table: Table) -> str:
    caption = f"<caption>{_text(table.caption)}</caption>" if table.caption else ""
    if not table.columns:  # facts: the first cell of each row names the rest
        rows = "".join(f"<tr><th>{_text(row[0])}</th>{''.join(_cell(v) for v in row[1:])}</tr>" for row in table.rows)
        return f'<table class="facts">{caption}<tbody>{rows}</tbody></table>'
    head = "".join(f"<th>{_text(c)}</th>" for c in table.columns)
    rows = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in table.rows)
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


NUMBER_TEXT = re.compile(r"^([-+]?[0-9][0-9.,]*(e[-+]?[0-9]+)?%?|N/A)( \([0-9]+/[0-9]+\))?$")
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))


def _picture(picture: Picture) -> str:
    data, name = picture.source, picture.caption
    if not isinstance(data, bytes):
        name = name or Path(data).name
        try:
            data = Path(data).read_bytes()
        except OSError as exc:
            return f'<p class="missing">{_text(Path(picture.source).name)}: not readable ({_text(exc.strerror or exc)})</p>'
    mime = next((m for magic, m in _MAGIC if data.startswith(magic)), None)
    if mime is None:
        return f'<p class="missing">{_text(name or "picture")}: not a PNG, JPEG or GIF image</p>'
    uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    caption = f"<figcaption>{_text(name)}</figcaption>" if name else ""
    natural = pixel_width(data)
    width = min(int(picture.width), natural) if natural else int(picture.width)  # never blown up past its pixels
    return (f'<figure style="width:min({width}px,100%)"><img src="{uri}" alt="{_text(name or "picture")}">'
            f"{caption}</figure>")


def pixel_width(data: bytes) -> Optional[int]:
    """The width in pixels of a PNG or GIF image's bytes (read from its header); None for others."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24 and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big") or None
    if data.startswith(b"GIF8") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little") or None
    return None

"""Python warnings on zoo's command line: one ``zoo: warning:`` line each, like zoo's own.

A library's warning would otherwise print two lines (the library's file and line, then the
source line that warned), in the middle of a run's log or just before a ``zoo: error:`` line.
While ``one_line_warnings()`` is active:

- every warning shown is one line, ``zoo: warning: <package>: <message>`` (the package whose
  code warned: ``torch``, ``PIL``...), on stderr;
- ``QUIET`` warnings are not shown: notes of a library that say nothing a zoo user can act on
  (zoo says itself what is wrong with a file it cannot read);
- ``REFUSED`` warnings are raised as errors where they happen, so that the code reading the
  input at fault names it: a decompression bomb (an image PIL finds too large to decode
  safely) becomes "cannot read image PATH: ..." rather than a warning naming no file.

The standard library only: the command line imports this before any torch.
"""

from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, TextIO

# torch.load(weights_only=True) on a file pickled with a protocol other than 2
QUIET = (r"Detected pickle protocol \d+ in the checkpoint",)
# PIL.Image.DecompressionBombWarning: more pixels than Image.MAX_IMAGE_PIXELS
REFUSED = (r"Image size \(\d+ pixels\) exceeds limit of \d+ pixels, could be decompression bomb",)
PACKAGE_FOLDERS = ("site-packages", "dist-packages")


def package_of(filename: str) -> Optional[str]:
    """The top-level package a warning's file belongs to (``.../site-packages/torch/nn/x.py`` ->
    ``torch``), or None for a file outside an installed package."""
    parts = Path(filename).parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] in PACKAGE_FOLDERS:
            return Path(parts[i + 1]).stem
    return None


def warning_line(message: Warning | str, category: type, filename: str) -> str:
    """``zoo: warning: <package>: <message>`` on one line (the category's name when no package is known)."""
    text = " ".join(str(message).split())
    return f"zoo: warning: {package_of(filename) or category.__name__}: {text}"


@contextmanager
def one_line_warnings(stream: Optional[TextIO] = None) -> Iterator[None]:
    """While the block runs, show each warning as one ``zoo: warning:`` line on ``stream``
    (default: stderr as it is when a warning comes), hide ``QUIET`` ones and raise ``REFUSED``
    ones; the warning filters and display are restored afterwards."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        target = stream or sys.stderr
        try:
            print(warning_line(message, category, filename), file=target, flush=True)
        except (OSError, ValueError):  # stderr closed (a broken pipe): a warning is not worth failing for
            pass

    with warnings.catch_warnings():
        warnings.showwarning = show
        for pattern in QUIET:
            warnings.filterwarnings("ignore", message=pattern)
        for pattern in REFUSED:
            warnings.filterwarnings("error", message=pattern)
        yield

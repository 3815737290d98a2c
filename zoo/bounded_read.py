"""Reading a small file that a user (or another program) names: a regular file, up to a bound.

``read_bounded(path, limit)`` never blocks on a FIFO, never reads a device such as ``/dev/zero``
or ``/dev/urandom`` for ever, and never holds more than ``limit + 1`` bytes: the file is opened
without blocking, checked to be a regular file on the open descriptor (no race with a rename),
and read up to one byte past the bound.
"""

from __future__ import annotations

import os
import stat


class NotRegularFile(OSError):
    """The path names a FIFO, a device, a socket or a folder, not a regular file; ``what`` says which."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


class TooLarge(OSError):
    """The file holds more than the bound; ``limit`` is that bound in bytes."""

    def __init__(self, limit: int):
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def read_bounded(path: "os.PathLike[str] | str", limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Raises ``NotRegularFile`` (its ``what``: "a FIFO (named pipe)", "a character device"...),
    ``TooLarge`` past ``limit`` bytes, and the ``OSError`` of opening or reading (missing file,
    no permission).
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(next((what for test, what in _KINDS if test(mode)), "not a regular file"))
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise TooLarge(limit)
        return b"".join(chunks)
    finally:
        os.close(fd)

"""Reading a user's file safely: bounded, and only when it is a regular file.

At the bottom of the house: config, guides, profiles and compare all read files this way.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


def read_capped(path: Path, limit: int) -> bytes:
    """At most `limit` + 1 bytes of a regular file (callers compare the length with `limit`).

    A size check by stat says 0 for /dev/zero or a pipe; reading those whole exhausts memory
    or blocks, so only regular files are read, and never more than the limit allows."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a pipe opens at once instead of blocking
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file (a device, pipe or socket)", str(path))
        return fh.read(limit + 1)

"""`guidewatch crawl` starts its crawl child before it imports anything else.

The child spends ~0.25 s importing Scrapy and Twisted; the command line itself spends
about as long importing click, the config, the store and the guides before it knows what to
fetch. Started here, first thing, the two overlap. Only the installed `guidewatch` command
does this (a test importing the command line starts nothing), and only for a crawl made
here (not `--help`, not `--distributed`). A child never taken is killed at exit.
"""

from __future__ import annotations

import atexit
import os
import re
import subprocess
from collections.abc import Sequence

from guidewatch.sources.childproc import discard_child, spawn_child

_GLOBAL_FLAG = re.compile(r"-v+|--verbose|--config=.*")  # the group's options (cli/__init__.py)
_NOT_HERE = ("-h", "--help", "--distributed", "--wait")

_started: list[subprocess.Popen[bytes]] = []


def crawls_here(argv: Sequence[str]) -> bool:
    """Whether `argv` is `guidewatch [options] crawl ...` fetching in this process."""
    if not argv or os.path.basename(argv[0]) != "guidewatch":
        return False
    args = iter(argv[1:])
    for arg in args:
        if arg == "--config":
            next(args, None)
        elif not _GLOBAL_FLAG.fullmatch(arg):
            rest = list(args)
            return arg == "crawl" and not any(a.startswith(_NOT_HERE) for a in rest)
    return False


def start(argv: Sequence[str]) -> None:
    """Start the crawl child now if `argv` is a crawl made here; `take` hands it over."""
    if crawls_here(argv) and not _started:
        _started.append(spawn_child())
        atexit.register(_discard)


def take() -> subprocess.Popen[bytes] | None:
    """The child `start` started, once (the caller then owns it: `discard_child` it)."""
    return _started.pop() if _started else None


def _discard() -> None:
    while _started:
        discard_child(_started.pop())

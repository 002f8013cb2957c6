"""Starting and discarding the crawl child process (`python -m guidewatch.sources.child`).

Apart from `guidewatch.sources.fetch` (which speaks to the child) so that the command line
can start the child before it imports anything else: this module needs only the standard
library and `guidewatch.children`.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys

from guidewatch.children import child_env

CHILD_MODULE = "guidewatch.sources.child"


def spawn_child() -> subprocess.Popen[bytes]:
    """Start a crawl process now; it imports Scrapy (~0.25 s) and then waits for its job.

    A command that will crawl starts it before opening its workspace, so the two overlap.
    Pass it to `fetch.fetch_sources`, and `discard_child` it in any case.
    """
    return subprocess.Popen(
        [sys.executable, "-m", CHILD_MODULE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
        close_fds=True,
    )


def discard_child(proc: subprocess.Popen[bytes]) -> None:
    """Kill a spawned crawl process that was never given a job (a used one has already exited)."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe:
            with contextlib.suppress(OSError):
                pipe.close()

"""Normalising fetched pages in worker processes, so a crawl with many new pages uses every core.

BeautifulSoup costs 5-10 ms a page, and a crawl's parent process also records each page
and writes its files: parsing there makes the parent the bottleneck while other cores
idle (a first crawl of 2,000 pages kept one core of two busy). A `ParsePool`:

- starts its workers only once a crawl has seen `START_AFTER` pages with content, so a
  re-crawl of 304s never pays for them;
- hands results back in arrival order and holds at most `depth` pages, so the fetching
  child is still slowed to the parent's pace (flow control) and memory stays bounded;
- loses nothing when a worker dies or cannot start: that page is parsed in the parent.

Workers are `python -m guidewatch.pages.parallel` subprocesses, like the crawl child (see
`fetch`): they work from threads, daemonic processes and any `__main__`. Wire protocol,
private to this module: frames of a 4-byte big-endian length and a pickle, `ParseJob`s
to the worker's stdin, `Page | str` back on its stdout. Pickle is safe here because both
ends are this module's own processes; page content is only ever data inside the frame.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Generic, TypeVar

from guidewatch.children import child_env
from guidewatch.model import Page
from guidewatch.pages.normalise import normalise
from guidewatch.sources.profiles import Profile, load_profiles

log = logging.getLogger("guidewatch.pages.parallel")

T = TypeVar("T")

#: Pages with content a crawl must see before it starts workers (each costs ~0.3 s CPU to start).
START_AFTER = 16
_LEN = struct.Struct(">I")


@dataclass(frozen=True)
class ParseJob:
    """What normalising one body needs; the profile travels by name (workers load their own)."""

    body: bytes
    url: str
    profile: str
    content_type: str | None
    via_api: bool
    ignore: tuple[str, ...]


def parse(job: ParseJob, profiles: dict[str, Profile]) -> Page | str:
    """The page, or why it could not be parsed (a failed check, never a content change)."""
    try:
        return normalise(job.body, url=job.url, profile=profiles[job.profile], content_type=job.content_type,
                         via_api=job.via_api, ignore=job.ignore)
    except Exception as exc:
        return f"could not parse page: {exc}"


def default_workers() -> int:
    """One worker per core (at most four): the parent and the fetching child are mostly waiting."""
    return max(1, min(4, os.cpu_count() or 2))


def _write_frame(stream: IO[bytes], obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LEN.pack(len(data)) + data)
    stream.flush()


def _read_frame(stream: IO[bytes]) -> object | None:
    """The next object, or None at end of stream (the other end closed or died)."""
    head = stream.read(_LEN.size)
    if len(head) < _LEN.size:
        return None
    (size,) = _LEN.unpack(head)
    data = stream.read(size)
    return pickle.loads(data) if len(data) == size else None  # noqa: S301 - our own worker's frames


class _Worker:
    """One worker process and the thread reading its results (so its stdout never fills)."""

    def __init__(self, profile_dirs: Sequence[str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "guidewatch.pages.parallel", *profile_dirs],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=child_env(), close_fds=True)
        self.results: queue.Queue[object | None] = queue.Queue()
        self.alive = True
        self._reader = threading.Thread(target=self._read, name="parse-worker", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout
        try:
            while (result := _read_frame(self.proc.stdout)) is not None:
                self.results.put(result)
        except Exception as exc:
            log.warning("unreadable result from a page worker: %s", exc)
        finally:
            self.results.put(None)

    def send(self, job: ParseJob) -> bool:
        assert self.proc.stdin
        try:
            _write_frame(self.proc.stdin, job)
            return True
        except (OSError, ValueError):
            self.alive = False
            return False

    def close(self) -> None:
        if self.proc.stdin:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()  # the worker exits at end of input
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        if self.proc.stdout:
            self.proc.stdout.close()


class ParsePool(Generic[T]):
    """Pages in, (item, parsed page) out, in arrival order; parsed inline until enough arrive."""

    def __init__(self, profiles: dict[str, Profile], profile_dirs: Sequence[Path], *, workers: int | None = None,
                 start_after: int = START_AFTER) -> None:
        self.profiles, self.profile_dirs = profiles, [str(d) for d in profile_dirs]
        self.size = default_workers() if workers is None else workers
        self.start_after, self.seen = start_after, 0
        self.depth = 2 * self.size + 2
        self._workers: list[_Worker] = []
        self._next = 0
        self._queue: deque[tuple[T, ParseJob, _Worker | None]] = deque()

    @property
    def started(self) -> bool:
        return bool(self._workers)

    @property
    def waiting(self) -> int:
        """Pages put but not yet handed back."""
        return len(self._queue)

    def put(self, item: T, job: ParseJob) -> list[tuple[T, Page | str]]:
        """Queue a page; returns the items whose pages are ready (oldest first, in order)."""
        self.seen += 1
        if not self._workers and self.size > 0 and self.seen >= self.start_after:
            self._start()
        self._queue.append((item, job, self._dispatch(job)))
        ready = []
        while self._queue and (len(self._queue) > self.depth or self._ready(self._queue[0][2])):
            ready.append(self._take())
        return ready

    def drain(self) -> list[tuple[T, Page | str]]:
        """Every page still queued, waiting for the workers."""
        return [self._take() for _ in range(len(self._queue))]

    def close(self) -> None:
        for w in self._workers:
            w.close()
        self._workers = []

    def _start(self) -> None:
        try:
            self._workers = [_Worker(self.profile_dirs) for _ in range(self.size)]
            log.info("started %d page worker(s) after %d pages with content", self.size, self.seen)
        except OSError as exc:
            log.warning("page workers could not start (%s); parsing in the crawl process", exc)
            self.size = 0

    def _dispatch(self, job: ParseJob) -> _Worker | None:
        live = [w for w in self._workers if w.alive]
        if not live:
            return None
        worker = live[self._next % len(live)]
        self._next += 1
        return worker if worker.send(job) else None

    @staticmethod
    def _ready(worker: _Worker | None) -> bool:
        return worker is None or not worker.alive or not worker.results.empty()

    def _take(self) -> tuple[T, Page | str]:
        item, job, worker = self._queue.popleft()
        if worker is not None and worker.alive:
            result = worker.results.get()  # a worker answers its jobs in order
            if isinstance(result, (Page, str)):
                return item, result
            worker.alive = False  # it died (None) or sent nonsense: parse its pages here
            log.warning("a page worker stopped (exit %s); parsing its pages in the crawl process", worker.proc.poll())
        return item, parse(job, self.profiles)


def main(argv: Sequence[str]) -> int:
    """Worker: jobs on stdin, results on stdout, until stdin closes.

    Ctrl-C reaches the whole process group: the worker ignores it and finishes what the
    crawl process still asks of it (the crawl stops cleanly and then closes stdin).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    profiles = load_profiles([Path(d) for d in argv])
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while (job := _read_frame(stdin)) is not None:
        _write_frame(stdout, parse(job, profiles) if isinstance(job, ParseJob) else "could not parse page: bad job")
    return 0


if __name__ == "__main__":
    from guidewatch.pages.parallel import main as worker_main  # the importable module: its ParseJob is the pickled one

    raise SystemExit(worker_main(sys.argv[1:]))

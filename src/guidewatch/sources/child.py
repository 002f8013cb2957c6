"""The crawl child: ``python -m guidewatch.sources.child`` runs `main` here.

Job on stdin, outcomes on stdout, logs on stderr (the protocol is in `guidewatch.sources.fetch`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, NoReturn

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

from guidewatch.model import FetchOutcome, FetchRequest
from guidewatch.sources.crawlsettings import preload
from guidewatch.sources.fetch import FetchSettings, credit_window, encode_outcome
from guidewatch.sources.spider import run_crawl

log = logging.getLogger("guidewatch.sources.spider")  # one name for all the crawl child logs (see spider.py)


class Credits:
    """Flow control with the parent: at most `window` sources started whose outcomes the
    parent has not yet recorded ("+" acks on stdin). Without it a crawl of 10,000 pages
    fetches far ahead of the parent, which then holds every body while it normalises them."""

    def __init__(self, window: int):
        self.window, self.started, self.acked = window, 0, 0
        self._waiter: Deferred[None] | None = None

    async def admit(self) -> None:
        while self.started - self.acked >= self.window:
            self._waiter = Deferred()
            await maybe_deferred_to_future(self._waiter)
        self.started += 1

    def ack(self, count: int) -> None:
        """In the reactor thread: the parent has recorded `count` more outcomes."""
        self.acked += count
        if self._waiter is not None and self.started - self.acked < self.window:
            waiter, self._waiter = self._waiter, None
            waiter.callback(None)

    def ack_from_thread(self, count: int) -> None:
        from twisted.internet import reactor  # installed by now: acks follow outcomes

        reactor.callFromThread(self.ack, count)  # type: ignore[attr-defined]


class _OutcomeWriter:
    """Writes outcome lines to the parent, flushing each so a kill loses nothing sent."""

    def __init__(self, stream: IO[bytes]):
        self._stream = stream
        self._lock = threading.Lock()
        self.sent: set[int] = set()

    def emit(self, index: int, outcome: FetchOutcome) -> None:
        line = json.dumps({"i": index, "outcome": encode_outcome(outcome)}).encode("utf-8") + b"\n"
        with self._lock:
            self.sent.add(index)
            try:
                self._stream.write(line)
                self._stream.flush()
            except (BrokenPipeError, OSError):
                os._exit(3)  # the parent is gone: nobody to report to


def _private_stdout() -> IO[bytes]:
    """Keep the real stdout for outcomes and point fd 1 at stderr, so stray prints can't corrupt it."""
    fd = os.dup(1)
    os.dup2(2, 1)
    return os.fdopen(fd, "wb")


def _watch_lifeline(fd: int, on_acks: Callable[[int], None] | None = None) -> None:
    """Exit when the parent closes our stdin or dies, rather than crawl for nobody; pass the
    parent's "+" acks (one per outcome recorded) to `on_acks`.

    Reads the raw fd (not sys.stdin) so the blocked thread holds no buffer lock that
    would trip interpreter shutdown.
    """

    def wait_for_eof() -> None:
        while chunk := os.read(fd, 65536):
            if on_acks is not None and (acks := chunk.count(b"+")):
                on_acks(acks)
        os._exit(4)

    threading.Thread(target=wait_for_eof, name="lifeline", daemon=True).start()


def _read_job(fd: int) -> tuple[list[FetchRequest], FetchSettings]:
    """The one JSON line the parent sends, read unbuffered so nothing past it is consumed."""
    chunks: list[bytes] = []
    while not chunks or not chunks[-1].endswith(b"\n"):
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    job = json.loads(b"".join(chunks))
    settings = FetchSettings(**job["settings"])
    # one copy of each repeated value (json.loads makes one per request): ~2 MB at 10,000 sources
    one: dict[object, object] = {}
    requests = [
        FetchRequest(**{k: one.setdefault(v, v) if k in _REPEATED else v
                        for k, v in {**r, "allowed_hosts": tuple(r.get("allowed_hosts") or ())}.items()})
        for r in job["requests"]
    ]
    return requests, settings


#: FetchRequest fields most requests of a crawl share the values of.
_REPEATED = frozenset({"profile", "last_modified", "allowed_hosts", "api_key_env", "api_key_header"})


def main() -> int:
    """Child-process entry point: job on stdin, outcomes on stdout, logs on stderr."""
    out = _private_stdout()
    preload()  # while the parent works out the job
    requests, settings = _read_job(0)
    credits = Credits(credit_window(settings))
    _watch_lifeline(0, credits.ack_from_thread)
    writer = _OutcomeWriter(out)
    problem = "crawl ended without an outcome for this source"
    try:
        run_crawl(requests, settings, writer.emit, credits)
    except Exception as exc:
        log.exception("crawl failed")
        problem = f"crawl failed: {exc!r}"
    for index, request in enumerate(requests):  # one outcome per request, whatever happened
        if index not in writer.sent:
            writer.emit(
                index,
                FetchOutcome(
                    url=request.url,
                    status="failed",
                    error=problem,
                    transient=True,
                    fetched_at=datetime.now(UTC),
                ),
            )
    out.close()
    return 0


def run() -> NoReturn:
    """`main`, then exit without interpreter teardown (reactor thread pool etc.): nothing left to save."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # the crawl child (`guidewatch.sources.fetch` starts it by this name)
    run()

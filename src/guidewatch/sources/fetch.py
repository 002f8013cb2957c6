"""Fetch cited sources: run the Scrapy spider in a child process and stream outcomes back.

The crawl runs in `python -m guidewatch.sources.child`, a fresh interpreter each time, because a
Twisted reactor cannot be restarted: the daemon and the tests call `fetch_sources` many
times from one process. A subprocess (rather than multiprocessing) also works from
threads, from daemonic processes and whatever `__main__` the parent has.

Wire protocol (private to this module and `guidewatch.sources.spider`):

- parent -> child stdin: one JSON line ``{"settings": {...}, "requests": [...]}``; stdin
  then stays open as a lifeline: when it closes (the parent died) the child exits. The
  parent writes one ``+`` per outcome it has handled (in batches, `ack_batch`): the child
  starts a source only while fewer than `credit_window` outcomes are unacknowledged
  (flow control: a parent slower than the crawl never piles up pages in memory).
- child -> parent stdout: one JSON line per outcome ``{"i": index, "outcome": {...}}``,
  written and flushed as soon as it is known, so a killed child loses nothing it sent.
- child stderr: log lines ``LEVEL|logger|message``, re-logged here under
  ``guidewatch.sources.spider``.

This module imports no Scrapy or Twisted code, so importing it never installs a reactor.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import logging
import queue
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from guidewatch.config.fetch import FetchConfig
from guidewatch.model import FetchOutcome, FetchRequest
from guidewatch.sources.childproc import discard_child, spawn_child

__all__ = ["FetchSettings", "decode_outcome", "discard_child", "encode_outcome", "fetch_sources", "spawn_child"]

log = logging.getLogger(__name__)
child_log = logging.getLogger("guidewatch.sources.spider")

#: How long a child that has sent every outcome gets to exit on its own before it is killed.
EXIT_GRACE_S = 10.0

_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}


@dataclass(frozen=True)
class FetchSettings(FetchConfig):
    """The crawl child's copy of `[fetch]`: the same keys and defaults (declared once, in the config
    schema, and validated there when the file loads), plus the knobs only the child and the tests
    set. Not validated again: every value either came through the config or from a test."""

    retry_backoff: float = 1.0  # base seconds: waits are base, 2*base, 4*base, ...
    max_retry_after: float = 60.0  # cap on any wait; a longer Retry-After means give up now
    log_level: str = "WARNING"  # the crawl child's Scrapy log level

    @property
    def full_user_agent(self) -> str:
        """The User-Agent header: name/version plus the operator's contact URL."""
        if self.contact_url and self.contact_url not in self.user_agent:
            return f"{self.user_agent} (+{self.contact_url})"
        return self.user_agent


#: Seconds without an outcome after which `fetch_sources` calls `on_idle`.
IDLE_S = 0.5


def fetch_sources(
    requests: Sequence[FetchRequest],
    settings: FetchSettings,
    *,
    on_outcome: Callable[[FetchOutcome], None] | None = None,
    timeout: float | None = None,
    child: subprocess.Popen[bytes] | None = None,
    keep: bool = True,
    on_sent: Callable[[], None] | None = None,
    on_idle: Callable[[], None] | None = None,
) -> list[FetchOutcome]:
    """Fetch every request in a child crawl; return one outcome per request, in order.

    `on_outcome` is called (in the caller's thread) with each outcome as soon as it
    arrives, including the "crawl aborted" ones made up for requests the child never
    answered. `timeout` (seconds, whole crawl) kills the child when it runs out. An
    exception raised by `on_outcome` kills the child and propagates. `child`: a process
    from `spawn_child`, started earlier so Scrapy's import overlapped the caller's set-up.
    `keep=False` (with `on_outcome`): return nothing and hold no outcome once handled, so a
    crawl of 10,000 sources does not keep 10,000 outcomes with their headers to the end.
    `on_sent` is called once the child has its job (not at all without requests): the caller's
    own set-up for the outcomes overlaps the child's start; if it raises, the child is killed.
    `on_idle` is called (in the caller's thread, like `on_outcome`) each time no outcome
    arrived for `IDLE_S` seconds: the recorder writes what it batched.
    """
    requests = list(requests)
    if not requests:
        return []
    results: list[FetchOutcome | None] = [None] * len(requests)
    run = _ChildCrawl(requests, settings, child, keep=keep)
    graceful = False
    try:
        if on_sent is not None:
            on_sent()
        abort_reason = run.collect(results, on_outcome, timeout, on_idle)
        graceful = abort_reason is None
    finally:
        run.stop(graceful=graceful)
    run.drain(results, on_outcome)  # anything the child sent before it was killed still counts
    if abort_reason is None:
        abort_reason = _exit_description(run.returncode)
    detail = run.last_error_line()
    for i, outcome in enumerate(results):
        if outcome is None:
            results[i] = outcome = _aborted(requests[i], abort_reason + (f" ({detail})" if detail else ""))
            if on_outcome:
                on_outcome(outcome)
    return [o for o in results if o is not None] if keep else []


def credit_window(settings: FetchSettings) -> int:
    """Most sources the child has started whose outcomes the parent has not acknowledged."""
    return max(32, 4 * settings.concurrency)


def ack_batch(settings: FetchSettings) -> int:
    """Outcomes per acknowledgement; well under the window, so the child never stalls."""
    return max(1, credit_window(settings) // 4)


def _exit_description(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        return f"crawl process killed by signal {-returncode}"
    if returncode:
        return f"crawl process exited with code {returncode}"
    return "crawl process ended without an outcome"


def _aborted(request: FetchRequest, reason: str) -> FetchOutcome:
    return FetchOutcome(
        url=request.url,
        status="failed",
        error=f"crawl aborted: {reason}",
        transient=True,
        fetched_at=datetime.now(UTC),
    )


class _ChildCrawl:
    """One `python -m guidewatch.sources.child` process and the threads reading its pipes."""

    def __init__(self, requests: list[FetchRequest], settings: FetchSettings,
                 proc: subprocess.Popen[bytes] | None = None, *, keep: bool = True):
        self._keep = keep
        self._events: queue.Queue[tuple[int, FetchOutcome] | None] = queue.Queue()
        self._stderr_tail: deque[str] = deque(maxlen=20)
        self._unacked, self._ack_batch = 0, ack_batch(settings)
        if proc is None or proc.poll() is not None:
            if proc is not None:
                discard_child(proc)
            proc = spawn_child()
        self.proc = proc
        assert self.proc.stdout and self.proc.stderr
        self._readers = [
            threading.Thread(target=self._read_outcomes, args=(self.proc.stdout,), daemon=True),
            threading.Thread(target=self._read_logs, args=(self.proc.stderr,), daemon=True),
        ]
        for t in self._readers:
            t.start()
        self._send_job(requests, settings)

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def _send_job(self, requests: list[FetchRequest], settings: FetchSettings) -> None:
        job = {
            "settings": dataclasses.asdict(settings),
            # shallow: asdict deep-copies every field, ~0.1 ms a request (FetchRequest holds no dataclasses)
            "requests": [{f.name: getattr(r, f.name) for f in _REQUEST_FIELDS} for r in requests],
        }
        assert self.proc.stdin
        try:
            self.proc.stdin.write(json.dumps(job).encode("utf-8") + b"\n")
            self.proc.stdin.flush()  # stdin stays open: it is the child's lifeline
        except (BrokenPipeError, OSError) as exc:
            log.warning("crawl process did not take its job: %s", exc)

    def collect(
        self,
        results: list[FetchOutcome | None],
        on_outcome: Callable[[FetchOutcome], None] | None,
        timeout: float | None,
        on_idle: Callable[[], None] | None = None,
    ) -> str | None:
        """Fill `results` as outcomes arrive; return why the crawl was cut short, if it was."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pending = len(results)
        while pending:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return f"timed out after {timeout:g} s"
            wait = remaining if on_idle is None else min(IDLE_S, remaining if remaining is not None else IDLE_S)
            try:
                event = self._events.get(timeout=wait)
            except queue.Empty:
                if on_idle is not None and (deadline is None or time.monotonic() < deadline):
                    on_idle()
                    continue
                return f"timed out after {timeout:g} s"
            if event is None:  # child closed stdout: it exited or crashed
                return None
            accepted = _accept(event, results, on_outcome, self._keep)
            pending -= accepted
            self._unacked += accepted
            if self._unacked >= self._ack_batch:
                self._ack()
        return None

    def _ack(self) -> None:
        """Tell the child these outcomes are handled, so it may start as many more sources
        (batched: one wake-up of the child per source costs it more CPU than the fetch)."""
        count, self._unacked = self._unacked, 0
        if self.proc.stdin:
            with contextlib.suppress(OSError):
                self.proc.stdin.write(b"+" * count)
                self.proc.stdin.flush()

    def drain(
        self, results: list[FetchOutcome | None], on_outcome: Callable[[FetchOutcome], None] | None
    ) -> None:
        """Take outcomes still queued (call after `stop`, when the readers have finished)."""
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return
            if event is not None:
                _accept(event, results, on_outcome, self._keep)

    def stop(self, *, graceful: bool) -> None:
        """Let a finished child exit (if `graceful`), kill it otherwise, and reap it."""
        if graceful:
            try:
                self.proc.wait(timeout=EXIT_GRACE_S)
            except subprocess.TimeoutExpired:
                log.warning(
                    "crawl process still running %g s after its last outcome; killing it", EXIT_GRACE_S
                )
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdin:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        for t in self._readers:
            t.join(timeout=5)

    def last_error_line(self) -> str | None:
        """The last ERROR/CRITICAL (or traceback) line the child logged, for abort messages."""
        if self.proc.returncode in (0, None):
            return None
        for line in reversed(self._stderr_tail):
            if line and not line.startswith(("DEBUG|", "INFO|", "WARNING|")):
                return line.split("|", 2)[-1][:300]
        return None

    def _read_outcomes(self, stream: IO[bytes]) -> None:
        try:
            for line in stream:
                try:
                    message = json.loads(line)
                    self._events.put((int(message["i"]), decode_outcome(message["outcome"])))
                except (ValueError, KeyError, TypeError) as exc:
                    log.error("unreadable message from the crawl process: %s", exc)
        finally:
            self._events.put(None)

    def _read_logs(self, stream: IO[bytes]) -> None:
        level = logging.WARNING
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self._stderr_tail.append(line)
            parts = line.split("|", 2)
            if len(parts) == 3 and parts[0] in _LEVELS:
                level = _LEVELS[parts[0]]
                child_log.log(level, "[%s] %s", parts[1], parts[2])
            elif line:
                child_log.log(level, "%s", line)  # continuation: traceback, multi-line message


#: Stands in `results` for an outcome already handed to `on_outcome` and not kept.
_HANDLED = FetchOutcome(url="", status="failed")


def _accept(
    event: tuple[int, FetchOutcome],
    results: list[FetchOutcome | None],
    on_outcome: Callable[[FetchOutcome], None] | None,
    keep: bool = True,
) -> int:
    """Record the first outcome for a request index; returns 1 if it was new."""
    index, outcome = event
    if not 0 <= index < len(results) or results[index] is not None:
        return 0
    results[index] = outcome if keep else _HANDLED
    if on_outcome:
        on_outcome(outcome)
    return 1


# --- outcome (de)serialisation, shared with guidewatch.sources.spider ------------------------------


_OUTCOME_FIELDS = dataclasses.fields(FetchOutcome)
_REQUEST_FIELDS = dataclasses.fields(FetchRequest)
_OUTCOME_NAMES = frozenset(f.name for f in _OUTCOME_FIELDS)


def encode_outcome(outcome: FetchOutcome) -> dict[str, Any]:
    """FetchOutcome -> JSON-safe dict (body as base64, fetched_at as ISO 8601)."""
    # shallow: asdict deep-copies every field (lists, the headers dict), ~0.1 ms an outcome
    data = {f.name: getattr(outcome, f.name) for f in _OUTCOME_FIELDS}
    data["body"] = base64.b64encode(outcome.body).decode("ascii")
    data["fetched_at"] = outcome.fetched_at.isoformat() if outcome.fetched_at else None
    return data


def decode_outcome(data: dict[str, Any]) -> FetchOutcome:
    """Inverse of `encode_outcome`; unknown keys are ignored."""
    known = _OUTCOME_NAMES
    values = {k: v for k, v in data.items() if k in known}
    values["body"] = base64.b64decode(values.get("body") or "")
    if values.get("fetched_at"):
        values["fetched_at"] = datetime.fromisoformat(values["fetched_at"])
    return FetchOutcome(**values)

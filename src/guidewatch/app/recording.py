"""Outcomes in, recorded: quiet 304s in batches, pages parsed by the page workers, the rest
one at a time through `recorder.record_outcome`; and the crawl summary they add up to."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from guidewatch.app.decision import CATEGORIES
from guidewatch.app.recorder import parse_job, record_outcome, without_body
from guidewatch.app.schedule_policy import next_due
from guidewatch.app.snapshot_files import files_in_line
from guidewatch.model import FetchOutcome, Page
from guidewatch.pages.parallel import ParsePool
from guidewatch.store import SourceState, utcnow

if TYPE_CHECKING:
    from guidewatch.app.workspace import Workspace

log = logging.getLogger("guidewatch.crawl")


@dataclass
class CrawlSummary:
    """What one crawl recorded, for its summary line, the exit code and the digest of new alerts."""

    counts: Counter[str] = field(default_factory=Counter)  # by CATEGORIES
    new_alerts: list[int] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # one per source: what happened

    @property
    def checked(self) -> int:
        return sum(self.counts[k] for k in CATEGORIES)

    @property
    def fetched(self) -> int:
        """Sources that answered (every category but failed)."""
        return self.checked - self.counts["failed"]

    def headline(self) -> str:
        parts = ", ".join(f"{self.counts[k]} {k}" for k in CATEGORIES)
        return f"{self.checked} checked: {parts}; {len(self.new_alerts)} new alerts"


class Recording:
    """Outcomes in, recorded: quiet 304s in batches, pages parsed by the page workers once
    there are enough of them, everything else through `record_outcome` one at a time.

    Used by a local crawl and by a distributed worker. `settle` records whatever waits (an
    idle worker calls it); `close` settles and stops the page workers. `progress` gets
    each outcome with its verdict once it is recorded.
    """

    def __init__(self, ws: Workspace, summary: CrawlSummary, sources: Sequence[SourceState] = (), *,
                 progress: Callable[[FetchOutcome, str], None] | None = None, today: date | None = None) -> None:
        self.ws, self.summary, self.progress, self.today = ws, summary, progress, today
        self.recorded = 0
        self.quiet = _QuietBatch(ws, summary, sources)
        dirs = [ws.config.profiles_dir] if ws.config.profiles_dir else []
        self.pool: ParsePool[tuple[SourceState, FetchOutcome]] = ParsePool(ws.profiles, dirs,
                                                                           workers=ws.config.fetch.parse_workers)

    def add(self, src: SourceState, outcome: FetchOutcome) -> None:
        if self.quiet.take(src, outcome):
            self._report(outcome, "unchanged")
        elif outcome.status == "ok":  # content to normalise: in the worker pool once there is enough of it
            for (s, o), parsed in self.pool.put((src, outcome), parse_job(self.ws, src, outcome)):
                self._finish(s, o, parsed)
        else:
            self._finish(src, outcome, None)

    @property
    def pages_held(self) -> int:
        """Pages taken but not yet recorded (each holds its body; batched 304s hold nothing much)."""
        return self.pool.waiting

    def settle(self) -> None:
        try:
            for (s, o), parsed in self.pool.drain():
                self._finish(s, o, parsed)
        finally:
            self.quiet.flush()

    def close(self) -> None:
        try:
            self.settle()
        finally:
            self.pool.close()

    def _finish(self, src: SourceState, outcome: FetchOutcome, parsed: Page | str | None) -> None:
        try:
            done = record_outcome(self.ws, src, outcome, self.summary, today=self.today, parsed=parsed)
            recorded, verdict = done.outcome, done.verdict
        except Exception as exc:  # one bad page must not stop the crawl
            log.exception("processing %s failed", outcome.url)
            self.summary.counts["failed"] += 1
            recorded, verdict = outcome, f"failed: internal error while processing ({type(exc).__name__}: {exc})"
        self._report(recorded, verdict)

    def _report(self, outcome: FetchOutcome, verdict: str) -> None:
        """`progress` gets the outcome as recorded (a screened-out page is a failed check: `check`
        retries on it) without its body."""
        self.recorded += 1
        self.summary.lines.append(f"{outcome.url}: {verdict}")
        if self.progress:
            self.progress(without_body(outcome), verdict)


class _QuietBatch:
    """304s that need nothing but a fetch record, written many to a transaction.

    A 304 for a source whose reviewed and current versions are the same, whose files show
    them and which was not gone or unreachable changes nothing but its check times: the
    per-source path (a transaction, two queries, two file reads) would dominate a re-crawl.
    At most `size` answers or `max_age` seconds wait; a crash loses only their check times
    (the sources are simply checked again), never a version.
    """

    size, max_age = 200, 1.0

    def __init__(self, ws: Workspace, summary: CrawlSummary, sources: Sequence[SourceState] = ()):
        self.ws, self.summary = ws, summary
        self.pending: list[tuple[int, FetchOutcome, datetime | None]] = []
        self.oldest = 0.0
        self.hashes: dict[int, str] = {}  # loaded for the whole crawl when its sources are known
        self._load([s.reviewed_snapshot_id for s in sources if s.current_snapshot_id == s.reviewed_snapshot_id])

    def _load(self, ids: Sequence[int | None]) -> None:
        wanted = [i for i in ids if i is not None and i not in self.hashes]
        for start in range(0, len(wanted), 500):
            self.hashes.update(self.ws.store.sources.snapshot_hashes(wanted[start:start + 500]))

    def take(self, src: SourceState, outcome: FetchOutcome) -> bool:
        """Queue the outcome if it is a quiet 304; False sends it down the full path."""
        if (outcome.status != "not_modified" or outcome.moved or src.state in ("gone", "unreachable")
                or src.current_snapshot_id != src.reviewed_snapshot_id or src.reviewed_snapshot_id is None):
            return False
        self._load([src.reviewed_snapshot_id])  # a source that arrived from a queue: one query
        if src.reviewed_snapshot_id not in self.hashes or not files_in_line(self.ws, src, self.hashes):
            return False
        now = outcome.fetched_at or utcnow()
        if not self.pending:
            self.oldest = time.monotonic()
        self.pending.append((src.id, outcome, next_due(self.ws.config, src, now, self.ws.profile(src))))
        self.summary.counts["unchanged"] += 1
        if len(self.pending) >= self.size or time.monotonic() - self.oldest >= self.max_age:
            self.flush()
        return True

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        try:
            self.ws.store.sources.record_not_modified(batch)
        except Exception as exc:
            reason = str(exc).splitlines()[0][:300]
            log.error("recording %d unchanged answers failed: %s", len(batch), reason)
            self.summary.counts["unchanged"] -= len(batch)
            self.summary.counts["failed"] += len(batch)
            self.summary.lines.append(f"{len(batch)} unchanged answers not recorded: {reason}")

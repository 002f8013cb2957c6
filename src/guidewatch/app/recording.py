"""Outcomes in, recorded in batches where that is safe; and the crawl summary they add up to.

- Quiet 304s (nothing to record but check times) wait in a `_QuietBatch`: many answers to
  one pair of statements.
- Answers that carry a page are parsed in this process as they arrive, and their bodies
  dropped; the parsed pages wait in a `_PageBatch` (at most `size` pages or `max_age`
  seconds). Their fetch records and new versions are written in ONE transaction
  (`Sources.record_pages`), then, source by source, the changes, alerts and snapshot files
  as for a single answer (`recorder.apply_recorded`).
- Everything else (failures, gone or moved pages, sources that answer again after being
  gone or unreachable) is recorded one at a time (`recorder.record_screened`).

Why a crawl killed at any point loses nothing and alerts nothing twice, batches included:
each page of a batch keeps the recorder's order (fetch and new version, then changes and
alerts, then files), only the first step is shared. Killed before a batch commits, none of
its pages is recorded: its sources were never marked checked, no alert came from them, and
the next crawl fetches them again. Killed after the commit, part-way through the sources'
own steps: a source whose changes were not recorded has a current version that differs from
the reviewed one with no change stored for it, and its next answer (a 304 or the same page)
diffs it (`recorder._undiffed_current`); a source's changes and alerts are stored in one
transaction, and one that has them is never diffed again; files that were not written are
re-synced by the next answer (a 304 whose files are out of line takes the full path). The
per-source steps read nothing that the batch's write changed under them: a source that was
gone or unreachable (its alerts close when it answers, judged by its state before the write)
or whose page moved goes one at a time, and a second answer for a source already waiting
in the batch records the batch first.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import TYPE_CHECKING

from guidewatch.app.decision import CATEGORIES, Screened
from guidewatch.app.recorder import Processed, apply_recorded, due_after, record_screened, screen, without_body
from guidewatch.app.schedule_policy import next_due
from guidewatch.app.snapshot_files import files_in_line
from guidewatch.model import FetchOutcome, Page
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
    """Outcomes in, recorded: quiet 304s and pages in batches, everything else one at a time.

    Used by a local crawl and by a distributed worker. `settle` records whatever waits (an
    idle worker calls it); `close` settles. `progress` gets each outcome with its verdict
    once it is recorded.
    """

    def __init__(self, ws: Workspace, summary: CrawlSummary, sources: Sequence[SourceState] = (), *,
                 progress: Callable[[FetchOutcome, str], None] | None = None, today: date | None = None) -> None:
        self.ws, self.summary, self.progress, self.today = ws, summary, progress, today
        self.recorded = 0
        self.quiet = _QuietBatch(ws, summary, sources)
        self.pages = _PageBatch(self)
        if ws.config.fetch.parse_workers is not None:
            log.warning("[fetch] parse_workers is deprecated and ignored: pages are parsed in the crawl process")

    def add(self, src: SourceState, outcome: FetchOutcome) -> None:
        if src.id in self.pages:  # the same source again: its earlier answer is recorded first
            self.pages.flush()
            src = self.ws.store.sources.get(src.url) or src
        if self.quiet.take(src, outcome):
            self.report(outcome, "unchanged")
        elif outcome.status == "ok":
            self.guarded(outcome, partial(self._page, src, outcome))
        else:
            self.guarded(outcome, partial(record_screened, self.ws, src, Screened(outcome), self.summary,
                                          today=self.today))
        self.pages.flush_if_due()

    def settle(self) -> None:
        try:
            self.pages.flush()
        finally:
            self.quiet.flush()

    def close(self) -> None:
        self.settle()

    def _page(self, src: SourceState, outcome: FetchOutcome) -> Processed | None:
        """Parse and screen a page now; then into the batch (None) or recorded on its own."""
        screened = screen(self.ws, src, outcome, None)
        screened = dataclasses.replace(screened, outcome=without_body(screened.outcome))  # the body is done with
        if self.pages.take(src, screened):
            return None
        return record_screened(self.ws, src, screened, self.summary, today=self.today)

    def guarded(self, outcome: FetchOutcome, step: Callable[[], Processed | None]) -> None:
        """Run one answer's step and report it (None: it waits in a batch)."""
        if (done := self.run(outcome, step)) is not None:
            self.report(done.outcome, done.verdict)

    def run(self, outcome: FetchOutcome, step: Callable[[], Processed | None]) -> Processed | None:
        """One answer's step; one bad page must not stop the crawl: its error is its verdict."""
        try:
            return step()
        except Exception as exc:
            log.exception("processing %s failed", outcome.url)
            self.summary.counts["failed"] += 1
            return Processed(outcome, f"failed: internal error while processing ({type(exc).__name__}: {exc})")

    def report(self, outcome: FetchOutcome, verdict: str) -> None:
        """`progress` gets the outcome as recorded (a screened-out page is a failed check: `check`
        retries on it) without its body."""
        self.recorded += 1
        self.summary.lines.append(f"{outcome.url}: {verdict}")
        if self.progress:
            self.progress(without_body(outcome), verdict)


class _PageBatch:
    """Screened pages waiting to be stored together: their fetches and versions in one transaction.

    A first crawl is almost all new pages: a transaction each made the store the largest cost
    after parsing. Only parsed pages wait (no bodies), at most `size` of them or `max_age`
    seconds. When the batch's transaction fails, its pages are recorded one at a time, so one
    bad page costs only itself.
    """

    size, max_age = 50, 1.0

    def __init__(self, recording: Recording) -> None:
        self.rec = recording
        self.pending: list[tuple[SourceState, Screened, Page]] = []
        self.ids: set[int] = set()
        self.oldest = 0.0

    def __contains__(self, source_id: object) -> bool:
        return source_id in self.ids

    def __len__(self) -> int:
        return len(self.pending)

    def take(self, src: SourceState, screened: Screened) -> bool:
        """Queue a screened page whose recording reads nothing the batch's write changes; False: record it alone."""
        page = screened.page
        if page is None or screened.outcome.moved or src.state in ("gone", "unreachable"):
            return False
        if not self.pending:
            self.oldest = time.monotonic()
        self.pending.append((src, screened, page))
        self.ids.add(src.id)
        return True

    def flush_if_due(self) -> None:
        """Record the batch once it is full or old. Called outside any answer's error guard: a
        progress report that stops the crawl must reach the caller."""
        if len(self.pending) >= self.size or (self.pending and time.monotonic() - self.oldest >= self.max_age):
            self.flush()

    def flush(self) -> None:
        batch, self.pending, self.ids = self.pending, [], set()
        if not batch:
            return
        ws, rec = self.rec.ws, self.rec
        try:
            results = ws.store.sources.record_pages([(sc.outcome, page, due_after(ws, src, sc.outcome))
                                                     for src, sc, page in batch])
            steps = [partial(apply_recorded, ws, src, sc, result, rec.summary, today=rec.today)
                     for (src, sc, _), result in zip(batch, results, strict=True)]
        except Exception as exc:
            log.warning("recording %d pages together failed (%s); recording them one at a time",
                        len(batch), str(exc).splitlines()[0][:300])
            steps = [partial(record_screened, ws, src, sc, rec.summary, today=rec.today) for src, sc, _ in batch]
        # Every source's steps before any progress report: a report may stop the crawl (the daemon's
        # does when asked to stop), which must not leave stored versions without their changes and files.
        done = [rec.run(sc.outcome, step) for (_, sc, _), step in zip(batch, steps, strict=True)]
        for processed in done:
            if processed is not None:
                rec.report(processed.outcome, processed.verdict)


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

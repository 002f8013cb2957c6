"""The sources repository: watched sources, their fetches and their versions (snapshots),
and which of them are due. What makes a new version is `pages.versions`' decision."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, func, insert, or_, select, update
from sqlalchemy.orm import Session

from guidewatch.model import FetchOutcome, Page, parse_blocks, serialise_blocks
from guidewatch.pages.versions import version_change
from guidewatch.sources.states import CLEARED_BY_AN_ANSWER, after_answer, after_failure
from guidewatch.store.engine import Db, StoreError
from guidewatch.store.records import (
    SOURCE_STATE_COLUMNS,
    RecordResult,
    ReviewRecord,
    SnapshotRecord,
    SourceState,
    snapshot_record,
    source_state,
)
from guidewatch.store.schema import FetchRow, ReviewRow, SnapshotRow, SourceRow, utcnow


class Sources:
    def __init__(self, db: Db) -> None:
        self.db = db

    def all(self, *, active_only: bool = True, unversioned_only: bool = False) -> list[SourceState]:
        """Every (active) source; `unversioned_only`: those with no version stored yet. Rows are
        read 500 at a time: all 10,000 ORM rows of a large workspace at once cost ~20 MB more
        at the start of every crawl."""
        with self.db.session() as s:
            q = select(*SOURCE_STATE_COLUMNS).order_by(SourceRow.url).execution_options(yield_per=500)
            if active_only:
                q = q.where(SourceRow.active.is_(True))
            if unversioned_only:
                q = q.where(SourceRow.current_snapshot_id.is_(None))
            return [SourceState(*r) for r in s.execute(q)]

    def get(self, url: str) -> SourceState | None:
        """The source at `url`, or the one that moved there."""
        with self.db.session() as s:
            row = s.scalar(select(SourceRow).where(SourceRow.url == url))
            if row is None:
                row = s.scalar(select(SourceRow).where(SourceRow.final_url == url))
            return source_state(row) if row else None

    def due(self, now: datetime | None = None) -> list[SourceState]:
        now = now or utcnow()
        with self.db.session() as s:
            q = (select(*SOURCE_STATE_COLUMNS).where(SourceRow.active.is_(True))
                 .where((SourceRow.next_due_at.is_(None)) | (SourceRow.next_due_at <= now))
                 .order_by(SourceRow.next_due_at))
            return [SourceState(*r) for r in s.execute(q)]

    def claim_due(self, worker: str, limit: int, now: datetime | None = None,
                  lease: timedelta = timedelta(minutes=30)) -> list[SourceState]:
        """Take up to `limit` due sources for one worker; concurrent workers never get the same one.

        On PostgreSQL this is SELECT ... FOR UPDATE SKIP LOCKED; on SQLite the claim runs in a
        BEGIN IMMEDIATE transaction (`Db.claim_lock`). Claiming pushes next_due_at out by the
        lease, so the sources of a worker that dies come due again later.
        """
        now = now or utcnow()
        with self.db.session() as s:
            self.db.claim_lock(s)
            q = (select(SourceRow).where(SourceRow.active.is_(True))
                 .where((SourceRow.next_due_at.is_(None)) | (SourceRow.next_due_at <= now))
                 .order_by(SourceRow.next_due_at, SourceRow.id).limit(limit))
            if self.db.postgres:
                q = q.with_for_update(skip_locked=True)
            rows = list(s.scalars(q))
            for r in rows:
                r.next_due_at = now + lease
            return [source_state(r) for r in rows]

    def set_next_due(self, source_id: int, when: datetime) -> None:
        with self.db.session() as s:
            s.execute(update(SourceRow).where(SourceRow.id == source_id).values(next_due_at=when))

    def mark_state(self, source_id: int, state: str) -> None:
        with self.db.session() as s:
            s.execute(update(SourceRow).where(SourceRow.id == source_id).values(state=state))

    def uncited_urls(self) -> list[str]:
        """URLs of sources no guide or config cites any more (their files leave snapshots/)."""
        with self.db.session() as s:
            return list(s.scalars(select(SourceRow.url).where(SourceRow.active.is_(False)).order_by(SourceRow.url)))

    # -- versions -------------------------------------------------------------------------

    def snapshot(self, snapshot_id: int | None) -> SnapshotRecord | None:
        if snapshot_id is None:
            return None
        with self.db.session() as s:
            row = s.get(SnapshotRow, snapshot_id)
            return snapshot_record(row) if row else None

    def versions(self, source_id: int) -> list[SnapshotRecord]:
        """Every recorded version of a source, in the order recorded (ids grow with time)."""
        with self.db.session() as s:
            rows = s.scalars(select(SnapshotRow).where(SnapshotRow.source_id == source_id).order_by(SnapshotRow.id))
            return [snapshot_record(r) for r in rows]

    def snapshot_hashes(self, snapshot_ids: Sequence[int | None]) -> dict[int, str]:
        """Content hashes of these snapshots, without loading their text (a cheap check per 304)."""
        ids = [i for i in snapshot_ids if i is not None]
        if not ids:
            return {}
        with self.db.session() as s:
            rows = s.execute(select(SnapshotRow.id, SnapshotRow.content_hash).where(SnapshotRow.id.in_(ids)))
            return {row_id: content_hash for row_id, content_hash in rows}

    def import_baseline(self, url: str, *, text: str, title: str, profile: str, fetched_at: datetime,
                        meta: dict[str, str], reviewed_by: str, reviewed_at: datetime) -> SnapshotRecord | None:
        """Seed a source that has no snapshot yet with a reviewed version from a committed file."""
        with self.db.session() as s:
            src = s.scalar(select(SourceRow).where(SourceRow.url == url))
            if src is None or src.current_snapshot_id is not None:
                return None
            canonical = serialise_blocks(parse_blocks(text))
            snap = SnapshotRow(source_id=src.id, fetched_at=fetched_at,
                               content_hash=hashlib.sha256(canonical.encode("utf-8")).hexdigest(), title=title,
                               profile=profile, url=url, text=canonical, meta=dict(meta))
            s.add(snap)
            s.flush()
            src.current_snapshot_id = src.reviewed_snapshot_id = snap.id
            src.title = title or src.title
            s.add(ReviewRow(source_id=src.id, snapshot_id=snap.id, content_hash=snap.content_hash,
                            reviewed_by=reviewed_by, reviewed_at=reviewed_at,
                            note="imported from the committed snapshot file"))
            return snapshot_record(snap)

    # -- fetches --------------------------------------------------------------------------

    def record_fetch(self, outcome: FetchOutcome, page: Page | None, *, unreachable_after: int = 3,
                     next_due_at: datetime | None = None, suspect_hash: str | None = None) -> RecordResult:
        """Record one fetch atomically; a new snapshot only when the normalised text changed.

        A failed fetch never touches snapshots: it only counts towards 'unreachable'.
        `suspect_hash`: the content hash of a page held back as suspect (`guidewatch.pages.suspect`),
        kept on the failed fetch so that a later crawl can tell it sees the same page again.
        """
        now = outcome.fetched_at or utcnow()
        with self.db.session() as s:
            src = s.scalar(select(SourceRow).where(SourceRow.url == outcome.url))
            if src is None:
                raise StoreError(f"unknown source {outcome.url}")
            s.add(_fetch_row(src.id, outcome, now, page.content_hash if page is not None else suspect_hash))
            _checked(src, now, next_due_at)
            result = RecordResult(source=source_state(src))
            if outcome.status in ("failed", "blocked"):
                _failed(src, outcome, now, unreachable_after)
            elif _answered(src, outcome, page, now) and page is not None:
                _keep_versions(s, [(src, _version_row(s, src, outcome, page, now, result), now, result)])
            result.source = source_state(src)
            return result

    def record_pages(self, items: Sequence[tuple[FetchOutcome, Page, datetime | None]]) -> list[RecordResult]:
        """Record many answers that carry a page (outcome, page, next due), in ONE transaction.

        Each source as `record_fetch` records the same answer; all of them are stored or none
        (a crawl killed before the commit simply fetches them again). The sources are read in
        one query and their current versions in another. A source may appear only once.
        """
        if not items:
            return []
        urls = [outcome.url for outcome, _, _ in items]
        if len(set(urls)) != len(urls):
            raise StoreError("the same source twice in one batch of pages")
        with self.db.session() as s:
            rows = {r.url: r for r in s.scalars(select(SourceRow).where(SourceRow.url.in_(urls)))}
            if unknown := [u for u in urls if u not in rows]:
                raise StoreError(f"unknown source {unknown[0]}")
            current = [r.current_snapshot_id for r in rows.values() if r.current_snapshot_id is not None]
            if current:  # into the session's identity map, where `_version_row` finds them
                s.scalars(select(SnapshotRow).where(SnapshotRow.id.in_(current))).all()
            kept: list[Kept] = []
            for outcome, page, due in items:
                src, now = rows[outcome.url], outcome.fetched_at or utcnow()
                s.add(_fetch_row(src.id, outcome, now, page.content_hash))
                _checked(src, now, due)
                result = RecordResult(source=source_state(src))
                snap = _version_row(s, src, outcome, page, now, result) if _answered(src, outcome, page, now) else None
                kept.append((src, snap, now, result))
            _keep_versions(s, kept)
            for src, _, _, result in kept:
                result.source = source_state(src)
            return [result for _, _, _, result in kept]

    def record_not_modified(self, items: Sequence[tuple[int, FetchOutcome, datetime | None]]) -> None:
        """Record many 304 answers (source id, outcome, next due) in one transaction.

        The same effect on each source as `record_fetch` with a 304, in two statements
        instead of a transaction per source: an unchanged re-crawl is mostly 304s.
        """
        if not items:
            return
        fetches, sources = [], []
        for source_id, outcome, due in items:
            now = outcome.fetched_at or utcnow()
            fetches.append(dict(source_id=source_id, fetched_at=now, status=outcome.status,
                                http_status=outcome.http_status, final_url=outcome.final_url,
                                elapsed_ms=outcome.elapsed_ms, headers=dict(outcome.headers), content_hash=None,
                                error=outcome.error, transient=outcome.transient, via_api=outcome.via_api))
            sources.append(dict(b_id=source_id, b_now=now, b_due=due, b_etag=outcome.headers.get("etag") or None,
                                b_lm=outcome.headers.get("last-modified") or None))
        with self.db.session() as s:
            s.execute(insert(FetchRow), fetches)
            s.connection().execute(_NOT_MODIFIED, sources)

    def fetch_history(self, url: str, limit: int = 20) -> list[dict[str, Any]]:
        with self.db.session() as s:
            src = s.scalar(select(SourceRow).where(SourceRow.url == url))
            if src is None:
                return []
            rows = s.scalars(select(FetchRow).where(FetchRow.source_id == src.id)
                             .order_by(FetchRow.id.desc()).limit(limit))
            return [{"fetched_at": r.fetched_at, "status": r.status, "http_status": r.http_status,
                     "error": r.error, "transient": r.transient, "content_hash": r.content_hash} for r in rows]


def _not_modified_update() -> Any:
    """One UPDATE for many 304s: what `_answered` does to a source, in SQL."""
    t = SourceRow.__table__
    when = t.c.last_checked_at.type
    return (update(t).where(t.c.id == bindparam("b_id")).values(
        last_checked_at=bindparam("b_now", type_=when), last_ok_at=bindparam("b_now", type_=when),
        next_due_at=func.coalesce(bindparam("b_due", type_=when), t.c.next_due_at),
        consecutive_failures=0, first_failed_at=None, last_error=None,
        etag=func.coalesce(bindparam("b_etag", type_=t.c.etag.type), t.c.etag),
        last_modified=func.coalesce(bindparam("b_lm", type_=t.c.last_modified.type), t.c.last_modified),
        state=case((or_(*(t.c.state == state for state in CLEARED_BY_AN_ANSWER)), "ok"), else_=t.c.state)))


_NOT_MODIFIED = _not_modified_update()


def _fetch_row(source_id: int, outcome: FetchOutcome, now: datetime, content_hash: str | None) -> FetchRow:
    return FetchRow(source_id=source_id, fetched_at=now, status=outcome.status, http_status=outcome.http_status,
                    final_url=outcome.final_url, elapsed_ms=outcome.elapsed_ms, headers=dict(outcome.headers),
                    content_hash=content_hash, error=outcome.error, transient=outcome.transient,
                    via_api=outcome.via_api)


def _checked(src: SourceRow, now: datetime, next_due_at: datetime | None) -> None:
    src.last_checked_at = now
    if next_due_at is not None:
        src.next_due_at = next_due_at


def _failed(src: SourceRow, outcome: FetchOutcome, now: datetime, unreachable_after: int) -> None:
    src.consecutive_failures += 1
    src.first_failed_at = src.first_failed_at or now
    src.last_error = outcome.error
    src.state = after_failure(src.state, src.consecutive_failures, unreachable_after)


def _answered(src: SourceRow, outcome: FetchOutcome, page: Page | None, now: datetime) -> bool:
    """Record that the source answered; True when it sent a page to compare with the stored version."""
    src.consecutive_failures, src.first_failed_at, src.last_error = 0, None, None
    src.last_ok_at = now
    src.state = after_answer(src.state, outcome.status, has_page=page is not None, moved=outcome.moved,
                             withdrawn=page is not None and bool(page.metadata.get("withdrawn_at")))
    if outcome.status in ("gone", "soft_404"):
        return False
    if outcome.moved:
        src.final_url = outcome.final_url
    src.etag = outcome.headers.get("etag") or src.etag
    src.last_modified = outcome.headers.get("last-modified") or src.last_modified
    if outcome.status == "not_modified" or page is None:
        return False
    src.title = page.title or src.title
    return True


Kept = tuple[SourceRow, SnapshotRow | None, datetime, RecordResult]


def _version_row(s: Session, src: SourceRow, outcome: FetchOutcome, page: Page, now: datetime,
                 result: RecordResult) -> SnapshotRow | None:
    """The page as a new version to store (None: it is not one; a metadata refresh is applied), as
    `version_change` decides."""
    current = s.get(SnapshotRow, src.current_snapshot_id) if src.current_snapshot_id else None
    result.previous_snapshot = snapshot_record(current) if current else None
    decided = version_change(current.content_hash if current else None, current.meta if current else None,
                             page.content_hash, page.metadata)
    if decided == "metadata" and current is not None:
        current.meta = dict(page.metadata)
        result.notes.append("metadata updated")
    if decided != "new":
        return None
    return SnapshotRow(source_id=src.id, fetched_at=now, content_hash=page.content_hash or "", title=page.title,
                       profile=page.profile, url=outcome.final_url or outcome.url, text=page.text(),
                       meta=dict(page.metadata))


def _keep_versions(s: Session, kept: Sequence[Kept]) -> None:
    """Store the new versions, each its source's current one (the first a source has is also its
    reviewed baseline), with two flushes however many there are: one for the versions, one for the reviews."""
    new = [(src, snap, now, result) for src, snap, now, result in kept if snap is not None]
    if not new:
        return
    s.add_all([snap for _, snap, _, _ in new])
    s.flush()
    reviews = []
    for src, snap, now, result in new:
        src.current_snapshot_id = snap.id
        result.new_snapshot = snapshot_record(snap)
        if src.reviewed_snapshot_id is None:
            src.reviewed_snapshot_id = snap.id  # the first version seen is the baseline
            reviews.append((result, ReviewRow(source_id=src.id, snapshot_id=snap.id, content_hash=snap.content_hash,
                                              reviewed_by="guidewatch (baseline)", reviewed_at=now,
                                              note="first version seen; accepted as the baseline",
                                              alerts_closed=0)))
    if not reviews:
        return
    s.add_all([review for _, review in reviews])
    s.flush()
    for result, r in reviews:
        result.baseline_review = ReviewRecord(r.id, result.source.url, r.snapshot_id, r.content_hash,
                                              r.reviewed_by, r.reviewed_at, r.note, 0)

"""The reviews repository: editors accepting a source's current version, and the audit trail."""

from __future__ import annotations

from sqlalchemy import select

from guidewatch.store.engine import Db, StoreError
from guidewatch.store.records import ReviewRecord, SnapshotRecord, review_record, snapshot_record
from guidewatch.store.schema import AlertRow, ReviewRow, SnapshotRow, SourceRow, utcnow


class Reviews:
    def __init__(self, db: Db) -> None:
        self.db = db

    def accept(self, source_url: str, *, by: str,
               note: str | None = None) -> tuple[ReviewRecord, SnapshotRecord | None]:
        """Record a review of the source's current version: closes its open alerts, moves the baseline."""
        now = utcnow()
        with self.db.session() as s:
            src = s.scalar(select(SourceRow).where(SourceRow.url == source_url))
            if src is None:
                src = s.scalar(select(SourceRow).where(SourceRow.final_url == source_url))
            if src is None:
                raise StoreError(f"{source_url}: not a watched source (see `guidewatch guides`)")
            snap = s.get(SnapshotRow, src.current_snapshot_id) if src.current_snapshot_id else None
            closed = 0
            for a in s.scalars(select(AlertRow).where(AlertRow.source_id == src.id)
                               .where(AlertRow.status == "open")):
                a.status, a.closed_at, a.closed_by, a.note = "accepted", now, by, note
                closed += 1
            src.reviewed_snapshot_id = src.current_snapshot_id
            if src.state in ("moved", "withdrawn", "gone"):
                # The editor has seen the page-level event; keep the state for check unless it recovers.
                pass
            review = ReviewRow(source_id=src.id, snapshot_id=snap.id if snap else None,
                               content_hash=snap.content_hash if snap else None, reviewed_by=by, reviewed_at=now,
                               note=note, alerts_closed=closed)
            s.add(review)
            s.flush()
            rec = ReviewRecord(review.id, src.url, review.snapshot_id, review.content_hash, by, now, note, closed)
            return rec, (snapshot_record(snap) if snap else None)

    def find(self, source_url: str | None = None) -> list[ReviewRecord]:
        """The audit trail: every review, and every time guidewatch closed alerts itself."""
        with self.db.session() as s:
            q = select(ReviewRow, SourceRow.url).join(SourceRow, SourceRow.id == ReviewRow.source_id)
            if source_url:
                q = q.where(SourceRow.url == source_url)
            return [review_record(r, url) for r, url in s.execute(q.order_by(ReviewRow.id))]

    def last(self, source_id: int) -> ReviewRecord | None:
        """The last review of a version of the source (automatic closures are not reviews)."""
        with self.db.session() as s:
            row = s.scalar(select(ReviewRow).where(ReviewRow.source_id == source_id)
                           .where(ReviewRow.kind != "automatic").order_by(ReviewRow.id.desc()))
            if row is None:
                return None
            src = s.get(SourceRow, source_id)
            return review_record(row, src.url if src else "")

"""Every recorded version of one source, oldest first: what `guidewatch versions` and `diff` read.

A new module beside the store's own (read-only, one query) so it stays apart from the store's
repositories; it uses only the store's session and its snapshot row and record types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from guidewatch.store import SnapshotRecord, SnapshotRow

if TYPE_CHECKING:
    from guidewatch.store import Store


def source_snapshots(store: Store, source_id: int) -> list[SnapshotRecord]:
    """The source's snapshots in the order they were recorded (ids grow with time)."""
    with store.session() as s:
        rows = s.scalars(select(SnapshotRow).where(SnapshotRow.source_id == source_id).order_by(SnapshotRow.id))
        return [SnapshotRecord(r.id, r.source_id, r.url, r.fetched_at, r.content_hash, r.title, r.profile, r.text,
                               dict(r.meta or {})) for r in rows]

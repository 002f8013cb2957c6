"""The changes repository: detected changes, the guide sections they affect (impacts), the
alerts they open, and editors' "not relevant" marks. Which alerts a change opens or
supersedes is `changes.passages`' decision; this module only persists it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from guidewatch.changes.passages import (
    ANSWERS_AGAIN,
    NO_LONGER_DIFFERS,
    RECOVERABLE_EVENTS,
    OpenAlert,
    PriorEvent,
    alert_guides,
    is_repeat,
    on_passage,
    passage_key,
    stale_block_alerts,
)
from guidewatch.model import Change, DiffOp, Dismissal, Impact
from guidewatch.store.engine import Db, StoreError
from guidewatch.store.records import AlertRecord, ChangeRecord
from guidewatch.store.schema import (
    AlertRow,
    ChangeRow,
    DismissalRow,
    FetchRow,
    ImpactRow,
    ReviewRow,
    SnapshotRow,
    SourceRow,
    utcnow,
)


class Changes:
    def __init__(self, db: Db) -> None:
        self.db = db

    def record(self, source_id: int, old_snapshot_id: int | None, new_snapshot_id: int | None,
               changes: Sequence[tuple[Change, Sequence[Impact]]], *, min_alert_severity: str = "minor",
               replace_open: bool = True) -> list[int]:
        """Store changes (relative to the reviewed baseline) and open one alert per (guide, change).

        An open alert whose passage is changed again is superseded by the new one; with
        `replace_open`, open block alerts whose passage no longer differs are superseded too.
        Alerts are written here, before any delivery is attempted. Returns new alert ids.
        """
        now = utcnow()
        new_alert_ids: list[int] = []
        with self.db.session() as s:
            rows = {a.id: a for a in s.scalars(select(AlertRow).where(AlertRow.source_id == source_id)
                                                .where(AlertRow.status == "open"))}
            open_alerts = [_open_alert(s, a) for a in rows.values()]
            seen: set[str] = set()
            for change, impacts in changes:
                passage = passage_key(source_id, change)
                seen.add(passage)
                same = on_passage(open_alerts, passage)
                if is_repeat(change, same, partial(_prior_event, s, passage)):
                    continue
                row = _add_change(s, source_id, old_snapshot_id, new_snapshot_id, passage, change, impacts, now)
                for a in same:
                    rows[a.id].status, rows[a.id].closed_at, rows[a.id].superseded_by = "superseded", now, row.id
                for guide in alert_guides(change, impacts, min_alert_severity):
                    alert = AlertRow(guide=guide, change_id=row.id, source_id=source_id, status="open",
                                     created_at=now)
                    s.add(alert)
                    s.flush()
                    new_alert_ids.append(alert.id)
            if replace_open:
                for alert_id in stale_block_alerts(open_alerts, seen):
                    rows[alert_id].status, rows[alert_id].closed_at = "superseded", now
                    rows[alert_id].note = NO_LONGER_DIFFERS
        return new_alert_ids

    def exists_for(self, snapshot_id: int) -> bool:
        """Whether any change was recorded with this snapshot as its new version."""
        with self.db.session() as s:
            return s.scalar(select(ChangeRow.id).where(ChangeRow.new_snapshot_id == snapshot_id).limit(1)) is not None

    def find(self, *, since: datetime | None = None, source_url: str | None = None) -> list[ChangeRecord]:
        with self.db.session() as s:
            q = select(ChangeRow).order_by(ChangeRow.detected_at, ChangeRow.id)
            if since is not None:
                q = q.where(ChangeRow.detected_at >= since)
            if source_url is not None:
                q = q.where(ChangeRow.source_id.in_(_source_ids(source_url)))
            return [_change_record(s, r) for r in s.scalars(q)]

    # -- editors' "not relevant" marks ------------------------------------------------------

    def dismiss(self, change_id: int, section: str, *, by: str, note: str | None = None) -> Dismissal:
        """Mark one impact of a stored change not relevant: its (guide section, source passage) pair.

        `section` is "SECTION" or "GUIDE#SECTION"; it must be one the change was linked to.
        """
        with self.db.session() as s:
            row = s.get(ChangeRow, change_id)
            if row is None:
                raise StoreError(f"c{change_id}: no such change (see `guidewatch changes`)")
            guide, _, sid = section.rpartition("#")
            impacts = [i for i in s.scalars(select(ImpactRow).where(ImpactRow.change_id == change_id))
                       if i.section == sid and (not guide or i.guide == guide)]
            if len(impacts) != 1:
                linked = ", ".join(sorted(f"{i.guide}#{i.section}" for i in s.scalars(
                    select(ImpactRow).where(ImpactRow.change_id == change_id)))) or "none"
                what = "is ambiguous" if impacts else "is not linked to it"
                raise StoreError(f"c{change_id}: section {section} {what} (linked: {linked})")
            mark = DismissalRow(source_id=row.source_id, change_id=row.id, guide=impacts[0].guide, section=sid,
                                source_section=list(row.source_section), dismissed_by=by, dismissed_at=utcnow(),
                                note=note)
            s.add(mark)
            s.flush()
            src = s.get(SourceRow, row.source_id)
            return _dismissal(mark, src.url if src else "", impacts[0].evidence)

    def dismissals(self, source_url: str | None = None) -> list[Dismissal]:
        """Every mark (of one source), oldest first: what the linker is given as plain data."""
        with self.db.session() as s:
            q = _DISMISSALS.order_by(DismissalRow.id, ImpactRow.id)
            if source_url is not None:
                q = q.where(DismissalRow.source_id.in_(_source_ids(source_url)))
            seen: dict[int, Dismissal] = {}  # one query for every mark, not two per mark
            for r, url, evidence in s.execute(q):
                seen.setdefault(r.id, _dismissal(r, url, evidence))
            return list(seen.values())


class Alerts:
    def __init__(self, db: Db) -> None:
        self.db = db

    def find(self, *, status: str | None = "open", since: datetime | None = None, guide: str | None = None,
               source_url: str | None = None, ids: Sequence[int] | None = None) -> list[AlertRecord]:
        with self.db.session() as s:
            q = select(AlertRow).order_by(AlertRow.id)
            if status is not None:
                q = q.where(AlertRow.status == status)
            if since is not None:
                q = q.where(AlertRow.created_at >= since)
            if guide is not None:
                q = q.where(AlertRow.guide == guide)
            if ids is not None:
                q = q.where(AlertRow.id.in_(list(ids)))
            if source_url is not None:
                q = q.where(AlertRow.source_id.in_(_source_ids(source_url)))
            out = []
            for a in s.scalars(q):
                ch = s.get(ChangeRow, a.change_id)
                out.append(AlertRecord(a.id, a.guide, a.status, a.created_at, a.closed_at, a.closed_by, a.note,
                                       _change_record(s, ch)))
            return out

    def close_recovered(self, source_id: int) -> int:
        """Supersede the source's open gone/unreachable alerts: it answers again, nothing to re-read."""
        now = utcnow()
        with self.db.session() as s:
            rows = list(s.scalars(select(AlertRow).join(ChangeRow, ChangeRow.id == AlertRow.change_id)
                                  .where(AlertRow.source_id == source_id).where(AlertRow.status == "open")
                                  .where(ChangeRow.kind.in_(RECOVERABLE_EVENTS))))
            for a in rows:
                a.status, a.closed_at, a.note = "superseded", now, ANSWERS_AGAIN
            return len(rows)

    def close(self, source_id: int, *, kinds: Sequence[str] | None, status: str, note: str,
                     by: str) -> int:
        """Close the source's open alerts (of these change kinds; None: all) as the domain decided,
        and record it in the audit trail, in one transaction. Returns how many closed: 0 when a
        concurrent run closed them first, which then records nothing."""
        now = utcnow()
        with self.db.session() as s:
            q = (update(AlertRow).where(AlertRow.source_id == source_id).where(AlertRow.status == "open")
                 .values(status=status, closed_at=now, closed_by=by, note=note))
            if kinds is not None:
                q = q.where(AlertRow.change_id.in_(select(ChangeRow.id).where(ChangeRow.kind.in_(list(kinds)))))
            closed = s.execute(q.execution_options(synchronize_session=False)).rowcount
            if closed:
                src = s.get(SourceRow, source_id)
                snap = s.get(SnapshotRow, src.current_snapshot_id) if src and src.current_snapshot_id else None
                s.add(ReviewRow(source_id=source_id, snapshot_id=snap.id if snap else None,
                                content_hash=snap.content_hash if snap else None, reviewed_by=f"{by} (automatic)",
                                reviewed_at=now, note=note, alerts_closed=closed, kind="automatic"))
            return int(closed)

    def uncited_sources(self) -> list[int]:
        """Ids of sources no guide or config cites any more that still have open alerts."""
        with self.db.session() as s:
            q = (select(AlertRow.source_id).join(SourceRow, SourceRow.id == AlertRow.source_id)
                 .where(SourceRow.active.is_(False)).where(AlertRow.status == "open").distinct())
            return sorted(s.scalars(q))



def _source_ids(url: str) -> Any:
    """The id of the source at `url`, as a subquery (none: no rows)."""
    return select(SourceRow.id).where(SourceRow.url == url)


def _open_alert(s: Session, a: AlertRow) -> OpenAlert:
    ch = s.get_one(ChangeRow, a.change_id)  # the alert's change: a foreign key, never missing
    return OpenAlert(a.id, ch.passage, ch.scope, ch.new, ch.severity)


def _prior_event(s: Session, passage: str) -> PriorEvent | None:
    """The last change recorded on this passage, and whether its source answered since."""
    last = s.scalar(select(ChangeRow).where(ChangeRow.passage == passage).order_by(ChangeRow.id.desc()).limit(1))
    if last is None:
        return None
    ok = s.scalar(select(FetchRow.id).where(FetchRow.source_id == last.source_id)
                  .where(FetchRow.status.in_(("ok", "not_modified")))
                  .where(FetchRow.fetched_at > last.detected_at).limit(1))
    return PriorEvent(last.new, last.kind, answered_since=ok is not None)


def _add_change(s: Session, source_id: int, old_snapshot_id: int | None, new_snapshot_id: int | None,
                passage: str, change: Change, impacts: Sequence[Impact], now: datetime) -> ChangeRow:
    row = ChangeRow(source_id=source_id, old_snapshot_id=old_snapshot_id, new_snapshot_id=new_snapshot_id,
                    detected_at=now, passage=passage, kind=change.kind, severity=change.severity,
                    reason=change.reason, scope=change.scope, source_section=list(change.source_section),
                    old=change.old, new=change.new, ops=[[o.op, o.text] for o in change.ops],
                    context=change.context)
    s.add(row)
    s.flush()
    for imp in impacts:
        s.add(ImpactRow(change_id=row.id, guide=imp.guide, section=imp.section, heading=imp.heading,
                        score=imp.score, evidence=list(imp.evidence), tier=imp.tier, claim=imp.claim))
    s.flush()
    return row


def _change_record(s: Session, row: ChangeRow) -> ChangeRecord:
    src = s.get(SourceRow, row.source_id)
    impacts = s.scalars(select(ImpactRow).where(ImpactRow.change_id == row.id)
                        .order_by(ImpactRow.score.desc(), ImpactRow.id))
    change = Change(id=f"c{row.id}", kind=row.kind, severity=row.severity,  # type: ignore[arg-type]
                    reason=row.reason, source_section=tuple(row.source_section), old=row.old, new=row.new,
                    ops=[DiffOp(int(o), str(t)) for o, t in row.ops], scope=row.scope,  # type: ignore[arg-type]
                    context=row.context)
    return ChangeRecord(row.id, row.source_id, src.url if src else "", (src.title or "") if src else "",
                        row.detected_at, change,
                        tuple(Impact(i.guide, i.section, i.heading, i.score, tuple(i.evidence),
                                     "related" if i.tier == "related" else "reread", i.claim or "")
                              for i in impacts))


#: Each mark with its source's URL and the evidence of the impact it was made on.
_DISMISSALS = (
    select(DismissalRow, SourceRow.url, ImpactRow.evidence)
    .outerjoin(SourceRow, SourceRow.id == DismissalRow.source_id)
    .outerjoin(ImpactRow, (ImpactRow.change_id == DismissalRow.change_id) & (ImpactRow.guide == DismissalRow.guide)
               & (ImpactRow.section == DismissalRow.section))
)


def _dismissal(r: DismissalRow, url: str | None, evidence: list[str] | None) -> Dismissal:
    """The mark as the linker reads it, with the guide sentence of the evidence it was made on (the
    last of the stored impact's evidence), so a change meeting another sentence is new evidence."""
    note = f"on c{r.change_id}" + (f": {r.note}" if r.note else "")
    return Dismissal(r.guide, r.section, url or "", tuple(r.source_section), r.dismissed_by,
                     r.dismissed_at, note, sentence=evidence[-1] if evidence else "")

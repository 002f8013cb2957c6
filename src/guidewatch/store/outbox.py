"""The outbox repository: one delivery per digest, recipient and channel, claimed by one sender
at a time. When to retry, when to give up and when a claim is abandoned are decided in
`alerts.outbox` and `procs`; this module persists what they decide."""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from guidewatch.alerts.outbox import DELIVERY_LEASE, MAX_ERROR, after_failure, claim_name
from guidewatch.procs import Lease, claim_abandoned, claimer_id
from guidewatch.store.engine import Db
from guidewatch.store.records import DeliveryRecord, OutboxPlan, delivery_record
from guidewatch.store.schema import DeliveryRow, LockRow, utcnow


class Outbox:
    def __init__(self, db: Db) -> None:
        self.db = db

    def enqueue(self, key: str, channel: str, recipient: str, subject: str, payload: dict[str, Any],
                alert_ids: Sequence[int]) -> DeliveryRecord | None:
        """Add a delivery to the outbox; None when this key was queued before (idempotent)."""
        try:
            with self.db.session() as s:
                return _add(s, key, channel, recipient, subject, payload, alert_ids)
        except IntegrityError:
            return None

    def settle(self, channel: str, recipient: str,
               plan: Callable[[list[DeliveryRecord]], OutboxPlan]) -> DeliveryRecord | None:
        """Apply `plan` to one recipient's outbox (its deliveries, read here) in one transaction
        that holds that recipient's lock, so two runs settle it one after the other and never
        both from the same stale read. Returns the delivery queued, if any.

        The lock: an advisory lock per (channel, recipient) on PostgreSQL, with the rows read
        FOR UPDATE (a concurrent claim skips them); BEGIN IMMEDIATE on SQLite."""
        try:
            with self.db.session() as s:
                self._recipient_lock(s, channel, recipient)
                q = (select(DeliveryRow).where(DeliveryRow.channel == channel, DeliveryRow.recipient == recipient)
                     .order_by(DeliveryRow.id))
                if self.db.postgres:
                    q = q.with_for_update()
                decided = plan([delivery_record(r) for r in s.scalars(q)])
                for delivery_id, reason in decided.cancel:
                    _cancel(s, delivery_id, reason, ("pending",))
                new = decided.new
                if new is None or s.scalar(select(DeliveryRow.id).where(DeliveryRow.key == new.key)) is not None:
                    return None  # nothing to say, or this very digest was queued before (e.g. it is dead)
                return _add(s, new.key, channel, recipient, new.subject, new.payload, new.alert_ids)
        except IntegrityError:  # queued meanwhile by a writer that does not take the lock
            return None

    def _recipient_lock(self, s: Session, channel: str, recipient: str) -> None:
        if not self.db.postgres:
            self.db.claim_lock(s)
            return
        digest = hashlib.sha256(f"outbox:{channel}:{recipient}".encode()).digest()
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": int.from_bytes(digest[:8], "big", signed=True)})

    def claim(self, now: datetime | None = None, limit: int = 100,
              stale: timedelta = DELIVERY_LEASE) -> list[DeliveryRecord]:
        """Take due deliveries, marking them 'sending' so a concurrent worker skips them.

        Each claim is a lock row "delivery:<id>" (the claimer's host and pid) whose heartbeat
        is a lease: a live sender renews it (`renew`) however long it takes. A 'sending' row is
        taken again only when `procs.claim_abandoned` says so: its lease is older than `stale`,
        or its claimer was a process on this host that is gone (killed mid-delivery).
        Row locking as in `Sources.claim_due`: SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite.
        """
        now = now or utcnow()
        with self.db.session() as s:
            self.db.claim_lock(s)
            q = (select(DeliveryRow)
                 .where((DeliveryRow.status == "pending") & (DeliveryRow.next_attempt_at <= now))
                 .order_by(DeliveryRow.id).limit(limit))
            if self.db.postgres:
                q = q.with_for_update(skip_locked=True)
            rows = list(s.scalars(q))
            rows += self._abandoned_sending(s, now - stale)[: max(0, limit - len(rows))]
            host, pid = socket.gethostname(), os.getpid()
            for r in rows:
                r.status, r.next_attempt_at = "sending", now
                s.merge(LockRow(name=claim_name(r.id), holder=claimer_id(), pid=pid, host=host,
                                acquired_at=now, heartbeat_at=now))
            return [delivery_record(r) for r in rows]

    def _abandoned_sending(self, s: Session, expired: datetime) -> list[DeliveryRow]:
        host = socket.gethostname()
        q = select(DeliveryRow).where(DeliveryRow.status == "sending").order_by(DeliveryRow.id)
        if self.db.postgres:
            q = q.with_for_update(skip_locked=True)
        out = []
        for row in s.scalars(q):
            claim = s.get(LockRow, claim_name(row.id))
            lease = Lease(claim.holder, claim.host, claim.pid, claim.heartbeat_at) if claim else None
            if claim_abandoned(lease, claimed_at=row.next_attempt_at, expired=expired, host=host):
                out.append(row)
        return out

    def renew(self, delivery_ids: Sequence[int], now: datetime | None = None) -> int:
        """Renew this process's leases on these deliveries (those it still holds); returns how many."""
        if not delivery_ids:
            return 0
        with self.db.session() as s:
            res = s.execute(update(LockRow).where(LockRow.name.in_([claim_name(i) for i in delivery_ids]),
                                                  LockRow.holder == claimer_id())
                            .values(heartbeat_at=now or utcnow()))
            return int(res.rowcount or 0)

    def done(self, delivery_id: int) -> None:
        with self.db.session() as s:
            s.execute(update(DeliveryRow).where(DeliveryRow.id == delivery_id)
                      .values(status="sent", sent_at=utcnow(), last_error=None,
                              attempts=DeliveryRow.attempts + 1))
            s.query(LockRow).filter(LockRow.name == claim_name(delivery_id)).delete()

    def failed(self, delivery_id: int, error: str, *, retry_base: float, max_attempts: int,
               permanent: bool = False) -> None:
        """Record a failed attempt: retried later or given up, as `alerts.outbox.after_failure` decides."""
        with self.db.session() as s:
            row = s.get(DeliveryRow, delivery_id)
            if row is None:
                return
            s.query(LockRow).filter(LockRow.name == claim_name(delivery_id)).delete()
            decided = after_failure(row.attempts, now=utcnow(), retry_base=retry_base, max_attempts=max_attempts,
                                    permanent=permanent)
            row.attempts = decided.attempts
            row.last_error = error[:MAX_ERROR]
            if decided.next_attempt_at is None:
                row.status = "dead"
            else:
                row.status, row.next_attempt_at = "pending", decided.next_attempt_at

    def cancel(self, delivery_id: int, reason: str, *, statuses: Sequence[str] = ("pending",)) -> bool:
        """Withdraw an unsent delivery (its alerts were closed, or a newer digest carries them).

        Only from `statuses`, so a row a worker claimed meanwhile is left alone (False). The
        key is freed (suffixed), so the same digest can be queued again later."""
        with self.db.session() as s:
            return _cancel(s, delivery_id, reason, statuses)

    def find(self, status: str | None = None) -> list[DeliveryRecord]:
        with self.db.session() as s:
            q = select(DeliveryRow).order_by(DeliveryRow.id)
            if status:
                q = q.where(DeliveryRow.status == status)
            return [delivery_record(r) for r in s.scalars(q)]


def _add(s: Session, key: str, channel: str, recipient: str, subject: str, payload: dict[str, Any],
         alert_ids: Sequence[int]) -> DeliveryRecord:
    now = utcnow()
    row = DeliveryRow(key=key, channel=channel, recipient=recipient, status="pending", attempts=0,
                      next_attempt_at=now, created_at=now, subject=subject, payload=payload,
                      alert_ids=list(alert_ids))
    s.add(row)
    s.flush()
    return delivery_record(row)


def _cancel(s: Session, delivery_id: int, reason: str, statuses: Sequence[str]) -> bool:
    res = s.execute(update(DeliveryRow).where(DeliveryRow.id == delivery_id)
                    .where(DeliveryRow.status.in_(list(statuses)))
                    .values(status="cancelled", last_error=reason[:MAX_ERROR],
                            key=DeliveryRow.key + f"~{delivery_id}"))
    if res.rowcount:
        s.query(LockRow).filter(LockRow.name == claim_name(delivery_id)).delete()
    return bool(res.rowcount)

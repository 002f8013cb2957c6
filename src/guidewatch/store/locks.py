"""The locks repository: named locks in the store (one scheduler, one crawl), on SQLite and
PostgreSQL alike. When a held lock may be taken over is `procs.lock_takeable`'s decision."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from guidewatch.procs import Lease, lock_takeable
from guidewatch.store.engine import Db, LockHeld
from guidewatch.store.schema import LockRow, utcnow


class Locks:
    def __init__(self, db: Db) -> None:
        self.db = db

    def acquire(self, name: str, holder: str, *, stale_after: timedelta = timedelta(minutes=2)) -> None:
        """Take a named lock, or raise LockHeld.

        A holder refreshes `heartbeat_at`; a lock whose heartbeat is older than `stale_after`,
        or whose holder process is gone on this host, is taken over.
        """
        now = utcnow()
        host = socket.gethostname()
        try:
            with self.db.session() as s:
                row = s.get(LockRow, name, with_for_update=self.db.postgres)
                if row is None:
                    s.add(LockRow(name=name, holder=holder, pid=os.getpid(), host=host, acquired_at=now,
                                  heartbeat_at=now))
                    return
                lease = Lease(row.holder, row.host, row.pid, row.heartbeat_at)
                if not lock_takeable(lease, holder=holder, now=now, stale_after=stale_after, host=host):
                    raise LockHeld(f"{name} lock is held by {row.holder} (pid {row.pid} on {row.host}) "
                                   f"since {row.acquired_at:%Y-%m-%d %H:%M:%S} UTC")
                # Compare-and-set on the old holder: on SQLite two processes can both read
                # the same dead row; only the first UPDATE may win the takeover.
                taken = s.execute(update(LockRow).where(LockRow.name == name, LockRow.holder == row.holder)
                                  .values(holder=holder, pid=os.getpid(), host=host, acquired_at=now,
                                          heartbeat_at=now)).rowcount
                if not taken:
                    raise LockHeld(f"{name} lock is held by another process, which has just taken it")
        except IntegrityError:
            raise LockHeld(f"{name} lock is held by another process, which has just taken it") from None

    def heartbeat(self, name: str, holder: str) -> bool:
        """Say the holder is alive; False when it no longer holds the lock (taken over)."""
        with self.db.session() as s:
            res = s.execute(update(LockRow).where(LockRow.name == name).where(LockRow.holder == holder)
                            .values(heartbeat_at=utcnow()))
            return bool(res.rowcount)

    def release(self, name: str, holder: str) -> None:
        with self.db.session() as s:
            s.query(LockRow).filter(LockRow.name == name, LockRow.holder == holder).delete()

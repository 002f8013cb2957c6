"""The store: the only code that touches the database.

`Store` is the composition root: one engine and one small repository per aggregate
(`guides`, `sources` with their versions, `changes`, `alerts`, `reviews`, `outbox`, `locks`,
`guide_events`).
Callers get plain dataclasses back (model.py and `store.records`), never ORM rows. Domain
policy (superseding, significant metadata, retry back-off, lease expiry) lives in pure
modules (`changes.passages`, `pages.versions`, `alerts.outbox`, `procs`); the repositories
persist what those decide. Schema changes go through the Alembic migrations in
`store/migrations`, applied automatically the first time a store is opened.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from guidewatch.alerts.outbox import DELIVERY_LEASE
from guidewatch.changes.passages import RECOVERABLE_EVENTS
from guidewatch.pages.versions import SIGNIFICANT_META
from guidewatch.store.changes import Alerts, Changes
from guidewatch.store.engine import MIGRATIONS, SCHEMA_HEAD, Db, LockHeld, StoreError, at_head, make_engine, migrate
from guidewatch.store.guide_events import GuideEvent, GuideEvents
from guidewatch.store.guides import Guides
from guidewatch.store.locks import Locks
from guidewatch.store.outbox import Outbox
from guidewatch.store.records import (
    AlertRecord,
    ChangeRecord,
    DeliveryRecord,
    NewDelivery,
    OutboxPlan,
    RecordResult,
    ReviewRecord,
    SnapshotRecord,
    SourceState,
)
from guidewatch.store.reviews import Reviews
from guidewatch.store.schema import (
    AlertRow,
    Base,
    ChangeRow,
    CitationRow,
    DeliveryRow,
    DismissalRow,
    FetchRow,
    GuideRow,
    ImpactRow,
    LockRow,
    ReviewRow,
    SectionRow,
    SnapshotRow,
    SourceRow,
    UTCDateTime,
    utcnow,
)
from guidewatch.store.sources import Sources

__all__ = [
    "DELIVERY_LEASE", "MIGRATIONS", "RECOVERABLE_EVENTS", "SCHEMA_HEAD", "SIGNIFICANT_META",
    "AlertRecord", "AlertRow", "Alerts", "Base", "ChangeRecord", "ChangeRow", "Changes", "CitationRow", "Db",
    "DeliveryRecord", "DeliveryRow", "DismissalRow", "FetchRow", "GuideEvent", "GuideEvents",
    "GuideRow", "Guides", "ImpactRow", "LockHeld",
    "LockRow", "Locks", "NewDelivery", "Outbox", "OutboxPlan", "RecordResult", "ReviewRecord", "ReviewRow",
    "Reviews", "SectionRow", "SnapshotRecord", "SnapshotRow", "SourceRow", "SourceState", "Sources", "Store",
    "StoreError", "UTCDateTime", "at_head", "make_engine", "migrate", "utcnow",
]  # fmt: skip


class Store:
    """One database: its engine, and a repository per aggregate sharing its sessions."""

    def __init__(self, url: str, *, auto_migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if auto_migrate:
            migrate(self.engine)
        self.db = Db(self.engine)
        self.guides = Guides(self.db)
        self.sources = Sources(self.db)
        self.changes = Changes(self.db)
        self.alerts = Alerts(self.db)
        self.reviews = Reviews(self.db)
        self.outbox = Outbox(self.db)
        self.locks = Locks(self.db)
        self.guide_events = GuideEvents(self.db)  # guides a sitemap added or dropped (the audit)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction for tests and tools that inspect rows directly."""
        with self.db.session() as s:
            yield s


from guidewatch.store import web as _web  # noqa: E402,F401  the review app's rows (login tokens, impact actions), on this Base

"""The store: SQLAlchemy 2 models and the only code that touches them.

Callers get plain dataclasses back (model.py and the records below), never ORM objects.
Schema changes go through the Alembic migrations in `guidewatch/migrations`, which are
applied automatically the first time a store is opened.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    case,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from guidewatch.exitcodes import USAGE
from guidewatch.model import Change, DiffOp, Dismissal, FetchOutcome, Guide, Impact, Page, Section, parse_blocks


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on SQLite as well as PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class GuideRow(Base):
    __tablename__ = "guides"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(10))
    editors: Mapped[list[str]] = mapped_column(JSON, default=list)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SectionRow(Base):
    __tablename__ = "sections"
    id: Mapped[int] = mapped_column(primary_key=True)
    guide_id: Mapped[int] = mapped_column(ForeignKey("guides.id", ondelete="CASCADE"), index=True)
    sid: Mapped[str] = mapped_column(String(300))
    heading: Mapped[str] = mapped_column(Text)
    level: Mapped[int] = mapped_column(Integer)
    path: Mapped[list[str]] = mapped_column(JSON)
    own_text: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    ord: Mapped[int] = mapped_column(Integer)
    parent: Mapped[str | None] = mapped_column(String(300), nullable=True)


class CitationRow(Base):
    __tablename__ = "citations"
    id: Mapped[int] = mapped_column(primary_key=True)
    guide_id: Mapped[int] = mapped_column(ForeignKey("guides.id", ondelete="CASCADE"), index=True)
    section: Mapped[str] = mapped_column(String(300))
    url: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    mention: Mapped[str | None] = mapped_column(String(100), nullable=True)  # a named body without a link


class SourceRow(Base):
    __tablename__ = "sources"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    profile: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20), default="new")  # new|ok|gone|moved|withdrawn|unreachable
    final_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    title: Mapped[str | None] = mapped_column(Text, nullable=True)
    etag: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_modified: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    current_snapshot_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reviewed_snapshot_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # still cited by a guide or configured


class FetchRow(Base):
    __tablename__ = "fetches"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    final_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    elapsed_ms: Mapped[int] = mapped_column(Integer, default=0)
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    transient: Mapped[bool] = mapped_column(Boolean, default=False)
    via_api: Mapped[bool] = mapped_column(Boolean, default=False)


class SnapshotRow(Base):
    __tablename__ = "snapshots"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    profile: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class ChangeRow(Base):
    __tablename__ = "changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    old_snapshot_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    new_snapshot_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    passage: Mapped[str] = mapped_column(String(64), index=True)  # identity of the changed passage
    kind: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(10), default="block")
    source_section: Mapped[list[str]] = mapped_column(JSON, default=list)
    old: Mapped[str] = mapped_column(Text)
    new: Mapped[str] = mapped_column(Text)
    ops: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)
    context: Mapped[str] = mapped_column(Text, default="")


class ImpactRow(Base):
    __tablename__ = "impacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("changes.id", ondelete="CASCADE"), index=True)
    guide: Mapped[str] = mapped_column(String(200))
    section: Mapped[str] = mapped_column(String(300))
    heading: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    evidence: Mapped[list[str]] = mapped_column(JSON, default=list)
    tier: Mapped[str] = mapped_column(String(10), default="reread")  # reread|related
    claim: Mapped[str] = mapped_column(Text, default="")  # the changed source sentence


class AlertRow(Base):
    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("guide", "change_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    guide: Mapped[str] = mapped_column(String(200), index=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("changes.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)  # open|accepted|superseded
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(Text, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    superseded_by: Mapped[int | None] = mapped_column(Integer, nullable=True)


class DeliveryRow(Base):
    """The outbox: one row per digest, recipient and channel; the key makes a resend impossible."""

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(Text)
    # pending|sending|sent|dead|cancelled
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # rendered bodies, frozen at creation
    alert_ids: Mapped[list[int]] = mapped_column(JSON, default=list)


class ReviewRow(Base):
    """Audit trail: who reviewed which version of which source, and when. Never deleted."""

    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    snapshot_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reviewed_by: Mapped[str] = mapped_column(Text)
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    alerts_closed: Mapped[int] = mapped_column(Integer, default=0)
    # "review": an editor (or the first version, or a committed file) reviewed this version;
    # "automatic": guidewatch closed alerts itself (a re-reviewed page, a source no longer cited)
    kind: Mapped[str] = mapped_column(String(20), default="review", server_default="review")


class DismissalRow(Base):
    """An editor's "not relevant" mark on a (guide section, source passage) pair. Never deleted: audit trail."""

    __tablename__ = "dismissals"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    change_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the change it was seen on
    guide: Mapped[str] = mapped_column(String(200))
    section: Mapped[str] = mapped_column(String(300))
    source_section: Mapped[list[str]] = mapped_column(JSON, default=list)
    dismissed_by: Mapped[str] = mapped_column(Text)
    dismissed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class LockRow(Base):
    __tablename__ = "locks"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(Text)
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(Text)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- records handed to callers ------------------------------------------------------------


@dataclass(frozen=True)
class SourceState:
    id: int
    url: str
    profile: str
    state: str
    final_url: str | None
    title: str | None
    etag: str | None
    last_modified: str | None
    last_checked_at: datetime | None
    last_ok_at: datetime | None
    consecutive_failures: int
    first_failed_at: datetime | None
    last_error: str | None
    current_snapshot_id: int | None
    reviewed_snapshot_id: int | None
    next_due_at: datetime | None
    active: bool


@dataclass(frozen=True)
class SnapshotRecord:
    id: int
    source_id: int
    url: str
    fetched_at: datetime
    content_hash: str
    title: str
    profile: str
    text: str
    meta: dict[str, str]

    def page(self) -> Page:
        return Page(url=self.url, profile=self.profile, title=self.title, blocks=parse_blocks(self.text),
                    metadata=dict(self.meta))


@dataclass(frozen=True)
class ChangeRecord:
    id: int
    source_id: int
    source_url: str
    source_title: str
    detected_at: datetime
    change: Change
    impacts: tuple[Impact, ...]


@dataclass(frozen=True)
class AlertRecord:
    id: int
    guide: str
    status: str
    created_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    note: str | None
    change: ChangeRecord


@dataclass(frozen=True)
class DeliveryRecord:
    id: int
    key: str
    channel: str
    recipient: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    subject: str
    payload: dict[str, Any]
    alert_ids: tuple[int, ...]
    sent_at: datetime | None


@dataclass(frozen=True)
class NewDelivery:
    """A digest to queue for one recipient, rendered and frozen."""

    key: str
    subject: str
    payload: dict[str, Any]
    alert_ids: tuple[int, ...]


@dataclass(frozen=True)
class OutboxPlan:
    """What to do with one recipient's outbox: withdraw these unsent deliveries (id, reason),
    then queue `new` (None: nothing)."""

    cancel: tuple[tuple[int, str], ...] = ()
    new: NewDelivery | None = None


@dataclass(frozen=True)
class ReviewRecord:
    id: int
    source_url: str
    snapshot_id: int | None
    content_hash: str | None
    reviewed_by: str
    reviewed_at: datetime
    note: str | None
    alerts_closed: int
    automatic: bool = False  # guidewatch closed alerts itself; not a review of the version


@dataclass
class RecordResult:
    """What recording one fetch did to the store."""

    source: SourceState
    new_snapshot: SnapshotRecord | None = None
    previous_snapshot: SnapshotRecord | None = None
    notes: list[str] = field(default_factory=list)
    baseline_review: ReviewRecord | None = None  # set when this fetch made the first version the baseline


class StoreError(RuntimeError):
    exit_code = USAGE  # a request the store cannot do as asked (unknown source, lock held)


class LockHeld(StoreError):
    pass


# --- the store ----------------------------------------------------------------------------

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


#: How long a delivery claim lasts without renewal before another run may take it over.
DELIVERY_LEASE = timedelta(minutes=10)

#: The newest migration's revision id (tests check it against Alembic's own head).
SCHEMA_HEAD = "0004"


def at_head(engine: Engine) -> bool:
    """Whether the schema is already at `SCHEMA_HEAD`: then every command skips importing and
    running Alembic (~15 MB and ~0.2 s of each start-up)."""
    from sqlalchemy import inspect

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        return [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))] == [SCHEMA_HEAD]


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent, safe to run every start)."""
    if at_head(engine):
        return
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from sqlalchemy.exc import DBAPIError

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    for attempt in range(3):
        try:
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    # Two processes opening a fresh database: the second waits for the first.
                    conn.execute(text("SELECT pg_advisory_xact_lock(7301946523)"))
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
            return
        except DBAPIError as exc:
            # SQLite has no advisory lock: a racing first start sees "already exists"; the
            # other process has created the schema, so upgrading again finds it at head.
            if attempt == 2 or "already exists" not in str(exc.orig):
                raise


#: Page-level events that end when the source answers again.
RECOVERABLE_EVENTS = ("gone", "unreachable")


def _passage_key(source_id: int, change: Change) -> str:
    raw = json.dumps([source_id, change.scope, change.kind if change.scope == "page" else "",
                      list(change.source_section), change.old if change.scope == "block" else ""])
    return hashlib.sha256(raw.encode()).hexdigest()


#: Metadata whose change makes a new version even when the text is the same.
SIGNIFICANT_META = ("change_note", "change_note_at", "withdrawn_at", "withdrawn_explanation")


def _significant_meta_change(old: dict[str, str], new: dict[str, str]) -> bool:
    return any(old.get(k) != new.get(k) for k in SIGNIFICANT_META)


class Store:
    def __init__(self, url: str, *, auto_migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if auto_migrate:
            migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as s:
            yield s

    # -- guides ---------------------------------------------------------------------------

    def sync_guides(self, guides: Sequence[Guide], sources: Mapping[str, str]) -> list[str]:
        """Replace stored guides with these, and make `sources` the active ones.

        `sources` maps every source to watch to its profile name, as the caller decided it
        (`pipeline.watched_sources`: the loaded profile set and the config, never the store).
        Returns the active source URLs.
        """
        now = utcnow()
        wanted = dict(sources)
        with self.session() as s:
            slugs = {g.slug for g in guides}
            for row in s.scalars(select(GuideRow)):
                if row.slug not in slugs:
                    s.delete(row)
            for g in guides:
                row = s.scalar(select(GuideRow).where(GuideRow.slug == g.slug))
                if row is None:
                    row = GuideRow(slug=g.slug)
                    s.add(row)
                row.title, row.source, row.format = g.title, g.source, g.format
                row.editors, row.loaded_at = list(g.editors), now
                s.flush()
                s.query(SectionRow).filter(SectionRow.guide_id == row.id).delete()
                s.query(CitationRow).filter(CitationRow.guide_id == row.id).delete()
                # Bulk INSERTs (executemany): every command re-syncs every guide.
                sections = [dict(guide_id=row.id, sid=sec.id, heading=sec.heading, level=sec.level,
                                 path=list(sec.path), own_text=sec.own_text, text=sec.text, ord=sec.order,
                                 parent=sec.parent) for sec in g.sections]
                citations = [dict(guide_id=row.id, section=c.section, url=c.url, text=c.text, internal=c.internal,
                                  mention=None) for c in g.citations]
                citations += [dict(guide_id=row.id, section=m.section, url="", text=m.body, internal=True,
                                   mention=m.body) for m in g.mentions]
                if sections:
                    s.execute(insert(SectionRow), sections)
                if citations:
                    s.execute(insert(CitationRow), citations)
            existing: set[str] = set()
            for src in s.scalars(select(SourceRow)):  # one pass; UPDATE only what changed (N sources)
                existing.add(src.url)
                src.active = src.url in wanted
                if src.active and src.profile != wanted[src.url]:
                    src.profile = wanted[src.url]
            for url, profile in wanted.items():
                if url not in existing:
                    s.add(SourceRow(url=url, profile=profile, state="new", next_due_at=now))
        return sorted(wanted)

    def guides(self) -> list[Guide]:
        from guidewatch.model import Citation, Mention

        out: list[Guide] = []
        with self.session() as s:
            for row in s.scalars(select(GuideRow).order_by(GuideRow.slug)):
                secs = s.scalars(select(SectionRow).where(SectionRow.guide_id == row.id).order_by(SectionRow.ord))
                sections = [Section(row.slug, r.sid, r.heading, r.level, tuple(r.path), r.own_text, r.text, r.ord,
                                    r.parent) for r in secs]
                cits = list(s.scalars(select(CitationRow).where(CitationRow.guide_id == row.id)
                                      .order_by(CitationRow.id)))
                citations = [Citation(row.slug, c.section, c.url, c.text, c.internal) for c in cits if not c.mention]
                mentions = [Mention(row.slug, c.section, c.mention) for c in cits if c.mention]
                out.append(Guide(row.slug, row.title, row.source, row.format, sections,  # type: ignore[arg-type]
                                 citations, mentions, tuple(row.editors or ())))
        return out

    # -- sources --------------------------------------------------------------------------

    @staticmethod
    def _source(row: SourceRow) -> SourceState:
        return SourceState(row.id, row.url, row.profile, row.state, row.final_url, row.title, row.etag,
                           row.last_modified, row.last_checked_at, row.last_ok_at, row.consecutive_failures,
                           row.first_failed_at, row.last_error, row.current_snapshot_id,
                           row.reviewed_snapshot_id, row.next_due_at, row.active)

    def sources(self, *, active_only: bool = True) -> list[SourceState]:
        with self.session() as s:
            q = select(SourceRow).order_by(SourceRow.url)
            if active_only:
                q = q.where(SourceRow.active.is_(True))
            return [self._source(r) for r in s.scalars(q)]

    def source(self, url: str) -> SourceState | None:
        with self.session() as s:
            row = s.scalar(select(SourceRow).where(SourceRow.url == url))
            if row is None:
                row = s.scalar(select(SourceRow).where(SourceRow.final_url == url))
            return self._source(row) if row else None

    def due_sources(self, now: datetime | None = None) -> list[SourceState]:
        now = now or utcnow()
        with self.session() as s:
            q = (select(SourceRow).where(SourceRow.active.is_(True))
                 .where((SourceRow.next_due_at.is_(None)) | (SourceRow.next_due_at <= now))
                 .order_by(SourceRow.next_due_at))
            return [self._source(r) for r in s.scalars(q)]

    def claim_due_sources(self, worker: str, limit: int, now: datetime | None = None,
                          lease: timedelta = timedelta(minutes=30)) -> list[SourceState]:
        """Take up to `limit` due sources for one worker; concurrent workers never get the same one.

        On PostgreSQL this is SELECT ... FOR UPDATE SKIP LOCKED; on SQLite the claim runs in a
        BEGIN IMMEDIATE transaction (pysqlite would read outside any transaction, and two
        processes could then claim the same rows). Claiming pushes next_due_at out by the
        lease, so the sources of a worker that dies come due again later.
        """
        now = now or utcnow()
        with self.session() as s:
            self._claim_lock(s)
            q = (select(SourceRow).where(SourceRow.active.is_(True))
                 .where((SourceRow.next_due_at.is_(None)) | (SourceRow.next_due_at <= now))
                 .order_by(SourceRow.next_due_at, SourceRow.id).limit(limit))
            if self.engine.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            rows = list(s.scalars(q))
            for r in rows:
                r.next_due_at = now + lease
            return [self._source(r) for r in rows]

    def _claim_lock(self, s: Session) -> None:
        """On SQLite, take the write lock before the claim's SELECT (PostgreSQL locks the rows)."""
        if self.engine.dialect.name == "sqlite":
            s.connection().exec_driver_sql("BEGIN IMMEDIATE")

    def set_next_due(self, source_id: int, when: datetime) -> None:
        with self.session() as s:
            s.execute(update(SourceRow).where(SourceRow.id == source_id).values(next_due_at=when))

    # -- fetches and snapshots ------------------------------------------------------------

    @staticmethod
    def _snapshot(row: SnapshotRow) -> SnapshotRecord:
        return SnapshotRecord(row.id, row.source_id, row.url, row.fetched_at, row.content_hash, row.title,
                              row.profile, row.text, dict(row.meta or {}))

    def snapshot(self, snapshot_id: int | None) -> SnapshotRecord | None:
        if snapshot_id is None:
            return None
        with self.session() as s:
            row = s.get(SnapshotRow, snapshot_id)
            return self._snapshot(row) if row else None

    def snapshot_hashes(self, snapshot_ids: Sequence[int | None]) -> dict[int, str]:
        """Content hashes of these snapshots, without loading their text (a cheap check per 304)."""
        ids = [i for i in snapshot_ids if i is not None]
        if not ids:
            return {}
        with self.session() as s:
            rows = s.execute(select(SnapshotRow.id, SnapshotRow.content_hash).where(SnapshotRow.id.in_(ids)))
            return {row_id: content_hash for row_id, content_hash in rows}

    def record_fetch(self, outcome: FetchOutcome, page: Page | None, *, unreachable_after: int = 3,
                     next_due_at: datetime | None = None, suspect_hash: str | None = None) -> RecordResult:
        """Record one fetch atomically; a new snapshot only when the normalised text changed.

        A failed fetch never touches snapshots: it only counts towards 'unreachable'.
        `suspect_hash`: the content hash of a page held back as suspect (`guidewatch.pages.suspect`),
        kept on the failed fetch so that a later crawl can tell it sees the same page again.
        """
        now = outcome.fetched_at or utcnow()
        with self.session() as s:
            src = s.scalar(select(SourceRow).where(SourceRow.url == outcome.url))
            if src is None:
                raise StoreError(f"unknown source {outcome.url}")
            content_hash = page.content_hash if page is not None else suspect_hash
            s.add(FetchRow(source_id=src.id, fetched_at=now, status=outcome.status, http_status=outcome.http_status,
                           final_url=outcome.final_url, elapsed_ms=outcome.elapsed_ms,
                           headers=dict(outcome.headers), content_hash=content_hash, error=outcome.error,
                           transient=outcome.transient, via_api=outcome.via_api))
            src.last_checked_at = now
            if next_due_at is not None:
                src.next_due_at = next_due_at
            result = RecordResult(source=self._source(src))
            if outcome.status in ("failed", "blocked"):
                src.consecutive_failures += 1
                src.first_failed_at = src.first_failed_at or now
                src.last_error = outcome.error
                if src.consecutive_failures >= unreachable_after and src.state not in ("gone",):
                    src.state = "unreachable"
                result.source = self._source(src)
                return result
            src.consecutive_failures, src.first_failed_at, src.last_error = 0, None, None
            src.last_ok_at = now
            if outcome.status in ("gone", "soft_404"):
                src.state = "gone"
                result.source = self._source(src)
                return result
            if outcome.moved:
                src.final_url = outcome.final_url
            src.etag = outcome.headers.get("etag") or src.etag
            src.last_modified = outcome.headers.get("last-modified") or src.last_modified
            if outcome.status == "not_modified" or page is None:
                if src.state in ("new", "unreachable"):
                    src.state = "ok"
                result.source = self._source(src)
                return result
            src.title = page.title or src.title
            src.state = "withdrawn" if page.metadata.get("withdrawn_at") else ("moved" if outcome.moved else "ok")
            current = s.get(SnapshotRow, src.current_snapshot_id) if src.current_snapshot_id else None
            result.previous_snapshot = self._snapshot(current) if current else None
            same_text = current is not None and current.content_hash == content_hash
            if same_text and not _significant_meta_change(current.meta or {}, page.metadata):
                if current.meta != page.metadata:
                    # Review dates and the like: page furniture, not a new version to review. The
                    # stored version takes them even when it is the reviewed one, so that what it
                    # says about the page's own dates is true (a re-reviewed page is not overdue).
                    current.meta = dict(page.metadata)
                    result.notes.append("metadata updated")
                result.source = self._source(src)
                return result
            # New text, or the same text with a new change note / withdrawal: a new version, so the
            # reviewed snapshot keeps exactly what the editor saw.
            snap = SnapshotRow(source_id=src.id, fetched_at=now, content_hash=content_hash or "",
                               title=page.title, profile=page.profile, url=outcome.final_url or outcome.url,
                               text=page.text(), meta=dict(page.metadata))
            s.add(snap)
            s.flush()
            src.current_snapshot_id = snap.id
            if src.reviewed_snapshot_id is None:
                src.reviewed_snapshot_id = snap.id  # the first version seen is the baseline
                review = ReviewRow(source_id=src.id, snapshot_id=snap.id, content_hash=snap.content_hash,
                                   reviewed_by="guidewatch (baseline)", reviewed_at=now,
                                   note="first version seen; accepted as the baseline", alerts_closed=0)
                s.add(review)
                s.flush()
                result.baseline_review = ReviewRecord(review.id, src.url, snap.id, snap.content_hash,
                                                      review.reviewed_by, now, review.note, 0)
            result.new_snapshot = self._snapshot(snap)
            result.source = self._source(src)
            return result

    def record_not_modified(self, items: Sequence[tuple[int, FetchOutcome, datetime | None]]) -> None:
        """Record many 304 answers (source id, outcome, next due) in one transaction.

        The same effect on each source as `record_fetch` with a 304, in two statements
        instead of a transaction per source: an unchanged re-crawl is mostly 304s.
        """
        if not items:
            return
        t = SourceRow.__table__
        when = t.c.last_checked_at.type
        stmt = (update(t).where(t.c.id == bindparam("b_id")).values(
            last_checked_at=bindparam("b_now", type_=when), last_ok_at=bindparam("b_now", type_=when),
            next_due_at=func.coalesce(bindparam("b_due", type_=when), t.c.next_due_at),
            consecutive_failures=0, first_failed_at=None, last_error=None,
            etag=func.coalesce(bindparam("b_etag", type_=t.c.etag.type), t.c.etag),
            last_modified=func.coalesce(bindparam("b_lm", type_=t.c.last_modified.type), t.c.last_modified),
            state=case((or_(t.c.state == "new", t.c.state == "unreachable"), "ok"), else_=t.c.state)))
        fetches, sources = [], []
        for source_id, outcome, due in items:
            now = outcome.fetched_at or utcnow()
            fetches.append(dict(source_id=source_id, fetched_at=now, status=outcome.status,
                                http_status=outcome.http_status, final_url=outcome.final_url,
                                elapsed_ms=outcome.elapsed_ms, headers=dict(outcome.headers), content_hash=None,
                                error=outcome.error, transient=outcome.transient, via_api=outcome.via_api))
            sources.append(dict(b_id=source_id, b_now=now, b_due=due, b_etag=outcome.headers.get("etag") or None,
                                b_lm=outcome.headers.get("last-modified") or None))
        with self.session() as s:
            s.execute(insert(FetchRow), fetches)
            s.connection().execute(stmt, sources)

    def import_baseline(self, url: str, *, text: str, title: str, profile: str, fetched_at: datetime,
                        meta: dict[str, str], reviewed_by: str, reviewed_at: datetime) -> SnapshotRecord | None:
        """Seed a source that has no snapshot yet with a reviewed version from a committed file."""
        from guidewatch.model import parse_blocks, serialise_blocks

        with self.session() as s:
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
            return self._snapshot(snap)

    def mark_source_state(self, source_id: int, state: str) -> None:
        with self.session() as s:
            s.execute(update(SourceRow).where(SourceRow.id == source_id).values(state=state))

    def fetch_history(self, url: str, limit: int = 20) -> list[dict[str, Any]]:
        with self.session() as s:
            src = s.scalar(select(SourceRow).where(SourceRow.url == url))
            if src is None:
                return []
            rows = s.scalars(select(FetchRow).where(FetchRow.source_id == src.id)
                             .order_by(FetchRow.id.desc()).limit(limit))
            return [{"fetched_at": r.fetched_at, "status": r.status, "http_status": r.http_status,
                     "error": r.error, "transient": r.transient, "content_hash": r.content_hash} for r in rows]

    # -- changes, impacts, alerts ---------------------------------------------------------

    def record_changes(self, source_id: int, old_snapshot_id: int | None, new_snapshot_id: int | None,
                       changes: Sequence[tuple[Change, Sequence[Impact]]], *, min_alert_severity: str = "minor",
                       replace_open: bool = True) -> list[int]:
        """Store changes (relative to the reviewed baseline) and open one alert per (guide, change).

        An open alert whose passage is changed again is superseded by the new one; with
        `replace_open`, open block alerts whose passage no longer differs are superseded too.
        Alerts are written here, before any delivery is attempted. Returns new alert ids.
        """
        now = utcnow()
        order = {"cosmetic": 0, "minor": 1, "substantive": 2}
        new_alert_ids: list[int] = []
        with self.session() as s:
            open_alerts = list(s.scalars(select(AlertRow).where(AlertRow.source_id == source_id)
                                         .where(AlertRow.status == "open")))
            open_changes = {a.change_id: s.get(ChangeRow, a.change_id) for a in open_alerts}
            seen_passages: set[str] = set()
            for change, impacts in changes:
                passage = _passage_key(source_id, change)
                seen_passages.add(passage)
                same = [a for a in open_alerts if open_changes[a.change_id].passage == passage]
                if change.scope == "page" and not same:
                    # A page-level event already recorded (and perhaps accepted) is not news again,
                    # unless it is a failure that cleared in between: a second outage is news.
                    last = s.scalar(select(ChangeRow).where(ChangeRow.passage == passage)
                                    .order_by(ChangeRow.id.desc()).limit(1))
                    if last is not None and last.new == change.new and not self._recovered_since(s, last):
                        continue
                if same and all(open_changes[a.change_id].new == change.new and
                                open_changes[a.change_id].severity == change.severity for a in same):
                    continue  # already alerted, nothing new to say
                row = ChangeRow(source_id=source_id, old_snapshot_id=old_snapshot_id,
                                new_snapshot_id=new_snapshot_id, detected_at=now, passage=passage,
                                kind=change.kind, severity=change.severity, reason=change.reason,
                                scope=change.scope, source_section=list(change.source_section), old=change.old,
                                new=change.new, ops=[[o.op, o.text] for o in change.ops], context=change.context)
                s.add(row)
                s.flush()
                for imp in impacts:
                    s.add(ImpactRow(change_id=row.id, guide=imp.guide, section=imp.section, heading=imp.heading,
                                    score=imp.score, evidence=list(imp.evidence), tier=imp.tier, claim=imp.claim))
                s.flush()
                for a in same:
                    a.status, a.closed_at, a.superseded_by = "superseded", now, row.id
                if order[change.severity] < order[min_alert_severity]:
                    continue
                for guide in sorted({i.guide for i in impacts}):
                    alert = AlertRow(guide=guide, change_id=row.id, source_id=source_id, status="open",
                                     created_at=now)
                    s.add(alert)
                    s.flush()
                    new_alert_ids.append(alert.id)
            if replace_open:
                for a in open_alerts:
                    ch = open_changes[a.change_id]
                    if a.status == "open" and ch.scope == "block" and ch.passage not in seen_passages:
                        a.status, a.closed_at, a.note = "superseded", now, "passage no longer differs"
        return new_alert_ids

    @staticmethod
    def _recovered_since(s: Session, row: ChangeRow) -> bool:
        """A gone/unreachable event whose source was fetched successfully after it was detected."""
        if row.kind not in RECOVERABLE_EVENTS:
            return False
        ok = s.scalar(select(FetchRow.id).where(FetchRow.source_id == row.source_id)
                      .where(FetchRow.status.in_(("ok", "not_modified")))
                      .where(FetchRow.fetched_at > row.detected_at).limit(1))
        return ok is not None

    def has_changes_for(self, snapshot_id: int) -> bool:
        """Whether any change was recorded with this snapshot as its new version."""
        with self.session() as s:
            return s.scalar(select(ChangeRow.id).where(ChangeRow.new_snapshot_id == snapshot_id).limit(1)) is not None

    def close_recovered(self, source_id: int) -> int:
        """Supersede the source's open gone/unreachable alerts: it answers again, nothing to re-read."""
        now = utcnow()
        with self.session() as s:
            rows = list(s.scalars(select(AlertRow).join(ChangeRow, ChangeRow.id == AlertRow.change_id)
                                  .where(AlertRow.source_id == source_id).where(AlertRow.status == "open")
                                  .where(ChangeRow.kind.in_(RECOVERABLE_EVENTS))))
            for a in rows:
                a.status, a.closed_at, a.note = "superseded", now, "source answers again"
            return len(rows)

    def _change_record(self, s: Session, row: ChangeRow) -> ChangeRecord:
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

    def changes(self, *, since: datetime | None = None, source_url: str | None = None) -> list[ChangeRecord]:
        with self.session() as s:
            q = select(ChangeRow).order_by(ChangeRow.detected_at, ChangeRow.id)
            if since is not None:
                q = q.where(ChangeRow.detected_at >= since)
            if source_url is not None:
                src = s.scalar(select(SourceRow).where(SourceRow.url == source_url))
                if src is None:
                    return []
                q = q.where(ChangeRow.source_id == src.id)
            return [self._change_record(s, r) for r in s.scalars(q)]

    def alerts(self, *, status: str | None = "open", since: datetime | None = None, guide: str | None = None,
               source_url: str | None = None, ids: Sequence[int] | None = None) -> list[AlertRecord]:
        with self.session() as s:
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
                src = s.scalar(select(SourceRow).where(SourceRow.url == source_url))
                if src is None:
                    return []
                q = q.where(AlertRow.source_id == src.id)
            out = []
            for a in s.scalars(q):
                ch = s.get(ChangeRow, a.change_id)
                out.append(AlertRecord(a.id, a.guide, a.status, a.created_at, a.closed_at, a.closed_by, a.note,
                                       self._change_record(s, ch)))
            return out

    # -- reviews --------------------------------------------------------------------------

    def accept(self, source_url: str, *, by: str,
               note: str | None = None) -> tuple[ReviewRecord, SnapshotRecord | None]:
        """Record a review of the source's current version: closes its open alerts, moves the baseline."""
        now = utcnow()
        with self.session() as s:
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
            return rec, (self._snapshot(snap) if snap else None)

    @staticmethod
    def _review(r: ReviewRow, url: str) -> ReviewRecord:
        return ReviewRecord(r.id, url, r.snapshot_id, r.content_hash, r.reviewed_by, r.reviewed_at, r.note,
                            r.alerts_closed, r.kind == "automatic")

    def reviews(self, source_url: str | None = None) -> list[ReviewRecord]:
        """The audit trail: every review, and every time guidewatch closed alerts itself."""
        with self.session() as s:
            q = select(ReviewRow, SourceRow.url).join(SourceRow, SourceRow.id == ReviewRow.source_id)
            if source_url:
                q = q.where(SourceRow.url == source_url)
            return [self._review(r, url) for r, url in s.execute(q.order_by(ReviewRow.id))]

    # -- editors' "not relevant" marks ------------------------------------------------------

    def dismiss(self, change_id: int, section: str, *, by: str, note: str | None = None) -> Dismissal:
        """Mark one impact of a stored change not relevant: its (guide section, source passage) pair.

        `section` is "SECTION" or "GUIDE#SECTION"; it must be one the change was linked to.
        """
        with self.session() as s:
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
            return self._dismissal(s, mark)

    def dismissals(self, source_url: str | None = None) -> list[Dismissal]:
        """Every mark (of one source), oldest first: what the linker is given as plain data."""
        with self.session() as s:
            q = select(DismissalRow).order_by(DismissalRow.id)
            if source_url is not None:
                src = s.scalar(select(SourceRow).where(SourceRow.url == source_url))
                if src is None:
                    return []
                q = q.where(DismissalRow.source_id == src.id)
            return [self._dismissal(s, r) for r in s.scalars(q)]

    @staticmethod
    def _dismissal(s: Session, r: DismissalRow) -> Dismissal:
        src = s.get(SourceRow, r.source_id)
        note = f"on c{r.change_id}" + (f": {r.note}" if r.note else "")
        return Dismissal(r.guide, r.section, src.url if src else "", tuple(r.source_section), r.dismissed_by,
                         r.dismissed_at, note)

    def last_review(self, source_id: int) -> ReviewRecord | None:
        """The last review of a version of the source (automatic closures are not reviews)."""
        with self.session() as s:
            row = s.scalar(select(ReviewRow).where(ReviewRow.source_id == source_id)
                           .where(ReviewRow.kind != "automatic").order_by(ReviewRow.id.desc()))
            if row is None:
                return None
            src = s.get(SourceRow, source_id)
            return self._review(row, src.url if src else "")

    def close_alerts(self, source_id: int, *, kinds: Sequence[str] | None, status: str, note: str,
                     by: str) -> int:
        """Close the source's open alerts (of these change kinds; None: all) as the domain decided,
        and record it in the audit trail, in one transaction. Returns how many closed: 0 when a
        concurrent run closed them first, which then records nothing."""
        now = utcnow()
        with self.session() as s:
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

    def uncited_with_open_alerts(self) -> list[int]:
        """Ids of sources no guide or config cites any more that still have open alerts."""
        with self.session() as s:
            q = (select(AlertRow.source_id).join(SourceRow, SourceRow.id == AlertRow.source_id)
                 .where(SourceRow.active.is_(False)).where(AlertRow.status == "open").distinct())
            return sorted(s.scalars(q))

    def uncited_urls(self) -> list[str]:
        """URLs of sources no guide or config cites any more (their files leave snapshots/)."""
        with self.session() as s:
            return list(s.scalars(select(SourceRow.url).where(SourceRow.active.is_(False)).order_by(SourceRow.url)))

    # -- delivery outbox ------------------------------------------------------------------

    @staticmethod
    def _delivery(r: DeliveryRow) -> DeliveryRecord:
        return DeliveryRecord(r.id, r.key, r.channel, r.recipient, r.status, r.attempts, r.next_attempt_at,
                              r.last_error, r.subject, dict(r.payload or {}), tuple(r.alert_ids or ()), r.sent_at)

    def enqueue_delivery(self, key: str, channel: str, recipient: str, subject: str, payload: dict[str, Any],
                         alert_ids: Sequence[int]) -> DeliveryRecord | None:
        """Add a delivery to the outbox; None when this key was queued before (idempotent)."""
        now = utcnow()
        try:
            with self.session() as s:
                row = DeliveryRow(key=key, channel=channel, recipient=recipient, status="pending", attempts=0,
                                  next_attempt_at=now, created_at=now, subject=subject, payload=payload,
                                  alert_ids=list(alert_ids))
                s.add(row)
                s.flush()
                return self._delivery(row)
        except IntegrityError:
            return None

    def settle_outbox(self, channel: str, recipient: str,
                      plan: Callable[[list[DeliveryRecord]], OutboxPlan]) -> DeliveryRecord | None:
        """Apply `plan` to one recipient's outbox (its deliveries, read here) in one transaction
        that holds that recipient's lock, so two runs settle it one after the other and never
        both from the same stale read. Returns the delivery queued, if any.

        The lock: an advisory lock per (channel, recipient) on PostgreSQL, with the rows read
        FOR UPDATE (a concurrent claim skips them); BEGIN IMMEDIATE on SQLite."""
        try:
            with self.session() as s:
                self._recipient_lock(s, channel, recipient)
                q = (select(DeliveryRow).where(DeliveryRow.channel == channel, DeliveryRow.recipient == recipient)
                     .order_by(DeliveryRow.id))
                if self.engine.dialect.name == "postgresql":
                    q = q.with_for_update()
                rows = list(s.scalars(q))
                decided = plan([self._delivery(r) for r in rows])
                for delivery_id, reason in decided.cancel:
                    self._cancel(s, delivery_id, reason, ("pending",))
                new = decided.new
                if new is None or s.scalar(select(DeliveryRow.id).where(DeliveryRow.key == new.key)) is not None:
                    return None  # nothing to say, or this very digest was queued before (e.g. it is dead)
                now = utcnow()
                row = DeliveryRow(key=new.key, channel=channel, recipient=recipient, status="pending", attempts=0,
                                  next_attempt_at=now, created_at=now, subject=new.subject, payload=new.payload,
                                  alert_ids=list(new.alert_ids))
                s.add(row)
                s.flush()
                return self._delivery(row)
        except IntegrityError:  # queued meanwhile by a writer that does not take the lock
            return None

    def _recipient_lock(self, s: Session, channel: str, recipient: str) -> None:
        if self.engine.dialect.name != "postgresql":
            self._claim_lock(s)
            return
        digest = hashlib.sha256(f"outbox:{channel}:{recipient}".encode()).digest()
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": int.from_bytes(digest[:8], "big", signed=True)})

    def claim_deliveries(self, now: datetime | None = None, limit: int = 100,
                         stale: timedelta = DELIVERY_LEASE) -> list[DeliveryRecord]:
        """Take due deliveries, marking them 'sending' so a concurrent worker skips them.

        Each claim is a lock row "delivery:<id>" (the claimer's host and pid) whose heartbeat
        is a lease: a live sender renews it (`renew_claims`) however long it takes. A 'sending'
        row is taken again only when its lease is older than `stale`, or at once when its
        claimer was a process on this host that is gone (killed mid-delivery).
        Row locking as in `claim_due_sources`: SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite.
        """
        now = now or utcnow()
        with self.session() as s:
            self._claim_lock(s)
            q = (select(DeliveryRow)
                 .where((DeliveryRow.status == "pending") & (DeliveryRow.next_attempt_at <= now))
                 .order_by(DeliveryRow.id).limit(limit))
            if self.engine.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            rows = list(s.scalars(q))
            rows += self._abandoned_sending(s, now - stale)[: max(0, limit - len(rows))]
            host, pid = socket.gethostname(), os.getpid()
            for r in rows:
                r.status, r.next_attempt_at = "sending", now
                s.merge(LockRow(name=_delivery_lock(r.id), holder=_claimer(), pid=pid, host=host,
                                acquired_at=now, heartbeat_at=now))
            return [self._delivery(r) for r in rows]

    def _abandoned_sending(self, s: Session, expired: datetime) -> list[DeliveryRow]:
        """'sending' rows whose claimer is gone: a dead process on this host, or a lease not
        renewed since `expired` (a claim without a lock row: claimed at next_attempt_at)."""
        host = socket.gethostname()
        q = select(DeliveryRow).where(DeliveryRow.status == "sending").order_by(DeliveryRow.id)
        if self.engine.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        out = []
        for row in s.scalars(q):
            claim = s.get(LockRow, _delivery_lock(row.id))
            if claim is None:
                gone = row.next_attempt_at <= expired
            else:
                gone = (claim.host == host and not _pid_alive(claim.pid)) or claim.heartbeat_at <= expired
            if gone:
                out.append(row)
        return out

    def renew_claims(self, delivery_ids: Sequence[int], now: datetime | None = None) -> int:
        """Renew this process's leases on these deliveries (those it still holds); returns how many."""
        if not delivery_ids:
            return 0
        with self.session() as s:
            res = s.execute(update(LockRow).where(LockRow.name.in_([_delivery_lock(i) for i in delivery_ids]),
                                                  LockRow.holder == _claimer())
                            .values(heartbeat_at=now or utcnow()))
            return int(res.rowcount or 0)

    def delivery_done(self, delivery_id: int) -> None:
        with self.session() as s:
            s.execute(update(DeliveryRow).where(DeliveryRow.id == delivery_id)
                      .values(status="sent", sent_at=utcnow(), last_error=None,
                              attempts=DeliveryRow.attempts + 1))
            s.query(LockRow).filter(LockRow.name == _delivery_lock(delivery_id)).delete()

    def delivery_failed(self, delivery_id: int, error: str, *, retry_base: float, max_attempts: int,
                        permanent: bool = False) -> None:
        """Record a failed attempt: retried later with doubling back-off, or dead when it was
        `permanent` (the server refused it for good) or `max_attempts` is reached."""
        with self.session() as s:
            row = s.get(DeliveryRow, delivery_id)
            if row is None:
                return
            s.query(LockRow).filter(LockRow.name == _delivery_lock(delivery_id)).delete()
            row.attempts += 1
            row.last_error = error[:2000]
            if permanent or row.attempts >= max_attempts:
                row.status = "dead"
            else:
                row.status = "pending"
                row.next_attempt_at = utcnow() + timedelta(seconds=retry_base * 2 ** (row.attempts - 1))

    def cancel_delivery(self, delivery_id: int, reason: str, *, statuses: Sequence[str] = ("pending",)) -> bool:
        """Withdraw an unsent delivery (its alerts were closed, or a newer digest carries them).

        Only from `statuses`, so a row a worker claimed meanwhile is left alone (False). The
        key is freed (suffixed), so the same digest can be queued again later."""
        with self.session() as s:
            return self._cancel(s, delivery_id, reason, statuses)

    @staticmethod
    def _cancel(s: Session, delivery_id: int, reason: str, statuses: Sequence[str]) -> bool:
        res = s.execute(update(DeliveryRow).where(DeliveryRow.id == delivery_id)
                        .where(DeliveryRow.status.in_(list(statuses)))
                        .values(status="cancelled", last_error=reason[:2000],
                                key=DeliveryRow.key + f"~{delivery_id}"))
        if res.rowcount:
            s.query(LockRow).filter(LockRow.name == _delivery_lock(delivery_id)).delete()
        return bool(res.rowcount)

    def deliveries(self, status: str | None = None) -> list[DeliveryRecord]:
        with self.session() as s:
            q = select(DeliveryRow).order_by(DeliveryRow.id)
            if status:
                q = q.where(DeliveryRow.status == status)
            return [self._delivery(r) for r in s.scalars(q)]

    # -- the one-instance lock ------------------------------------------------------------

    def acquire_lock(self, name: str, holder: str, *, stale_after: timedelta = timedelta(minutes=2)) -> None:
        """Take a named lock in the store; works on SQLite and PostgreSQL alike.

        A holder refreshes `heartbeat_at`; a lock whose heartbeat is older than `stale_after`,
        or whose holder process is gone on this host, is taken over.
        """
        now = utcnow()
        host = socket.gethostname()
        try:
            with self.session() as s:
                row = s.get(LockRow, name, with_for_update=self.engine.dialect.name == "postgresql")
                if row is not None:
                    dead = row.host == host and not _pid_alive(row.pid)
                    if not dead and row.heartbeat_at > now - stale_after and row.holder != holder:
                        raise LockHeld(f"{name} lock is held by {row.holder} (pid {row.pid} on {row.host}) "
                                       f"since {row.acquired_at:%Y-%m-%d %H:%M:%S} UTC")
                    # Compare-and-set on the old holder: on SQLite two processes can both read
                    # the same dead row; only the first UPDATE may win the takeover.
                    taken = s.execute(update(LockRow).where(LockRow.name == name, LockRow.holder == row.holder)
                                      .values(holder=holder, pid=os.getpid(), host=host, acquired_at=now,
                                              heartbeat_at=now)).rowcount
                    if not taken:
                        raise LockHeld(f"{name} lock was just taken by another process")
                else:
                    s.add(LockRow(name=name, holder=holder, pid=os.getpid(), host=host, acquired_at=now,
                                  heartbeat_at=now))
        except IntegrityError:
            raise LockHeld(f"{name} lock was just taken by another process") from None

    def heartbeat(self, name: str, holder: str) -> bool:
        with self.session() as s:
            res = s.execute(update(LockRow).where(LockRow.name == name).where(LockRow.holder == holder)
                            .values(heartbeat_at=utcnow()))
            return bool(res.rowcount)

    def release_lock(self, name: str, holder: str) -> None:
        with self.session() as s:
            s.query(LockRow).filter(LockRow.name == name, LockRow.holder == holder).delete()


def _delivery_lock(delivery_id: int) -> str:
    """Name of the lock row recording which process claimed a delivery."""
    return f"delivery:{delivery_id}"


def _claimer() -> str:
    """Who holds a delivery claim: this process, on this host."""
    return f"deliver:{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


from guidewatch.store import web as _web  # noqa: E402,F401  the review app's rows (issue 19), on this Base

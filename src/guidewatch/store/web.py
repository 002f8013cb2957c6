"""What the editors' review app keeps: sign-in links and per-impact actions.

Only a hash of each sign-in link's token is stored: the store never holds a usable secret.
Redeeming is one conditional UPDATE, so a link works once even when two requests race.
Impact actions, like reviews and "not relevant" marks, are never deleted: they are the
audit trail an editor shows.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, String, Text, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from guidewatch.store import (
    Base,
    ChangeRow,
    DismissalRow,
    SnapshotRow,
    SourceRow,
    Store,
    StoreError,
    UTCDateTime,
    utcnow,
)

#: What an editor can say about one impact (a change to a guide section).
ACTIONS = ("updated", "no_change", "not_relevant")


class LoginTokenRow(Base):
    __tablename__ = "login_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ImpactActionRow(Base):
    """An editor's decision on one impact: "guide updated", "no change needed", "not relevant"."""

    __tablename__ = "impact_actions"
    id: Mapped[int] = mapped_column(primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("changes.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    guide: Mapped[str] = mapped_column(String(200))
    section: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(20))
    snapshot_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    acted_by: Mapped[str] = mapped_column(Text)
    acted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


@dataclass(frozen=True)
class ImpactAction:
    id: int
    change_id: int
    source_url: str
    guide: str
    section: str
    action: str
    content_hash: str | None
    by: str
    at: datetime
    note: str | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_login_token(store: Store, email: str, ttl: timedelta) -> str:
    """A new single-use sign-in token for this address; only its hash is kept."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with store.session() as s:
        s.add(LoginTokenRow(token_hash=_hash(token), email=email.strip().lower(), created_at=now,
                            expires_at=now + ttl))
    return token


def login_token_email(store: Store, token: str) -> str | None:
    """The address a token would sign in, while it is unused and unexpired (nothing is spent)."""
    with store.session() as s:
        row = s.scalar(select(LoginTokenRow).where(LoginTokenRow.token_hash == _hash(token)))
        if row is None or row.used_at is not None or row.expires_at <= utcnow():
            return None
        return row.email


def redeem_login_token(store: Store, token: str) -> str | None:
    """Spend a token: the address it signs in, or None when it is unknown, used or expired."""
    now = utcnow()
    digest = _hash(token)
    with store.session() as s:
        spent = s.execute(update(LoginTokenRow).where(LoginTokenRow.token_hash == digest)
                          .where(LoginTokenRow.used_at.is_(None)).where(LoginTokenRow.expires_at > now)
                          .values(used_at=now)).rowcount
        if spent != 1:
            return None
        return s.scalar(select(LoginTokenRow.email).where(LoginTokenRow.token_hash == digest))


def tokens_issued_since(store: Store, email: str, since: datetime) -> int:
    """How many links this address was sent since then (the per-address sign-in rate limit)."""
    with store.session() as s:
        return int(s.scalar(select(func.count(LoginTokenRow.id)).where(LoginTokenRow.email == email.strip().lower())
                            .where(LoginTokenRow.created_at >= since)) or 0)


def record_impact_action(store: Store, change_id: int, guide: str, section: str, action: str, *, by: str,
                         note: str | None = None) -> ImpactAction:
    """Record a decision on one impact, against the version the change was seen in."""
    if action not in ACTIONS:
        raise StoreError(f"{action!r}: not an impact action (one of {', '.join(ACTIONS)})")
    with store.session() as s:
        change = s.get(ChangeRow, change_id)
        if change is None:
            raise StoreError(f"c{change_id}: no such change")
        snap = s.get(SnapshotRow, change.new_snapshot_id) if change.new_snapshot_id else None
        row = ImpactActionRow(change_id=change_id, source_id=change.source_id, guide=guide, section=section,
                              action=action, snapshot_id=snap.id if snap else None,
                              content_hash=snap.content_hash if snap else None, acted_by=by, acted_at=utcnow(),
                              note=note or None)
        s.add(row)
        s.flush()
        src = s.get(SourceRow, change.source_id)
        return _action(row, src.url if src else "")


def _action(r: ImpactActionRow, url: str) -> ImpactAction:
    return ImpactAction(r.id, r.change_id, url, r.guide, r.section, r.action, r.content_hash, r.acted_by,
                        r.acted_at, r.note)


def impact_actions(store: Store, source_url: str | None = None,
                   change_ids: Sequence[int] | None = None) -> list[ImpactAction]:
    """Every recorded impact action (of one source, or these changes), oldest first."""
    with store.session() as s:
        q = (select(ImpactActionRow, SourceRow.url).join(SourceRow, SourceRow.id == ImpactActionRow.source_id)
             .order_by(ImpactActionRow.id))
        if source_url is not None:
            q = q.where(SourceRow.url == source_url)
        if change_ids is not None:
            q = q.where(ImpactActionRow.change_id.in_(list(change_ids)))
        return [_action(r, url) for r, url in s.execute(q)]


def dismissed_impacts(store: Store, change_ids: Sequence[int]) -> set[tuple[int, str, str]]:
    """(change id, guide, section) marked not relevant by any path (the app or `guidewatch dismiss`)."""
    with store.session() as s:
        q = select(DismissalRow.change_id, DismissalRow.guide, DismissalRow.section).where(
            DismissalRow.change_id.in_(list(change_ids)))
        return {(int(c), g, sec) for c, g, sec in s.execute(q) if c is not None}


def change_snapshot_ids(store: Store, change_ids: Sequence[int]) -> dict[int, tuple[int | None, int | None]]:
    """Change id -> (old, new) snapshot ids: the versions a change was detected between."""
    with store.session() as s:
        q = select(ChangeRow.id, ChangeRow.old_snapshot_id, ChangeRow.new_snapshot_id).where(
            ChangeRow.id.in_(list(change_ids)))
        return {i: (old, new) for i, old, new in s.execute(q)}

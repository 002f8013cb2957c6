"""The guide-events repository: guides a publisher's sitemap added or dropped, kept for the audit.

The guide list itself is replaced at every sync (`Guides.sync`), so what was there before is
gone with it; these rows are the record that a guide appeared or left, and when. Never deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, Text, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from guidewatch.store.engine import Db
from guidewatch.store.schema import Base, GuideRow, UTCDateTime, utcnow


class GuideEventRow(Base):
    __tablename__ = "guide_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "added" | "gone"
    slug: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)  # where an added guide is read from; "" when gone


@dataclass(frozen=True)
class GuideEvent:
    at: datetime
    kind: str
    slug: str
    url: str


class GuideEvents:
    def __init__(self, db: Db) -> None:
        self.db = db

    def add(self, events: Sequence[tuple[str, str, str]]) -> None:
        """Record (kind, slug, url) events, all at one time."""
        if not events:
            return
        now = utcnow()
        with self.db.session() as s:
            s.execute(insert(GuideEventRow), [dict(at=now, kind=k, slug=slug, url=url) for k, slug, url in events])

    def stored(self) -> dict[str, str]:
        """Slug -> source of the guides the store holds now: what a sync is compared against
        (one query, not every guide's sections and citations as `guides.all()` reads them)."""
        with self.db.session() as s:
            return {slug: source for slug, source in s.execute(select(GuideRow.slug, GuideRow.source))}

    def find(self, slug: str | None = None) -> list[GuideEvent]:
        with self.db.session() as s:
            q = select(GuideEventRow).order_by(GuideEventRow.id)
            if slug:
                q = q.where(GuideEventRow.slug == slug)
            return [GuideEvent(r.at, r.kind, r.slug, r.url) for r in s.scalars(q)]

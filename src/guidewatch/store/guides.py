"""The guides repository: guides, their sections and citations, and which sources are watched."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from guidewatch.model import Citation, Guide, Mention, Section
from guidewatch.store.engine import Db
from guidewatch.store.schema import CitationRow, GuideRow, SectionRow, SourceRow, utcnow

_SECTION_COLUMNS = ("sid", "heading", "level", "path", "own_text", "text", "ord", "parent")
_CITATION_COLUMNS = ("section", "url", "text", "internal", "mention")
_Stored = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]


def _keyed(sections: Sequence[Mapping[str, Any]], citations: Sequence[Mapping[str, Any]]) -> _Stored:
    """A guide's section and citation rows as `_stored_rows` reads them back, in order."""
    return ([tuple(r[k] for k in _SECTION_COLUMNS) for r in sections],
            [tuple(r[k] for k in _CITATION_COLUMNS) for r in citations])


def _stored_rows(s: Session) -> dict[int, _Stored]:
    """Every guide's stored section and citation rows (in the order they were written), by guide id."""
    out: dict[int, _Stored] = defaultdict(lambda: ([], []))
    for part, table, columns in ((0, SectionRow.__table__, _SECTION_COLUMNS),
                                 (1, CitationRow.__table__, _CITATION_COLUMNS)):
        for guide_id, *values in s.execute(select(table.c.guide_id, *(table.c[k] for k in columns))
                                           .order_by(table.c.id)):
            out[guide_id][part].append(tuple(values))
    return dict(out)


class Guides:
    def __init__(self, db: Db) -> None:
        self.db = db

    def sync(self, guides: Sequence[Guide], sources: Mapping[str, str]) -> list[str]:
        """Replace stored guides with these, and make `sources` the active ones.

        `sources` maps every source to watch to its profile name, as the caller decided it
        (`pipeline.watched_sources`: the loaded profile set and the config, never the store).
        Returns the active source URLs.
        """
        now = utcnow()
        wanted = dict(sources)
        with self.db.session() as s:
            stored = _stored_rows(s)
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
                sections = [dict(guide_id=row.id, sid=sec.id, heading=sec.heading, level=sec.level,
                                 path=list(sec.path), own_text=sec.own_text, text=sec.text, ord=sec.order,
                                 parent=sec.parent) for sec in g.sections]
                citations = [dict(guide_id=row.id, section=c.section, url=c.url, text=c.text, internal=c.internal,
                                  mention=None) for c in g.citations]
                citations += [dict(guide_id=row.id, section=m.section, url="", text=m.body, internal=True,
                                   mention=m.body) for m in g.mentions]
                # Every command re-syncs every guide; one whose sections and citations are stored
                # as they are (most, most of the time) keeps its rows: deleting and inserting them
                # again was most of the sync.
                if stored.get(row.id) == _keyed(sections, citations):
                    continue
                s.query(SectionRow).filter(SectionRow.guide_id == row.id).delete()
                s.query(CitationRow).filter(CitationRow.guide_id == row.id).delete()
                # Bulk INSERTs (executemany)
                if sections:
                    s.execute(insert(SectionRow), sections)
                if citations:
                    s.execute(insert(CitationRow), citations)
            # One pass over (id, url, profile, active), no ORM rows (10,000 of them were ~25 MB at
            # once); UPDATE only what changed, INSERT the new ones, each as one executemany.
            existing: set[str] = set()
            changed = []
            for source_id, url, profile, active in s.execute(
                    select(SourceRow.id, SourceRow.url, SourceRow.profile, SourceRow.active)):
                existing.add(url)
                now_active, now_profile = url in wanted, wanted.get(url, profile)
                if (now_active, now_profile) != (active, profile):
                    changed.append({"b_id": source_id, "b_active": now_active, "b_profile": now_profile})
            if changed:
                t = SourceRow.__table__
                s.connection().execute(update(t).where(t.c.id == bindparam("b_id")).values(
                    active=bindparam("b_active"), profile=bindparam("b_profile")), changed)
            new = [dict(url=url, profile=profile, state="new", next_due_at=now, consecutive_failures=0, active=True)
                   for url, profile in wanted.items() if url not in existing]
            if new:
                s.execute(insert(SourceRow), new)
        return sorted(wanted)

    def all(self) -> list[Guide]:
        out: list[Guide] = []
        with self.db.session() as s:
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


"""The guides repository: guides, their sections and citations, and which sources are watched."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import insert, select

from guidewatch.model import Citation, Guide, Mention, Section
from guidewatch.store.engine import Db
from guidewatch.store.schema import CitationRow, GuideRow, SectionRow, SourceRow, utcnow


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


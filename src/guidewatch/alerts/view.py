"""The digest as an editor reads it: guide, then source, then change; each change once,
with the guide sections it affects listed under it by tier (re-read, then related).

A change that touches five sections of a guide is one card with five lines, not five
cards. Page-level events (a change note, a move, a withdrawal, a review date) are told in
words: striking through a previous change note or an old address would say that text was
removed from the page, which is not what happened.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from guidewatch.alerts.text import MAX_CHANGED, display_ops, one_line, reason_text, safe_url, split_evidence
from guidewatch.model import Change, DiffOp, Impact

SEVERITY_RANK = {"substantive": 0, "minor": 1, "cosmetic": 2}
TIERS = (("reread", "Re-read"), ("related", "Related"))


@dataclass(frozen=True)
class SectionLine:
    """One guide section under a change: why it is linked, and how strongly."""

    id: str
    heading: str
    order: int
    impact: Impact
    phrases: tuple[str, ...]
    sentence: str | None  # the guide's own sentence the section rests on


@dataclass
class ChangeCard:
    alert_id: int  # the first of `alert_ids`: its anchor in the digest
    change: Change
    detected_at: datetime
    ops: list[DiffOp]  # empty for page-level events: those are told in `words`
    words: str  # what happened, in a sentence, for page-level events
    reason: str  # the severity reason, "(+2 more)" said in words
    source_path: tuple[str, ...]
    accept_command: str
    action: str
    app_link: str | None  # the change's page in the review app, when `[serve] public_url` is set
    sections: list[SectionLine] = field(default_factory=list)
    alert_ids: list[int] = field(default_factory=list)  # this guide's alerts on the change

    def tier(self, tier: str) -> list[SectionLine]:
        return [s for s in self.sections if s.impact.tier == tier]

    @property
    def tiers(self) -> list[tuple[str, list[SectionLine]]]:
        return [(label, self.tier(key)) for key, label in TIERS if self.tier(key)]


@dataclass
class SourceGroup:
    url: str
    title: str
    link: str | None  # the URL when safe to link
    changes: list[ChangeCard] = field(default_factory=list)


@dataclass
class GuideView:
    slug: str
    title: str
    sources: list[SourceGroup] = field(default_factory=list)

    @property
    def change_count(self) -> int:
        return sum(len(s.changes) for s in self.sources)


@dataclass(frozen=True)
class TableRow:
    """One line of the summary table at the top of the digest."""

    guide: str
    source: str
    change: str
    severity: str
    sections: str  # "2 re-read, 1 related"
    anchor: str


def _cut(text: str) -> str:
    """A note or explanation longer than a reader needs is cut, saying how much was left out."""
    if len(text) <= MAX_CHANGED:
        return text
    kept = text[:MAX_CHANGED].rsplit(" ", 1)[0]
    return f"{kept} … [{len(text) - len(kept):,} more characters]"


def event_words(change: Change) -> str:
    """A page-level event as a sentence; "" for a change to the page's text."""
    if change.scope != "page":
        return ""
    old, new = _cut(one_line(change.old)), _cut(one_line(change.new))
    if change.kind == "change_note":
        when = f" ({one_line(change.context)})" if change.context else ""
        said = f"The publisher added a change note{when}: “{new}”"
        return said + (f"; the previous note was: “{old}”" if old else "")
    if change.kind == "moved":
        return f"The cited address {old} now redirects to {new}. {reason_text(change.reason).capitalize()}."
    if change.kind == "withdrawn":
        return f"The publisher withdrew the page{': “' + new + '”' if new else '.'}"
    if change.kind == "gone":
        return f"The page no longer exists: {reason_text(change.reason)}."
    return reason_text(change.reason)[:1].upper() + reason_text(change.reason)[1:] + "."


def _card(item: Any, app_url: str) -> ChangeCard:
    change: Change = item.change
    page_event = change.scope == "page"
    number = change.id.removeprefix("c")
    link = f"{app_url.rstrip('/')}/changes/{number}" if app_url and number.isdigit() else None
    return ChangeCard(item.alert_id, change, item.detected_at, [] if page_event else display_ops(change),
                      event_words(change), reason_text(change.reason),
                      tuple(one_line(h) for h in change.source_section if one_line(h)), item.accept_command,
                      item.action, link)


def _line(item: Any) -> SectionLine:
    phrases, sentence = split_evidence(item.impact.evidence)
    return SectionLine(item.section_id, one_line(item.section_heading) or item.section_id, item.section_order,
                       item.impact, tuple(phrases), sentence)


def by_change(items: Iterable[Any], app_url: str = "") -> list[GuideView]:
    """Guides by title; in each, sources with their most serious change first; each change
    once (one alert), its sections re-read first, then in guide order."""
    guides: dict[str, GuideView] = {}
    sources: dict[tuple[str, str], SourceGroup] = {}
    cards: dict[tuple[str, str, str], ChangeCard] = {}
    for item in items:
        g = guides.setdefault(item.guide, GuideView(item.guide, one_line(item.guide_title) or item.guide))
        skey = (item.guide, item.source_url)
        if skey not in sources:
            title = one_line(item.source_title) or one_line(item.source_url)
            sources[skey] = SourceGroup(item.source_url, title, safe_url(item.source_url))
            g.sources.append(sources[skey])
        ckey = (item.guide, item.source_url, item.change.id)
        if ckey not in cards:
            cards[ckey] = _card(item, app_url)
            sources[skey].changes.append(cards[ckey])
        card = cards[ckey]
        card.sections.append(_line(item))
        if item.alert_id not in card.alert_ids:
            card.alert_ids.append(item.alert_id)
    for g in guides.values():
        for s in g.sources:
            for c in s.changes:
                c.sections.sort(key=lambda ln: (ln.impact.tier != "reread", ln.order, ln.id))
                c.alert_id = min(c.alert_ids)
            s.changes.sort(key=lambda c: (SEVERITY_RANK.get(c.change.severity, 9), c.detected_at, c.alert_id))
        g.sources.sort(key=lambda s: (min(SEVERITY_RANK.get(c.change.severity, 9) for c in s.changes),
                                      s.title.casefold(), s.url))
    return sorted(guides.values(), key=lambda g: (g.title.casefold(), g.slug))


def _tier_counts(card: ChangeCard) -> str:
    parts = [f"{len(card.tier(key))} {label.lower()}" for key, label in TIERS if card.tier(key)]
    return ", ".join(parts)


def table(guides: Sequence[GuideView]) -> list[TableRow]:
    """The summary table: one row per change, in digest order."""
    return [TableRow(g.title, s.title, c.words or c.reason, c.change.severity, _tier_counts(c),
                     f"change-{g.slug}-{c.alert_id}")
            for g in guides for s in g.sources for c in s.changes]


def subject_line(guides: Sequence[GuideView], empty: str) -> str:
    """E-mail subject: how many changes, and in which guide(s); no page text in it."""
    n = sum(g.change_count for g in guides)
    if not n:
        return f"[guidewatch] {empty}"
    names = [g.title for g in guides]
    named = names[0] if len(names) == 1 else ", ".join(names[:2]) + (
        f" and {len(names) - 2} more guide{'s' if len(names) > 3 else ''}" if len(names) > 2 else "")
    return f"[guidewatch] {n} change{'s' if n != 1 else ''} to review in {named}"


def card_json(c: ChangeCard) -> dict[str, Any]:
    """One change of the by-change view (the JSON's `sources[].changes[]`)."""
    return {
        "alert_ids": sorted(c.alert_ids),
        "change_id": c.change.id,
        "severity": c.change.severity,
        "reason": c.reason,
        "words": c.words or None,
        "app_url": c.app_link,
        "sections": [{"section": s.id, "heading": s.heading, "tier": s.impact.tier,
                      "score": round(float(s.impact.score), 4), "sentence": s.sentence} for s in c.sections],
    }

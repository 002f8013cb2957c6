"""The editors' digest: which source changes affect which guide sections, and why.

One `Digest` renders to four formats from the same grouped view, so they cannot drift:

- ``html`` -- self-contained e-mail/browser page (inline styles only, no scripts, no
  external assets). Rendered by Jinja2 with autoescape ON: every string that came from a
  source page is untrusted and escaped; a source URL becomes a link only when it is a
  plain ``http(s)://`` URL, otherwise it is shown as text.
- ``md`` -- Markdown (deleted ``~~text~~``, inserted ``**text**``); Markdown and inline
  HTML syntax in page text is backslash-escaped so it cannot turn into markup.
- ``text`` -- plain text (deleted ``[-text-]``, inserted ``{+text+}``).
- ``json`` -- the stable shape below (keys appear in this order; ``schema`` changes if the
  shape ever changes incompatibly)::

    {
      "schema": "guidewatch.alerts.digest/1",
      "key": "gw-<20 hex>",            # idempotency key: recipient + sorted alert ids
      "recipient": "ed@example.org" | null,
      "generated_at": "2026-11-26T09:30:00Z",
      "since": "2026-11-19T09:30:00Z" | null,
      "summary": "3 changes to 2 sources affect 4 sections of 1 guide",
      "counts": {"changes": 3, "sources": 2, "sections": 4, "guides": 1, "items": 5},
      "guides": [{
        "guide": "gene-therapy-atmps-uk", "title": "Gene therapy ...",
        "sections": [{
          "section": "what-is-hospital-exemption", "heading": "What is hospital exemption?",
          "order": 12,
          "items": [{
            "alert_id": 7,
            "source": {"url": "https://www.gov.uk/...", "title": "ATMPs: guidance"},
            "source_section": ["Guidance", "Hospital exemption"],
            "change": {"id": "c1", "kind": "modified", "severity": "substantive",
                       "reason": "'must' became 'may'", "scope": "block",
                       "old": "...", "new": "...",
                       "ops": [{"op": 0, "text": "..."}, {"op": -1, "text": "..."}]},
            "impact": {"score": 0.82, "tier": "reread" | "related", "claim": "...",
                       "evidence": ["hospital exemption", "..."],
                       "phrases": ["hospital exemption"], "sentence": "..." | null},
            "detected_at": "2026-11-25T14:02:00Z",
            "accept_command": "guidewatch accept https://www.gov.uk/... --by NAME" | null,
            "action": "when the guide is right, accept the change: guidewatch accept ..."
          }]
        }]
      }]
    }

``accept_command`` is null, and ``action`` says what clears it instead (change the guide's
link, ...), when the source page is gone, moved, withdrawn or unreachable: accepting does
not clear those (`guidewatch accept` refuses them). ``ops`` are the full word-level diff
(``-1`` deleted, ``0`` kept, ``1`` inserted); the human formats shorten long kept runs.
Times are UTC, ISO 8601 with ``Z``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Literal

import jinja2

from guidewatch.alerts.text import (  # noqa: F401  re-exported: callers import them from here
    KEEP_CONTEXT,
    MAX_CHANGED,
    _fallback_ops,
    clean,
    display_ops,
    human_time,
    iso,
    md_code,
    md_escape,
    md_ops,
    one_line,
    plural,
    quote,
    reason_text,
    safe_url,
    split_evidence,
    text_ops,
    utc,
)
from guidewatch.alerts.view import by_change, card_json, subject_line, table
from guidewatch.model import Change, DiffOp, Impact

Format = Literal["md", "html", "text", "json"]
FORMATS: tuple[Format, ...] = ("md", "html", "text", "json")
EXTENSIONS: dict[str, str] = {"md": "md", "html": "html", "text": "txt", "json": "json"}
SCHEMA = "guidewatch.alerts.digest/1"

SEVERITY_RANK = {"substantive": 0, "minor": 1, "cosmetic": 2}


def accept_command(source_url: str) -> str:
    """The command an editor runs once the guide is right; quoted so it is safe to paste."""
    return f"guidewatch accept {shlex.quote(clean(source_url))} --by NAME"


@dataclass
class DigestItem:
    """One (change, affected guide section) pair; a change affecting 3 sections is 3 items."""

    alert_id: int
    guide: str
    guide_title: str
    section_id: str
    section_heading: str
    source_url: str
    source_title: str
    change: Change
    impact: Impact
    detected_at: datetime
    accept_command: str = ""  # filled from source_url when empty, unless `action` says what to do instead
    section_order: int = 0  # position of the section in its guide, so digests follow the guide
    # What the editor does. Given (and no accept command) when the page is gone, moved, withdrawn
    # or unreachable: `accept` refuses those, so the card must not tell the editor to run it.
    action: str = ""

    def __post_init__(self) -> None:
        if not self.accept_command and not self.action:
            self.accept_command = accept_command(self.source_url)
        if not self.action:
            self.action = f"when the guide is right, accept the change: {self.accept_command}"


def digest_key(recipient: str | None, alert_ids: Iterable[int]) -> str:
    """Same recipient + same alerts -> same key, so a retried delivery is recognisable."""
    ids = ",".join(str(i) for i in sorted(set(alert_ids)))
    raw = f"{(recipient or '*').strip().lower()}|{ids}"
    return "gw-" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:20]


@dataclass
class Digest:
    recipient: str | None
    generated_at: datetime
    since: datetime | None
    items: list[DigestItem] = field(default_factory=list)
    key: str = ""  # derived from recipient + sorted alert ids when empty
    app_url: str = ""  # `[serve] public_url`: each change links to its page in the review app

    def __post_init__(self) -> None:
        if not self.key:
            self.key = digest_key(self.recipient, (i.alert_id for i in self.items))


# --- the grouped view shared by every format -----------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One item prepared for display."""

    item: DigestItem
    ops: list[DiffOp]
    phrases: list[str]
    sentence: str | None
    source_path: tuple[str, ...]
    link: str | None  # source URL when safe to link

    @property
    def change(self) -> Change:
        return self.item.change

    @property
    def tier_label(self) -> str:
        """"Re-read" (the editor must look) or "Related" (worth a glance)."""
        return "Re-read" if self.item.impact.tier == "reread" else "Related"


@dataclass
class SectionGroup:
    id: str
    heading: str
    order: int
    entries: list[Entry] = field(default_factory=list)


@dataclass
class GuideGroup:
    slug: str
    title: str
    sections: list[SectionGroup] = field(default_factory=list)


@dataclass(frozen=True)
class Counts:
    changes: int
    sources: int
    sections: int
    guides: int
    items: int


def _entry(item: DigestItem) -> Entry:
    phrases, sentence = split_evidence(item.impact.evidence)
    path = tuple(one_line(h) for h in item.change.source_section if one_line(h))
    return Entry(item, display_ops(item.change), phrases, sentence, path, safe_url(item.source_url))


def _entry_sort_key(e: Entry) -> tuple[Any, ...]:
    c = e.change
    tier = 0 if e.item.impact.tier == "reread" else 1
    return (tier, SEVERITY_RANK.get(c.severity, 9), e.item.source_title.casefold(), e.source_path, e.item.alert_id)


def group(items: Iterable[DigestItem]) -> list[GuideGroup]:
    """Guides by title; sections in guide order; within a section the most serious first."""
    guides: dict[str, GuideGroup] = {}
    sections: dict[tuple[str, str], SectionGroup] = {}
    for item in items:
        g = guides.setdefault(item.guide, GuideGroup(item.guide, one_line(item.guide_title) or item.guide))
        key = (item.guide, item.section_id)
        if key not in sections:
            heading = one_line(item.section_heading) or item.section_id
            sections[key] = SectionGroup(item.section_id, heading, item.section_order)
            g.sections.append(sections[key])
        sections[key].entries.append(_entry(item))
    for g in guides.values():
        g.sections.sort(key=lambda s: (s.order, s.id))
        for s in g.sections:
            s.entries.sort(key=_entry_sort_key)
    return sorted(guides.values(), key=lambda g: (g.title.casefold(), g.slug))


def counts(digest: Digest) -> Counts:
    items = digest.items
    return Counts(
        changes=len({(i.source_url, i.change.id) for i in items}),
        sources=len({i.source_url for i in items}),
        sections=len({(i.guide, i.section_id) for i in items}),
        guides=len({i.guide for i in items}),
        items=len(items),
    )


def summary(digest: Digest) -> str:
    """One line for the top of the digest and the e-mail subject."""
    c = counts(digest)
    if not c.items:
        when = f" since {human_time(digest.since)}" if digest.since else ""
        return f"Nothing to review: no source changes affect your guides{when}"
    verb = "affects" if c.changes == 1 else "affect"
    return (
        f"{plural(c.changes, 'change')} to {plural(c.sources, 'source')} {verb} "
        f"{plural(c.sections, 'section')} of {plural(c.guides, 'guide')}"
    )


def subject(digest: Digest) -> str:
    """E-mail subject: the count and the guide(s), one line, no page text in it."""
    return subject_line(by_change(digest.items), summary(digest))


# --- JSON -----------------------------------------------------------------------------------


def _item_json(e: Entry) -> dict[str, Any]:
    i, c = e.item, e.change
    return {
        "alert_id": i.alert_id,
        "source": {"url": i.source_url, "title": i.source_title},
        "source_section": list(c.source_section),
        "change": {
            "id": c.id,
            "kind": c.kind,
            "severity": c.severity,
            "reason": c.reason,
            "scope": c.scope,
            "old": c.old,
            "new": c.new,
            "ops": [{"op": o.op, "text": o.text} for o in (c.ops or _fallback_ops(c))],
        },
        "impact": {
            "score": round(float(i.impact.score), 4),
            "tier": i.impact.tier,
            "claim": i.impact.claim,
            "evidence": list(i.impact.evidence),
            "phrases": e.phrases,
            "sentence": e.sentence,
        },
        "detected_at": iso(i.detected_at),
        "accept_command": i.accept_command or None,
        "action": i.action,
    }


def to_json_dict(digest: Digest) -> dict[str, Any]:
    """The documented JSON shape (see the module docstring); the webhook posts this."""
    c = counts(digest)
    views = {g.slug: [{"url": src.url, "title": src.title, "changes": [card_json(ch) for ch in src.changes]}
                      for src in g.sources] for g in by_change(digest.items, digest.app_url)}
    return {
        "schema": SCHEMA,
        "key": digest.key,
        "recipient": digest.recipient,
        "generated_at": iso(digest.generated_at),
        "since": iso(digest.since),
        "summary": summary(digest),
        "counts": {
            "changes": c.changes,
            "sources": c.sources,
            "sections": c.sections,
            "guides": c.guides,
            "items": c.items,
        },
        "guides": [
            {
                "guide": g.slug,
                "title": g.title,
                "sections": [
                    {
                        "section": s.id,
                        "heading": s.heading,
                        "order": s.order,
                        "items": [_item_json(e) for e in s.entries],
                    }
                    for s in g.sections
                ],
                "sources": views[g.slug],
            }
            for g in group(digest.items)
        ],
    }


# --- templates ------------------------------------------------------------------------------


def _wrap(text: str, indent: str = "  ", width: int = 78) -> str:
    return textwrap.fill(
        text, width, initial_indent=indent, subsequent_indent=indent,
        break_long_words=False, break_on_hyphens=False,
    )


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("guidewatch.alerts", "templates"),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        clean=clean, one_line=one_line, md=md_escape, md_code=md_code, md_ops=md_ops,
        text_ops=text_ops, quote=quote, reason=reason_text,
        wrap=_wrap, human_time=human_time, iso=iso, plural=plural,
    )
    return env


@cache
def _env(autoescape: bool) -> jinja2.Environment:
    return _environment(autoescape)


_TEMPLATES = {"html": "digest.html.j2", "md": "digest.md.j2", "text": "digest.txt.j2"}


def render(digest: Digest, fmt: Format) -> str:
    """The digest in one format; HTML is autoescaped, the others escaped for their syntax."""
    if fmt == "json":
        return json.dumps(to_json_dict(digest), indent=2, ensure_ascii=False) + "\n"
    if fmt not in _TEMPLATES:
        raise ValueError(f"unknown digest format {fmt!r}; use one of {', '.join(FORMATS)}")
    template = _env(fmt == "html").get_template(_TEMPLATES[fmt])
    view = by_change(digest.items, digest.app_url)
    return template.render(
        digest=digest,
        guides=view,
        rows=table(view),
        summary=summary(digest),
        counts=counts(digest),
        safe_url=safe_url,
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-")


def digest_filename(digest: Digest, fmt: Format, n: int = 1) -> str:
    """Dated to the second, sortable, filesystem-safe: 2026-11-26T093015Z-digest-ed-example-org.html;
    `n` > 1 is the n-th digest written in the same second (…-digest-all-2.md)."""
    if fmt not in EXTENSIONS:
        raise ValueError(f"unknown digest format {fmt!r}; use one of {', '.join(FORMATS)}")
    stamp = utc(digest.generated_at).strftime("%Y-%m-%dT%H%M%SZ")
    who = _slug(digest.recipient or "") or "all"
    return f"{stamp}-digest-{who}{f'-{n}' if n > 1 else ''}.{EXTENSIONS[fmt]}"

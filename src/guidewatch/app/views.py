"""What `guides`, `changes` and `history` show: the stored state read back as JSON-ready data
or text lines, so the commands only print."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from guidewatch.alerts.digest import text_ops
from guidewatch.app.review import history_lines
from guidewatch.model import Dismissal, Guide
from guidewatch.shorten import shorten
from guidewatch.store import ChangeRecord, ReviewRecord, Store, StoreError

if TYPE_CHECKING:
    from guidewatch.app.recording import CrawlSummary


def guides_json(guides: Sequence[Guide]) -> list[dict[str, Any]]:
    return [{"guide": g.slug, "title": g.title, "source": g.source, "format": g.format, "editors": list(g.editors),
             "sections": [{"id": s.id, "heading": s.heading, "level": s.level,
                           "cites": [c.url for c in g.citations if c.section == s.id and not c.internal],
                           "internal_links": [c.url for c in g.citations if c.section == s.id and c.internal],
                           "mentions": [m.body for m in g.mentions if m.section == s.id]}
                          for s in g.sections]} for g in guides]


def guides_text(guides: Sequence[Guide], *, sections: bool, config_path: object) -> list[str]:
    """Each guide, its sections (indented by level) and what each cites; `sections=False`
    leaves out the sections that cite no source."""
    if not guides:
        return [f"no guides configured: add [[guides]] entries to {config_path}"]
    lines: list[str] = []
    for g in guides:
        mains = [s for s in g.sections if s.level == 1]
        subs = [s for s in g.sections if s.level >= 2]
        lines += [f"{g.slug}  {g.title}",
                  f"  {g.source} ({g.format}); {len(mains)} sections, {len(subs)} sub-sections, "
                  f"{len({c.url for c in g.external_citations})} cited sources; "
                  f"editors: {', '.join(g.editors) or '(none)'}"]
        for s in g.sections:
            cites = [c for c in g.citations if c.section == s.id]
            if not sections and not any(not c.internal for c in cites):
                continue
            indent = "    " + "  " * max(0, s.level - 1)
            lines.append(f"{indent}#{s.id}  {s.heading}")
            lines += [f"{indent}    {'internal' if c.internal else 'cites'}: {c.url}" for c in cites]
        lines.append("")
    return lines


def recorded_changes(store: Store, *, since: datetime | None, source: str | None,
                     cosmetic: bool = False) -> list[ChangeRecord]:
    recs = store.changes.find(since=since, source_url=source)
    return recs if cosmetic else [r for r in recs if r.change.severity != "cosmetic"]


def change_json(rec: ChangeRecord) -> dict[str, Any]:
    c = rec.change
    return {"id": c.id, "source": rec.source_url, "detected_at": rec.detected_at.isoformat(timespec="seconds"),
            "kind": c.kind, "severity": c.severity, "reason": c.reason, "scope": c.scope,
            "source_section": list(c.source_section), "old": c.old, "new": c.new,
            "affects": [{"guide": i.guide, "section": i.section, "heading": i.heading, "score": round(i.score, 3),
                         "tier": i.tier, "claim": i.claim, "evidence": list(i.evidence)} for i in rec.impacts]}


def open_changes(store: Store, recs: Sequence[ChangeRecord], source: str | None) -> list[ChangeRecord]:
    """The changes still to review: those with an alert open (`accept` closes them)."""
    still = {a.change.id for a in store.alerts.find(status="open", source_url=source)}
    return [r for r in recs if r.id in still]


def summary_json(summary: CrawlSummary | None) -> dict[str, Any]:
    """`crawl`/`worker --format json`: the counts of the summary line, the new alerts, one line a source."""
    from guidewatch.app.decision import CATEGORIES

    counts = {k: summary.counts[k] if summary else 0 for k in CATEGORIES}
    return {"checked": sum(counts.values()), "counts": counts,
            "new_alerts": list(summary.new_alerts if summary else ()),
            "sources": list(summary.lines if summary else ())}


def cycle_json(result: str, code: int) -> dict[str, Any]:
    """`run --format json`: each job's summary ("crawl: …", "digest: …") and the exit code."""
    jobs = [line.partition(": ") for line in result.splitlines() if line.strip()]
    return {"jobs": [{"job": name, "summary": text} for name, _, text in jobs], "exit_code": code}


def review_json(r: ReviewRecord) -> dict[str, Any]:
    return {"source": r.source_url, "version": r.content_hash, "by": r.reviewed_by,
            "at": r.reviewed_at.isoformat(timespec="seconds"), "note": r.note, "alerts_closed": r.alerts_closed,
            "automatic": r.automatic}


def history_json(store: Store, source_url: str | None) -> dict[str, Any]:
    """`history --format json`: the reviews and the not-relevant marks, as `history` lists them."""
    if source_url and store.sources.get(source_url) is None:
        raise StoreError(f"{source_url}: not a watched source (see `guidewatch guides`)")
    marks = [{"guide": m.guide, "section": m.section, "source": m.source_url, "source_section": list(m.source_section),
              "by": m.by, "at": m.at.isoformat(timespec="seconds"), "note": m.note}
             for m in store.changes.dismissals(source_url)]
    return {"reviews": [review_json(r) for r in store.reviews.find(source_url)], "dismissals": marks}


def changes_text(recs: Sequence[ChangeRecord], *, since: str | None) -> list[str]:
    """Each change, where on the page, why it matters, the diff and the sections it affects."""
    if not recs:
        return ["no changes detected" + (f" since {since}" if since else "")]
    lines: list[str] = []
    for r in recs:
        c = r.change
        lines += [f"{c.id} {r.detected_at:%Y-%m-%d %H:%M} {c.severity.upper()} {c.kind}: {r.source_url}",
                  f"   section: {' > '.join(c.source_section) or '(whole page)'}",
                  f"   why: {c.reason}"]
        if c.ops:
            lines.append("   diff: " + shorten(text_ops(c.ops), 600))
        for i in r.impacts:
            tier = "re-read" if i.tier == "reread" else "related"
            lines.append(f"   -> {i.guide}#{i.section} ({i.score:.2f}, {tier}) {i.heading}")
            if i.evidence:
                lines.append(f"      evidence: {'; '.join(i.evidence[:3])[:300]}")
        lines.append("")
    return lines


def history_text(store: Store, source_url: str | None) -> list[str]:
    """The review audit trail (all sources, or one), then the editors' not-relevant marks."""
    if source_url and store.sources.get(source_url) is None:
        raise StoreError(f"{source_url}: not a watched source (see `guidewatch guides`)")
    reviews = store.reviews.find(source_url)
    marks = store.changes.dismissals(source_url)
    lines = [] if reviews else ["no reviews recorded"]
    lines += [_review_line(r) for r in reviews]
    lines += [f"{m.at:%Y-%m-%d %H:%M} {m.by}: marked {m.guide}#{m.section} not relevant to {m.source_url} "
              f"› {' › '.join(m.source_section) or '(whole page)'} ({m.note})" for m in marks]
    if not source_url:  # guides a publisher's sitemap added or dropped ([[guide_sources]])
        lines += [f"{e.at:%Y-%m-%d %H:%M} guidewatch: guide {e.kind}: {e.slug}" + (f" ({e.url})" if e.url else "")
                  for e in store.guide_events.find()]
    return lines + history_lines(store, source_url)  # "guide updated" / "no change needed" from the review app


def _review_line(r: ReviewRecord) -> str:
    return (f"{r.reviewed_at:%Y-%m-%d %H:%M} {r.reviewed_by}: {r.source_url} version {(r.content_hash or '-')[:12]}; "
            f"{r.alerts_closed} alert(s) closed" + (f"; note: {r.note}" if r.note else ""))


def dismissal_text(mark: Dismissal) -> str:
    where = " › ".join(mark.source_section) or "(whole page)"
    return f"marked {mark.guide}#{mark.section} not relevant to {mark.source_url} › {where} (by {mark.by})"

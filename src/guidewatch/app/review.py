"""What editors do about open changes: the review queue, per-impact decisions, accepting a
version, and the audit trail of all of it.

The review app (`guidewatch serve`) and the command line call these functions; views only
render what they return. Every rule about who may see or do what lives here: an editor sees
and acts on the guides that list their address in `editors`; an operator (`[serve]
operators`) on every guide.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from guidewatch.alerts.digest import display_ops
from guidewatch.alerts.lifecycle import AUTOMATIC, accept_refusal
from guidewatch.alerts.view import event_words
from guidewatch.app.digest import accept_sources
from guidewatch.app.snapshot_files import sync_snapshot_files
from guidewatch.app.workspace import Workspace
from guidewatch.changes.diff import word_diff
from guidewatch.changes.link import citing
from guidewatch.config import Config
from guidewatch.model import Change, DiffOp, Guide, Impact
from guidewatch.store import AlertRecord, ChangeRecord, ReviewRecord, SnapshotRecord, SourceState, Store, StoreError
from guidewatch.store import web as rows

#: Impact actions as editors read them.
ACTION_LABELS = {"updated": "guide updated", "no_change": "no change needed", "not_relevant": "not relevant"}
#: Page metadata an editor reads beside a change: the publisher's own dates and change note.
PAGE_DATES = (("change_note", "Change note"), ("change_note_at", "Change note dated"),
              ("last_reviewed", "Page last reviewed"), ("next_review_due", "Next review due"),
              ("published", "Published"), ("updated", "Last updated"), ("withdrawn_at", "Withdrawn"),
              ("withdrawn_explanation", "Withdrawal note"))


#: Who the store records as reviewing a source's first version (it becomes the baseline).
BASELINE_REVIEWER = "guidewatch (baseline)"


class ReviewError(StoreError):
    """A review action that cannot be done, in one line that says why."""


@dataclass(frozen=True)
class Reviewer:
    email: str
    operator: bool
    guides: frozenset[str]  # slugs this address edits

    def may(self, guide: str) -> bool:
        return self.operator or guide in self.guides


def reviewer(config: Config, guides: Sequence[Guide], email: str) -> Reviewer | None:
    """Who this address is to the app; None when it edits no guide and is no operator."""
    address = email.strip().lower()
    mine = frozenset(g.slug for g in guides if address in {e.strip().lower() for e in g.editors})
    operator = address in config.serve.operators
    return Reviewer(address, operator, mine) if (mine or operator) and address else None


# --- the queue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImpactState:
    """One guide section a change affects, and the decision on it so far."""

    impact: Impact
    action: str | None = None  # updated | no_change | not_relevant
    by: str | None = None
    at: datetime | None = None
    note: str | None = None

    @property
    def label(self) -> str:
        return ACTION_LABELS.get(self.action or "", "awaiting a decision")


@dataclass(frozen=True)
class ChangeItem:
    """One open change as a reviewer sees it: once, with the sections (of guides they may see)."""

    record: ChangeRecord
    guides: tuple[str, ...]  # visible guides with an open alert on it
    impacts: tuple[ImpactState, ...]
    ops: list[DiffOp]  # empty for a page-level event: told in `words` instead
    words: str  # a page-level event (change note, move, withdrawal) in a sentence
    page: dict[str, str]  # the new version's own dates and change note, labelled
    source: SourceState | None
    refusal: str | None  # why accepting cannot clear the source (gone, moved, ...)
    pending: int  # undecided impacts on the source's open changes, every guide
    hidden_pending: int  # of those, in guides this reviewer does not edit

    def tier(self, tier: str) -> list[ImpactState]:
        return [s for s in self.impacts if s.impact.tier == tier]

    @property
    def can_accept(self) -> bool:
        return self.pending == 0 and self.refusal is None


@dataclass(frozen=True)
class GuideQueue:
    slug: str
    title: str
    changes: tuple[ChangeItem, ...]


@dataclass
class _Decisions:
    """The latest decision per (change id, guide, section), from the app and `guidewatch dismiss`."""

    latest: dict[tuple[int, str, str], ImpactState] = field(default_factory=dict)

    def state(self, change_id: int, imp: Impact) -> ImpactState:
        found = self.latest.get((change_id, imp.guide, imp.section))
        return ImpactState(imp, found.action, found.by, found.at, found.note) if found else ImpactState(imp)


def _decisions(ws: Workspace, change_ids: Sequence[int]) -> _Decisions:
    out = _Decisions()
    for key in rows.dismissed_impacts(ws.store, change_ids):
        out.latest[key] = ImpactState(Impact(key[1], key[2], "", 0.0, ()), "not_relevant")
    for a in rows.impact_actions(ws.store, change_ids=change_ids):
        out.latest[(a.change_id, a.guide, a.section)] = ImpactState(Impact(a.guide, a.section, "", 0.0, ()),
                                                                    a.action, a.by, a.at, a.note)
    return out


def _open_by_change(ws: Workspace) -> dict[int, list[AlertRecord]]:
    out: dict[int, list[AlertRecord]] = {}
    for a in ws.store.alerts.find(status="open"):
        out.setdefault(a.change.id, []).append(a)
    return out


def _pending(open_alerts: Iterable[AlertRecord], decided: _Decisions) -> list[Impact]:
    """Impacts of open alerts (each alert: its own guide's sections) with no decision yet."""
    return [i for a in open_alerts for i in a.change.impacts
            if i.guide == a.guide and decided.state(a.change.id, i).action is None]


def _page_dates(ws: Workspace, change_id: int) -> dict[str, str]:
    new_id = rows.change_snapshot_ids(ws.store, [change_id]).get(change_id, (None, None))[1]
    snap = ws.store.sources.snapshot(new_id)
    meta = snap.meta if snap else {}
    return {label: meta[key] for key, label in PAGE_DATES if meta.get(key)}


def _item(ws: Workspace, who: Reviewer, alerts: list[AlertRecord], by_source: dict[int, list[AlertRecord]],
          decided: _Decisions, only_guide: str | None = None) -> ChangeItem:
    rec = alerts[0].change
    guides = tuple(sorted(a.guide for a in alerts if who.may(a.guide) and only_guide in (None, a.guide)))
    impacts = tuple(decided.state(rec.id, i) for i in rec.impacts if i.guide in guides)
    pending = _pending(by_source.get(rec.source_id, []), decided)
    src = ws.store.sources.get(rec.source_url)
    refusal = accept_refusal(src.url, src.state, src.final_url) if src else None
    ops = [] if rec.change.scope == "page" else display_ops(rec.change)
    return ChangeItem(rec, guides, impacts, ops, event_words(rec.change), _page_dates(ws, rec.id), src, refusal,
                      len(pending), sum(1 for i in pending if not who.may(i.guide)))


def _open_context(ws: Workspace) -> tuple[dict[int, list[AlertRecord]], dict[int, list[AlertRecord]], _Decisions]:
    by_change = _open_by_change(ws)
    by_source: dict[int, list[AlertRecord]] = {}
    for alerts in by_change.values():
        by_source.setdefault(alerts[0].change.source_id, []).extend(alerts)
    return by_change, by_source, _decisions(ws, list(by_change))


def queue(ws: Workspace, who: Reviewer) -> list[GuideQueue]:
    """Per guide the reviewer may see: its open changes, each once, most serious first."""
    by_change, by_source, decided = _open_context(ws)
    rank = {"substantive": 0, "minor": 1, "cosmetic": 2}
    out = []
    for g in sorted(ws.guides, key=lambda g: g.title.casefold()):
        if not who.may(g.slug):
            continue
        mine = [alerts for alerts in by_change.values() if any(a.guide == g.slug for a in alerts)]
        items = [_item(ws, who, alerts, by_source, decided, g.slug) for alerts in mine]
        items.sort(key=lambda i: (rank.get(i.record.change.severity, 9), i.record.detected_at, i.record.id))
        out.append(GuideQueue(g.slug, g.title, tuple(items)))
    return out


def change_item(ws: Workspace, who: Reviewer, change_id: int) -> ChangeItem | None:
    """One change with every impact the reviewer may see; None when it is not theirs to see."""
    by_change, by_source, decided = _open_context(ws)
    alerts = by_change.get(change_id)
    if alerts is None:  # closed already: shown for the record, from any of its alerts
        alerts = [a for a in ws.store.alerts.find(status=None) if a.change.id == change_id]
    if not any(who.may(a.guide) for a in alerts):
        return None
    return _item(ws, who, alerts, by_source, decided)


# --- actions ------------------------------------------------------------------------------


def decide(ws: Workspace, who: Reviewer, change_id: int, section: str, action: str,
           note: str | None = None) -> rows.ImpactAction:
    """Record a decision on one impact ("GUIDE#SECTION"). "not relevant" goes through the
    linker's own mark (`Changes.dismiss`, as `guidewatch dismiss`), so it learns from it."""
    guide, _, sid = section.partition("#")
    if not who.may(guide):
        raise ReviewError(f"{guide}: not a guide you edit")
    if action not in ACTION_LABELS:
        raise ReviewError(f"{action!r}: choose one of {', '.join(ACTION_LABELS.values())}")
    open_alerts = _open_by_change(ws).get(change_id, [])
    if not any(a.guide == guide for a in open_alerts):
        raise ReviewError(f"c{change_id}: no open alert for guide {guide} (accepted or superseded already)")
    if not any(i.guide == guide and i.section == sid for i in open_alerts[0].change.impacts):
        raise ReviewError(f"c{change_id}: not linked to {guide}#{sid}")
    note = (note or "").strip() or None
    if action == "not_relevant":
        ws.store.changes.dismiss(change_id, f"{guide}#{sid}", by=who.email, note=note)
    return rows.record_impact_action(ws.store, change_id, guide, sid, action, by=who.email, note=note)


def accept(ws: Workspace, who: Reviewer, change_id: int, note: str | None = None) -> str:
    """Accept the current version of the change's source once every impact is decided (the
    `guidewatch accept` path, with its refusals); returns what was done, in words."""
    item = change_item(ws, who, change_id)
    if item is None or not item.guides:
        raise ReviewError(f"c{change_id}: nothing of yours is open on it")
    if item.refusal:
        raise ReviewError(item.refusal)
    if item.pending:
        others = f" ({item.hidden_pending} in guides you do not edit)" if item.hidden_pending else ""
        raise ReviewError(f"{item.pending} section(s) still need a decision{others}: decide them first")
    [(review, snap)] = accept_sources(ws.store, [item.record.source_url], by=who.email, note=(note or "").strip()
                                      or None)
    sync_snapshot_files(ws, urls=[review.source_url])
    version = snap.content_hash[:12] if snap else "-"
    return f"accepted version {version} of {review.source_url}; {review.alerts_closed} alert(s) closed"


# --- source pages -------------------------------------------------------------------------


@dataclass(frozen=True)
class SourcePage:
    source: SourceState
    citing: tuple[Guide, ...]  # guides the reviewer may see that cite it
    versions: tuple[SnapshotRecord, ...]  # newest first
    old: SnapshotRecord | None
    new: SnapshotRecord | None
    ops: list[DiffOp]
    events: tuple[ChangeRecord, ...]  # page-level: moved, gone, withdrawn, review due, ...
    changes: tuple[ChangeRecord, ...]


def source_page(ws: Workspace, who: Reviewer, source_id: int, old_id: int | None = None,
                new_id: int | None = None) -> SourcePage | None:
    """A cited source's versions, a diff between two of them (default: the last two), its
    page-level events and the guides citing it; None when no guide of the reviewer cites it."""
    src = next((s for s in ws.store.sources.all(active_only=False) if s.id == source_id), None)
    if src is None:
        return None
    guides = tuple(g for g in ws.guides if citing(g, [src.url, src.final_url or ""]))
    if not any(who.may(g.slug) for g in guides):
        return None
    versions = tuple(reversed(ws.store.sources.versions(source_id)))  # newest first
    by_id = {v.id: v for v in versions}
    new = by_id.get(new_id or -1) or (versions[0] if versions else None)
    old = by_id.get(old_id or -1) or next((v for v in versions if new and v.id < new.id), None)
    ops = word_diff(old.text, new.text) if old and new and old.text != new.text else []
    recs = ws.store.changes.find(source_url=src.url)
    return SourcePage(src, tuple(g for g in guides if who.may(g.slug)), versions, old, new,
                      display_ops_of(ops), tuple(r for r in recs if r.change.scope == "page"),
                      tuple(r for r in recs if r.change.scope != "page"))


def display_ops_of(ops: list[DiffOp]) -> list[DiffOp]:
    """A whole-page diff shortened for reading, as a change's diff is."""
    return display_ops(Change("", "modified", "minor", "", (), "", "", ops)) if ops else []


def visible_sources(ws: Workspace, who: Reviewer) -> list[tuple[SourceState, tuple[str, ...]]]:
    """Every watched source a guide of the reviewer cites, with those guides' slugs."""
    out = []
    for src in ws.store.sources.all():
        slugs = tuple(g.slug for g in ws.guides if who.may(g.slug) and citing(g, [src.url]))
        if slugs:
            out.append((src, slugs))
    return out


# --- the audit trail ----------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    who: str
    action: str  # accepted | guide updated | no change needed | not relevant | closed automatically
    guides: tuple[str, ...]
    section: str
    source_url: str
    version: str  # content hash (12 characters) of the version acted on, or ""
    note: str


@dataclass(frozen=True)
class AuditFilter:
    guide: str | None = None
    editor: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def keeps(self, e: AuditEntry) -> bool:
        return ((not self.guide or self.guide in e.guides) and (not self.editor or self.editor.lower() in e.who.lower())
                and (self.since is None or e.at >= self.since) and (self.until is None or e.at <= self.until))


def _all_entries(ws: Workspace) -> list[AuditEntry]:
    cited: dict[str, tuple[str, ...]] = {}

    def guides_of(url: str) -> tuple[str, ...]:
        if url not in cited:
            cited[url] = tuple(g.slug for g in ws.guides if citing(g, [url]))
        return cited[url]

    def what(r: ReviewRecord) -> str:
        if r.automatic:
            return "closed automatically"
        return "baseline" if r.reviewed_by == BASELINE_REVIEWER else "accepted"

    out = [AuditEntry(r.reviewed_at, r.reviewed_by, what(r), guides_of(r.source_url), "", r.source_url,
                      (r.content_hash or "")[:12], r.note or "") for r in ws.store.reviews.find()]
    actions = rows.impact_actions(ws.store)
    out += [AuditEntry(a.at, a.by, ACTION_LABELS[a.action], (a.guide,), a.section, a.source_url,
                       (a.content_hash or "")[:12], a.note or "") for a in actions]
    from_app = {(a.guide, a.section, a.by, f"on c{a.change_id}") for a in actions if a.action == "not_relevant"}
    for m in ws.store.changes.dismissals():
        if (m.guide, m.section, m.by, m.note.partition(":")[0]) not in from_app:  # `guidewatch dismiss`
            out.append(AuditEntry(m.at, m.by, "not relevant", (m.guide,), m.section, m.source_url, "", m.note))
    out += [AuditEntry(e.at, AUTOMATIC, f"guide {e.kind}", (e.slug,), "", e.url, "", "from the publisher's guide list")
            for e in ws.store.guide_events.find()]
    return out


def audit(ws: Workspace, who: Reviewer, wanted: AuditFilter | None = None) -> list[AuditEntry]:
    """Every review action on the reviewer's guides, newest first, filtered."""
    wanted = wanted or AuditFilter()
    entries = [e for e in _all_entries(ws) if (who.operator or any(who.may(g) for g in e.guides))
               and wanted.keeps(e)]
    return sorted(entries, key=lambda e: e.at, reverse=True)


CSV_COLUMNS = ("when_utc", "who", "action", "guides", "section", "source", "version", "note")


def audit_csv(entries: Sequence[AuditEntry]) -> str:
    """The audit trail as CSV; a cell that a spreadsheet would run as a formula is quoted off."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        cells = [e.at.strftime("%Y-%m-%dT%H:%M:%SZ"), e.who, e.action, " ".join(e.guides), e.section, e.source_url,
                 e.version, e.note]
        writer.writerow(["'" + c if c[:1] in ("=", "+", "-", "@", "\t", "\r") else c for c in cells])
    return buf.getvalue()


def history_lines(store: Store, source_url: str | None) -> list[str]:
    """`guidewatch history` lines for "guide updated" and "no change needed" decisions
    ("not relevant" ones print as the marks they also are)."""
    out = []
    for a in rows.impact_actions(store, source_url):
        if a.action == "not_relevant":
            continue
        version = (a.content_hash or "-")[:12]
        out.append(f"{a.at:%Y-%m-%d %H:%M} {a.by}: {ACTION_LABELS[a.action]} for {a.guide}#{a.section} on "
                   f"c{a.change_id} of {a.source_url} version {version}" + (f"; note: {a.note}" if a.note else ""))
    return out

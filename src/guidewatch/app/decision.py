"""What one crawl answer means, decided from plain values: no store, no files, no HTTP.

`app.recorder` reads what a decision needs from the store and applies it, so every rule
about an answer (is it the page, which events, which changes, what the progress line says)
can be tested with plain values. Inputs are never changed: screening an answer gives a new
`FetchOutcome`, and the caller's stays what the server said.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from guidewatch.alerts.lifecycle import Closure, review_due_closure
from guidewatch.changes.diff import diff_pages, number_changes
from guidewatch.changes.events import gone_event, metadata_events, moved_event, unreachable_event, withdrawn_event
from guidewatch.model import Change, FetchOutcome, Page
from guidewatch.pages.suspect import Judgement

#: The crawl summary's categories: each recorded source counts in exactly one.
CATEGORIES = ("new", "unchanged", "changed", "moved", "gone", "failed")


class SourceView(Protocol):
    """The recorded state of a source, as far as a decision reads it (a store `SourceState`)."""

    @property
    def url(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def consecutive_failures(self) -> int: ...
    @property
    def first_failed_at(self) -> datetime | None: ...
    @property
    def last_error(self) -> str | None: ...


class SnapshotView(Protocol):
    """A stored version, as far as a decision reads it (a store `SnapshotRecord`)."""

    @property
    def id(self) -> int: ...
    @property
    def meta(self) -> dict[str, str]: ...
    def page(self) -> Page: ...


@dataclass(frozen=True)
class Screened:
    """An answer after screening: `outcome` as it is recorded (a failed check or soft 404 when
    the 200 was not the content), the page to record, the content hash of a page held back
    as suspect, and a note for the verdict."""

    outcome: FetchOutcome
    page: Page | None = None
    suspect_hash: str | None = None
    note: str = ""


def _failed(outcome: FetchOutcome, error: str, *, transient: bool) -> FetchOutcome:
    return dataclasses.replace(outcome, status="failed", error=error, transient=transient)


def screen_page(page: Page, outcome: FetchOutcome) -> Screened:
    """The page, or no page (the answer made a failure or soft 404) when the 200 is not the content.

    An outage notice, consent wall, empty body, unreadable PDF or a JSON/text body in place of
    the page must never be diffed: it would report the guidance as deleted and move the snapshot.
    """
    kind = page.metadata.get("content_type") or ""
    if page.metadata.get("unreadable"):  # a PDF that cannot be read: never "all text removed"
        transient = "unreadable_transient" in page.metadata  # a cut download may come whole next time
        return Screened(_failed(outcome, page.metadata["unreadable"], transient=transient))
    if page.metadata.get("unavailable"):
        reason = page.metadata["unavailable"][:120]
        return Screened(_failed(outcome, f"page says it is unavailable: {reason!r}", transient=True))
    if page.metadata.get("soft_404"):
        return Screened(dataclasses.replace(outcome, status="soft_404"))
    if not page.blocks and (outcome.via_api or "html" in kind or not kind):
        return Screened(_failed(outcome, "page had no main content", transient=True))
    if not page.blocks:  # a plain-text error message may clear
        return Screened(_failed(outcome, f"not a web page: the server sent {kind}", transient=kind.startswith("text/")))
    return Screened(outcome, page)


def screen_parsed(outcome: FetchOutcome, parsed: Page | str) -> Screened:
    """An "ok" answer's normalised body screened; an unparseable body (the parser's error
    message) is a failed check, never a content change."""
    if isinstance(parsed, str):
        return Screened(_failed(outcome, parsed, transient=True))
    return screen_page(parsed, outcome)


def apply_judgement(screened: Screened, judgement: Judgement) -> Screened:
    """The structural guard's verdict (`suspect.judge`) applied: a suspect page is held back as
    a failed, transient check until a later crawl sees it again."""
    if screened.page is None or judgement.verdict == "accept":
        return screened
    if judgement.verdict == "suspect":
        error = f"suspect page held back until a later crawl sees it again: {judgement.reason}"
        return Screened(_failed(screened.outcome, error, transient=True), None, screened.page.content_hash)
    return dataclasses.replace(screened, note=f"; suspect page confirmed: {judgement.reason}")


def answers_again(previous_state: str, outcome: FetchOutcome) -> bool:
    """Whether a source that was gone or unreachable answered, so its gone/unreachable alerts close."""
    return previous_state in ("gone", "unreachable") and outcome.status not in ("failed", "blocked", "gone",
                                                                                "soft_404")


def also(verdict: str, more: str) -> str:
    return f"{verdict}; {more}" if verdict and more else verdict or more


def state_events(outcome: FetchOutcome, state: SourceView, page: Page | None, *, recovered: bool,
                 unreachable_after: int) -> tuple[list[Change], str]:
    """Page-level events of this answer (unreachable, gone, moved, withdrawn) and the verdict so far.

    `state`: the source as recorded with this answer; `recovered`: its gone/unreachable alerts
    were closed because it answers again."""
    events: list[Change] = []
    if outcome.status in ("failed", "blocked"):
        verdict = f"failed ({outcome.error or outcome.status})"
        if state.state == "unreachable":
            events.append(unreachable_event(state.url, state.consecutive_failures, state.first_failed_at,
                                            state.last_error or ""))
            verdict += f"; unreachable after {state.consecutive_failures} tries"
        elif outcome.transient:
            verdict += f"; transient, try {state.consecutive_failures} of {unreachable_after}"
        return events, verdict
    if outcome.status in ("gone", "soft_404"):
        events.append(gone_event(state.url, outcome.http_status or 200))
        return events, "gone" + (" (page says it was not found)" if outcome.status == "soft_404" else
                                 f" (HTTP {outcome.http_status})")
    verdict = "unchanged" if outcome.status == "not_modified" else ""
    if recovered:
        verdict = "answers again (gone/unreachable alerts closed)"
    if outcome.moved:
        events.append(moved_event(state.url, outcome.final_url or ""))
        verdict = f"moved to {outcome.final_url}"
    if page is not None and page.metadata.get("withdrawn_at"):
        events.append(withdrawn_event(page))
    return events, verdict


def crawl_category(status: str, *, moved: bool = False, baseline: bool = False, changed: bool = False) -> str:
    """The one category a recorded outcome counts in, so that the summary adds up to the
    sources checked. What needs doing most decides: a failure, then a gone or moved page
    (the guide's link), then a first version, then a change to review."""
    if status in ("failed", "blocked"):
        return "failed"
    if status in ("gone", "soft_404"):
        return "gone"
    if moved:
        return "moved"
    if baseline:
        return "new"
    return "changed" if changed else "unchanged"


@dataclass(frozen=True)
class Facts:
    """What the store holds once an answer is recorded: everything a decision reads.

    `fresh`: the version to compare (the new one, or a current one whose changes were never
    recorded); `reviewed`: the reviewed version (the new one when it became the baseline);
    `current_meta`: the current version's metadata (None: no version stored)."""

    screened: Screened
    state: SourceView
    today: date
    unreachable_after: int
    recovered: bool = False
    baseline: bool = False
    new_version: bool = False
    fresh: SnapshotView | None = None
    reviewed: SnapshotView | None = None
    current_meta: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Decision:
    """What to record for one answer: its numbered changes (`diffed`: they include a fresh
    diff, which replaces the open content alerts), the review-due alert to close, the
    verdict so far and the summary category."""

    changes: tuple[Change, ...]
    diffed: bool
    verdict: str
    review_due: Closure | None
    category: str

    @property
    def to_record(self) -> bool:
        return bool(self.changes) or self.diffed


def decide(facts: Facts) -> Decision:
    """Events, changes, verdict and category of one recorded answer."""
    outcome, page, reviewed, fresh = facts.screened.outcome, facts.screened.page, facts.reviewed, facts.fresh
    events, verdict = state_events(outcome, facts.state, page, recovered=facts.recovered,
                                   unreachable_after=facts.unreachable_after)
    block_changes: list[Change] | None = None
    if fresh is not None and reviewed is not None and reviewed.id != fresh.id:
        block_changes = diff_pages(reviewed.page(), fresh.page())
        real = [c for c in block_changes if c.severity != "cosmetic"]
        verdict = also(verdict, f"changed: {len(real)} change(s) to review" if real else "changed (cosmetic only)")
    elif facts.new_version:
        verdict = verdict or "baseline recorded"
    elif outcome.status in ("ok", "not_modified"):
        verdict = verdict or "unchanged"
    closure = None
    if page is not None:
        meta = facts.current_meta if facts.current_meta is not None else page.metadata
        events.extend(metadata_events(reviewed.meta if reviewed else None, meta, today=facts.today))
        if not any(e.kind == "review_due" for e in events):
            closure = review_due_closure(meta, today=facts.today)
    changes = number_changes((block_changes or []) + events)
    category = crawl_category(outcome.status, moved=outcome.moved, baseline=facts.baseline,
                              changed=block_changes is not None)
    return Decision(tuple(changes), block_changes is not None, verdict, closure, category)

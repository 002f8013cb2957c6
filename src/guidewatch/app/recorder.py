"""One crawl answer recorded: screened, stored, decided (`app.decision`), then applied.

The order of the writes is what makes a killed crawl safe (tests/test_crash.py): the fetch
and any new version first (`record_fetch`, or many answers' in one transaction: see
`app.recording`), then the closed alerts and the changes (`apply_recorded`), then the
snapshot files. A crawl killed between two of them leaves nothing the next answer does not
put right.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from guidewatch.alerts.lifecycle import AUTOMATIC
from guidewatch.app.decision import (
    Decision,
    Facts,
    Screened,
    also,
    answers_again,
    apply_judgement,
    decide,
    screen_parsed,
)
from guidewatch.app.schedule_policy import next_due
from guidewatch.app.snapshot_files import files_in_line, sync_snapshot_files, write_baseline_files
from guidewatch.model import FetchOutcome, Page
from guidewatch.pages.suspect import Judgement, error_like, judge
from guidewatch.store import RecordResult, SnapshotRecord, SourceState, utcnow

if TYPE_CHECKING:
    from guidewatch.app.recording import CrawlSummary
    from guidewatch.app.workspace import Workspace
    from guidewatch.pages.parse import ParseJob
    from guidewatch.sources.profiles import Profile


@dataclass(frozen=True)
class Processed:
    """One recorded answer: the outcome as recorded (after screening) and the progress verdict."""

    outcome: FetchOutcome
    verdict: str


def process_outcome(ws: Workspace, src: SourceState, outcome: FetchOutcome, summary: CrawlSummary, *,
                    today: date | None = None, parsed: Page | str | None = None) -> str:
    """Record one outcome and derive its changes; returns a short verdict for the progress line."""
    return record_outcome(ws, src, outcome, summary, today=today, parsed=parsed).verdict


def record_outcome(ws: Workspace, src: SourceState, outcome: FetchOutcome, summary: CrawlSummary, *,
                   today: date | None = None, parsed: Page | str | None = None) -> Processed:
    """Record one outcome; `outcome` itself is left as it came.

    `parsed`: the body already normalised; None parses it here.
    The source counts in one summary category, once it is recorded.
    """
    return record_screened(ws, src, screen(ws, src, outcome, parsed), summary, today=today)


def record_screened(ws: Workspace, src: SourceState, screened: Screened, summary: CrawlSummary, *,
                    today: date | None = None) -> Processed:
    """Record one screened answer: its fetch and any new version in a transaction of its own, then the rest."""
    result = ws.store.sources.record_fetch(screened.outcome, screened.page,
                                           unreachable_after=ws.config.check.unreachable_after,
                                           next_due_at=due_after(ws, src, screened.outcome),
                                           suspect_hash=screened.suspect_hash)
    return apply_recorded(ws, src, screened, result, summary, today=today)


def due_after(ws: Workspace, src: SourceState, outcome: FetchOutcome) -> datetime | None:
    """When the source is next due, counted from this answer."""
    return next_due(ws.config, src, outcome.fetched_at or utcnow(), ws.profile(src))


def apply_recorded(ws: Workspace, src: SourceState, screened: Screened, result: RecordResult,
                   summary: CrawlSummary, *, today: date | None = None) -> Processed:
    """What follows an answer's stored fetch: recovered alerts closed, the decision, its changes
    and alerts, the snapshot files. `src`: the source as it was before the answer was stored."""
    recovered = answers_again(src.state, screened.outcome) and ws.store.alerts.close_recovered(src.id)
    when = today or (screened.outcome.fetched_at or utcnow()).date()
    decision = decide(_facts(ws, screened, result, recovered=recovered, today=when))
    verdict = also(decision.verdict, _close_review_due(ws, result.source, decision))
    _record_changes(ws, result.source, decision, summary)
    _sync_files(ws, result, screened.outcome, changed=decision.diffed)
    summary.counts[decision.category] += 1
    return Processed(screened.outcome, verdict + screened.note)


def screen(ws: Workspace, src: SourceState, outcome: FetchOutcome, parsed: Page | str | None) -> Screened:
    """An "ok" answer parsed (unless `parsed` is given), screened and judged by the structural guard."""
    if outcome.status != "ok":
        return Screened(outcome)
    screened = screen_parsed(outcome, parse(parse_job(ws, src, outcome), ws.profiles) if parsed is None else parsed)
    if screened.page is None:
        return screened
    return apply_judgement(screened, judge_version(ws, src, screened.page))


def parse(job: ParseJob, profiles: dict[str, Profile]) -> Page | str:
    """`pages.parse.parse`. The normaliser and the linker are imported with the first page that
    needs them, not with this module: a crawl whose sources all answer 304 never loads them
    (~50 ms of its CPU)."""
    from guidewatch.pages.parse import parse as parse_page

    return parse_page(job, profiles)


def parse_job(ws: Workspace, src: SourceState, outcome: FetchOutcome) -> ParseJob:
    """How to normalise this answer: the source's profile (or the API's), its ignore rules."""
    from guidewatch.pages.parse import ParseJob

    sc = ws.config.source(src.url)
    profile = ws.profiles.get(outcome.via_api and src.profile or "") or ws.profile(src)
    return ParseJob(outcome.body, outcome.final_url or outcome.url, profile.name, outcome.headers.get("content-type"),
                    outcome.via_api, tuple(sc.ignore) if sc else ())


def judge_version(ws: Workspace, src: SourceState, page: Page) -> Judgement:
    """The structural guard's verdict on a new version (`suspect.judge`) with what the store knows.
    Free for almost every page: the store is asked only when a title or heading reads like an error."""
    if src.reviewed_snapshot_id is None or error_like(page) is None:
        return Judgement("accept")
    reviewed = ws.store.sources.snapshot(src.reviewed_snapshot_id)
    known = set(ws.store.sources.snapshot_hashes([src.reviewed_snapshot_id, src.current_snapshot_id]).values())
    last = ws.store.sources.fetch_history(src.url, limit=1)
    last_suspect = last[0]["content_hash"] if last and last[0]["status"] == "failed" else None
    return judge(page, reviewed.text if reviewed else None, known=known, last_suspect=last_suspect)


def _facts(ws: Workspace, screened: Screened, result: RecordResult, *, recovered: bool, today: date) -> Facts:
    """What the decision reads, loaded from the store only when there is something to compare
    (not for a 304 or a failure)."""
    state, page = result.source, screened.page
    fresh = result.new_snapshot or _undiffed_current(ws, state, screened.outcome)
    if result.baseline_review is not None:
        reviewed = result.new_snapshot  # the first version seen is the baseline: nothing to read back
    else:
        wanted = fresh is not None or page is not None
        reviewed = ws.store.sources.snapshot(state.reviewed_snapshot_id) if wanted else None
    current = None
    if page is not None:
        current = result.new_snapshot or ws.store.sources.snapshot(state.current_snapshot_id)
    return Facts(screened, state, today, ws.config.check.unreachable_after, recovered=recovered,
                 baseline=result.baseline_review is not None, new_version=result.new_snapshot is not None,
                 fresh=fresh, reviewed=reviewed, current_meta=current.meta if current else None)


def _undiffed_current(ws: Workspace, state: SourceState, outcome: FetchOutcome) -> SnapshotRecord | None:
    """The current snapshot when it differs from the reviewed one but no change was ever
    recorded for it: a crawl killed between storing a version and its changes. Diffing it
    now (idempotent: known changes are not alerted twice) means the change is not lost."""
    if outcome.status not in ("ok", "not_modified") or state.current_snapshot_id in (None, state.reviewed_snapshot_id):
        return None
    if ws.store.changes.exists_for(state.current_snapshot_id):  # type: ignore[arg-type]
        return None
    return ws.store.sources.snapshot(state.current_snapshot_id)


def _close_review_due(ws: Workspace, state: SourceState, decision: Decision) -> str:
    """Close the review-due alert of a page whose next review date no longer passed (it was
    re-reviewed); the store records why in the audit trail. Idempotent: a crawl killed before
    this step closes it on the next answer."""
    closure = decision.review_due
    if closure is None or not ws.store.alerts.close(state.id, kinds=closure.kinds, status=closure.status,
                                                    note=closure.note, by=AUTOMATIC):
        return ""
    return f"review-due alert closed ({closure.note})"


def _record_changes(ws: Workspace, state: SourceState, decision: Decision, summary: CrawlSummary) -> None:
    """The decision's changes linked to the guide sections they affect, and stored with their alerts."""
    if not decision.to_record:
        return
    from guidewatch.changes.link import link_changes  # see `parse`

    changes = list(decision.changes)
    marks = ws.store.changes.dismissals(state.url)
    linked = link_changes(changes, state.url, ws.guides_citing(state.url), dismissed=marks)
    pairs = [(c, linked.get(c.id, [])) for c in changes]
    summary.new_alerts += ws.store.changes.record(
        state.id, state.reviewed_snapshot_id, state.current_snapshot_id, pairs,
        min_alert_severity=ws.config.alerts.min_severity, replace_open=decision.diffed)


def _sync_files(ws: Workspace, result: RecordResult, outcome: FetchOutcome, *, changed: bool) -> None:
    """Every answer re-syncs the files (unchanged ones are not rewritten), which also repairs
    files a killed crawl stored in the database but never wrote; a 304 whose files already
    show the stored versions (by content hash) skips the re-render."""
    state = result.source
    quiet_304 = outcome.status == "not_modified" and not changed and files_in_line(ws, state)
    if result.baseline_review is not None and state.active:  # a first version: files from what was just stored
        write_baseline_files(ws, state.url, result.new_snapshot, result.baseline_review)
    elif (outcome.status in ("ok", "not_modified") or changed) and not quiet_304:
        sync_snapshot_files(ws, urls=[state.url])


def without_body(outcome: FetchOutcome) -> FetchOutcome:
    """A recorded outcome as reported onwards: nothing holds on to the page any longer."""
    return dataclasses.replace(outcome, body=b"") if outcome.body else outcome

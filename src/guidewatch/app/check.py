"""`guidewatch check`: the CI gate.

A cited source is stale when

- its text changed (minor or substantive) since the version an editor last accepted, or
  its GOV.UK change history gained a note since then (`guidewatch accept` clears these);
- it is gone, withdrawn, or its URL now redirects somewhere else (moved). These hold while
  the page is in that state, whatever was accepted: the guide's citation has to change;
- it is persistently unreachable (`[check] unreachable_after` failed checks in a row), or
  fails in a way no retry clears (a 403, robots.txt, a redirect to another site);
- it was last checked successfully longer ago than max-age.

What changed is what the crawl recorded: the stored changes since the last review, with the
guide sections the crawl linked them to. The check never diffs again, so a newer diff or
severity rule cannot make a recorded change, or the sections it affects, disappear. Each
changed passage counts as it is now (its latest record), and a passage that has changed back
since drops out; that does not depend on `[alerts] min_severity`, so neither does the verdict.
The page's state (gone, moved, withdrawn, failing) comes from the source itself.

A transient failure (a timeout, a 5xx or a 429 the spider's retries did not clear) is a
warning, not a failure. An online check fetches such a source again, after a pause, until
it answers or has failed `unreachable_after` times in a row: only then is it stale, so a
persistent outage fails even a fresh CI runner with no history.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal

from guidewatch.alerts.digest import accept_command
from guidewatch.alerts.lifecycle import blocking_state, state_action
from guidewatch.app.crawl import crawl
from guidewatch.app.instance import single_instance
from guidewatch.app.workspace import Workspace
from guidewatch.changes.events import moved_event, parse_day, withdrawn_event
from guidewatch.exitcodes import USAGE
from guidewatch.model import Change, FetchOutcome, Guide, Impact
from guidewatch.store import ChangeRecord, LockHeld, ReviewRecord, SnapshotRecord, SourceState, Store, utcnow

Verdict = Literal["fresh", "stale", "warning"]

RETRY_PAUSE = timedelta(seconds=10)  # between fetch rounds for sources that failed transiently
MAX_LISTED_CHANGES = 8  # per source in the reasons; the rest are counted


class CheckError(ValueError):
    """Nothing to check (no guides, no cited sources): a configuration problem, exit 2."""

    exit_code = USAGE


@dataclass
class Reason:
    """Why a source is stale (or, as a warning, why it is worth a look)."""

    kind: str  # changed|change_note|moved|withdrawn|gone|unreachable|failed|max_age|never_checked|transient|review_due
    text: str
    severity: str = ""  # for content changes: minor|substantive


@dataclass
class Affected:
    """A guide section an editor should re-read, and how we know."""

    guide: str
    section: str
    heading: str
    guide_file: str
    line: int | None = None  # the section's heading line in the guide file
    score: float | None = None  # link score when the section was linked to a change
    why: str = "cites this source"


@dataclass
class SourceVerdict:
    url: str
    title: str
    verdict: Verdict
    state: str = "new"
    reasons: list[Reason] = field(default_factory=list)
    warnings: list[Reason] = field(default_factory=list)
    affects: list[Affected] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    last_ok_at: datetime | None = None
    last_checked_at: datetime | None = None
    final_url: str | None = None
    accept: str = ""
    elapsed_s: float = 0.0  # fetch time in this run
    cited_at: dict[str, int] = field(default_factory=dict)  # guide file -> line citing the source

    @property
    def acceptable(self) -> bool:
        """True when `guidewatch accept` is what clears this source: its text changed, and it
        is not in a state that accepting cannot clear (`accept` refuses those)."""
        return (any(r.kind in ("changed", "change_note") for r in self.reasons)
                and blocking_state(self.url, self.state, self.final_url) is None)


@dataclass
class CheckReport:
    generated_at: datetime
    max_age: timedelta
    offline: bool
    sources: list[SourceVerdict]

    @property
    def stale(self) -> list[SourceVerdict]:
        return [s for s in self.sources if s.verdict == "stale"]

    @property
    def warnings(self) -> list[SourceVerdict]:
        return [s for s in self.sources if s.warnings]

    @property
    def exit_code(self) -> int:
        return 1 if self.stale else 0


# --- running the check --------------------------------------------------------------------


def run_check(ws: Workspace, *, max_age: timedelta, offline: bool = False,
              retry_pause: timedelta = RETRY_PAUSE, say: Callable[[str], None] | None = None) -> CheckReport:
    """Fetch every cited source (unless offline) under the crawl lock, then judge them."""
    if not ws.store.sources.all():
        where = ws.config.path or "guidewatch.toml"
        raise CheckError(f"{where}: no cited sources to check (add [[guides]] that link to their sources)")
    attempts: dict[str, list[FetchOutcome]] = {}
    if not offline:
        try:
            with single_instance(ws.store, "crawl", role="check"):
                attempts = fetch_with_retries(ws, pause=retry_pause, say=say)
        except LockHeld as exc:
            raise LockHeld(f"cannot check now, another crawl is running: {exc}; "
                           "try again when it has finished, or use --offline") from None
        _crawl_worked(attempts)
    return evaluate(ws, max_age=max_age, offline=offline, attempts=attempts)


def _crawl_worked(attempts: dict[str, list[FetchOutcome]]) -> None:
    """When the crawl process itself never produced an answer for any source, the tool is
    broken (Scrapy missing, crawl_timeout far too short), not the sources: exit 2, not 1."""
    tries = [a for outcomes in attempts.values() for a in outcomes]
    if tries and all((a.error or "").startswith("crawl aborted") for a in tries):
        raise CheckError(f"the crawl failed for every source, so nothing was checked: {tries[-1].error}")


def fetch_with_retries(ws: Workspace, *, pause: timedelta = RETRY_PAUSE,
                       say: Callable[[str], None] | None = None) -> dict[str, list[FetchOutcome]]:
    """Fetch all sources; fetch those that failed transiently again, up to `unreachable_after`
    tries in all, so one blip passes and a persistent failure is seen within one run."""
    attempts: dict[str, list[FetchOutcome]] = {}
    limit = ws.config.check.unreachable_after
    todo = ws.store.sources.all()
    for attempt in range(1, limit + 1):
        if attempt > 1:
            if say:
                say(f"{len(todo)} source(s) failed transiently; trying again in {pause.total_seconds():g} s "
                    f"(try {attempt} of {limit})")
            time.sleep(pause.total_seconds())
        crawl(ws, todo, progress=lambda o, _v: attempts.setdefault(o.url, []).append(o))
        todo = [s for s in ws.store.sources.all() if _should_retry(s, attempts.get(s.url, []))]
        if not todo:
            break
    return attempts


def _should_retry(src: SourceState, tries: Sequence[FetchOutcome]) -> bool:
    last = tries[-1] if tries else None
    return last is not None and last.status == "failed" and last.transient and src.state != "unreachable"


# --- judging each source ------------------------------------------------------------------


def evaluate(ws: Workspace, *, max_age: timedelta, offline: bool, now: datetime | None = None,
             attempts: dict[str, list[FetchOutcome]] | None = None) -> CheckReport:
    """Judge every active source from what the store holds (after this run's fetches)."""
    now = now or utcnow()
    files = _GuideFiles()
    verdicts = [_judge(ws, src, now=now, max_age=max_age, attempts=(attempts or {}).get(src.url, []), files=files)
                for src in ws.store.sources.all()]
    return CheckReport(now, max_age, offline, verdicts)


def _judge(ws: Workspace, src: SourceState, *, now: datetime, max_age: timedelta,
           attempts: list[FetchOutcome], files: _GuideFiles) -> SourceVerdict:
    store = ws.store
    reviewed = store.sources.snapshot(src.reviewed_snapshot_id)
    current = store.sources.snapshot(src.current_snapshot_id)
    last_review = store.reviews.last(src.id)
    history = store.sources.fetch_history(src.url, limit=1)
    last_fetch = history[0] if history else None
    v = SourceVerdict(url=src.url, title=src.title or src.url, verdict="fresh", state=src.state,
                      last_ok_at=src.last_ok_at, last_checked_at=src.last_checked_at, final_url=src.final_url,
                      accept=accept_command(src.url), elapsed_s=sum(a.elapsed_ms for a in attempts) / 1000)
    impacts: list[Impact] = []
    v.reasons += _state_reasons(src, current, last_fetch)
    if src.state != "gone":
        found, linked = _content_changes(store, src, reviewed, current, last_review)
        v.reasons += found
        impacts += linked
    failing = any(r.kind in ("unreachable", "failed") for r in v.reasons)
    v.reasons += [r for r in _freshness_reasons(src, now, max_age) if not (failing and r.kind == "never_checked")]
    v.warnings += _failure_warnings(src, attempts, ws.config.check.unreachable_after, last_fetch)
    v.warnings += _review_due_warning(current, last_review, now.date())
    v.affects = _affected(ws.guides, src.url, impacts, files)
    v.cited_at = {_rel(g.source): n for g in ws.guides if (n := files.cite_line(g, src.url))}
    v.actions = _actions(v)
    v.verdict = "stale" if v.reasons else ("warning" if v.warnings else "fresh")
    return v


def _state_reasons(src: SourceState, current: SnapshotRecord | None,
                   last_fetch: dict[str, object] | None) -> list[Reason]:
    """Gone, withdrawn, moved, unreachable, or refused: true of the page now, not a diff."""
    out: list[Reason] = []
    if src.state == "gone":
        status = last_fetch.get("http_status") if last_fetch else None
        soft = last_fetch is not None and last_fetch.get("status") == "soft_404"
        text = "the page now says it was not found" if soft else f"HTTP {status}" if status else "not found"
        out.append(Reason("gone", f"gone: {text}", "substantive"))
    if src.state == "withdrawn":
        event = withdrawn_event(current.meta if current else {})
        out.append(Reason("withdrawn", event.reason, "substantive"))
    if src.state == "moved" and src.final_url:
        event = moved_event(src.url, src.final_url)
        if event.severity != "cosmetic":
            out.append(Reason("moved", f"moved: {event.reason}", event.severity))
    if src.state == "unreachable":
        since = f" since {src.first_failed_at:%Y-%m-%d %H:%M} UTC" if src.first_failed_at else ""
        out.append(Reason("unreachable", f"persistent failure: {src.consecutive_failures} failed checks in a "
                                         f"row{since} (last error: {src.last_error or 'no answer'})"))
    elif src.consecutive_failures and last_fetch is not None and not last_fetch.get("transient"):
        out.append(Reason("failed", f"persistent failure: cannot be fetched ({src.last_error or 'refused'}); "
                                    "not a transient error, so retrying will not clear it"))
    return out


def _content_changes(store: Store, src: SourceState, reviewed: SnapshotRecord | None, current: SnapshotRecord | None,
                     last_review: ReviewRecord | None) -> tuple[list[Reason], list[Impact]]:
    """The minor or substantive changes recorded since the last review, and their impacts."""
    if reviewed is None or current is None:
        return [], []
    since = last_review.reviewed_at if last_review else None
    open_ids = {a.change.id for a in store.alerts.find(status="open", source_url=src.url)}
    records = changes_now(store.changes.find(since=since, source_url=src.url), since=since, current=current,
                          moved_on=reviewed.id != current.id, open_ids=open_ids)
    changes = [r.change for r in records]
    reasons = [_change_reason(c) for c in changes[:MAX_LISTED_CHANGES]]
    if len(changes) > MAX_LISTED_CHANGES:
        more = len(changes) - MAX_LISTED_CHANGES
        worst = "substantive" if any(c.severity == "substantive" for c in changes[MAX_LISTED_CHANGES:]) \
            else "minor"
        reasons.append(Reason("changed", f"... and {more} more change(s) (`guidewatch changes --source URL`)",
                              worst))
    return reasons, [i for r in records for i in r.impacts]


def changes_now(records: Sequence[ChangeRecord], *, since: datetime | None, current: SnapshotRecord,
                moved_on: bool, open_ids: set[int]) -> list[ChangeRecord]:
    """The recorded changes that still stand: passages of the page, then GOV.UK change notes.

    `records`: the source's changes in the order they were detected. A passage's change
    stands while its alert is open (a crawl records a passage again only when it says
    something new, superseding the alert, and closes the alert of a passage that changed
    back), or when the crawl that stored the current version recorded it (a change that
    opened no alert is recorded again by every crawl that finds a new version). `moved_on`:
    the current version is not the reviewed one; an accepted or reverted page has no passages.
    """
    passages: list[ChangeRecord] = []
    notes: dict[str, ChangeRecord] = {}
    for rec in records:
        c = rec.change
        if since is not None and rec.detected_at <= since:
            continue
        if c.kind == "change_note":
            notes.setdefault(c.new, rec)
        elif (c.scope == "block" and moved_on and c.severity != "cosmetic"
              and (rec.id in open_ids or rec.detected_at >= current.fetched_at)):
            passages.append(rec)
    return passages + list(notes.values())


def _change_reason(c: Change) -> Reason:
    if c.kind == "change_note":
        return Reason("change_note", c.reason, c.severity)
    where = " > ".join(c.source_section) or "the page"
    return Reason("changed", f"{c.severity} change ({c.kind}) in {where}: {c.reason}", c.severity)


def _freshness_reasons(src: SourceState, now: datetime, max_age: timedelta) -> list[Reason]:
    if src.last_ok_at is None:
        return [Reason("never_checked", "never checked successfully in this store")]
    if now - src.last_ok_at > max_age:
        return [Reason("max_age", f"last checked successfully {src.last_ok_at:%Y-%m-%d %H:%M} UTC, more than "
                                  f"{_span(max_age)} ago (max-age)")]
    return []


def _failure_warnings(src: SourceState, attempts: list[FetchOutcome], limit: int,
                      last_fetch: dict[str, object] | None) -> list[Reason]:
    """Transient failures that do not fail the build, said as such."""
    if src.state == "unreachable":
        return []
    failed = [(n, a) for n, a in enumerate(attempts, 1) if a.status == "failed" and a.transient]
    if failed and attempts[-1].status not in ("failed", "blocked"):
        tries = "; ".join(f"try {n}: {a.error or 'failed'}" for n, a in failed)
        return [Reason("transient", f"transient failure, not failing the build ({tries}); "
                                    f"fetched fine on try {len(attempts)}")]
    if src.consecutive_failures and last_fetch is not None and last_fetch.get("transient"):
        return [Reason("transient", f"transient failure, not failing the build: {src.consecutive_failures} of "
                                    f"{limit} failed checks in a row before it counts as unreachable "
                                    f"(last error: {src.last_error or 'no answer'})")]
    return []


def _review_due_warning(current: SnapshotRecord | None, last_review: ReviewRecord | None,
                        today: date) -> list[Reason]:
    """The page's own "Next review due" date passed after the last review: worth a look, and
    not a change, so it never fails the build."""
    due = parse_day((current.meta if current else {}).get("next_review_due"))
    if due is None or due >= today:
        return []
    if last_review is not None and last_review.reviewed_at.date() > due:
        return []
    return [Reason("review_due", f"the page's own next review was due {due:%Y-%m-%d}; "
                                 "it may be out of date (a warning only)")]


def _affected(guides: Sequence[Guide], url: str, impacts: list[Impact], files: _GuideFiles) -> list[Affected]:
    """Linked sections first (best first), then every section that cites the source."""
    by_slug = {g.slug: g for g in guides}
    out: dict[tuple[str, str], Affected] = {}
    for imp in sorted(impacts, key=lambda i: -i.score):
        g = by_slug.get(imp.guide)
        key = (imp.guide, imp.section)
        if key in out:
            continue
        out[key] = Affected(imp.guide, imp.section, imp.heading, _rel(g.source) if g else "",
                            files.heading_line(g, imp.heading) if g else None, round(imp.score, 3),
                            "linked to the change")
    for g in guides:
        for c in g.external_citations:
            if c.url == url and (g.slug, c.section) not in out:
                heading = _heading(g, c.section)
                out[(g.slug, c.section)] = Affected(g.slug, c.section, heading, _rel(g.source),
                                                    files.heading_line(g, heading))
    return list(out.values())


def _actions(v: SourceVerdict) -> list[str]:
    """What the editor does about each kind of staleness."""
    kinds = {r.kind for r in v.reasons}
    out: list[str] = []
    if kinds & {"changed", "change_note"}:
        out.append(f"re-read the sections listed, fix the guide, then run: {v.accept}" if v.acceptable else
                   "re-read the sections listed and fix the guide; accepting waits until the page's state "
                   "below is dealt with")
    for kind in ("gone", "withdrawn", "moved"):
        if kind in kinds:
            out.append(state_action(kind, v.final_url))
    if kinds & {"unreachable", "failed"}:
        out.append(state_action("unreachable", v.final_url))
    if kinds & {"max_age", "never_checked"}:
        out.append("check it now: `guidewatch check` without --offline (or `guidewatch crawl --all`)")
    return out


def _heading(guide: Guide, section: str) -> str:
    try:
        return guide.section(section).heading
    except KeyError:
        return section


def _span(age: timedelta) -> str:
    secs = int(age.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if secs >= size and secs % size == 0:
            n = secs // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{secs} second{'s' if secs != 1 else ''}"


def _rel(path: str) -> str:
    """A guide path relative to the repository (GITHUB_WORKSPACE or the working directory),
    as GitHub annotations need; URLs and paths outside it stay as they are."""
    if not path or path.startswith(("http://", "https://")):
        return path
    base = os.environ.get("GITHUB_WORKSPACE") or os.getcwd()
    try:
        return Path(path).resolve().relative_to(Path(base).resolve()).as_posix()
    except ValueError:
        return path


class _GuideFiles:
    """Line numbers in local guide files (read once per check), for annotations and output."""

    def __init__(self) -> None:
        self._lines: dict[str, list[str]] = {}

    def cite_line(self, guide: Guide, url: str) -> int | None:
        """The first line that links the source."""
        return self._find(guide, [url, url.rstrip("/")], lambda needle, text: needle in text)

    def heading_line(self, guide: Guide, heading: str) -> int | None:
        """The line of a section's heading (Markdown `#`, HTML `<h2>`, or a plain line)."""

        def is_heading(needle: str, text: str) -> bool:
            bare = re.sub(r"<[^>]+>", "", text).strip().lstrip("#").strip()
            return bare == needle

        return self._find(guide, [heading], is_heading)

    def _find(self, guide: Guide, needles: list[str], match: Callable[[str, str], bool]) -> int | None:
        lines = self._read(guide.source)
        for needle in needles:
            for n, text in enumerate(lines, 1):
                if needle and match(needle, text):
                    return n
        return None

    def _read(self, source: str) -> list[str]:
        if source not in self._lines:
            try:
                text = "" if source.startswith(("http://", "https://")) else Path(source).read_text(encoding="utf-8")
            except OSError:
                text = ""
            self._lines[source] = text.splitlines()
        return self._lines[source]

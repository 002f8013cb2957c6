"""`guidewatch check`: the CI gate.

A cited source is stale when

- its text changed (minor or substantive) since the version an editor last accepted, or
  its GOV.UK change history gained a note since then (`guidewatch accept` clears these);
- it is gone, withdrawn, or its URL now redirects somewhere else (moved). These hold while
  the page is in that state, whatever was accepted: the guide's citation has to change;
- it is persistently unreachable (`[check] unreachable_after` failed checks in a row), or
  fails in a way no retry clears (a 403, robots.txt, a redirect to another site);
- it was last checked successfully longer ago than max-age.

Staleness is worked out from the snapshots (the reviewed version against the current one)
and the source's state rather than from open alerts, so the verdict is the same with a
long-lived store and with a fresh store seeded from committed `snapshots/` files, and
whatever `[alerts] min_severity` says.

A transient failure (a timeout, a 5xx or a 429 the spider's retries did not clear) is a
warning, not a failure. An online check fetches such a source again, after a pause, until
it answers or has failed `unreachable_after` times in a row: only then is it stale, so a
persistent outage fails even a fresh CI runner with no history.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

from guidewatch.alerts.digest import accept_command
from guidewatch.alerts.lifecycle import blocking_state, state_action
from guidewatch.app.crawl import Workspace, crawl
from guidewatch.app.daemon import single_instance
from guidewatch.changes.diff import diff_pages
from guidewatch.changes.events import metadata_events, moved_event, parse_day, withdrawn_event
from guidewatch.model import Change, FetchOutcome, Guide, Impact
from guidewatch.store import ChangeRecord, LockHeld, ReviewRecord, SnapshotRecord, SourceState, utcnow

Verdict = Literal["fresh", "stale", "warning"]

RETRY_PAUSE = timedelta(seconds=10)  # between fetch rounds for sources that failed transiently
MAX_LISTED_CHANGES = 8  # per source in the reasons; the rest are counted


class CheckError(ValueError):
    """Nothing to check (no guides, no cited sources): a configuration problem, exit 2."""


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
    stored = store.changes.find(source_url=src.url)
    v = SourceVerdict(url=src.url, title=src.title or src.url, verdict="fresh", state=src.state,
                      last_ok_at=src.last_ok_at, last_checked_at=src.last_checked_at, final_url=src.final_url,
                      accept=accept_command(src.url), elapsed_s=sum(a.elapsed_ms for a in attempts) / 1000)
    impacts: list[Impact] = []
    v.reasons += _state_reasons(src, current, last_fetch)
    if src.state != "gone":
        found, linked = _content_changes(reviewed, current, stored, last_review, today=now.date())
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


def _content_changes(reviewed: SnapshotRecord | None, current: SnapshotRecord | None,
                     stored: list[ChangeRecord], last_review: ReviewRecord | None, *,
                     today: date) -> tuple[list[Reason], list[Impact]]:
    """Minor or substantive differences between the reviewed and the current version."""
    if reviewed is None or current is None:
        return [], []
    changes: list[Change] = []
    if reviewed.id != current.id:
        changes += [c for c in diff_pages(reviewed.page(), current.page()) if c.severity != "cosmetic"]
    changes += _new_change_notes(reviewed, current, stored, last_review, today)
    index = _impact_index(stored)
    reasons: list[Reason] = []
    impacts: list[Impact] = []
    for i, c in enumerate(changes):
        impacts += index.get(_change_key(c), ())
        if i < MAX_LISTED_CHANGES:
            reasons.append(_change_reason(c))
    if len(changes) > MAX_LISTED_CHANGES:
        more = len(changes) - MAX_LISTED_CHANGES
        worst = "substantive" if any(c.severity == "substantive" for c in changes[MAX_LISTED_CHANGES:]) \
            else "minor"
        reasons.append(Reason("changed", f"... and {more} more change(s) (`guidewatch changes --source URL`)",
                              worst))
    return reasons, impacts


def _change_reason(c: Change) -> Reason:
    if c.kind == "change_note":
        return Reason("change_note", c.reason, c.severity)
    where = " > ".join(c.source_section) or "the page"
    return Reason("changed", f"{c.severity} change ({c.kind}) in {where}: {c.reason}", c.severity)


def _new_change_notes(reviewed: SnapshotRecord, current: SnapshotRecord, stored: list[ChangeRecord],
                      last_review: ReviewRecord | None, today: date) -> list[Change]:
    """A GOV.UK change note the reviewed version did not have. The snapshot metadata shows it
    when the text changed too; the recorded change shows it when only the metadata did."""
    notes = [e for e in metadata_events(reviewed.meta, current.meta, today=today) if e.kind == "change_note"]
    since = last_review.reviewed_at if last_review else None
    for rec in stored:
        c = rec.change
        if c.kind == "change_note" and (since is None or rec.detected_at > since) \
                and all(n.new != c.new for n in notes):
            notes.append(c)
    return notes


def _change_key(c: Change) -> tuple[str, tuple[str, ...], str, str]:
    return (c.kind, tuple(c.source_section), c.old, c.new)


def _impact_index(stored: list[ChangeRecord]) -> dict[tuple[str, tuple[str, ...], str, str], tuple[Impact, ...]]:
    """The sections the pipeline linked each recorded change to (latest record wins)."""
    return {_change_key(rec.change): rec.impacts for rec in stored if rec.impacts}


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


# --- output formats -----------------------------------------------------------------------


def render_report(report: CheckReport, fmt: str) -> str:
    return {"text": _text, "json": _json, "junit": _junit, "github": _github}[fmt](report)


def write_reports(report: CheckReport, fmt: str, *, output: Path | None = None, junit: Path | None = None) -> str:
    """Render `fmt` (returned for stdout) and write the files asked for: the same report to
    `output`, JUnit XML to `junit`, and with the github format, a Markdown summary to the
    job's step summary (GITHUB_STEP_SUMMARY), so one online run gives a CI job everything."""
    text = render_report(report, fmt)
    if output:
        output.write_text(text, encoding="utf-8")
    if junit:
        junit.write_text(_junit(report), encoding="utf-8")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if fmt == "github" and summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(markdown_summary(report))
    return text


def markdown_summary(r: CheckReport) -> str:
    """A short Markdown table of the verdicts, for a CI job summary."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [f"### guidewatch check: {_headline(r)}", "", "| source | verdict | why | re-read | then |",
             "| --- | --- | --- | --- | --- |"]
    for s in sorted(r.sources, key=lambda x: {"stale": 0, "warning": 1, "fresh": 2}[x.verdict]):
        why = "<br>".join(cell(x.text) for x in [*s.reasons, *s.warnings])
        reread = "<br>".join(f"`{a.guide}#{a.section}`" for a in s.affects) if s.verdict == "stale" else ""
        then = "<br>".join(cell(a) for a in s.actions)
        lines.append(f"| {cell(s.url)} | {s.verdict} | {why} | {reread} | {then} |")
    return "\n".join(lines) + "\n\n"


def _headline(r: CheckReport) -> str:
    n, warn = len(r.sources), len(r.warnings)
    tail = f"; {warn} warning(s)" if warn else ""
    mode = " (offline: from the store)" if r.offline else ""
    if r.stale:
        return f"FAIL: {len(r.stale)} of {n} cited source(s) stale{tail}{mode}"
    return f"OK: {n} cited source(s) fresh{tail}{mode}"


def _section_label(a: Affected) -> str:
    how = f"linked, score {a.score:.2f}" if a.score is not None else a.why
    where = f"{a.guide_file}:{a.line}" if a.guide_file and a.line else a.guide_file
    return f"{a.guide}#{a.section} \"{a.heading}\" ({how}{'; ' + where if where else ''})"


def _text(r: CheckReport) -> str:
    lines: list[str] = []
    for s in r.sources:
        mark = {"fresh": "ok   ", "warning": "warn ", "stale": "STALE"}[s.verdict]
        lines.append(f"{mark} {s.url}" + (f"  ({s.title})" if s.title != s.url else ""))
        for reason in s.reasons:
            lines.append(f"      why: {reason.text}")
        for w in s.warnings:
            lines.append(f"      warning: {w.text}")
        if s.verdict == "stale":
            for a in s.affects:
                lines.append(f"      re-read: {_section_label(a)}")
            for action in s.actions:
                lines.append(f"      then: {action}")
    lines += ["", _headline(r)]
    return "\n".join(lines) + "\n"


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat(timespec="seconds").replace("+00:00", "Z") if dt else None


def _json(r: CheckReport) -> str:
    return json.dumps({
        "ok": not r.stale,
        "exit_code": r.exit_code,
        "generated_at": _iso(r.generated_at),
        "max_age_seconds": int(r.max_age.total_seconds()),
        "offline": r.offline,
        "counts": {"sources": len(r.sources), "stale": len(r.stale), "warnings": len(r.warnings),
                   "fresh": sum(1 for s in r.sources if s.verdict == "fresh")},
        "sources": [{
            "url": s.url, "title": s.title, "verdict": s.verdict, "state": s.state, "final_url": s.final_url,
            "reasons": [{"kind": x.kind, "severity": x.severity or None, "text": x.text} for x in s.reasons],
            "warnings": [{"kind": x.kind, "text": x.text} for x in s.warnings],
            "last_ok_at": _iso(s.last_ok_at), "last_checked_at": _iso(s.last_checked_at),
            "affects": [{"guide": a.guide, "section": a.section, "heading": a.heading, "file": a.guide_file,
                         "line": a.line, "score": a.score, "why": a.why} for a in s.affects],
            "actions": s.actions,
            "accept_command": s.accept if s.acceptable else None,
        } for s in r.sources],
    }, indent=2, ensure_ascii=False) + "\n"


def _xml_text(text: str) -> str:
    """Escape for XML, dropping characters XML 1.0 cannot carry."""
    clean = "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20)
    return escape(clean)


def _junit(r: CheckReport) -> str:
    """JUnit XML: one test case per cited source, with a <failure> when it is stale."""
    total = sum(s.elapsed_s for s in r.sources)
    counts = f'tests="{len(r.sources)}" failures="{len(r.stale)}" errors="0"'
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuites name="guidewatch check" {counts} time="{total:.3f}">',
           f'  <testsuite name="guidewatch.app.check" {counts} skipped="0" time="{total:.3f}" '
           f'timestamp={quoteattr(r.generated_at.strftime("%Y-%m-%dT%H:%M:%S"))}>']
    for s in r.sources:
        guide = s.affects[0].guide if s.affects else "sources"
        head = (f'    <testcase classname={quoteattr("guidewatch." + guide)} name={quoteattr(s.url)} '
                f'time="{s.elapsed_s:.3f}"')
        if s.verdict == "fresh":
            out.append(head + "/>")
            continue
        out.append(head + ">")
        if s.verdict == "stale":
            body = [*(x.text for x in s.reasons), *(f"re-read {_section_label(a)}" for a in s.affects),
                    *(f"then: {a}" for a in s.actions)]
            kinds = ",".join(dict.fromkeys(x.kind for x in s.reasons))
            out.append(f"      <failure message={quoteattr(_xml_text('; '.join(x.text for x in s.reasons)))} "
                       f"type={quoteattr(kinds)}>{_xml_text(chr(10).join(body))}</failure>")
        if s.warnings:
            out.append(f"      <system-out>{_xml_text(chr(10).join('warning: ' + w.text for w in s.warnings))}"
                       "</system-out>")
        out.append("    </testcase>")
    out += ["  </testsuite>", "</testsuites>"]
    return "\n".join(out) + "\n"


def _gh_escape(text: str, *, prop: bool = False) -> str:
    """GitHub workflow-command escaping: data escapes %, CR, LF; properties also : and ,."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def _gh_command(level: str, file: str, line: int | None, title: str, message: str) -> str:
    props = [f"file={_gh_escape(file, prop=True)}"] if file else []
    if file and line:
        props.append(f"line={line}")
    props.append(f"title={_gh_escape(title, prop=True)}")
    return f"::{level} {','.join(props)}::{_gh_escape(message)}"


def _by_file(s: SourceVerdict) -> dict[str, list[Affected]]:
    """One annotation per guide file, on the line that cites the source."""
    files: dict[str, list[Affected]] = {}
    for a in s.affects:
        files.setdefault(a.guide_file, []).append(a)
    return files or {"": []}


def _github(r: CheckReport) -> str:
    """GitHub Actions workflow commands: an error per stale source (per guide file), a warning
    per transient failure, then the headline as a plain log line."""
    lines = []
    for s in r.sources:
        for file, affects in _by_file(s).items():
            line = s.cited_at.get(file) or next((a.line for a in affects if a.line), None)
            if s.verdict == "stale":
                msg = "\n".join([f"{s.url} is stale:", *(f"- {x.text}" for x in s.reasons),
                                 "Re-read: " + ", ".join(f"{a.guide}#{a.section}" for a in affects),
                                 *(f"Then: {a}" for a in s.actions)])
                lines.append(_gh_command("error", file, line, f"Stale source: {s.title}", msg))
            for w in s.warnings:
                lines.append(_gh_command("warning", file, line, f"Source check: {s.title}", f"{s.url}: {w.text}"))
    lines.append(_headline(r))
    return "\n".join(lines) + "\n"

"""`guidewatch check`: the CI gate.

A cited source is stale when it has a minor or substantive change since its last accepted
review (this includes moved and withdrawn pages), is gone, is persistently unreachable, or
was last checked successfully longer ago than max-age. A single transient failure (one
timeout, one 5xx or 429 that retries did not clear) is a warning, not a failure: it fails
only once it persists for `unreachable_after` consecutive checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

from .digest import accept_command
from .pipeline import Workspace, crawl
from .schedule import single_instance
from .store import utcnow

Verdict = Literal["fresh", "stale", "warning"]


@dataclass
class Affected:
    guide: str
    section: str
    heading: str
    guide_file: str


@dataclass
class SourceVerdict:
    url: str
    title: str
    verdict: Verdict
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    affects: list[Affected] = field(default_factory=list)
    last_ok_at: datetime | None = None
    accept: str = ""


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


def run_check(ws: Workspace, *, max_age: timedelta, offline: bool = False) -> CheckReport:
    if not offline:
        with single_instance(ws.store, "crawl", role="check"):
            sources = ws.store.sources()
            if sources:
                crawl(ws, sources)
    return evaluate(ws, max_age=max_age, offline=offline)


def evaluate(ws: Workspace, *, max_age: timedelta, offline: bool, now: datetime | None = None) -> CheckReport:
    now = now or utcnow()
    order = {"cosmetic": 0, "minor": 1, "substantive": 2}
    floor = order[ws.config.alerts.min_severity]
    open_alerts = ws.store.alerts(status="open")
    by_slug = {g.slug: g for g in ws.guides}
    verdicts: list[SourceVerdict] = []
    for src in ws.store.sources():
        v = SourceVerdict(url=src.url, title=src.title or src.url, verdict="fresh", last_ok_at=src.last_ok_at,
                          accept=accept_command(src.url))
        seen: set[tuple[str, str]] = set()
        for g in ws.guides:
            for c in g.external_citations:
                if c.url == src.url and (g.slug, c.section) not in seen:
                    seen.add((g.slug, c.section))
                    v.affects.append(Affected(g.slug, c.section, _heading(g, c.section), g.source))
        alerts = [a for a in open_alerts if a.change.source_url == src.url
                  and order.get(a.change.change.severity, 2) >= floor]
        changes = {a.change.id: a.change for a in alerts}
        for rec in changes.values():
            c = rec.change
            where = " > ".join(c.source_section)
            v.reasons.append(f"{c.kind}{' in ' + where if where else ''} ({c.severity}: {c.reason})")
            for imp in rec.impacts:
                if (imp.guide, imp.section) not in seen:
                    seen.add((imp.guide, imp.section))
                    g = by_slug.get(imp.guide)
                    v.affects.append(Affected(imp.guide, imp.section, imp.heading, g.source if g else ""))
        if src.state == "gone" and not any(rec.change.kind == "gone" for rec in changes.values()):
            v.reasons.append("gone: the page no longer exists")
        if src.state == "unreachable" and not any(rec.change.kind == "unreachable" for rec in changes.values()):
            v.reasons.append(f"unreachable: {src.consecutive_failures} failed checks in a row "
                             f"({src.last_error or 'no answer'})")
        if src.last_ok_at is None:
            v.reasons.append("never checked successfully")
        elif now - src.last_ok_at > max_age:
            v.reasons.append(f"last checked successfully {src.last_ok_at:%Y-%m-%d}, more than "
                             f"{_days(max_age)} ago")
        if src.consecutive_failures and src.state != "unreachable":
            v.warnings.append(f"transient failure, not failing the build ({src.consecutive_failures} of "
                              f"{ws.config.check.unreachable_after} before it counts): {src.last_error}")
        v.verdict = "stale" if v.reasons else ("warning" if v.warnings else "fresh")
        verdicts.append(v)
    return CheckReport(now, max_age, offline, verdicts)


def _heading(guide: object, section: str) -> str:
    try:
        return guide.section(section).heading  # type: ignore[attr-defined]
    except KeyError:
        return section


def _days(age: timedelta) -> str:
    return f"{age.days} days" if age.days else f"{int(age.total_seconds())} seconds"


# --- output formats -----------------------------------------------------------------------


def render_report(report: CheckReport, fmt: str) -> str:
    return {"text": _text, "json": _json, "junit": _junit, "github": _github}[fmt](report)


def _text(r: CheckReport) -> str:
    lines: list[str] = []
    for s in r.sources:
        mark = {"fresh": "ok   ", "warning": "warn ", "stale": "STALE"}[s.verdict]
        lines.append(f"{mark} {s.url}")
        for reason in s.reasons:
            lines.append(f"      why: {reason}")
        for w in s.warnings:
            lines.append(f"      warning: {w}")
        if s.verdict == "stale":
            for a in s.affects:
                lines.append(f"      re-read: {a.guide}#{a.section} ({a.heading})")
            lines.append(f"      after review: {s.accept}")
    n = len(r.sources)
    lines.append("")
    if r.stale:
        lines.append(f"FAIL: {len(r.stale)} of {n} cited source(s) stale"
                     + (f", {len(r.warnings)} warning(s)" if r.warnings else ""))
    else:
        lines.append(f"OK: {n} cited source(s) fresh" + (f", {len(r.warnings)} warning(s)" if r.warnings else ""))
    return "\n".join(lines) + "\n"


def _json(r: CheckReport) -> str:
    return json.dumps({
        "generated_at": r.generated_at.isoformat(timespec="seconds"),
        "max_age_seconds": int(r.max_age.total_seconds()),
        "offline": r.offline,
        "stale": len(r.stale),
        "ok": not r.stale,
        "sources": [{
            "url": s.url, "title": s.title, "verdict": s.verdict, "reasons": s.reasons, "warnings": s.warnings,
            "last_ok_at": s.last_ok_at.isoformat(timespec="seconds") if s.last_ok_at else None,
            "affects": [{"guide": a.guide, "section": a.section, "heading": a.heading} for a in s.affects],
            "accept_command": s.accept,
        } for s in r.sources],
    }, indent=2) + "\n"


def _junit(r: CheckReport) -> str:
    """JUnit XML: one test case per cited source, a <failure> when it is stale."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuites name="guidewatch" tests="{len(r.sources)}" failures="{len(r.stale)}" errors="0">',
           f'  <testsuite name="guidewatch.check" tests="{len(r.sources)}" failures="{len(r.stale)}" '
           f'errors="0" skipped="0" timestamp={quoteattr(r.generated_at.isoformat(timespec="seconds"))}>']
    for s in r.sources:
        out.append(f'    <testcase classname="guidewatch.sources" name={quoteattr(s.url)}>')
        if s.verdict == "stale":
            body = "\n".join([*s.reasons, *(f"re-read {a.guide}#{a.section} ({a.heading})" for a in s.affects),
                              f"after review: {s.accept}"])
            out.append(f'      <failure message={quoteattr("; ".join(s.reasons))} type="stale">'
                       f"{escape(body)}</failure>")
        if s.warnings:
            out.append(f"      <system-out>{escape(chr(10).join(s.warnings))}</system-out>")
        out.append("    </testcase>")
    out += ["  </testsuite>", "</testsuites>"]
    return "\n".join(out) + "\n"


def _gh_escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def _github(r: CheckReport) -> str:
    """GitHub Actions workflow commands: an error per stale source, on the guide file."""
    lines = []
    for s in r.sources:
        file = s.affects[0].guide_file if s.affects else ""
        loc = f"file={_gh_escape(file, prop=True)}," if file else ""
        if s.verdict == "stale":
            msg = f"{s.url} is stale: {'; '.join(s.reasons)}. Re-read: " + ", ".join(
                f"{a.guide}#{a.section}" for a in s.affects) + f". After review: {s.accept}"
            lines.append(f"::error {loc}title={_gh_escape('Stale source', prop=True)}::{_gh_escape(msg)}")
        for w in s.warnings:
            lines.append(f"::warning {loc}title={_gh_escape('Source check', prop=True)}::"
                         f"{_gh_escape(s.url + ': ' + w)}")
    lines.append(f"{len(r.stale)} of {len(r.sources)} cited source(s) stale")
    return "\n".join(lines) + "\n"

"""The check report in each output format: text for a terminal, JSON for tools, JUnit XML for
CI test views, GitHub workflow commands (annotations on the guide lines that cite a stale
source) and a Markdown summary for the job page. Page titles and error texts come from the
sites checked, so every format escapes them for its own syntax.
"""

from __future__ import annotations

import html
import json
import os
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from guidewatch.app.check import Affected, CheckReport, SourceVerdict


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
    def cell(text: str) -> str:  # GitHub renders the summary as HTML: page text stays text
        return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")

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

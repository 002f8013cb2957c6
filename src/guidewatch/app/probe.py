"""`guidewatch test URL`: fetch one page now and show how a crawl would read it.

The quickest way to write a profile or an ignore rule: the page goes through the crawl's own
request (`crawl.request_for`) and child process (`fetch.fetch_sources`, with every guard), is
normalised exactly as a crawl normalises it, and what each ignore rule removes is shown by
normalising the page once without rules and once with each rule alone. Nothing is stored.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from guidewatch.alerts.digest import clean
from guidewatch.app.crawl import request_for
from guidewatch.app.decision import screen_page
from guidewatch.app.settings import fetch_settings
from guidewatch.changes.worddiff import word_diff
from guidewatch.config import Config
from guidewatch.exitcodes import UsageProblem
from guidewatch.model import Block, FetchOutcome, Page, serialise_blocks
from guidewatch.pages.ignore import compile_ignore
from guidewatch.pages.normalise import normalise
from guidewatch.sources.fetch import fetch_sources
from guidewatch.sources.profiles import Profile, load_profiles, resolve_profile


class ProbeFailed(RuntimeError):
    """The page could not be fetched (or was not content): the one line says why."""


@dataclass(frozen=True)
class RuleEffect:
    """What one ignore rule removes from the page read with its profile alone."""

    rule: str
    dropped: tuple[str, ...]  # whole blocks removed, as the diffed text shows them
    trimmed: tuple[tuple[str, str], ...]  # (block as it was, the text removed from it)


@dataclass(frozen=True)
class Probe:
    url: str
    final_url: str
    http_status: int | None
    via_api: bool
    profile: str
    chosen_by: str
    ignore_from: str  # "config", "command line" or "none"
    page: Page
    rules: tuple[RuleEffect, ...]
    verdict: str  # what a crawl would make of it: a version to diff, or why not


def probe(config: Config, url: str, *, ignore: Sequence[str] | None = None) -> Probe:
    """Fetch `url` once through the crawl child and read it as the crawl would; stores nothing.

    `ignore`: rules to try instead of the URL's configured `[[sources]] ignore` (None: those).
    """
    configured = config.source(url)
    rules = tuple(ignore) if ignore else tuple(configured.ignore) if configured else ()
    try:
        compile_ignore(rules)
    except ValueError as exc:
        raise UsageProblem(f"--ignore: {exc}" if ignore else str(exc)) from None
    profiles = load_profiles([config.profiles_dir] if config.profiles_dir else [])
    profile = resolve_profile(url, profiles, configured)
    outcome = _fetch(config, url, profile)
    base = _read(outcome, profile, ())
    effects = tuple(rule_effect(base, _read(outcome, profile, (r,)), r) for r in rules)
    page = _read(outcome, profile, rules) if rules else base
    return Probe(url=url, final_url=outcome.final_url or url, http_status=outcome.http_status,
                 via_api=outcome.via_api, profile=profile.name,
                 chosen_by=_chosen_by(profile, configured.profile if configured else None),
                 ignore_from=("command line" if ignore else "config") if rules else "none",
                 page=page, rules=effects, verdict=_verdict(page, outcome))


def _verdict(page: Page, outcome: FetchOutcome) -> str:
    """The crawl's own screening (`decision.screen_page`): not every 200 is a version to diff."""
    screened = screen_page(page, outcome).outcome
    if screened.status == "ok":
        return "a version to diff"
    return f"{screened.status}: {screened.error}" if screened.error else screened.status


def _chosen_by(profile: Profile, named: str | None) -> str:
    if named:
        return "named by its [[sources]] entry"
    return "chosen by host" if profile.hosts else "no profile names this host"


def _fetch(config: Config, url: str, profile: Profile) -> FetchOutcome:
    if not url.startswith(("http://", "https://")):
        raise UsageProblem(f"{url}: not an http(s) URL")
    [outcome] = fetch_sources([request_for(url, profile)], fetch_settings(config),
                              timeout=config.fetch.crawl_timeout)
    if outcome.status != "ok":
        status = f"HTTP {outcome.http_status}" if outcome.http_status else outcome.status
        raise ProbeFailed(f"{url}: {outcome.status}: {outcome.error or status}")
    return outcome


def _read(outcome: FetchOutcome, profile: Profile, ignore: tuple[str, ...]) -> Page:
    return normalise(outcome.body, url=outcome.final_url or outcome.url, profile=profile,
                     content_type=outcome.headers.get("content-type"), via_api=outcome.via_api, ignore=ignore)


def rule_effect(before: Page, after: Page, rule: str) -> RuleEffect:
    """Blocks the rule drops whole, and text it cuts out of blocks it keeps."""
    old, new = _lines(before.blocks), _lines(after.blocks)
    dropped: list[str] = []
    trimmed: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "delete" or (tag == "replace" and i2 - i1 != j2 - j1):
            dropped += old[i1:i2]
        elif tag == "replace":
            for was, now in zip(old[i1:i2], new[j1:j2], strict=True):
                removed = " … ".join(o.text.strip() for o in word_diff(was, now) if o.op < 0 and o.text.strip())
                trimmed.append((was, removed))
    return RuleEffect(rule, tuple(dropped), tuple(trimmed))


# --- showing it ----------------------------------------------------------------------------


def _lines(blocks: Sequence[Block]) -> list[str]:
    """Each block as one line of the diffed text (`serialise_blocks`)."""
    return [serialise_blocks([b]).rstrip("\n") for b in blocks]


def tree_lines(blocks: Sequence[Block]) -> list[str]:
    """The diffed text, each block indented under its heading."""
    return ["  " * max(0, len(b.path) - (b.kind == "heading")) + clean(line)
            for b, line in zip(blocks, _lines(blocks), strict=True)]


def probe_text(p: Probe) -> list[str]:
    page = p.page
    moved = f", ended at {clean(p.final_url)}" if p.final_url != p.url else ""
    lines = [f"{p.url}: HTTP {p.http_status or '-'}{moved}" + (" (structured API)" if p.via_api else ""),
             f"profile: {p.profile} ({p.chosen_by})",
             f"title: {clean(page.title) or '(none)'}",
             f"content hash: {page.content_hash[:12]} ({len(page.blocks)} blocks)",
             f"a crawl would record: {clean(p.verdict)}",
             "", "page dates and metadata (never diffed):"]
    lines += [f"  {k}: {clean(v)}" for k, v in sorted(page.metadata.items())] or ["  (none)"]
    lines += ["", "text that is diffed:"]
    lines += ["  " + line for line in tree_lines(page.blocks)] or ["  (no text blocks)"]
    lines += ["", f"ignore rules ({p.ignore_from}):" if p.rules else "ignore rules: none (try --ignore RULE)"]
    for effect in p.rules:
        if not effect.dropped and not effect.trimmed:
            lines.append(f"  {effect.rule}: removes nothing")
            continue
        lines.append(f"  {effect.rule}: drops {len(effect.dropped)} block(s), trims {len(effect.trimmed)}")
        lines += [f"    - {clean(d)}" for d in effect.dropped]
        lines += [f"    ~ {clean(was)}  (removes: {clean(cut)})" for was, cut in effect.trimmed]
    return lines


def probe_json(p: Probe) -> dict[str, Any]:
    return {"url": p.url, "final_url": p.final_url, "http_status": p.http_status, "via_api": p.via_api,
            "profile": p.profile, "profile_chosen_by": p.chosen_by, "title": p.page.title,
            "content_hash": p.page.content_hash, "crawl_would_record": p.verdict,
            "metadata": dict(sorted(p.page.metadata.items())),
            "blocks": [{"kind": b.kind, "level": b.level, "path": list(b.path), "text": b.text}
                       for b in p.page.blocks],
            "ignore_from": p.ignore_from,
            "ignore": [{"rule": e.rule, "drops": list(e.dropped),
                        "trims": [{"block": was, "removed": cut} for was, cut in e.trimmed]} for e in p.rules]}

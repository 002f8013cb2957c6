"""Offline comparison: two saved versions of a cited page, and what a guide editor must re-read.

`compare_files` is what `guidewatch compare OLD NEW --guide GUIDE [--url URL]` runs: read the
saved HTML (or GOV.UK Content API JSON), normalise both with the site profile, diff them,
link every change to the guide's sections, and return the JSON object that docs/architecture.md fixes.
`render_text` turns that object into what an editor reads.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup

from guidewatch.changes.diff import diff_pages, number_changes, word_diff
from guidewatch.changes.events import gone_event, metadata_events, moved_event, withdrawn_event
from guidewatch.changes.link import link_changes, url_key, word_ops
from guidewatch.config import FetchConfig, SourceConfig
from guidewatch.exitcodes import USAGE
from guidewatch.files import read_capped
from guidewatch.model import Change, Guide, Impact, Page
from guidewatch.pages.normalise import normalise
from guidewatch.sources.profiles import Profile, guess_profile, on_hosts, profile_for_url, resolve_profile

DEFAULT_PROFILE = "default"
MAX_PAGE_BYTES = int(FetchConfig.__dataclass_fields__["max_bytes"].metadata["range"].hi)  # a crawl's ceiling
_WIDTH = 100


class CompareError(ValueError):
    """The files cannot be compared as given; the message says what to pass instead."""

    exit_code = USAGE


# --- comparing pages ----------------------------------------------------------------------


def compare_pages(old: Page, new: Page, guide: Guide, *, url: str, profile: str) -> dict[str, Any]:
    """Changes from `old` to `new` and the sections of `guide` each one affects.

    Block changes come from the section-aware diff; page-level events (the page now says it
    was not found, was withdrawn, moved to a new canonical address, or got a new GOV.UK
    change note) come from the two pages' metadata, as the crawl pipeline reports them. The
    "next review due" check is left out: it depends on today's date, not on the two files.
    """
    changes = _page_events(old, new, url)
    if not new.metadata.get("soft_404"):
        changes = diff_pages(old, new) + changes
    number_changes(changes)
    impacts = link_changes(changes, url, [guide])
    return {
        "source": url,
        "profile": profile,
        "changes": [_change_json(c, impacts.get(c.id, [])) for c in changes],
    }


def _page_events(old: Page, new: Page, url: str) -> list[Change]:
    events: list[Change] = []
    if new.metadata.get("soft_404") and not old.metadata.get("soft_404"):
        events.append(gone_event(url, None))
    if old.url and new.url and url_key(old.url) != url_key(new.url):
        events.append(moved_event(old.url, new.url))
    if new.metadata.get("withdrawn_at") and not old.metadata.get("withdrawn_at"):
        events.append(withdrawn_event(new))
    # date.min: the "next review due" check never fires, since it is about today, not the files
    events += [e for e in metadata_events(old.metadata, new.metadata, today=date.min) if e.kind == "change_note"]
    return events


def _change_json(change: Change, impacts: list[Impact]) -> dict[str, Any]:
    return {
        "id": change.id,
        "kind": change.kind,
        "severity": change.severity,
        "reason": change.reason,
        "source_section": list(change.source_section),
        "old": change.old,
        "new": change.new,
        "affects": [
            {
                "guide": i.guide,
                "section": i.section,
                "heading": i.heading,
                "score": round(i.score, 2),
                "tier": i.tier,
                "claim": i.claim,
                "evidence": list(i.evidence),
            }
            for i in impacts
        ],
    }


# --- comparing saved files ----------------------------------------------------------------


def compare_files(
    old: Path, new: Path, guide: Guide, *, url: str | None, profiles: Mapping[str, Profile],
    configured: SourceConfig | None = None,
) -> dict[str, Any]:
    """Compare two saved versions (HTML, PDF, GOV.UK Content API or NHS website content API JSON) of one source.

    With `url`, it names the source and the profile is the crawl's (`resolve_profile` with
    the URL's `[[sources]]` entry, `configured`, whose ignore rules apply too). Without it, the
    profile is guessed from the markup, and the source is the page's canonical URL (link
    rel=canonical, og:url, or the API item's base_path), or else the guide's only citation
    on that profile's hosts.
    """
    bodies = {path: _read(path) for path in (old, new)}
    api = {path: _is_api_json(path, body) for path, body in bodies.items()}
    canonical = {path: _canonical(body, api[path]) for path, body in bodies.items()}
    if url:
        profile = resolve_profile(url, profiles, configured)
    else:
        profile = _pick_profile(bodies[new], canonical[new] or canonical[old], api[new], dict(profiles))
    ignore = configured.ignore if url and configured else ()
    source = url or canonical[new] or canonical[old] or _only_citation(guide, profile, (old, new))
    if not url and not _same(canonical[old], canonical[new]):
        source = _cited(guide, *(u for u in (canonical[old], canonical[new]) if u)) or source
    # Each version keeps its own address, so a move between them is reported as one.
    pages = {
        path: normalise(body, url=canonical[path] or source, profile=profile, via_api=api[path], ignore=ignore)
        for path, body in bodies.items()
    }
    for path, page in pages.items():  # an unreadable PDF compared would read as "everything removed"
        if page.metadata.get("unreadable"):
            raise CompareError(f"{path}: {page.metadata['unreadable']}")
    return compare_pages(pages[old], pages[new], guide, url=source, profile=profile.name)


def _read(path: Path) -> bytes:
    try:
        body = read_capped(path, MAX_PAGE_BYTES)
    except OSError as exc:
        raise CompareError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(body) > MAX_PAGE_BYTES:
        raise CompareError(f"{path}: larger than {MAX_PAGE_BYTES} bytes ([fetch] max_bytes at most)")
    return body


def _is_api_json(path: Path, body: bytes) -> bool:
    """A GOV.UK Content API item: a JSON object, by name or by content."""
    head = body.lstrip()[:1]
    if path.suffix.lower() != ".json" and head != b"{":
        return False
    try:
        return isinstance(json.loads(body.decode("utf-8-sig")), dict)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False


def _canonical(body: bytes, api: bool) -> str | None:
    """The page's own idea of its address."""
    if api:
        data = json.loads(body.decode("utf-8-sig"))
        base = data.get("base_path")
        if isinstance(base, str) and base.startswith("/"):
            return "https://www.gov.uk" + base
        for key in ("webpage", "web_url", "url"):
            value = data.get(key)
            if isinstance(value, str) and value.startswith(("http://", "https://")):
                return value
        return None
    soup = BeautifulSoup(body, "lxml")
    for tag in soup.find_all("link", href=True):
        rel = tag.get("rel") or []
        if "canonical" in (rel if isinstance(rel, list) else [rel]):
            return _absolute(str(tag["href"]))
    og = soup.find("meta", attrs={"property": "og:url"}) or soup.find("meta", attrs={"name": "og:url"})
    return _absolute(str(og.get("content", ""))) if og else None


def _absolute(href: str) -> str | None:
    href = href.strip()
    return href if href.startswith(("http://", "https://")) else None


def _pick_profile(markup: bytes, canonical: str | None, api: bool, profiles: dict[str, Profile]) -> Profile:
    """Without --url: from the markup; else from the canonical URL (API JSON: its base_path or webpage)."""
    if not api:
        guessed = guess_profile(markup, profiles)
        if guessed.name != DEFAULT_PROFILE or not canonical:
            return guessed
    return profile_for_url(canonical or "https://www.gov.uk/", profiles)


def _only_citation(guide: Guide, profile: Profile, paths: tuple[Path, Path]) -> str:
    """The guide's one external citation on the profile's hosts; otherwise ask for --url."""
    urls = list(dict.fromkeys(c.url for c in guide.external_citations if on_hosts(c.url, profile.hosts)))
    if len(urls) == 1:
        return urls[0]
    names = " and ".join(str(p) for p in paths)
    if not urls:
        raise CompareError(
            f"{names}: no canonical URL in the files and {guide.slug} cites no page on "
            f"{', '.join(profile.hosts) or 'this site'}; pass --url"
        )
    raise CompareError(
        f"{names}: no canonical URL in the files and {guide.slug} cites {len(urls)} pages on "
        f"{', '.join(profile.hosts)}; pass --url (one of: {', '.join(urls)})"
    )


def _same(a: str | None, b: str | None) -> bool:
    return bool(a and b) and url_key(a or "") == url_key(b or "")


def _cited(guide: Guide, *urls: str) -> str | None:
    """The address the guide cites, when a page moved between the two versions."""
    for c in guide.external_citations:
        if any(_same(c.url, u) for u in urls):
            return c.url
    return None


# --- text for editors ---------------------------------------------------------------------


def render_text(result: Mapping[str, Any]) -> str:
    """What an editor reads: per change, where and how the source changed, then what to re-read."""
    changes = list(result.get("changes", []))
    lines = [f"Source: {result.get('source', '')}  (profile {result.get('profile', '?')})", _summary(changes)]
    for change in changes:
        lines += ["", *_render_change(change)]
    lines += _render_reread(changes)
    return "\n".join(lines).rstrip() + "\n"


def _summary(changes: list[Mapping[str, Any]]) -> str:
    if not changes:
        return "No changes."
    counts = {s: sum(1 for c in changes if c.get("severity") == s) for s in ("substantive", "minor", "cosmetic")}
    sections = {(a["guide"], a["section"]) for c in changes for a in c.get("affects", []) if _tier(a) == "reread"}
    related = {(a["guide"], a["section"]) for c in changes for a in c.get("affects", [])} - sections
    parts = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    noun = "change" if len(changes) == 1 else "changes"
    also = f", {len(related)} related" if related else ""
    return f"{len(changes)} {noun} ({parts}); {len(sections)} guide section(s) to re-read{also}."


def _tier(affect: Mapping[str, Any]) -> str:
    return "related" if affect.get("tier") == "related" else "reread"


def _render_change(change: Mapping[str, Any]) -> list[str]:
    where = " › ".join(change.get("source_section") or []) or "(whole page)"
    head = f"[{change.get('id')}] {change.get('kind')} · {change.get('severity')}"
    if change.get("reason"):
        head += f" — {change['reason']}"
    lines = [head, f"    in: {where}"]
    lines += _indent(_highlight(change), "    | ")
    affects = change.get("affects") or []
    if change.get("severity") == "cosmetic":
        lines.append("    cosmetic: nothing to re-read")
    elif not affects:
        lines.append("    no guide section matched")
    else:
        for tier, label in (("reread", "re-read:"), ("related", "related (worth a glance):")):
            chosen = [a for a in affects if _tier(a) == tier]
            if chosen:
                lines.append("    " + label)
                for a in chosen:
                    lines += _render_affect(a)
    return lines


def _highlight(change: Mapping[str, Any]) -> str:
    """The change as one text with [-deleted-] and {+inserted+} runs."""
    old, new = str(change.get("old") or ""), str(change.get("new") or "")
    if change.get("kind") in ("moved", "gone", "withdrawn", "unreachable", "change_note", "review_due") and not (
        change.get("source_section")
    ):
        if change.get("kind") == "moved":
            return f"{old} → {new}"
        return new or old
    try:
        ops = word_diff(old, new)
    except Exception:  # highlighting is a courtesy; never lose the report over it
        ops = word_ops(old, new)
    out = []
    for op in ops:
        if op.op == 0:
            out.append(op.text)
        elif op.text.strip():
            lead, core, trail = _split_space(op.text)
            out.append(lead + ("[-" if op.op < 0 else "{+") + core + ("-]" if op.op < 0 else "+}") + trail)
        else:
            out.append(op.text if op.op > 0 else "")
    return "".join(out)


def _split_space(text: str) -> tuple[str, str, str]:
    m = re.match(r"(\s*)(.*?)(\s*)$", text, re.S)
    assert m
    return m.group(1), m.group(2), m.group(3)


def _indent(text: str, prefix: str) -> list[str]:
    out: list[str] = []
    for para in text.splitlines() or [""]:
        out += textwrap.wrap(para, _WIDTH - len(prefix), break_on_hyphens=False, break_long_words=False) or [""]
    return [prefix + line for line in out]


def _render_affect(affect: Mapping[str, Any]) -> list[str]:
    evidence = [str(e) for e in affect.get("evidence") or []]
    because, sentence = (evidence[:-1], evidence[-1]) if len(evidence) > 1 else (evidence, "")
    where = f"{affect.get('guide')}#{affect.get('section')}"
    lines = [f"      {float(affect.get('score', 0)):.2f}  {affect.get('heading')}  ({where})"]
    short = [e for e in because if len(e) <= 40]
    if short:
        lines += _indent("because: " + "; ".join(short), "            ")
    for item in (e for e in because if len(e) > 40):  # "cites <url>", an event's reason: one line each
        lines += ["            " + item] if "://" in item else _indent(item, "            ")
    if affect.get("claim"):
        lines += _indent(f"source now says: “{affect['claim']}”", "            ")
    if sentence:
        lines += _indent(f"guide says: “{sentence}”", "            ")
    return lines


def _render_reread(changes: list[Mapping[str, Any]]) -> list[str]:
    """Closing lists: each section once, in its strongest tier, with the changes that bear on it."""
    by_section: dict[tuple[str, str], tuple[str, float, list[str], str]] = {}
    for c in changes:
        for a in c.get("affects") or []:
            key = (a["guide"], a["section"])
            heading, best, ids, tier = by_section.get(key, (a["heading"], 0.0, [], "related"))
            tier = "reread" if "reread" in (tier, _tier(a)) else "related"
            by_section[key] = (heading, max(best, float(a.get("score", 0))), [*ids, str(c.get("id"))], tier)
    lines: list[str] = []
    for tier, label in (("reread", "Re-read:"), ("related", "Related (worth a glance):")):
        chosen = [kv for kv in by_section.items() if kv[1][3] == tier]
        if chosen:
            lines += ["", label]
        for (guide, section), (heading, best, ids, _) in sorted(chosen, key=lambda kv: -kv[1][1]):
            lines.append(f"  {best:.2f}  {heading}  ({guide}#{section})  ← {', '.join(ids)}")
    return lines


__all__ = ["CompareError", "compare_files", "compare_pages", "render_text"]

"""What a page says about itself - its dates, change notes, withdrawal, "not found" or outage
notice - read into `Page.metadata`, which is recorded but never diffed."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from guidewatch.model import Block
from guidewatch.pages.blocks import Element, _inline_text, _Raw, _walk, get_text, strings
from guidewatch.pages.css import select_all, select_one
from guidewatch.pages.fold import fold_text
from guidewatch.sources.profiles import Profile

# --- dates --------------------------------------------------------------------------------

_MONTHS = {
    name: i + 1
    for i, full in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        )
    )
    for name in (full, full[:3])
} | {"sept": 9}
_DMY = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]+)\.?,?\s+(\d{4})")
_MDY = re.compile(r"([A-Za-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
try:
    _LONDON: Any = ZoneInfo("Europe/London")
except ZoneInfoNotFoundError:  # no tz database: keep the offset the timestamp was written with
    _LONDON = None


def parse_date(value: object) -> str | None:
    """A shown date ("18 February 2016") or ISO timestamp as yyyy-mm-dd, in UK time like GOV.UK shows it."""
    if not isinstance(value, str):
        return None
    text = fold_text(value)
    when = _instant(text)
    if when is not None:
        local = when.astimezone(_LONDON) if _LONDON is not None and when.tzinfo else when
        return local.date().isoformat()
    for pattern, order in ((_DMY, (0, 1, 2)), (_MDY, (1, 0, 2))):
        m = pattern.fullmatch(text)
        if m:
            day, month, year = (m.group(i + 1) for i in order)
            try:
                return date(int(year), _MONTHS[month.lower()], int(day)).isoformat()
            except (KeyError, ValueError):
                return None
    return None


def _instant(text: str) -> datetime | None:
    """An ISO date or timestamp; None for anything else (display dates included)."""
    if not _ISO.match(text):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        try:
            return datetime.combine(date.fromisoformat(text[:10]), datetime.min.time())
        except ValueError:
            return None


def _sort_key(stamp: str) -> datetime:
    """Comparable instant for a change-history entry; unreadable stamps sort oldest."""
    when = _instant(fold_text(stamp))
    if when is None:
        shown = parse_date(stamp)
        when = datetime.fromisoformat(shown) if shown else datetime.min
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _newest_change(entries: Iterable[tuple[str, str]]) -> dict[str, str]:
    """change_note / change_note_at from (timestamp, note) pairs in any order (first wins ties)."""
    items = [(stamp, fold_text(note)) for stamp, note in entries if fold_text(note)]
    if not items:
        return {}
    stamp, note = max(items, key=lambda it: _sort_key(it[0]))  # max keeps the first of equals
    out = {"change_note": note}
    shown = parse_date(stamp)
    if shown:
        out["change_note_at"] = shown
    return out


# --- the page's own notices --------------------------------------------------------------


def _title(root: Element, profile: Profile) -> tuple[Element | None, str]:
    """The title element (to take out of the text) and the title text."""
    for selector in profile.title:
        el = select_one(root, selector)
        if el is not None:
            text = fold_text(_inline_text(el))
            if text:
                return el, text
    head = _first(root, "title")
    text = fold_text(get_text(head)) if head is not None else ""
    if profile.title_suffix is not None:
        text = profile.title_suffix.sub("", text).strip()
    return None, text


def _first(root: Element, tag: str) -> Element | None:
    return next(root.iter(tag), None)


def _h1s(root: Element) -> list[str]:
    """The first three h1s' text (BeautifulSoup's find_all("h1", limit=3))."""
    return [fold_text(get_text(h, " ")) for h in islice(root.iter("h1"), 3)]


def _dates(root: Element, profile: Profile) -> dict[str, str]:
    """The page's own dates, found by their labels in the page text (class names vary)."""
    if not profile.dates:
        return {}
    text = "\n".join(strings(root, collapse=True))
    found: dict[str, str] = {}
    for rule in profile.dates:
        if rule.key in found:
            continue
        for m in rule.pattern.finditer(text):
            shown = parse_date(m.group("date"))
            if shown:
                found[rule.key] = shown
                break
    return found


def _change_history(root: Element, profile: Profile) -> dict[str, str]:
    rule = profile.change_history
    if rule is None:
        return {}
    entries: list[tuple[str, str]] = []
    for item in select_all(root, (rule.item,)):
        when = select_one(item, rule.time)
        note = select_one(item, rule.note)
        stamp = (when.get("datetime") or get_text(when)) if when is not None else ""
        text = get_text(note, " ") if note is not None else ""
        entries.append((stamp, text))
    return _newest_change(entries)


def _withdrawn(root: Element, profile: Profile) -> dict[str, str]:
    rule = profile.withdrawn
    if rule is None:
        return {}
    for notice in select_all(root, rule.selectors):
        m = rule.pattern.search(fold_text(get_text(notice, " ")))
        if not m:
            continue
        out: dict[str, str] = {}
        when = next((t for t in notice.iterdescendants("time") if t.get("datetime") is not None), None)
        shown = parse_date(when.get("datetime") if when is not None else None)
        if not shown and "date" in rule.pattern.groupindex:
            shown = parse_date(m.group("date"))
        if shown:
            out["withdrawn_at"] = shown
        explanation = _explanation(_walk(notice), rule.pattern)
        if explanation:
            out["withdrawn_explanation"] = explanation
        return out
    return {}


def _explanation(raw: list[_Raw], title: re.Pattern[str] | None = None) -> str:
    """A notice's text without its title, as one line."""
    parts = [fold_text(t) for kind, t, _ in raw if kind != "heading"]
    text = " ".join(p for p in parts if p)
    return fold_text(title.sub("", text)) if title is not None else text


def _is_soft_404(root: Element, title: str, profile: Profile) -> bool:
    if not profile.soft_404:
        return False
    head = _first(root, "title")
    candidates = [title, fold_text(get_text(head)) if head is not None else "", *_h1s(root)]
    return any(p.search(c) for p in profile.soft_404 for c in candidates if c)


#: A page with no more main text than this may be nothing but an outage notice or consent wall.
SHORT_PAGE_CHARS = 800


def _unavailable_text(root: Element, title: str, blocks: list[Block], profile: Profile) -> str | None:
    """The title, h1 or (short page) text saying the page is an outage notice or consent wall.

    Such a 200 stands in for the content; diffing it would report the guidance as deleted.
    """
    if not profile.unavailable:
        return None
    head = _first(root, "title")
    candidates = [title, fold_text(get_text(head)) if head is not None else "", *_h1s(root)]
    text = " ".join(b.text for b in blocks)
    if len(text) <= SHORT_PAGE_CHARS:
        candidates.append(text)
    hit = next((c for c in candidates if c and any(p.search(c) for p in profile.unavailable)), None)
    return hit[:200] if hit else None


def _fill_public_updated(metadata: dict[str, str]) -> None:
    """GOV.UK shows "Last updated" only after a major update; before that it equals publication."""
    if "public_updated_at" not in metadata and "first_published_at" in metadata:
        metadata["public_updated_at"] = metadata["first_published_at"]

"""NHS website content API v2 JSON read like the rendered www.nhs.uk page.

The API (schema.org `MedicalWebPage`) holds the page as `mainEntityOfPage`: one element per
section, each with an optional `headline` (the page's h2) and child elements whose `text` is
the HTML fragment the page shows; a child's own `headline` is an h3 under a section headline,
else the h2 itself. Care cards and callouts carry their headings inside `text`. So the blocks
match the HTML path's and switching the API key on raises no change. What the page does not
show is left out: `description` (the meta description), `hasPart` (a summary duplicating the
sections), `relatedLink`, `breadcrumb`. `dateModified` and `lastReviewed` (= [last reviewed,
next review due]) become metadata; the page shows only the review dates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from guidewatch.model import Page
from guidewatch.pages.blocks import _finish, _Raw, _walk, body_or_document, parse
from guidewatch.pages.css import prune
from guidewatch.pages.fold import fold_text
from guidewatch.pages.ignore import IgnoreRules
from guidewatch.pages.metadata import parse_date
from guidewatch.sources.profiles import Profile


def is_nhs_api(data: Mapping[str, Any]) -> bool:
    """schema.org JSON with a list of page elements (GOV.UK items have `details` instead)."""
    return isinstance(data.get("mainEntityOfPage"), list) and "schema.org" in str(data.get("@context") or "")


def from_nhs_api(data: Mapping[str, Any], url: str, profile: Profile, rules: IgnoreRules, media: str) -> Page:
    """One Page from an API response: the sections' blocks, the page's dates as metadata."""
    raw: list[_Raw] = []
    for section in _elements(data.get("mainEntityOfPage")):
        raw += _section(section, profile, rules)
    metadata = {"content_type": media}
    for key, value in _dates(data).items():
        if value:
            metadata[key] = value
    name = data.get("name")
    return Page(
        url=url,
        profile=profile.name,
        title=fold_text(name) if isinstance(name, str) else "",
        blocks=_finish(raw, profile, rules),
        metadata=metadata,
    )


def _section(section: Mapping[str, Any], profile: Profile, rules: IgnoreRules) -> list[_Raw]:
    raw: list[_Raw] = []
    headline = _text(section.get("headline"))
    if headline:
        raw.append(("heading", headline, 2))
    for part in _elements(section.get("mainEntityOfPage")):
        own = _text(part.get("headline"))
        if own:
            raw.append(("heading", own, 3 if headline else 2))
        raw += _fragment(_text(part.get("text"), fold=False), profile, rules)
    return raw


def _dates(data: Mapping[str, Any]) -> dict[str, str | None]:
    reviewed = data.get("lastReviewed")
    dates = reviewed if isinstance(reviewed, list) else [reviewed]
    return {
        "date_modified": parse_date(data.get("dateModified")),
        "last_reviewed": parse_date(dates[0]) if dates else None,
        "next_review_due": parse_date(dates[1]) if len(dates) > 1 else None,
    }


def _elements(value: object) -> list[Mapping[str, Any]]:
    """Page elements in `position` order (the API's list order where positions are missing)."""
    if not isinstance(value, list):
        return []
    items = [v for v in value if isinstance(v, dict)]
    return sorted(items, key=lambda v: v["position"] if isinstance(v.get("position"), int) else 0)


def _text(value: object, *, fold: bool = True) -> str:
    if not isinstance(value, str):
        return ""
    return fold_text(value) if fold else value


def _fragment(html: str, profile: Profile, rules: IgnoreRules) -> list[_Raw]:
    if not html.strip():
        return []
    doc = parse(html)
    alive = list(doc.iter())  # one proxy per node while it is read (see normalise._from_html)
    root = body_or_document(doc)
    prune(root, (*profile.drop, *rules.css))
    raw = _walk(root)
    del alive
    return raw

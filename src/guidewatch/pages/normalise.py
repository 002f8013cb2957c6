"""Normalise a fetched page into the text that is diffed and the metadata that never is.

The main content becomes a flat list of text blocks (headings, paragraphs, list items, table
rows), each carrying its heading path, so the diff can work section by section. Everything a
site changes without changing the guidance - chrome, cookie banners, typography, white
space, the page's own "last reviewed" date - is removed or folded here, so the same content
always gives the same text and the same hash. Dates and notices go into `Page.metadata`.

A PDF (by its bytes, whatever the server calls it) is read by `pages.pdf` into the same blocks.

The same function reads GOV.UK Content API JSON (`via_api=True`); it yields the same blocks as
the rendered page: the lead paragraph is the item's description, the body is `details.body`;
and NHS website content API JSON (`nhsapi`), read the same way.

The parts: `decode` (what the body is, its charset), `css` (chrome removal), `blocks` (the HTML
walk), `metadata` (dates and notices), `fold` (typography and white space), `ignore` (rules).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from guidewatch.model import Page
from guidewatch.pages.blocks import Element, _finish, _Raw, _walk, body_or_document, parse
from guidewatch.pages.css import prune, remove, select_one
from guidewatch.pages.decode import _classify, _load_json, _parse_content_type, decode_html
from guidewatch.pages.fold import fold_text
from guidewatch.pages.ignore import IgnoreRules, compile_ignore
from guidewatch.pages.metadata import (
    _change_history,
    _dates,
    _explanation,
    _fill_public_updated,
    _is_soft_404,
    _newest_change,
    _title,
    _unavailable_text,
    _withdrawn,
    parse_date,
)
from guidewatch.pages.nhsapi import from_nhs_api, is_nhs_api
from guidewatch.pages.pdf import PDF, from_pdf
from guidewatch.sources.profiles import Profile

__all__ = ["IgnoreRules", "compile_ignore", "fold_text", "normalise", "parse_date"]

_FALLBACK_MAIN = ("main", "[role=main]", "body")


def normalise(
    body: bytes,
    *,
    url: str,
    profile: Profile,
    content_type: str | None = None,
    via_api: bool = False,
    ignore: Sequence[str] = (),
) -> Page:
    """Main content as heading-tree text blocks plus metadata; never raises on odd markup.

    `ignore`: "css:<selector>" entries are removed before extraction; other entries are regexes
    removed from the (folded) block text, and blocks left empty are dropped.
    """
    rules = compile_ignore(tuple(ignore))
    media, charset = _parse_content_type(content_type)
    if via_api:
        data = _load_json(body, charset)
        if isinstance(data, dict) and is_nhs_api(data):
            return from_nhs_api(data, url, profile, rules, media or "application/json")
        if isinstance(data, dict):
            return _from_api(data, url, profile, rules, media or "application/json")
    kind = _classify(body, media)
    if kind == PDF or body[:5] == b"%PDF-":  # application/x-pdf, binary/pdf, ...: the bytes decide
        return from_pdf(body, url, profile, rules)
    if kind != "html":
        return Page(url=url, profile=profile.name, title="", blocks=[], metadata={"content_type": kind})
    return _from_html(decode_html(body, charset), url, profile, rules, media or "text/html")


def _from_html(text: str, url: str, profile: Profile, rules: IgnoreRules, media: str) -> Page:
    root = parse(text)
    # One proxy per node while the page is read: lxml frees a dropped proxy after walking up to an
    # ancestor that has one, so iterating a deep tree without them costs depth x size.
    alive = list(root.iter())
    title_el, title = _title(root, profile)
    metadata = {"content_type": media}
    metadata.update(_dates(root, profile))
    metadata.update(_change_history(root, profile))
    metadata.update(_withdrawn(root, profile))
    if _is_soft_404(root, title, profile):
        metadata["soft_404"] = "1"
    _fill_public_updated(metadata)
    main = _select_main(root, profile)
    if title_el is not None and title_el is not main and any(p is main for p in title_el.iterancestors()):
        remove(title_el)  # the title is Page.title, not the first block
    prune(main, (*profile.drop, *rules.css))
    blocks = _finish(_walk(main), profile, rules)
    notice = _unavailable_text(root, title, blocks, profile)
    if notice:
        metadata["unavailable"] = notice
    del alive
    return Page(url=url, profile=profile.name, title=title, blocks=blocks, metadata=metadata)


def _select_main(root: Element, profile: Profile) -> Element:
    for selector in (*profile.main, *_FALLBACK_MAIN):
        el = select_one(root, selector)
        if el is not None:
            return el
    return root


# --- GOV.UK Content API --------------------------------------------------------------------


def _from_api(data: dict[str, Any], url: str, profile: Profile, rules: IgnoreRules, media: str) -> Page:
    """A Content API item read like its rendered page: description, then the body's blocks."""
    found = data.get("details")
    details: dict[str, Any] = found if isinstance(found, dict) else {}
    raw: list[_Raw] = []
    description = data.get("description")
    if isinstance(description, str) and description.strip():
        raw.append(("p", description, 0))
    raw += _fragment_blocks(_api_body(details.get("body")), profile, rules)
    metadata = {"content_type": media}
    _put(metadata, "public_updated_at", parse_date(data.get("public_updated_at")))
    first = details.get("first_public_at") or data.get("first_published_at")  # the order GOV.UK shows
    _put(metadata, "first_published_at", parse_date(first))
    history = details.get("change_history")
    if isinstance(history, list):
        entries = [
            (str(h.get("public_timestamp") or ""), str(h.get("note") or ""))
            for h in history
            if isinstance(h, dict)
        ]
        metadata.update(_newest_change(entries))
    notice = data.get("withdrawn_notice")
    if isinstance(notice, dict) and notice:
        _put(metadata, "withdrawn_at", parse_date(notice.get("withdrawn_at")))
        explanation = notice.get("explanation")
        if isinstance(explanation, str):
            text = _explanation(_fragment_blocks(explanation, profile, rules))
            _put(metadata, "withdrawn_explanation", text)
    _fill_public_updated(metadata)
    title = data.get("title")
    return Page(
        url=url,
        profile=profile.name,
        title=fold_text(title) if isinstance(title, str) else "",
        blocks=_finish(raw, profile, rules),
        metadata=metadata,
    )


def _api_body(body: object) -> str:
    """details.body is an HTML string, or a list of {content_type, content} alternatives."""
    if isinstance(body, str):
        return body
    if isinstance(body, list):
        for part in body:
            if isinstance(part, dict) and part.get("content_type") == "text/html":
                return str(part.get("content") or "")
    return ""


def _fragment_blocks(html: str, profile: Profile, rules: IgnoreRules) -> list[_Raw]:
    if not html.strip():
        return []
    doc = parse(html)
    alive = list(doc.iter())  # see _from_html
    root = body_or_document(doc)
    prune(root, (*profile.drop, *rules.css))
    raw = _walk(root)
    del alive
    return raw


def _put(metadata: dict[str, str], key: str, value: str | None) -> None:
    if value:
        metadata[key] = value

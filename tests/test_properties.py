"""Property-based tests (hypothesis): normalise -> diff -> link never crashes on arbitrary input,
a page diffed against itself (or its stored copy) yields no change, a real difference is never
lost, and whatever a page says, the HTML digest carries no active content.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from bs4 import BeautifulSoup
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guidewatch.alerts.digest import Digest, DigestItem, render
from guidewatch.app.decision import screen_page
from guidewatch.changes.diff import diff_pages
from guidewatch.changes.link import link_changes
from guidewatch.model import FetchOutcome, Impact, Page, parse_blocks, serialise_blocks
from guidewatch.pages.normalise import normalise
from guidewatch.sources.guides import parse_guide
from guidewatch.sources.profiles import load_profiles

PROFILES = load_profiles()
URL = "https://www.gov.uk/guidance/advanced-therapy-medicinal-products-regulation-and-licensing"
GUIDE = parse_guide(
    f"# ATMP guide\n\nIntro.\n\n## Hospital exemption\n\nHospitals must notify the MHRA before supplying an "
    f"ATMP under the hospital exemption ([MHRA]({URL})).\n\n## Licensing\n\nGene therapy medicinal products "
    f"need a marketing authorisation.\n",
    slug="atmp", fmt="md",
)
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TAGS = ["div", "p", "span", "main", "article", "section", "h1", "h2", "h3", "h4", "h6", "ul", "ol", "li",
        "table", "tr", "td", "th", "a", "em", "strong", "br", "nav", "header", "footer", "form", "script",
        "style", "details", "summary", "blockquote", "pre", "code", "img", "template", "noscript", "time"]
ATTRS = ['class="gem-c-govspeak"', 'class="govuk-visually-hidden"', 'class="nhsuk-u-visually-hidden"',
         'id="content"', 'id="maincontent"', 'id="global-cookie-message"', "hidden", 'style="display:none"',
         'aria-hidden="true"', 'class="gem-c-published-dates__change-item"', 'datetime="2024-06-12T10:00:00Z"',
         'class="gem-c-notice"', 'onclick="alert(1)"', 'href="javascript:alert(1)"', 'lang="cy"', 'class=""']
PHRASES = ["Last updated 12 June 2024", "Page not found", "Page last reviewed: 1 May 2025",
           "Next review due: 1 May 2028", "This guidance was withdrawn on 3 March 2024", "&amp;", "&#0;",
           "&#x110000;", "&lt;script&gt;", "<!--", "]]>", "<![CDATA[x", "must", "may", "\u200b", "\u202e",
           "# heading?", "- dash", "| pipe", "\r\n", "Service unavailable", "We use cookies", "\ufeff", "\x00",
           "caf\u00e9 \u2013 \u2018q\u2019"]
text = st.one_of(st.text(st.characters(blacklist_categories=("Cs",)), max_size=30), st.sampled_from(PHRASES))


def _element(tag: str, attrs: list[str], children: list[str], close: bool) -> str:
    head = f"<{tag}{''.join(' ' + a for a in attrs)}>"
    return head + "".join(children) + (f"</{tag}>" if close else "")


markup = st.recursive(
    text,
    lambda kids: st.builds(_element, st.sampled_from(TAGS), st.lists(st.sampled_from(ATTRS), max_size=2),
                           st.lists(kids, max_size=5), st.booleans()),
    max_leaves=40,
)
documents = st.one_of(
    st.builds(lambda title, body: f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>",
              text, markup),
    markup,
)
bodies = st.one_of(documents.map(lambda d: d.encode("utf-8", "surrogatepass")),
                   documents.map(lambda d: d.encode("utf-16")), st.binary(max_size=300))
content_types = st.sampled_from([None, "text/html", "text/html; charset=utf-8", "text/html; charset=utf-16",
                                 "text/html; charset=bogus", "text/plain", "application/pdf", "application/json",
                                 "application/xhtml+xml; charset=iso-8859-1"])
profiles = st.sampled_from(sorted(PROFILES))


def _stored(page: Page) -> Page:
    """The page as the store gives it back: its text, parsed again (SnapshotRecord.page())."""
    return Page(page.url, page.profile, page.title, parse_blocks(page.text()), dict(page.metadata))


def _normalise(body: bytes, ctype: str | None, profile: str) -> Page:
    return normalise(body, url=URL, profile=PROFILES[profile], content_type=ctype)


@SETTINGS
@given(bodies, content_types, profiles)
def test_normalise_never_crashes_and_its_text_is_stable(body: bytes, ctype: str | None, profile: str) -> None:
    page = _normalise(body, ctype, profile)
    for block in page.blocks:
        assert block.text and block.text == block.text.strip() and "\n" not in block.text, block
    text = page.text()
    assert serialise_blocks(parse_blocks(text)) == text  # stored text hashes the same when read back
    assert diff_pages(page, page) == []
    assert diff_pages(_stored(page), _stored(page)) == []
    outcome = FetchOutcome(url=URL, status="ok", headers={"content-type": ctype or ""})
    screened = screen_page(page, outcome)
    kept = screened.page
    assert (kept is None) == (screened.outcome.status != "ok")
    assert outcome.status == "ok" and outcome.error is None, "screening returns a new outcome"
    assert kept is None or kept.blocks, "a page without text is never recorded as content"


@SETTINGS
@given(documents, documents, profiles)
def test_diff_and_link_never_crash_and_never_lose_a_difference(a: str, b: str, profile: str) -> None:
    old, new = (_stored(_normalise(d.encode(), "text/html", profile)) for d in (a, b))
    changes = diff_pages(old, new)
    if old.text() != new.text():
        assert changes, "the stored texts differ but the diff says nothing changed"
    assert len({c.id for c in changes}) == len(changes)
    for c in changes:
        assert c.kind in ("modified", "added", "removed", "moved") and c.severity in ("substantive", "minor",
                                                                                    "cosmetic")
    impacts = link_changes(changes, URL, [GUIDE])
    assert set(impacts) == {c.id for c in changes}
    for found in impacts.values():
        assert all(0.0 <= i.score <= 1.0 and i.guide == "atmp" for i in found)


@SETTINGS
@given(documents, documents)
def test_whatever_a_page_says_the_html_digest_has_no_active_content(a: str, b: str) -> None:
    old, new = (_stored(_normalise(d.encode(), "text/html", "default")) for d in (a, b))
    changes = diff_pages(old, new) or []
    title = new.title or "<img src=x onerror=alert(1)>"
    items = [DigestItem(alert_id=n, guide="atmp", guide_title="ATMP <b>guide</b>", section_id="hospital-exemption",
                        section_heading="Hospital exemption", source_url=URL + '"><script>x</script>',
                        source_title=title, change=c, impact=Impact("atmp", "hospital-exemption", "Hospital exemption",
                                                                    0.5, (c.new[:40], c.old[:40])),
                        detected_at=datetime(2026, 1, 1, tzinfo=UTC)) for n, c in enumerate(changes, 1)]
    digest = Digest(recipient="ed@example.org", generated_at=datetime(2026, 1, 2, tzinfo=UTC), since=None, items=items)
    soup = BeautifulSoup(render(digest, "html"), "lxml")
    assert not soup.find_all(["script", "iframe", "object", "embed", "img", "form", "base"])
    for tag in soup.find_all(True):
        assert not [k for k in tag.attrs if k.lower().startswith("on")], tag
        for key in ("href", "src", "action"):
            value = re.sub(r"[\s\x00-\x1f]", "", str(tag.get(key, ""))).lower()
            assert not value.startswith(("javascript:", "data:", "vbscript:")), tag
    md = re.sub(r"(`+)[^`].*?\1", "", render(digest, "md"))  # code spans show text literally
    assert not re.search(r"(?<!\\)<\s*(script|img|iframe)", md)
    json.loads(render(digest, "json"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.sampled_from(
        ["title", "description", "details", "body", "public_updated_at", "first_public_at", "withdrawn_notice",
         "change_history", "explanation", "withdrawn_at", "content_type", "html", "note", "timestamp"]), kids,
        max_size=5),
    max_leaves=25,
)


@SETTINGS
@given(json_values)
def test_content_api_json_of_any_shape_never_crashes(data: object) -> None:
    page = normalise(json.dumps(data).encode(), url=URL, profile=PROFILES["govuk"],
                     content_type="application/json", via_api=True)
    assert serialise_blocks(parse_blocks(page.text())) == page.text()

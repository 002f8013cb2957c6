"""Normalisation: main content to heading-tree blocks, metadata, and stable text and hashes."""

from __future__ import annotations

import json
import re
import sys
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
import soupsieve
from bs4 import BeautifulSoup
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import guidewatch
from guidewatch.model import Block, Page, parse_blocks
from guidewatch.pages.blocks import parse
from guidewatch.pages.css import select_all, select_one
from guidewatch.pages.normalise import compile_ignore, fold_text, normalise, parse_date
from guidewatch.sources.profiles import Profile, ProfileError, load_profiles

FIXTURES = Path(__file__).parent / "fixtures" / "normalise"
SITE = Path(guidewatch.__file__).parent / "demo_data" / "site"
SLUG = "advanced-therapy-medicinal-products-regulation-and-licensing"
ATMP = f"www.gov.uk/guidance/{SLUG}/index.html"
ATMP_API = f"www.gov.uk/api/content/guidance/{SLUG}.json"
IO = "www.gov.uk/government/groups/mhra-innovation-office/index.html"
NHS_V1 = "v1/www.nhs.uk/conditions/genetic-and-genomic-testing/index.html"
NHS_V2 = "v2/www.nhs.uk/tests-and-treatments/genetic-and-genomic-testing/index.html"
URL = f"https://www.gov.uk/guidance/{SLUG}"


@pytest.fixture(scope="module")
def profiles() -> dict[str, Profile]:
    return load_profiles()


@pytest.fixture(scope="module")
def govuk(profiles: dict[str, Profile]) -> Profile:
    return profiles["govuk"]


@pytest.fixture(scope="module")
def nhsuk(profiles: dict[str, Profile]) -> Profile:
    return profiles["nhsuk"]


def page(body: bytes | str, profile: Profile, **kwargs: object) -> Page:
    """Normalise, and check the invariant every page must keep: its text reads back to its blocks."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    result = normalise(data, url=URL, profile=profile, **kwargs)  # type: ignore[arg-type]
    assert parse_blocks(result.text()) == result.blocks
    return result


def site(rel: str) -> bytes:
    return (SITE / rel).read_bytes()


# --- structure ----------------------------------------------------------------------------

STRUCTURE = """<!DOCTYPE html>
<html><head><title>Example - GOV.UK</title><style>p { color: red }</style></head>
<body><main id="content">
<h1 class="gem-c-heading__text">Example title</h1>
<p>Intro with a <a href="https://example.org/secret-target">link text</a>.</p>
<script>var leaked = "script text";</script>
<!-- a comment that must not appear -->
<div hidden><p>hidden text</p></div>
<p style="color: blue; display : none">invisible text</p>
<p aria-hidden="true">decorative text</p>
<h2>Section A</h2>
<p>First   paragraph
   spread over lines.</p>
<h3>Sub section</h3>
<ul><li>one<ul><li>nested</li></ul>after nested</li><li><p>two</p></li></ul>
<h2>Section B</h2>
<table><tr><th>Name</th><th>Value</th></tr><tr><td>a</td><td></td></tr></table>
<p>- a paragraph that starts like a list item</p>
<p># a paragraph that starts like a heading</p>
<div>loose text<br>after a break</div>
<h4>Deep</h4><p>deep text</p>
<h2>  </h2>
</main></body></html>"""


def test_blocks_form_a_heading_tree(govuk: Profile) -> None:
    p = page(STRUCTURE, govuk)
    assert p.title == "Example title"
    a, sub, b, deep = ("Section A",), ("Section A", "Sub section"), ("Section B",), ("Section B", "Deep")
    assert p.blocks == [
        Block((), "p", "Intro with a link text."),
        Block(a, "heading", "Section A", 2),
        Block(a, "p", "First paragraph spread over lines."),
        Block(sub, "heading", "Sub section", 3),
        Block(sub, "li", "one"),
        Block(sub, "li", "nested"),
        Block(sub, "li", "after nested"),
        Block(sub, "li", "two"),
        Block(b, "heading", "Section B", 2),
        Block(b, "tr", "Name | Value"),
        Block(b, "tr", "a |"),
        Block(b, "p", "a paragraph that starts like a list item"),
        Block(b, "p", "a paragraph that starts like a heading"),
        Block(b, "p", "loose text after a break"),
        Block(deep, "heading", "Deep", 4),
        Block(deep, "p", "deep text"),
    ]
    text = p.text()
    for leaked in (
        "secret-target",
        "script text",
        "comment",
        "hidden text",
        "invisible",
        "decorative",
        "color",
    ):
        assert leaked not in text


def test_govuk_html_drops_chrome_and_reads_metadata(govuk: Profile) -> None:
    p = page((FIXTURES / "govuk_detailed_guide.html").read_bytes(), govuk)
    assert p.title == "Salary sacrifice"
    assert p.blocks[0] == Block(
        (),
        "p",
        "Find out how salary sacrifice arrangements work and how they might "
        "affect an employee's current and future income.",
    )
    assert p.blocks[1] == Block(("The basics",), "heading", "The basics", 2)
    text = p.text()
    for chrome in (
        "Cookies",
        "Skip to main content",
        "From:",
        "Last updated",
        "Show all updates",
        "First published",
        "Updates to this page",
    ):
        assert chrome not in text
    assert "Guidance" not in text.splitlines()  # the title caption
    assert p.metadata == {
        "content_type": "text/html",
        "public_updated_at": "2016-02-18",
        "first_published_at": "2014-06-12",
        "change_note": "The second entry in the table Examples of salary sacrifice has been amended to "
        "correct the explanation of how much of the salary is subject to tax and National "
        "Insurance contributions.",
        "change_note_at": "2016-02-18",
    }
    assert "soft_404" not in p.metadata


def test_body_wrapper_alone_is_enough(govuk: Profile) -> None:
    """Without main#content the profile falls back to the govspeak body, with or without govuk-govspeak."""
    for cls in ("gem-c-govspeak govuk-govspeak", "gem-c-govspeak"):
        html = f'<div class="app"><nav>Menu</nav><div class="{cls}"><h2>Body</h2><p>Text.</p></div></div>'
        assert page(html, govuk).text() == "## Body\nText.\n"


# --- HTML and Content API agree -----------------------------------------------------------


def test_html_and_content_api_give_the_same_blocks_fixture(govuk: Profile) -> None:
    html = page((FIXTURES / "govuk_detailed_guide.html").read_bytes(), govuk)
    api = page((FIXTURES / "govuk_detailed_guide.json").read_bytes(), govuk, via_api=True)
    assert api.blocks == html.blocks
    assert api.title == html.title
    assert api.content_hash == html.content_hash
    assert api.metadata == {**html.metadata, "content_type": "application/json"}


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_html_and_content_api_give_the_same_blocks_demo(govuk: Profile, version: str) -> None:
    html = page(site(f"{version}/{ATMP}"), govuk)
    api = page(site(f"{version}/{ATMP_API}"), govuk, via_api=True, content_type="application/json")
    assert api.text() == html.text()
    assert api.title == html.title == "Advanced therapy medicinal products: regulation and licensing"
    for key in ("public_updated_at", "first_published_at", "change_note", "change_note_at"):
        assert api.metadata[key] == html.metadata[key]


def test_api_timestamps_are_read_in_uk_time(govuk: Profile) -> None:
    """GOV.UK shows dates in London time: 23:00 UTC on 5 April 2015 is 6 April 2015 (BST)."""
    p = page((FIXTURES / "govuk_best_practice_detailed_guide.json").read_bytes(), govuk, via_api=True)
    assert p.metadata["public_updated_at"] == "2015-04-06"
    assert p.metadata["change_note"] == "Updated sponsor licence information"
    assert p.metadata["change_note_at"] == "2015-04-06"
    assert "withdrawn_at" not in p.metadata  # withdrawn_notice is {}


def test_api_body_as_list_of_content_types(govuk: Profile) -> None:
    body = [
        {"content_type": "text/govspeak", "content": "## x"},
        {"content_type": "text/html", "content": "<h2>X</h2><p>y</p>"},
    ]
    item = {"title": "T", "details": {"body": body}}
    assert page(json.dumps(item), govuk, via_api=True).text() == "## X\ny\n"


# --- withdrawn ----------------------------------------------------------------------------

WITHDRAWN_HTML = """<html><head><title>EU rules on the use of chemicals - GOV.UK</title></head><body>
<main id="content">
<div class="gem-c-heading">
<h1 class="gem-c-heading__text govuk-heading-xl">EU rules on the use of chemicals</h1></div>
<section class="govuk-notification-banner gem-c-notice govuk-!-margin-bottom-8" aria-label="Notice" lang="en"
         role="region"><div class="govuk-notification-banner__content">
<h2 class="gem-c-notice__title govuk-notification-banner__heading">This detailed guide was withdrawn on
<time datetime="2015-01-28T13:05:30Z">28 January 2015</time></h2>
<div class="gem-c-govspeak govuk-govspeak" data-module="govspeak"><div class="govspeak">
<p>This information has been archived as it is now out of date. For current information please go to
<a rel="external" href="http://www.hse.gov.uk/reach/">http://www.hse.gov.uk/reach/</a></p></div></div>
</div></section>
<div class="gem-c-govspeak govuk-govspeak"><div class="govspeak">
<h2 id="overview">Overview</h2><p>Body.</p></div></div>
</main></body></html>"""


def test_withdrawn_notice_from_content_api(govuk: Profile) -> None:
    p = page((FIXTURES / "govuk_withdrawn_detailed_guide.json").read_bytes(), govuk, via_api=True)
    assert p.metadata["withdrawn_at"] == "2015-01-28"
    assert p.metadata["withdrawn_explanation"] == (
        "This information has been archived as it is now out of date. "
        "For current information please go to http://www.hse.gov.uk/reach/"
    )
    assert p.title == "EU rules on the use of chemicals"
    assert "withdrawn" not in p.text().lower()


def test_withdrawn_notice_from_html_matches_the_api(govuk: Profile) -> None:
    html = page(WITHDRAWN_HTML, govuk)
    api = page((FIXTURES / "govuk_withdrawn_detailed_guide.json").read_bytes(), govuk, via_api=True)
    for key in ("withdrawn_at", "withdrawn_explanation"):
        assert html.metadata[key] == api.metadata[key]
    assert html.text() == "## Overview\nBody.\n"  # the notice is not page text


# --- NHS review dates ---------------------------------------------------------------------


def _nhs_snippets() -> list[str]:
    """The three review-date markups in the fixture: -color, -colour, and the legacy component."""
    soup = BeautifulSoup((FIXTURES / "nhsuk_review_date_examples.html").read_text(), "lxml")
    found = [
        str(p)
        for p in soup.find_all("p", class_="nhsuk-body-s")
        if "nhsuk-review-date" not in " ".join(p.parent.get("class") or [])
    ]
    found += [str(d) for d in soup.find_all("div", class_="nhsuk-review-date")]
    assert len(found) == 3
    return found


@pytest.mark.parametrize(
    ("index", "reviewed", "due"),
    [(0, "2021-03-15", "2024-03-15"), (1, "2025-03-15", "2028-03-15"), (2, "2016-02-12", "2019-02-01")],
    ids=["secondary-text-color", "secondary-text-colour", "legacy-nhsuk-review-date"],
)
def test_nhs_review_dates_are_read_from_text_in_every_markup_variant(
    nhsuk: Profile, index: int, reviewed: str, due: str
) -> None:
    snippet = _nhs_snippets()[index]
    html = f'<main id="maincontent"><h1>Page heading</h1><p>Health information goes here.</p>{snippet}</main>'
    p = page(html, nhsuk)
    assert p.metadata["last_reviewed"] == reviewed
    assert p.metadata["next_review_due"] == due
    assert p.text() == "Health information goes here.\n"


def test_nhs_review_date_with_unknown_classes_and_outside_main(nhsuk: Profile) -> None:
    html = (
        '<main id="maincontent"><h1>T</h1><p>Body.</p><div class="x-new-2030"><span>Page last reviewed:'
        "</span> <strong>1 May 2030</strong><br>Next review due: 1 May 2033</div></main>"
        "<footer>Page last reviewed: 2 June 2020</footer>"
    )
    p = page(html, nhsuk)
    assert (p.metadata["last_reviewed"], p.metadata["next_review_due"]) == ("2030-05-01", "2033-05-01")
    assert p.text() == "Body.\n"


def test_nhs_fixture_page(nhsuk: Profile) -> None:
    p = page((FIXTURES / "nhsuk_content_page.html").read_bytes(), nhsuk)
    assert p.title == "Page heading"
    expected = "Health information goes here.\n## Section heading\nMore health information goes here.\n"
    assert p.text() == expected
    assert p.metadata["last_reviewed"] == "2025-03-15"


# --- the same content always gives the same text and hash -----------------------------------


def cosmetic_variant(html: str) -> str:
    """v1 with only chrome, dates, white space and typography changed."""
    changes = [
        (
            "We’d like to set additional cookies to understand how you use GOV.UK",
            "We would like to use analytics cookies on GOV.UK",
        ),
        (
            'Last updated:</dt>\n                <dd class="gem-c-metadata__definition">\n'
            "                  14 March 2025",
            'Last updated:</dt><dd class="gem-c-metadata__definition">9 September 2026',
        ),
        ("medicines for human use", "medicines  for\n\t human&nbsp;use"),
        ("manufacturer’s licence", "manufacturer's licence"),
        ("sequence’s genetic", "sequence&rsquo;s genetic"),
        ("150-day", "150&#8209;day"),
        ("hospital exemption allows", "hospital\u200b exemption&#xFEFF; allows"),
        ('<h2 id="pharmacovigilance">', '<!-- reviewed --><h2 id="pharmacovigilance" class="new-class">'),
        ("</p>\n\n<p>", "</p>\n<p>"),
        ('<div class="gem-c-govspeak govuk-govspeak"', '<div class="gem-c-govspeak"'),
    ]
    for old, new in changes:
        assert old in html, old
        html = html.replace(old, new)
    return html


def test_cosmetic_changes_keep_the_hash(govuk: Profile) -> None:
    original = site(f"v1/{ATMP}").decode()
    a, b = page(original, govuk), page(cosmetic_variant(original), govuk)
    assert b.text() == a.text()
    assert b.content_hash == a.content_hash


def test_same_page_twice_gives_the_same_hash(govuk: Profile, nhsuk: Profile) -> None:
    for rel, profile in ((f"v1/{ATMP}", govuk), (NHS_V1, nhsuk), (f"v1/{IO}", govuk)):
        first, second = page(site(rel), profile), page(site(rel), profile)
        assert first.content_hash == second.content_hash
        assert first.blocks == second.blocks


def test_demo_cosmetic_pages_are_unchanged_between_versions(govuk: Profile, nhsuk: Profile) -> None:
    assert page(site(f"v1/{IO}"), govuk).content_hash == page(site(f"v2/{IO}"), govuk).content_hash
    old, new = page(site(NHS_V1), nhsuk), page(site(NHS_V2), nhsuk)
    assert old.content_hash == new.content_hash
    assert old.metadata["last_reviewed"] != new.metadata["last_reviewed"]
    assert (new.metadata["last_reviewed"], new.metadata["next_review_due"]) == ("2026-10-02", "2029-10-02")


def test_demo_mhra_update_changes_only_the_two_sections(govuk: Profile) -> None:
    old, new = page(site(f"v1/{ATMP}"), govuk), page(site(f"v2/{ATMP}"), govuk)
    changed = {b.path for b in set(old.blocks) ^ set(new.blocks)}
    assert changed == {("What ATMPs are", "Combined ATMPs"), ("Hospital exemption",)}
    hospital = " ".join(b.text for b in new.blocks if b.path == ("Hospital exemption",))
    assert "must notify the MHRA at least 60 days" in hospital and "annual report" in hospital
    assert new.metadata["public_updated_at"] == "2026-11-03" != old.metadata["public_updated_at"]
    assert new.metadata["change_note"].startswith("Hospital exemption:")


def test_demo_pages_have_no_soft_404_and_realistic_size(govuk: Profile, nhsuk: Profile) -> None:
    atmp = page(site(f"v1/{ATMP}"), govuk)
    assert 1200 <= len(atmp.text().split()) <= 2000
    assert [b.text for b in atmp.blocks if b.kind == "heading" and b.level == 2] == [
        "Overview",
        "What ATMPs are",
        "Classification of ATMPs",
        "Marketing authorisation",
        "Hospital exemption",
        "Clinical trials of ATMPs",
        "Traceability and long-term follow-up",
        "Pharmacovigilance",
        "Contact",
    ]
    for p in (atmp, page(site(NHS_V1), nhsuk), page(site(f"v1/{IO}"), govuk)):
        assert "soft_404" not in p.metadata
        assert "cookie" not in p.text().lower()
    redirects = json.loads(site("v2/redirects.json"))
    assert redirects == {
        "/conditions/genetic-and-genomic-testing/": "/tests-and-treatments/genetic-and-genomic-testing/"
    }


# --- ignore rules -------------------------------------------------------------------------


def test_ignore_css_and_regex_rules(govuk: Profile) -> None:
    body = site(f"v1/{ATMP}")
    plain = page(body, govuk)
    rules = [
        "css:.contact",
        "css:#pharmacovigilance",
        r"\s*within \d+ days",
        r"^Vaccines against infectious diseases are not gene therapy medicinal products\.$",
        "manufacturer's licence issued by the MHRA",
    ]
    p = page(body, govuk, ignore=rules)
    text = p.text()
    assert "innovationoffice@mhra.gov.uk" in plain.text() and "innovationoffice@mhra.gov.uk" not in text
    assert "## Pharmacovigilance" not in text and "## Pharmacovigilance" in plain.text()
    assert "within 15 days" in plain.text() and not re.search(r"within \d+ days", text)
    assert "Vaccines against" not in text and len(p.blocks) < len(plain.blocks)
    assert "manufacturer's licence issued by the MHRA" not in text  # matched after quotes were folded
    assert all(b.text for b in p.blocks)


def test_ignore_rules_apply_to_the_content_api_too(govuk: Profile) -> None:
    rules = ["css:.contact", r"\(▼\) "]
    html = page(site(f"v1/{ATMP}"), govuk, ignore=rules)
    api = page(site(f"v1/{ATMP_API}"), govuk, via_api=True, ignore=rules)
    assert html.text() == api.text()
    assert "▼" not in html.text()


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("(unclosed", "bad regular expression"),
        ("css:div[", "invalid CSS selector"),
        ("css:", "empty CSS selector"),
        ("css:  ", "empty CSS selector"),
        ("css:p >> a", "invalid CSS selector"),
    ],
)
def test_bad_ignore_rule_is_a_value_error_naming_it(govuk: Profile, rule: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        normalise(b"<p>x</p>", url=URL, profile=govuk, ignore=[rule])
    assert repr(rule) in str(info.value) and message in str(info.value)
    assert "\n" not in str(info.value)
    compile_ignore.cache_clear()


# --- soft 404 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "profile_name"),
    [
        (
            '<html><head><title>Page not found - GOV.UK</title></head><body><main id="content">'
            '<h1 class="govuk-heading-xl">Page not found</h1>'
            "<p>If you entered a web address, check it is correct.</p></main></body></html>",
            "govuk",
        ),
        (
            '<html><head><title>Page not found - NHS</title></head><body><main id="maincontent">'
            "<h1>Page not found</h1><p>Check the web address.</p></main></body></html>",
            "nhsuk",
        ),
        ("<html><head><title>404 | Example</title></head><body><h1>Oops</h1></body></html>", "default"),
        ("<html><body><main><h1>Sorry, this page cannot be found</h1></main></body></html>", "default"),
    ],
)
def test_soft_404_is_recognised(profiles: dict[str, Profile], html: str, profile_name: str) -> None:
    assert page(html, profiles[profile_name]).metadata.get("soft_404") == "1"


def test_soft_404_words_in_the_body_are_not_a_soft_404(govuk: Profile) -> None:
    html = '<main id="content"><h1>Broken links</h1><p>If you see Page not found, tell us.</p></main>'
    assert "soft_404" not in page(html, govuk).metadata


# --- charsets, binary, non-HTML -----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("<p>Café’s – naïve</p>".encode(), None),
        ("<p>Café’s – naïve</p>".encode(), "text/html; charset=ISO-8859-1"),  # header wrong, bytes UTF-8
        ('<meta charset="utf-8"><p>Café’s – naïve</p>'.encode("cp1252"), "text/html"),  # meta wrong
        ("<p>Café’s – naïve</p>".encode("cp1252"), "text/html; charset=windows-1252"),
        ("<p>Café’s – naïve</p>".encode("cp1252"), "text/html; charset=no-such-charset"),
        ("<p>Café’s – naïve</p>".encode("utf-16"), "text/html"),  # BOM
        ("<p>Café’s – naïve</p>".encode("utf-16-le"), "text/html; charset=utf-16le"),
        (
            '<?xml version="1.0" encoding="iso-8859-1"?><html xmlns="http://www.w3.org/1999/xhtml"><body>'
            "<p>Café’s – naïve</p></body></html>".encode("cp1252"),
            "application/xhtml+xml",
        ),
    ],
)
def test_charsets_are_detected(profiles: dict[str, Profile], body: bytes, content_type: str | None) -> None:
    p = page(body, profiles["default"], content_type=content_type)
    assert p.text() == "Café's - naïve\n"


STRAY = "<p>Caf\u00e9\u2019s \u2013 na\u00efve, 5 \u00b5g</p>"


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "text/html", None])
@pytest.mark.parametrize(
    ("body", "expected"),
    [  # one stray non-UTF-8 byte in a UTF-8 page: only that byte is replaced, never the page read as cp1252
        (STRAY.encode() + b"<p>\xa9 2026</p>", "Caf\u00e9's - na\u00efve, 5 \u00b5g\n\ufffd 2026\n"),
        (STRAY.encode().replace("\u00b5".encode(), b"\xb5"), "Caf\u00e9's - na\u00efve, 5 \ufffdg\n"),
        (b'<meta charset="utf-8">' + STRAY.encode().replace(b"na", b"n\x92a"),
         "Caf\u00e9's - n\ufffda\u00efve, 5 \u00b5g\n"),
    ],
)
def test_a_stray_byte_in_a_utf8_page_replaces_only_itself(
    profiles: dict[str, Profile], body: bytes, expected: str, content_type: str | None
) -> None:
    assert page(body, profiles["default"], content_type=content_type).text() == expected


def test_a_stray_byte_in_a_page_of_another_declared_charset_replaces_only_itself(profiles: dict[str, Profile]) -> None:
    body = "<p>\u30ac\u30a4\u30c9\u3001\u5909\u66f4</p>".encode("shift_jis") + b"<p>x\x81\x20y</p>"
    text = page(body, profiles["default"], content_type="text/html; charset=shift_jis").text()
    assert text.startswith("\u30ac\u30a4\u30c9") and text.count("\ufffd") == 1


def test_undecodable_bytes_do_not_crash(profiles: dict[str, Profile]) -> None:
    body = b"<p>ok \x81\x8d\x8f\x90\x9d \xff\xfe\xfd end</p>"
    assert page(body, profiles["default"], content_type="text/html; charset=utf-8").text().startswith("ok")


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "application/pdf", "application/pdf"),
        (b"%PDF-1.7\n1 0 obj", None, "application/pdf"),
        (b"%PDF-1.7\n1 0 obj", "text/html", "application/pdf"),  # mislabelled
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png", "image/png"),
        (b'{"a": 1}', "application/json", "application/json"),
        (b"\x00\x01\x02\x03binary", None, "application/octet-stream"),
        (b"PK\x03\x04zip", "application/octet-stream", "application/zip"),
        (b"plain words", "text/csv", "text/csv"),
    ],
)
def test_non_html_gives_a_page_without_blocks(
    profiles: dict[str, Profile], body: bytes, content_type: str | None, expected: str
) -> None:
    p = page(body, profiles["govuk"], content_type=content_type)
    assert p.blocks == [] and p.metadata["content_type"] == expected and p.profile == "govuk"


def test_html_served_as_text_plain_is_still_read(profiles: dict[str, Profile]) -> None:
    p = page(
        b"<!DOCTYPE html><html><body><main><p>Hello</p></main></body></html>",
        profiles["default"],
        content_type="text/plain",
    )
    assert p.text() == "Hello\n"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"not json",
        b"[1, 2]",
        b'"string"',
        b'{"details": null}',
        b'{"details": {"body": 5}}',
        b'{"title": 3, "details": {"change_history": [1, {"note": null}], "body": ""}, '
        b'"withdrawn_notice": []}',
        b"\xff\xfe\x00garbage",
    ],
)
def test_odd_api_bodies_do_not_crash(govuk: Profile, body: bytes) -> None:
    assert isinstance(page(body, govuk, via_api=True), Page)


def test_api_flag_with_an_html_body_reads_the_html(govuk: Profile) -> None:
    assert page(b'<main id="content"><p>Fallback</p></main>', govuk, via_api=True).text() == "Fallback\n"


@pytest.mark.parametrize(
    "body", [b"https://www.gov.uk/guidance/x", b'<?xml version="1.0"?><rss><item>x</item></rss>']
)
def test_no_parser_warnings_escape(profiles: dict[str, Profile], body: bytes) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        normalise(body, url=URL, profile=profiles["default"])


def test_deeply_nested_markup(profiles: dict[str, Profile]) -> None:
    html = "<main>" + "<div><span>" * 5000 + "deep" + "</span></div>" * 5000 + "<p>after</p></main>"
    p = page(html, profiles["default"])
    assert "deep" in p.text() or "after" in p.text()


HTML_BITS = st.sampled_from(
    [
        "<p>",
        "</p>",
        "<div>",
        "</div>",
        "<h1>",
        "</h1>",
        "<h2>",
        "</h2>",
        "<h3 class='gem-c-heading__text'>",
        "<li>",
        "<ul>",
        "</ul>",
        "<ol>",
        "<table>",
        "<tr>",
        "<td>",
        "</td>",
        "<th>",
        "<br>",
        "<!--",
        "-->",
        "<script>",
        "</script>",
        "<style>",
        "<main id='content'>",
        "<main id='maincontent'>",
        "</main>",
        "&nbsp;",
        "&#0;",
        "&#xD800;",
        "\x00",
        "<![CDATA[",
        "]]>",
        "<?xml version='1.0'?>",
        "<svg><title>",
        "</svg>",
        "<a href=x>",
        "</a>",
        "<div hidden>",
        "<span aria-hidden=true>",
        "<p style='display:none'>",
        "#",
        "- ",
        "| ",
        "\n",
        "\u2028",
        "<nav>",
        "<footer>",
        "Page last reviewed: 1 May 2020",
        "Last updated 3 June 2021",
        "<time datetime='x'>",
        "<li class='gem-c-published-dates__change-item'>",
        "<section class='gem-c-notice'>was withdrawn on",
        "<template>",
        "<noscript>",
        "<button>",
        "<input>",
        "<select><option>",
        "<head>",
        "<title>",
        "<body>",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    parts=st.lists(st.one_of(HTML_BITS, st.text(max_size=12)), max_size=60),
    name=st.sampled_from(["govuk", "nhsuk", "default"]),
)
def test_arbitrary_markup_never_crashes(profiles: dict[str, Profile], parts: list[str], name: str) -> None:
    body = "".join(parts).encode("utf-8", errors="surrogatepass")
    for content_type in ("text/html", None):
        p = page(body, profiles[name], content_type=content_type)
        assert all(b.text == b.text.strip() and "\n" not in b.text for b in p.blocks)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=30) | st.just("<h2>x</h2><p>y</p>"),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "title",
                        "details",
                        "body",
                        "change_history",
                        "withdrawn_notice",
                        "note",
                        "public_timestamp",
                        "public_updated_at",
                        "description",
                        "explanation",
                        "withdrawn_at",
                        "content_type",
                        "content",
                    ]
                ),
                children,
                max_size=5,
            )
        ),
        max_leaves=12,
    )
)
def test_arbitrary_api_json_never_crashes(govuk: Profile, data: object) -> None:
    assert isinstance(page(json.dumps(data), govuk, via_api=True), Page)


# --- text folding and dates ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("‘single’ “double” „low‟", '\'single\' "double" "low"'),
        ("a – b — c ‒ d − e ‑ f", "a - b - c - d - e - f"),
        ("a\u00a0b\u2009c\u202fd\u3000e", "a b c d e"),
        ("zero\u200bwidth\u200d\u2060\ufeff soft\u00adhyphen", "zerowidth softhyphen"),
        ("  many \n\t spaces\r\n ", "many spaces"),
        ("e\u0301te\u0301", "été"),  # NFC
        ("wait…", "wait..."),
        ("ctrl\x07char", "ctrlchar"),
    ],
)
def test_fold_text(raw: str, folded: str) -> None:
    assert fold_text(raw) == folded
    assert fold_text(folded) == folded


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("18 February 2016", "2016-02-18"),
        ("1st Feb 2019", "2019-02-01"),
        ("3 Sept. 2024", "2024-09-03"),
        ("February 18, 2016", "2016-02-18"),
        ("2016-02-18", "2016-02-18"),
        ("2016-02-18T15:45:44.000+00:00", "2016-02-18"),
        ("2015-04-05T23:00:12.000+00:00", "2015-04-06"),  # BST
        ("2015-01-28T13:05:30Z", "2015-01-28"),
        ("2015-01-28 13:05", "2015-01-28"),
        ("31 February 2020", None),
        ("18 Brumaire 2016", None),
        ("yesterday", None),
        ("", None),
        (None, None),
        (20160218, None),
    ],
)
def test_parse_date(raw: object, expected: str | None) -> None:
    assert parse_date(raw) == expected


# --- the selector matcher on lxml agrees with soupsieve on BeautifulSoup's tree -------------

EXTRA_SELECTORS = (
    "[role=banner]",
    'a[href^="https://"]',
    "[data-module~=govspeak]",
    "[lang|=en]",
    "li#nope",
    "[hidden]",
    "div.govuk-grid-row.gem-print-columns-none",
    "[class*=cookie-banner]",
    "[id$=content]",
    "main h1",
    "ul > li:first-child",
    "p:not(.x)",
    "time[datetime]",
    "[href$='.uk/']",
    "*",
    "li:empty",
    "p:empty",
    ":root > body",
    "main > div:nth-child(2) p:last-of-type",
    "h2 ~ p",
    "div:has(> h2)",
)
# Values of HTML's case-insensitive attributes: soupsieve's select_one (main, title) ignores their
# case; the chrome index never did, and keeps matching them exactly (stored baselines depend on it).
CASE_SELECTORS = ("[LANG=EN]", "html[lang=EN]", "p[type=text]")
TRICKY = """<!doctype html><html lang="en"><body><main><p class="a\tb\x0cc">x</p><p class="sr-only\u00a0z">y</p>
<template><main><h1>in a template</h1><p>t</p></main></template><ul><li> </li><li><!-- c --></li></ul><p>\n</p>
<p TYPE=Text></p></main></body></html><!-- after --><p>stray</p>"""


def _path(el: object, bs4: bool) -> tuple[int, ...]:
    """Where an element sits: its index among its parent's elements, from the document down."""
    out: list[int] = []
    while True:
        parent = el.parent if bs4 else el.getparent()  # type: ignore[attr-defined]
        if parent is None:
            return tuple(reversed(out))
        kids = [c for c in (parent.contents if bs4 else parent) if (c.name if bs4 else isinstance(c.tag, str))]
        out.append(next(i for i, c in enumerate(kids) if c is el))
        el = parent


def _outermost(paths: list[tuple[int, ...]]) -> set[tuple[int, ...]]:
    found = set(paths)
    return {p for p in found if not any(p[:i] in found for i in range(len(p)))}


@pytest.mark.parametrize("rel", [f"v1/{ATMP}", NHS_V1, f"v2/{IO}", "tricky"])
def test_selector_matching_agrees_with_soupsieve(profiles: dict[str, Profile], rel: str) -> None:
    html = TRICKY if rel == "tricky" else site(rel).decode()
    soup, doc = BeautifulSoup(html, "lxml"), parse(html)
    lists = [p.drop for p in profiles.values()] + [(s,) for s in EXTRA_SELECTORS] + [EXTRA_SELECTORS[:8]]
    for selectors in lists:
        ours = [_path(e, False) for e in select_all(doc, selectors)]
        theirs = [_path(e, True) for e in soupsieve.select(", ".join(selectors), soup)]
        assert _outermost(ours) == _outermost(theirs), selectors
    for selector in (*EXTRA_SELECTORS, *CASE_SELECTORS, *(s for p in profiles.values() for s in (*p.main, *p.title))):
        one, other = select_one(doc, selector), soup.select_one(selector)
        assert (one is None) == (other is None), selector
        assert one is None or _path(one, False) == _path(other, True), selector


SOUPSIEVE_ONLY = ("p:-soup-contains('x')", "a:not(.x, .y)", "li:nth-child(2n+1 of .x)", "a:any-link")


@pytest.mark.parametrize("selector", SOUPSIEVE_ONLY)
def test_a_selector_cssselect_cannot_take_is_refused_in_one_line(tmp_path: Path, selector: str) -> None:
    with pytest.raises(ValueError, match="invalid CSS selector") as err:
        compile_ignore((f"css:{selector}",))
    assert "\n" not in str(err.value)
    (tmp_path / "mysite.toml").write_text(f'name = "mysite"\ndrop = ["nav", "{selector}"]\n')
    with pytest.raises(ProfileError, match=r"mysite.toml: key 'drop\[1\]': invalid CSS selector") as perr:
        load_profiles([tmp_path])
    assert "\n" not in str(perr.value) and perr.value.exit_code == 2


# --- speed --------------------------------------------------------------------------------


def _copies(n: int) -> bytes:
    """The ATMP page with its body repeated `n` times (ids kept unique)."""
    html = site(f"v1/{ATMP}").decode()
    body = json.loads(site(f"v1/{ATMP_API}"))["details"]["body"]
    assert body in html
    return html.replace(body, "".join(body.replace('id="', f'id="c{i}-') for i in range(n))).encode()


def _calls(work: Callable[[], object]) -> int:
    """Python and C function calls made by `work`: a count of the work done, the same on an
    idle machine and a busy one (bench/normalise.py has the times)."""
    calls = 0

    def profile(_frame: object, event: str, _arg: object) -> None:
        nonlocal calls
        calls += event in ("call", "c_call")

    sys.setprofile(profile)
    try:
        work()
    finally:
        sys.setprofile(None)
    return calls


def test_a_500_kb_page_takes_work_in_proportion_to_its_size(profiles: dict[str, Profile]) -> None:
    small, big = _copies(5), _copies(45)
    assert len(big) >= 500_000
    for profile in (profiles["govuk"], profiles["default"]):
        p = normalise(big, url=URL, profile=profile)
        assert len(p.blocks) > 45 * 60
        ratio = _calls(partial(normalise, big, url=URL, profile=profile)) / _calls(
            partial(normalise, small, url=URL, profile=profile))
        assert ratio < 12, f"{profile.name}: 9x the content took {ratio:.1f}x the work (quadratic somewhere?)"

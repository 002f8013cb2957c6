"""Digest grouping, the four formats, and escaping of untrusted page text."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from guidewatch.alerts.digest import (
    Digest,
    DigestItem,
    digest_filename,
    digest_key,
    group,
    md_code,
    md_escape,
    render,
    safe_url,
    split_evidence,
    subject,
    summary,
    to_json_dict,
)
from guidewatch.model import Change, DiffOp, Impact

MHRA = "https://www.gov.uk/guidance/advanced-therapy-medicinal-products-regulation-and-licensing"
NHS = "https://www.nhs.uk/conditions/genetic-and-genomic-testing/"
GUIDE = "gene-therapy-atmps-uk"
GUIDE_TITLE = "Gene therapy and ATMPs in the UK: a patient guide"
WHEN = datetime(2026, 11, 25, 14, 2, tzinfo=UTC)

HE_CHANGE = Change(
    id="c1",
    kind="modified",
    severity="substantive",
    reason="'must' became 'may'",
    source_section=("Guidance", "Hospital exemption"),
    old="Unlicensed ATMPs must be prepared on a non-routine basis for an individual patient.",
    new="Unlicensed ATMPs may be prepared on a non-routine basis for an individual patient.",
    ops=[
        DiffOp(0, "Unlicensed ATMPs "),
        DiffOp(-1, "must"),
        DiffOp(1, "may"),
        DiffOp(0, " be prepared on a non-routine basis for an individual patient."),
    ],
)
TRIAL_CHANGE = Change(
    id="c2",
    kind="added",
    severity="minor",
    reason="new sentence",
    source_section=("Guidance", "Clinical trials"),
    old="",
    new="Trial sponsors must register with the MHRA before recruiting.",
)
TEST_CHANGE = Change(
    id="c1",
    kind="modified",
    severity="substantive",
    reason="'6 weeks' became '8 weeks'",
    source_section=("Getting results",),
    old="Results usually take 6 weeks.",
    new="Results usually take 8 weeks.",
    ops=[DiffOp(0, "Results usually take "), DiffOp(-1, "6"), DiffOp(1, "8"), DiffOp(0, " weeks.")],
)

SECTIONS = {
    "approved-treatment-hospital-exemption-or-clinical-trial": (
        "Approved treatment, hospital exemption or clinical trial?",
        6,
    ),
    "what-is-hospital-exemption": ("What is hospital exemption?", 24),
    "gene-therapy-genetic-testing-and-personalised-medicine": (
        "Gene therapy, genetic testing and personalised medicine",
        7,
    ),
    "do-i-need-genetic-testing-before-gene-therapy": ("Do I need genetic testing before gene therapy?", 21),
}


def item(
    alert_id: int, section: str, url: str, change: Change, *, title: str = "", **kw: object
) -> DigestItem:
    heading, order = SECTIONS.get(section, (section, 99))
    fields: dict[str, object] = {
        "alert_id": alert_id,
        "guide": GUIDE,
        "guide_title": GUIDE_TITLE,
        "section_id": section,
        "section_heading": heading,
        "source_url": url,
        "source_title": title or ("ATMPs: regulation and licensing" if url == MHRA else "Genetic testing"),
        "change": change,
        "impact": Impact(
            GUIDE,
            section,
            heading,
            0.82,
            ("hospital exemption", "non-routine", "Hospital exemption is a route that may allow some ATMPs."),
        ),
        "detected_at": WHEN,
        "section_order": order,
    }
    fields.update(kw)
    return DigestItem(**fields)  # type: ignore[arg-type]


def make_digest(recipient: str | None = "ed@example.org") -> Digest:
    """3 changes to 2 sources affecting 4 sections of 1 guide (5 items), in shuffled order."""
    items = [
        item(5, "do-i-need-genetic-testing-before-gene-therapy", NHS, TEST_CHANGE),
        item(2, "what-is-hospital-exemption", MHRA, HE_CHANGE),
        item(3, "approved-treatment-hospital-exemption-or-clinical-trial", MHRA, TRIAL_CHANGE),
        item(1, "approved-treatment-hospital-exemption-or-clinical-trial", MHRA, HE_CHANGE),
        item(4, "gene-therapy-genetic-testing-and-personalised-medicine", NHS, TEST_CHANGE),
    ]
    return Digest(
        recipient=recipient,
        generated_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
        since=datetime(2026, 11, 19, 9, 30, tzinfo=UTC),
        items=items,
    )


EVIL = '<script>alert(1)</script> and <a href="javascript:alert(1)">click</a> <img src=x onerror=alert(2)>'


def evil_digest() -> Digest:
    change = Change(
        id="x1",
        kind="modified",
        severity="substantive",
        reason=EVIL,
        source_section=("<script>alert(3)</script>",),
        old="Safe text.",
        new=EVIL,
        ops=[DiffOp(-1, "Safe text."), DiffOp(1, EVIL)],
        context=EVIL,
    )
    items = [
        item(1, "what-is-hospital-exemption", "javascript:alert(1)", change, title=EVIL),
        item(2, "what-is-hospital-exemption", 'https://example.org/" onmouseover="alert(1)', change,
             title=EVIL),
        item(3, "what-is-hospital-exemption", " JaVaScRiPt:alert(1)", change, title="x",
             section_heading="<b onclick=alert(1)>Heading</b>"),
    ]
    items[0].impact = Impact(GUIDE, "s", "h", 0.5, (EVIL, "<script>evil()</script> is a long sentence here."))
    return Digest("ed@example.org", WHEN, None, items)


class _Tags(HTMLParser):
    """Every start tag with its attributes, to look for active content."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


# --- grouping and summary -----------------------------------------------------------------


def test_groups_by_guide_then_section_in_guide_order_most_serious_first() -> None:
    guides = group(make_digest().items)
    assert [g.slug for g in guides] == [GUIDE]
    assert [s.id for s in guides[0].sections] == [
        "approved-treatment-hospital-exemption-or-clinical-trial",
        "gene-therapy-genetic-testing-and-personalised-medicine",
        "do-i-need-genetic-testing-before-gene-therapy",
        "what-is-hospital-exemption",
    ]
    first = guides[0].sections[0].entries
    assert [e.item.alert_id for e in first] == [1, 3]  # substantive before minor


def test_several_guides_sorted_by_title() -> None:
    d = make_digest()
    d.items.append(item(9, "intro", MHRA, HE_CHANGE, guide="a-guide", guide_title="A guide about CAR-T"))
    assert [g.slug for g in group(d.items)] == ["a-guide", GUIDE]


def test_summary_counts_changes_sources_sections_guides() -> None:
    assert summary(make_digest()) == "3 changes to 2 sources affect 4 sections of 1 guide"
    one = Digest(None, WHEN, None, [item(1, "what-is-hospital-exemption", MHRA, HE_CHANGE)])
    assert summary(one) == "1 change to 1 source affects 1 section of 1 guide"


def test_key_depends_on_recipient_and_alert_ids_only() -> None:
    d = make_digest()
    assert d.key == digest_key("ed@example.org", [1, 2, 3, 4, 5])
    assert d.key == digest_key("ED@example.org", [5, 4, 3, 2, 1])
    assert d.key != make_digest("other@example.org").key
    assert re.fullmatch(r"gw-[0-9a-f]{20}", d.key)


def test_accept_command_defaults_from_url() -> None:
    i = item(1, "s", MHRA, HE_CHANGE)
    assert i.accept_command == f"guidewatch accept {MHRA} --by NAME"
    odd = item(2, "s", "https://example.org/a?b=1&c=2", HE_CHANGE)
    assert odd.accept_command == "guidewatch accept 'https://example.org/a?b=1&c=2' --by NAME"


def test_filename_is_dated_and_slugged() -> None:
    d = make_digest()
    assert digest_filename(d, "html") == "2026-11-26T093000Z-digest-ed-example-org.html"
    assert digest_filename(d, "html", 2) == "2026-11-26T093000Z-digest-ed-example-org-2.html"
    assert digest_filename(d, "text").endswith(".txt")
    assert digest_filename(make_digest(None), "md") == "2026-11-26T093000Z-digest-all.md"
    naive = Digest("../../etc/passwd", datetime(2026, 1, 2, 3, 4), None, [])
    assert digest_filename(naive, "json") == "2026-01-02T030400Z-digest-etc-passwd.json"


def test_evidence_split_into_phrases_and_sentence() -> None:
    assert split_evidence(("a b", "c", "The best matching guide sentence here.")) == (
        ["a b", "c"],
        "The best matching guide sentence here.",
    )
    assert split_evidence(("a b", "c")) == (["a b", "c"], None)
    assert split_evidence(()) == ([], None)


# --- formats ---------------------------------------------------------------------------------


def test_markdown_highlights_and_structure() -> None:
    md = render(make_digest(), "md")
    assert "**3 changes to 2 sources affect 4 sections of 1 guide**" in md
    assert "Unlicensed ATMPs ~~must~~ **may** be prepared" in md
    assert "take ~~6~~ **8** weeks" in md
    assert f"[ATMPs: regulation and licensing](<{MHRA}>)" in md
    assert "## Guide: Gene therapy and ATMPs in the UK: a patient guide" in md
    assert "  - What is hospital exemption? (#what-is-hospital-exemption, match 82%)" in md
    assert "Guidance › Hospital exemption" in md
    assert f"`guidewatch accept {MHRA} --by NAME`" in md
    assert "> Hospital exemption is a route that may allow some ATMPs." in md
    # guide -> source -> change: each change once, its sections listed under it
    assert [line for line in md.splitlines() if line.startswith("### ")] == [
        f"### Source: [ATMPs: regulation and licensing](<{MHRA}>)", f"### Source: [Genetic testing](<{NHS}>)"]
    assert [line for line in md.splitlines() if line.startswith("#### ")] == [
        "#### Change: 'must' became 'may'", "#### Change: new sentence", "#### Change: '6 weeks' became '8 weeks'"]
    assert md.count("Unlicensed ATMPs ~~must~~ **may**") == 1
    assert "| Guide | Source | Change | Severity | Sections |" in md  # the summary table
    assert "| 'must' became 'may' | substantive | 2 re-read |" in md


def test_text_highlights() -> None:
    text = render(make_digest(), "text")
    assert "Unlicensed ATMPs [-must-]{+may+} be prepared" in text
    assert "{+Trial sponsors must register with the MHRA before recruiting.+}" in text
    assert "SUBSTANTIVE (modified): 'must' became 'may'" in text
    assert f"guidewatch accept {NHS} --by NAME" in text
    assert "3 changes to 2 sources affect 4 sections of 1 guide" in text.splitlines()[3]


def test_html_highlights_and_accessibility_basics() -> None:
    html = render(make_digest(), "html")
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="en-GB">' in html
    assert re.search(r"<del style=\"[^\"]+\">must</del> <ins style=\"[^\"]+\">may</ins>", html)
    # one guide, two sources, three changes (the 5 items are 3 changes, each shown once)
    assert "<h1" in html and html.count("<h2") == 1 and html.count("<h3") == 2 and html.count("<h4") == 3
    assert html.count(">must</del>") == 1 and "<table" in html and '<th scope="col"' in html
    assert f'<a href="{MHRA}"' in html
    names = {t for t, _ in tags(html)}
    assert not names & {"script", "link", "style", "img", "iframe", "object"}
    assert all("src" not in a for _, a in tags(html))


def test_json_shape_is_stable() -> None:
    data = json.loads(render(make_digest(), "json"))
    assert list(data) == ["schema", "key", "recipient", "generated_at", "since", "summary", "counts",
                          "guides"]
    assert data["schema"] == "guidewatch.alerts.digest/1"
    assert data["generated_at"] == "2026-11-26T09:30:00Z"
    assert data["counts"] == {"changes": 3, "sources": 2, "sections": 4, "guides": 1, "items": 5}
    section = data["guides"][0]["sections"][0]
    assert list(section) == ["section", "heading", "order", "items"]
    entry = section["items"][0]
    assert list(entry) == ["alert_id", "source", "source_section", "change", "impact", "detected_at",
                           "accept_command", "action"]
    assert entry["action"] == f"when the guide is right, accept the change: {entry['accept_command']}"
    assert entry["change"]["ops"][1] == {"op": -1, "text": "must"}
    assert entry["impact"]["sentence"] == "Hospital exemption is a route that may allow some ATMPs."
    trial = section["items"][1]["change"]
    assert trial["ops"] == [{"op": 1, "text": trial["new"]}]  # filled in when the differ gave none
    assert data == to_json_dict(make_digest())


@pytest.mark.parametrize("fmt", ["md", "html", "text", "json"])
def test_empty_digest_is_friendly(fmt: str) -> None:
    out = render(Digest("ed@example.org", WHEN, datetime(2026, 11, 18, tzinfo=UTC), []), fmt)  # type: ignore[arg-type]
    assert "Nothing to review" in out
    if fmt == "json":
        assert json.loads(out)["guides"] == []


def test_unknown_format_rejected() -> None:
    with pytest.raises(ValueError, match="unknown digest format"):
        render(make_digest(), "pdf")  # type: ignore[arg-type]


def test_long_unchanged_text_is_shortened_for_reading() -> None:
    long = "word " * 200
    change = Change("c9", "modified", "minor", "r", (), long + "old", long + "new",
                    ops=[DiffOp(0, long), DiffOp(-1, "old"), DiffOp(1, "new")])
    text = render(Digest(None, WHEN, None, [item(1, "s", MHRA, change)]), "text")
    assert "… word" in text and text.count("word") < 40
    assert "[-old-]{+new+}" in text


def test_whole_page_removal_is_cut_for_reading() -> None:
    page = "A sentence of the withdrawn page. " * 400
    change = Change("g1", "gone", "substantive", "the page is gone (410)", (), page, "", scope="page")
    html = render(Digest(None, WHEN, None, [item(1, "s", MHRA, change)]), "html")
    assert "The page no longer exists: the page is gone (410)." in html and len(html) < len(page) // 2
    assert "<del" not in html.partition("<main>")[2], "a page event is told in words, not struck through"
    note = Change("n1", "change_note", "substantive", "GOV.UK change note: x", (), "", page, scope="page")
    html = render(Digest(None, WHEN, None, [item(1, "s", MHRA, note)]), "html")
    assert "more characters]" in html and len(html) < len(page)
    assert json.loads(render(Digest(None, WHEN, None, [item(1, "s", MHRA, change)]), "json"))[
        "guides"][0]["sections"][0]["items"][0]["change"]["old"] == page  # JSON keeps it whole


# --- untrusted page text ------------------------------------------------------------------------


def test_html_escapes_everything_from_sources() -> None:
    html = render(evil_digest(), "html")
    found = tags(html)
    assert "script" not in {t for t, _ in found}
    assert "<script" not in html.lower()
    for tag, attrs in found:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        for name in ("href", "src", "action"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith("javascript:"), (tag, attrs)
    hrefs = [a["href"] for t, a in found if t == "a" and not (a["href"] or "").startswith("#change-")]
    assert hrefs == []  # none of the three URLs is a plain http(s) URL (the summary table links within)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown, not run
    assert "not linked" in html


def test_safe_url_only_plain_http() -> None:
    assert safe_url(MHRA) == MHRA
    for bad in ("javascript:alert(1)", " JavaScript:x", "data:text/html,x", "java\nscript:x",
                "//evil.example/x", "https://a b", 'https://a"b', "ftp://x"):
        assert safe_url(bad) is None, bad


def test_markdown_escapes_page_syntax() -> None:
    md = render(evil_digest(), "md")
    assert re.search(r"(?<!\\)<", md) is None  # every "<" from the page is escaped
    assert "](" not in md  # no link: none of the URLs is plain http(s)
    assert md_escape("*x* [a](b) <i>") == r"\*x\* \[a\]\(b\) \<i\>"
    assert md_code("a`b") == "``a`b``"


def test_control_characters_dropped() -> None:
    change = Change("c1", "modified", "minor", "bell\x07 and \x1b[31mred", (), "a", "b\u202eevil")
    text = render(Digest(None, WHEN, None, [item(1, "s", MHRA, change)]), "text")
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text


# --- a real browser ---------------------------------------------------------------------------

browser = pytest.importorskip("browser", reason="tests/browser.py is not importable")
needs_chromium = pytest.mark.skipif(
    browser.find_chromium() is None,
    reason="no chromium binary on PATH (apt-get install chromium, or set GUIDEWATCH_CHROMIUM)",
)


@pytest.mark.chromium
@needs_chromium
def test_html_digest_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "digest.html"
    page.write_text(render(make_digest(), "html"), encoding="utf-8")
    dom = browser.dump_dom(page)
    assert re.search(rf"<h2[^>]*>{re.escape(GUIDE_TITLE)}</h2>", dom)
    for heading, _ in SECTIONS.values():
        assert re.search(rf"<li[^>]*><span[^>]*>{re.escape(heading)}</span>", dom), heading
    assert "<script" not in dom.lower()
    assert "<del" in dom and "<ins" in dom

    shot = browser.screenshot(page, tmp_path / "digest.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank canvas


@pytest.mark.chromium
@needs_chromium
def test_hostile_page_text_stays_inert_in_chromium(tmp_path: Path) -> None:
    page = tmp_path / "evil.html"
    page.write_text(render(evil_digest(), "html"), encoding="utf-8")
    dom = browser.dump_dom(page)
    found = tags(dom)  # the DOM as Chromium built it, re-parsed into tags
    assert not {t for t, _ in found} & {"script", "img", "iframe"}
    for tag, attrs in found:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert not (attrs.get("href") or "").strip().lower().startswith("javascript:"), (tag, attrs)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # visible as text


# --- each change once, page events in words, links to the review app (issue 19) ---------------


def test_each_change_once_with_its_sections_by_tier() -> None:
    d = make_digest()
    d.items[1].impact = Impact(GUIDE, "what-is-hospital-exemption", "What is hospital exemption?", 0.41,
                               ("hospital exemption",), tier="related")
    text = render(d, "text")
    assert text.count("Unlicensed ATMPs [-must-]{+may+}") == 1
    card = text[text.index("* SUBSTANTIVE (modified): 'must' became 'may'"):text.index("* MINOR (added)")]
    assert card.index("Re-read:") < card.index("Approved treatment") < card.index("Related (worth a glance):") \
        < card.index("What is hospital exemption?")
    assert "alerts #1, #2" in card
    rows = text[text.index("Summary (each change once):"):text.index("Removed text")].strip().splitlines()[1:]
    assert len(rows) == 3 and "[1 re-read, 1 related]" in rows[0]


def test_page_events_are_told_in_words_without_strike_through() -> None:
    note = Change("c7", "change_note", "substantive", "GOV.UK change note: Hospital exemption updated", (),
                  "Guidance first published.", "Hospital exemption section updated.", scope="page",
                  context="change note of 20 November 2026")
    moved = Change("c8", "moved", "minor", "page moved to a new address: https://www.gov.uk/new", (),
                   MHRA, "https://www.gov.uk/new", scope="page")
    d = Digest(None, WHEN, None, [item(1, "what-is-hospital-exemption", MHRA, note),
                                  item(2, "what-is-hospital-exemption", NHS, moved)])
    html = render(d, "html")
    main = html.partition("<main>")[2]
    assert "<del" not in main and "<ins" not in main
    assert ("The publisher added a change note (change note of 20 November 2026): “Hospital exemption section "
            "updated.”; the previous note was: “Guidance first published.”") in html
    assert f"The cited address {MHRA} now redirects to https://www.gov.uk/new." in html
    md, text = render(d, "md"), render(d, "text")
    assert "~~" not in md.partition("---")[2].partition("## Guide")[2] and "[-" not in text.partition("GUIDE:")[2]


def test_subject_names_the_guides_and_the_count() -> None:
    d = make_digest()
    assert subject(d) == f"[guidewatch] 3 changes to review in {GUIDE_TITLE}"
    d.items.append(item(9, "intro", MHRA, HE_CHANGE, guide="a-guide", guide_title="A guide about CAR-T"))
    assert subject(d) == f"[guidewatch] 4 changes to review in A guide about CAR-T, {GUIDE_TITLE}"
    for n, slug in enumerate(("b", "c")):
        d.items.append(item(20 + n, "intro", NHS, TEST_CHANGE, guide=slug, guide_title=f"Guide {slug.upper()}"))
    assert subject(d).endswith(f"in A guide about CAR-T, {GUIDE_TITLE} and 2 more guides")
    assert subject(Digest(None, WHEN, None, [])).startswith("[guidewatch] Nothing to review")


def test_each_change_links_to_the_review_app_when_it_has_a_public_url() -> None:
    d = make_digest()
    assert "/changes/" not in render(d, "html") and "Review it:" not in render(d, "text")
    d.app_url = "https://review.example.org"
    html, text, md = render(d, "html"), render(d, "text"), render(d, "md")
    assert html.count('href="https://review.example.org/changes/1"') == 2  # HE_CHANGE and TEST_CHANGE are both c1
    assert "Review it: https://review.example.org/changes/2" in text
    assert "<https://review.example.org/changes/1>" in md
    data = to_json_dict(d)
    changes = [c for s in data["guides"][0]["sources"] for c in s["changes"]]
    assert [c["app_url"] for c in changes] == ["https://review.example.org/changes/1",
                                               "https://review.example.org/changes/2",
                                               "https://review.example.org/changes/1"]
    assert changes[0]["alert_ids"] == [1, 2] and [s["tier"] for s in changes[0]["sections"]] == ["reread"] * 2


def test_more_edits_are_explained_not_counted() -> None:
    change = Change("c3", "modified", "substantive", "'may' became 'must' (+2 more)", ("S",), "a", "b")
    d = Digest(None, WHEN, None, [item(1, "s", MHRA, change)])
    for fmt in ("html", "md", "text"):
        out = render(d, fmt)  # type: ignore[arg-type]
        assert "(+2 more)" not in out and "and 2 other edits in the same passage" in out, fmt

"""PDF sources: a cited PDF read into the same heading-tree `Page` as a web page.

The PDFs are written by the tests (tests/pdfs.py: fpdf2, and pypdf's writer for a cosmetic
re-export); end to end they are served over real HTTP from 127.0.0.1 and crawled by the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guidewatch.app.decision import screen_page
from guidewatch.model import FetchOutcome, Page, parse_blocks
from guidewatch.pages.normalise import normalise
from guidewatch.sources.profiles import Profile, load_profiles
from httpserver import LocalHTTPServer, Reply
from pdfs import HE_V1, HE_V2, guidance_pdf, image_only_pdf, re_export
from test_crawl import gw

URL = "https://assets.publishing.service.gov.uk/media/abc/atmp-guidance.pdf"
PDF = "application/pdf"


@pytest.fixture(scope="module")
def profile() -> Profile:
    return load_profiles()["default"]


def read(body: bytes, profile: Profile, content_type: str | None = PDF) -> Page:
    page = normalise(body, url=URL, profile=profile, content_type=content_type)
    assert parse_blocks(page.text()) == page.blocks, "the stored text reads back to the same blocks"
    return page


def sections(page: Page) -> dict[str, list[tuple[str, ...]]]:
    """Each paragraph's first words -> the heading path it sits under."""
    out: dict[str, list[tuple[str, ...]]] = {}
    for b in page.blocks:
        if b.kind != "heading":
            out.setdefault(" ".join(b.text.split()[:3]), []).append(b.path)
    return out


@pytest.mark.parametrize("outline", [True, False], ids=["outline", "font-sizes"])
def test_headings_come_from_the_outline_or_the_font_sizes(profile: Profile, outline: bool) -> None:
    page = read(guidance_pdf(outline=outline, filler=60), profile)
    headings = [(b.level, b.text) for b in page.blocks if b.kind == "heading"]
    assert headings == [(1, "Advanced therapy medicinal products"), (2, "Hospital exemption"),
                        (2, "Clinical trials"), (2, "Reporting side effects")]
    where = sections(page)
    assert where["Unlicensed ATMPs may"] == [("Advanced therapy medicinal products", "Hospital exemption")]
    assert where["Report suspected side"] == [("Advanced therapy medicinal products", "Reporting side effects")]
    items = [b.text for b in page.blocks if b.kind == "li"]
    assert items == ["the product is prescribed by a doctor for one patient",
                     "the hospital holds a manufacturing licence"]
    assert page.title == "Advanced therapy medicinal products"


def test_paragraphs_are_whole_and_page_furniture_is_not_text(profile: Profile) -> None:
    page = read(guidance_pdf(filler=60), profile)  # three pages, each with a footer and page number
    text = page.text()
    assert "Page" not in text and "MHRA guidance -" not in text
    assert sum(b.text.startswith("Trial note") for b in page.blocks) == 60, "no body line taken for a footer"
    he = next(b.text for b in page.blocks if b.text.startswith("Unlicensed"))
    assert he == HE_V1 + " The exemption covers a custom-made product prepared on a non-routine basis in a hospital."


def test_without_outline_or_larger_fonts_paragraphs_sit_under_one_heading(profile: Profile) -> None:
    page = read(guidance_pdf(outline=False, heading_sizes=False), profile)
    retitled = read(re_export(guidance_pdf(outline=False, heading_sizes=False), title="Microsoft Word - x.docx"),
                    profile)
    assert retitled.content_hash == page.content_hash, "the Title property is not text"
    headings = [b for b in page.blocks if b.kind == "heading"]
    assert [h.text for h in headings] == ["Advanced therapy medicinal products"]
    assert all(b.path == ("Advanced therapy medicinal products",) for b in page.blocks)
    assert sum(b.text == "Advanced therapy medicinal products" for b in page.blocks) == 1


def test_the_documents_own_dates_are_metadata_never_text(profile: Profile) -> None:
    page = read(re_export(guidance_pdf()), profile)
    assert page.metadata["content_type"] == PDF
    assert page.metadata["first_published_at"] == "2024-03-12"
    assert page.metadata["public_updated_at"] == "2025-05-03"
    assert page.metadata["pdf_created"] == "2024-03-12" and page.metadata["pdf_modified"] == "2025-11-01"
    assert "Published" not in page.text() and "updated" not in page.text() and "2025" not in page.text()
    mid = read(guidance_pdf(extra=["The list was updated on 3 May 2025 to add two products."]), profile)
    assert "The list was updated on 3 May 2025 to add two products." in mid.text(), "a sentence is text"
    later = read(guidance_pdf(updated="9 June 2026"), profile)
    assert later.metadata["public_updated_at"] == "2026-06-09" and later.text() == page.text()


@pytest.mark.parametrize("outline", [True, False], ids=["bookmarks-kept", "bookmarks-dropped"])
def test_a_cosmetic_re_export_gives_the_same_text(profile: Profile, outline: bool) -> None:
    """New producer, ModDate, object numbers and compression; without bookmarks the font sizes
    give the same heading tree."""
    original = guidance_pdf(filler=60)
    again = re_export(original, producer="Microsoft Word for Microsoft 365", outline=outline)
    assert again != original
    assert read(again, profile).content_hash == read(original, profile).content_hash


@pytest.mark.parametrize("label", ["text/html; charset=utf-8", "application/x-pdf", "binary/octet-stream", None])
def test_a_pdf_is_read_as_a_pdf_whatever_the_server_calls_it(profile: Profile, label: str | None) -> None:
    page = read(guidance_pdf(), profile, content_type=label)
    assert page.metadata["content_type"] == PDF and any(b.text.startswith("Unlicensed") for b in page.blocks)


def test_an_owner_password_alone_does_not_stop_reading(profile: Profile) -> None:
    """Many official PDFs are encrypted only against editing: anyone may open them."""
    page = read(guidance_pdf(owner_password="owner-only"), profile)
    assert any(b.text.startswith("Unlicensed") for b in page.blocks)


def _outcome(body: bytes) -> FetchOutcome:
    return FetchOutcome(url=URL, status="ok", http_status=200, body=body, headers={"content-type": PDF})


@pytest.mark.parametrize(
    ("make", "reason", "transient"),
    [
        (lambda: guidance_pdf()[:1500], "truncated PDF", True),
        (lambda: guidance_pdf(owner_password="o", user_password="secret"), "encrypted PDF", False),
        (lambda: b"%PDF-1.7\nthis is an error page, not a PDF\n%%EOF\n", "not a readable PDF", False),
        (image_only_pdf, "PDF has no text (a scanned image?)", False),
    ],
    ids=["truncated", "encrypted", "not-a-pdf", "scanned"],
)
def test_an_unreadable_pdf_is_a_failed_check_never_a_change(profile: Profile, make, reason: str,  # type: ignore[no-untyped-def]
                                                            transient: bool) -> None:
    page = read(make(), profile)
    assert page.blocks == [] and page.metadata["unreadable"].startswith(reason)
    screened = screen_page(page, _outcome(make()))
    assert screened.page is None, "nothing to diff, so nothing stored"
    assert screened.outcome.status == "failed" and screened.outcome.error is not None
    assert screened.outcome.error.startswith(reason) and screened.outcome.transient is transient


def test_a_pdf_cut_off_anywhere_is_never_read_as_a_page(profile: Profile) -> None:
    """A download cut short (no length to check it by) must not become "text removed"."""
    whole = re_export(guidance_pdf(filler=60))
    for end in range(100, len(whole) - 10, max(1, len(whole) // 40)):
        page = read(whole[:end], profile)
        assert page.blocks == [] and "unreadable" in page.metadata, end


# --- end to end: served over real HTTP, crawled by the CLI ------------------------------------


def _workspace(ws: Path, s: LocalHTTPServer) -> None:
    ws.mkdir()
    (ws / "guide.md").write_text(f"""# ATMP guide

## Hospital exemption

Some unlicensed ATMPs may be used under hospital exemption for one patient.
See the [MHRA guidance (PDF)]({s.url('/media/atmp-guidance.pdf')}).

## Side effects

Tell your doctor about side effects; you can also report them to the Yellow Card scheme.
""")
    (ws / "guidewatch.toml").write_text("""
[[guides]]
path = "guide.md"

[fetch]
allow_private = true
download_delay = 0.0
autothrottle = false
retries = 0
timeout = 10.0
""")


def _serve(s: LocalHTTPServer, body: bytes, etag: str) -> None:
    s.route("/media/atmp-guidance.pdf", Reply(body=body, content_type=PDF, etag=etag))


def test_a_cited_pdf_is_crawled_diffed_and_linked_like_a_page(http_server: LocalHTTPServer, tmp_path: Path,
                                                              store_url: str) -> None:
    s, ws = http_server, tmp_path / "ws"
    s.robots("User-agent: *\nAllow: /\n")
    _workspace(ws, s)
    v1 = guidance_pdf(HE_V1)
    _serve(s, v1, '"v1"')
    first = gw(ws, "crawl", store_url=store_url)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("1 checked: 1 new, 0 unchanged, 0 changed, 0 moved, 0 gone, 0 failed")

    # a cosmetic re-export: new producer, ModDate and object order, same text -> nothing to review
    _serve(s, re_export(v1), '"v1-re-exported"')
    again = gw(ws, "crawl", "--all", store_url=store_url)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("1 checked: 0 new, 1 unchanged, 0 changed"), again.stdout
    assert "0 new alerts" in again.stdout
    assert json.loads(gw(ws, "changes", "--format", "json", store_url=store_url).stdout) == []

    # one substantive edit -> one change, linked to the guide section that relies on it
    _serve(s, guidance_pdf(HE_V2, updated="1 December 2025"), '"v2"')
    second = gw(ws, "crawl", "--all", store_url=store_url)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("1 checked: 0 new, 0 unchanged, 1 changed"), second.stdout
    changes = json.loads(gw(ws, "changes", "--format", "json", store_url=store_url).stdout)
    assert [(c["kind"], c["severity"]) for c in changes] == [("modified", "substantive")]
    change = changes[0]
    assert change["source_section"] == ["Advanced therapy medicinal products", "Hospital exemption"]
    assert "must not" in change["new"] and "2025" not in change["new"]
    assert change["affects"][0]["section"] == "hospital-exemption"


def test_a_truncated_pdf_over_http_is_a_failed_fetch_and_the_baseline_stays(http_server: LocalHTTPServer,
                                                                            tmp_path: Path, store_url: str) -> None:
    s, ws = http_server, tmp_path / "ws"
    s.robots("User-agent: *\nAllow: /\n")
    _workspace(ws, s)
    v1 = guidance_pdf(HE_V1)
    _serve(s, v1, '"v1"')
    assert gw(ws, "crawl", store_url=store_url).returncode == 0
    _serve(s, v1[: len(v1) // 2], '"cut"')  # the server sends half the file with a matching length
    cut = gw(ws, "crawl", "--all", store_url=store_url)
    assert "1 failed" in cut.stdout and "truncated PDF" in cut.stderr, (cut.stdout, cut.stderr)
    assert json.loads(gw(ws, "changes", "--format", "json", store_url=store_url).stdout) == []


def test_compare_reads_two_saved_pdfs_and_refuses_an_unreadable_one(tmp_path: Path, store_url: str) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    url = "https://assets.publishing.service.gov.uk/media/abc/atmp-guidance.pdf"
    (ws / "guide.md").write_text(f"# G\n\n## Hospital exemption\n\nUnlicensed ATMPs under exemption. [PDF]({url})\n")
    (ws / "v1.pdf").write_bytes(guidance_pdf(HE_V1))
    (ws / "v2.pdf").write_bytes(re_export(guidance_pdf(HE_V2)))
    (ws / "cut.pdf").write_bytes(guidance_pdf(HE_V1)[:700])
    args = ("--guide", "guide.md", "--url", url, "--format", "json")
    ok = gw(ws, "compare", "v1.pdf", "v2.pdf", *args, store_url=store_url)
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert [(c["kind"], c["severity"]) for c in report["changes"]] == [("modified", "substantive")]
    bad = gw(ws, "compare", "v1.pdf", "cut.pdf", *args, store_url=store_url)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().splitlines()[-1].endswith("cut.pdf: truncated PDF: no %%EOF at the end"), bad.stderr

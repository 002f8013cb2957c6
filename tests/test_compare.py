"""guidewatch.app.compare: two saved versions of a page -> the JSON docs/architecture.md fixes, and editor text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import guidewatch
from guidewatch.app.compare import CompareError, compare_files, compare_pages, render_text
from guidewatch.cli import main
from guidewatch.model import Guide, Page, parse_blocks
from guidewatch.sources.guides import load_guide, parse_guide
from guidewatch.sources.profiles import load_profiles

ROOT = Path(__file__).resolve().parents[1]
GUIDE_PATH = ROOT / "tests" / "fixtures" / "guides" / "gene-therapy-atmps-uk.md"
DEMO_SITE = Path(guidewatch.__file__).parent / "demo_data" / "site"
MHRA = "https://www.gov.uk/guidance/advanced-therapy-medicinal-products-regulation-and-licensing"
NHS = "https://www.nhs.uk/conditions/genetic-and-genomic-testing/"
HE = "approved-treatment-hospital-exemption-or-clinical-trial"
HE_FAQ = "what-is-hospital-exemption"

TOP_KEYS = {"source", "profile", "changes"}
CHANGE_KEYS = {"id", "kind", "severity", "reason", "source_section", "old", "new", "affects"}
AFFECT_KEYS = {"guide", "section", "heading", "score", "evidence", "tier", "claim"}

OLD_TEXT = """# Advanced therapy medicinal products: regulation and licensing
## Hospital exemption
Hospitals may notify the MHRA before they first supply a product under the hospital exemption.
Serious adverse reactions should be reported to the MHRA within 15 days.
## Contact
Email the MHRA Innovation Office with questions.
"""
NEW_TEXT = """# Advanced therapy medicinal products: regulation and licensing
## Hospital exemption
Hospitals must notify the MHRA at least 60 days before they first supply a product under the hospital exemption.
Serious adverse reactions must be reported to the MHRA within 7 days.
## Contact
Email the MHRA  Innovation Office with questions.
"""


@pytest.fixture(scope="module")
def guide() -> Guide:
    return load_guide(GUIDE_PATH)


@pytest.fixture(scope="module")
def profiles() -> dict:
    return load_profiles()


def page(text: str, url: str = MHRA, **metadata: str) -> Page:
    return Page(url=url, profile="govuk", title="", blocks=parse_blocks(text), metadata=dict(metadata))


def govuk_html(body: str, canonical: str | None = MHRA) -> str:
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    return f"""<!DOCTYPE html><html lang="en"><head><title>ATMPs - GOV.UK</title>{link}</head>
<body class="govuk-template__body"><div id="global-cookie-message" class="gem-c-cookie-banner">Cookies on GOV.UK</div>
<main id="content" class="govuk-main-wrapper"><h1 class="gem-c-heading__text govuk-heading-xl">Advanced therapy
medicinal products: regulation and licensing</h1><div class="gem-c-govspeak govuk-govspeak"><div class="govspeak">
{body}</div></div></main></body></html>"""


HE_OLD_HTML = """<h2 id="hospital-exemption">Hospital exemption</h2>
<p>Hospitals may notify the MHRA before they first supply a product under the hospital exemption.</p>
<p>Serious adverse reactions should be reported to the MHRA within 15 days.</p>"""
HE_NEW_HTML = """<h2 id="hospital-exemption">Hospital exemption</h2>
<p>Hospitals must notify the MHRA at least 60 days before they first supply a product under the hospital
exemption.</p>
<p>Serious adverse reactions must be reported to the MHRA within 7 days.</p>"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_design_shape(result: dict) -> None:
    assert set(result) == TOP_KEYS
    assert isinstance(result["source"], str) and isinstance(result["profile"], str)
    for c in result["changes"]:
        assert set(c) == CHANGE_KEYS
        assert c["kind"] in {"modified", "added", "removed", "moved", "gone", "withdrawn", "change_note"}
        assert c["severity"] in {"substantive", "minor", "cosmetic"}
        assert isinstance(c["source_section"], list)
        for a in c["affects"]:
            assert set(a) == AFFECT_KEYS
            assert 0.0 <= a["score"] <= 1.0
            assert isinstance(a["evidence"], list) and a["evidence"]
    json.dumps(result)  # plain JSON values only


# --- compare_pages ---------------------------------------------------------------------------


def test_compare_pages_gives_the_design_json(guide: Guide) -> None:
    result = compare_pages(page(OLD_TEXT), page(NEW_TEXT), guide, url=MHRA, profile="govuk")
    assert_design_shape(result)
    assert result["source"] == MHRA and result["profile"] == "govuk"
    he = next(c for c in result["changes"] if c["source_section"][-1:] == ["Hospital exemption"])
    assert he["id"].startswith("c") and he["severity"] == "substantive" and he["reason"]
    affected = {a["section"]: a for a in he["affects"]}
    assert {HE, HE_FAQ} <= set(affected)
    assert "hospital exemption" in affected[HE_FAQ]["evidence"]
    assert affected[HE]["heading"] == "Approved treatment, hospital exemption or clinical trial?"


def test_cosmetic_changes_are_reported_and_affect_nothing(guide: Guide) -> None:
    result = compare_pages(page(OLD_TEXT), page(NEW_TEXT), guide, url=MHRA, profile="govuk")
    cosmetic = [c for c in result["changes"] if c["severity"] == "cosmetic"]
    for c in cosmetic:
        assert c["affects"] == []
    only_cosmetic = compare_pages(
        page(OLD_TEXT), page(OLD_TEXT.replace("MHRA before", "MHRA  before")), guide, url=MHRA, profile="govuk"
    )
    assert all(c["severity"] == "cosmetic" and c["affects"] == [] for c in only_cosmetic["changes"])


def test_identical_pages_have_no_changes(guide: Guide) -> None:
    result = compare_pages(page(OLD_TEXT), page(OLD_TEXT), guide, url=MHRA, profile="govuk")
    assert result["changes"] == []
    assert "No changes." in render_text(result)


def test_page_events_from_metadata(guide: Guide) -> None:
    new = page(OLD_TEXT, withdrawn_at="2026-05-01", withdrawn_explanation="Replaced by new guidance.",
               change_note="Withdrawn: replaced by new guidance.", change_note_at="2026-05-01")
    result = compare_pages(page(OLD_TEXT), new, guide, url=MHRA, profile="govuk")
    kinds = {c["kind"]: c for c in result["changes"]}
    assert {"withdrawn", "change_note"} <= set(kinds)
    withdrawn = kinds["withdrawn"]
    assert [a["section"] for a in withdrawn["affects"]] == ["how-atmps-are-regulated-in-the-uk"]
    assert withdrawn["affects"][0]["score"] == 1.0
    assert withdrawn["affects"][0]["evidence"][0] == f"cites {MHRA}"


def test_review_due_is_not_a_change_between_two_files(guide: Guide) -> None:
    new = page(OLD_TEXT, url=NHS, next_review_due="2020-01-01")
    result = compare_pages(page(OLD_TEXT, url=NHS), new, guide, url=NHS, profile="nhsuk")
    assert result["changes"] == []


def test_soft_404_is_gone_not_everything_deleted(guide: Guide) -> None:
    new = Page(url=NHS, profile="nhsuk", title="Page not found", blocks=[], metadata={"soft_404": "1"})
    result = compare_pages(page(OLD_TEXT, url=NHS), new, guide, url=NHS, profile="nhsuk")
    assert [c["kind"] for c in result["changes"]] == ["gone"]
    assert result["changes"][0]["affects"][0]["section"] == "gene-therapy-genetic-testing-and-personalised-medicine"


# --- compare_files ---------------------------------------------------------------------------


def test_compare_files_with_url(tmp_path: Path, guide: Guide, profiles: dict) -> None:
    old = write(tmp_path, "old.html", govuk_html(HE_OLD_HTML))
    new = write(tmp_path, "new.html", govuk_html(HE_NEW_HTML).replace("Cookies on GOV.UK", "Cookies!"))
    result = compare_files(old, new, guide, url=MHRA, profiles=profiles)
    assert_design_shape(result)
    assert result["profile"] == "govuk" and result["source"] == MHRA
    assert "cookie" not in json.dumps(result).lower()  # chrome is never diffed
    sections = {a["section"] for c in result["changes"] for a in c["affects"]}
    assert {HE, HE_FAQ} <= sections


def test_compare_files_without_url_uses_the_canonical_link(tmp_path: Path, guide: Guide, profiles: dict) -> None:
    old = write(tmp_path, "a.html", govuk_html(HE_OLD_HTML, canonical=MHRA + "/"))
    new = write(tmp_path, "b.html", govuk_html(HE_NEW_HTML, canonical=MHRA + "/"))
    result = compare_files(old, new, guide, url=None, profiles=profiles)
    assert result["profile"] == "govuk"
    assert result["source"] == MHRA + "/"
    assert {HE, HE_FAQ} <= {a["section"] for c in result["changes"] for a in c["affects"]}


def test_without_url_or_canonical_the_only_citation_on_the_site_is_used(tmp_path: Path, profiles: dict) -> None:
    g = parse_guide(
        f"# G\n\n## Exemptions\n\nThe hospital exemption is explained by the [MHRA]({MHRA}).\n",
        slug="g",
        fmt="md",
    )
    old = write(tmp_path, "old.html", govuk_html(HE_OLD_HTML, canonical=None))
    new = write(tmp_path, "new.html", govuk_html(HE_NEW_HTML, canonical=None))
    result = compare_files(old, new, g, url=None, profiles=profiles)
    assert result["source"] == MHRA and result["profile"] == "govuk"
    assert "exemptions" in {a["section"] for c in result["changes"] for a in c["affects"]}


def test_without_url_and_several_citations_asks_for_url(tmp_path: Path, guide: Guide, profiles: dict) -> None:
    old = write(tmp_path, "old.html", govuk_html(HE_OLD_HTML, canonical=None))
    new = write(tmp_path, "new.html", govuk_html(HE_NEW_HTML, canonical=None))
    with pytest.raises(CompareError, match="pass --url"):
        compare_files(old, new, guide, url=None, profiles=profiles)


def test_unreadable_file_is_a_one_line_error(tmp_path: Path, guide: Guide, profiles: dict) -> None:
    with pytest.raises(CompareError, match="missing.html: cannot read"):
        compare_files(tmp_path / "missing.html", tmp_path / "missing.html", guide, url=MHRA, profiles=profiles)


# --- the bundled example pages (real GOV.UK / NHS markup) --------------------------------------

needs_demo = pytest.mark.skipif(not DEMO_SITE.is_dir(), reason="bundled example pages not present")
GOVUK_PAGE = "www.gov.uk/guidance/advanced-therapy-medicinal-products-regulation-and-licensing/index.html"
GOVUK_API = "www.gov.uk/api/content/guidance/advanced-therapy-medicinal-products-regulation-and-licensing.json"


@needs_demo
def test_example_govuk_update(guide: Guide, profiles: dict) -> None:
    result = compare_files(DEMO_SITE / "v1" / GOVUK_PAGE, DEMO_SITE / "v2" / GOVUK_PAGE, guide, url=None,
                           profiles=profiles)
    assert_design_shape(result)
    assert result["profile"] == "govuk" and result["source"] == MHRA
    by_section = {tuple(c["source_section"]): c for c in result["changes"]}
    he = by_section[("Hospital exemption",)]
    assert {HE, HE_FAQ} <= {a["section"] for a in he["affects"]}
    combined = next(c for path, c in by_section.items() if path and path[-1] == "Combined ATMPs")
    assert {"what-are-gene-therapy-and-atmps", "what-does-atmp-mean"} <= {a["section"] for a in combined["affects"]}
    every = {a["section"] for c in result["changes"] for a in c["affects"]}
    assert "should-i-travel-abroad-for-gene-therapy-or-an-atmp" not in every
    assert "change_note" in {c["kind"] for c in result["changes"]}


@needs_demo
def test_example_govuk_content_api_json(guide: Guide, profiles: dict) -> None:
    result = compare_files(DEMO_SITE / "v1" / GOVUK_API, DEMO_SITE / "v2" / GOVUK_API, guide, url=None,
                           profiles=profiles)
    assert result["profile"] == "govuk" and result["source"] == MHRA
    assert HE_FAQ in {a["section"] for c in result["changes"] for a in c["affects"]}


@needs_demo
def test_example_nhs_page_moved(guide: Guide, profiles: dict) -> None:
    old = DEMO_SITE / "v1" / "www.nhs.uk/conditions/genetic-and-genomic-testing/index.html"
    new = DEMO_SITE / "v2" / "www.nhs.uk/tests-and-treatments/genetic-and-genomic-testing/index.html"
    result = compare_files(old, new, guide, url=None, profiles=profiles)
    assert result["profile"] == "nhsuk" and result["source"] == NHS
    moved = [c for c in result["changes"] if c["kind"] == "moved"]
    assert moved and moved[0]["affects"][0]["section"] == "gene-therapy-genetic-testing-and-personalised-medicine"
    assert all(c["severity"] == "cosmetic" or c["kind"] == "moved" for c in result["changes"])


@needs_demo
def test_example_chrome_only_change_is_no_change(guide: Guide, profiles: dict) -> None:
    p = "www.gov.uk/government/groups/mhra-innovation-office/index.html"
    result = compare_files(DEMO_SITE / "v1" / p, DEMO_SITE / "v2" / p, guide, url=None, profiles=profiles)
    assert all(c["affects"] == [] for c in result["changes"])


# --- render_text -----------------------------------------------------------------------------


def test_render_text_shows_path_severity_diff_and_sections(guide: Guide) -> None:
    result = compare_pages(page(OLD_TEXT), page(NEW_TEXT), guide, url=MHRA, profile="govuk")
    text = render_text(result)
    assert f"Source: {MHRA}" in text
    assert "in: Advanced therapy medicinal products: regulation and licensing › Hospital exemption" in text
    assert "substantive" in text
    assert "[-may-]" in text and "{+must+}" in text and "[-15-]" in text and "{+7+}" in text
    assert "What is hospital exemption?" in text
    assert "because: hospital exemption" in text
    assert "guide says: “" in text
    assert "Re-read:" in text
    assert "cosmetic: nothing to re-read" in text


def test_render_text_for_page_events(guide: Guide) -> None:
    new = page(OLD_TEXT, withdrawn_at="2026-05-01", withdrawn_explanation="Replaced by new guidance.")
    text = render_text(compare_pages(page(OLD_TEXT), new, guide, url=MHRA, profile="govuk"))
    assert "withdrawn" in text and "(whole page)" in text and f"cites {MHRA}" in text


# --- the command ------------------------------------------------------------------------------


def test_cli_compare_json_and_text(tmp_path: Path) -> None:
    old = write(tmp_path, "old.html", govuk_html(HE_OLD_HTML))
    new = write(tmp_path, "new.html", govuk_html(HE_NEW_HTML))
    runner = CliRunner()
    args = ["compare", str(old), str(new), "--guide", str(GUIDE_PATH), "--url", MHRA]
    out = runner.invoke(main, [*args, "--format", "json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert_design_shape(result)
    text = runner.invoke(main, args)
    assert text.exit_code == 0, text.output
    assert "What is hospital exemption?" in text.output


def test_cli_compare_without_url_on_an_ambiguous_page_exits_2(tmp_path: Path) -> None:
    old = write(tmp_path, "old.html", govuk_html(HE_OLD_HTML, canonical=None))
    new = write(tmp_path, "new.html", govuk_html(HE_NEW_HTML, canonical=None))
    out = CliRunner().invoke(main, ["compare", str(old), str(new), "--guide", str(GUIDE_PATH)])
    assert out.exit_code == 2
    assert "pass --url" in out.output and "Traceback" not in out.output

"""Guide ingestion: the three formats of the ATMP guide give the same sections."""

from __future__ import annotations

from pathlib import Path

import pytest

from guidewatch.sources.guides import GuideError, load_guide, parse_guide, slugify

GUIDES = Path(__file__).parent / "fixtures" / "guides"
MAIN_SECTIONS = [
    "what-are-gene-therapy-and-atmps",
    "how-gene-therapy-works-in-simple-terms",
    "what-conditions-can-gene-therapy-and-atmps-treat",
    "how-atmps-are-regulated-in-the-uk",
    "approved-treatment-hospital-exemption-or-clinical-trial",
    "gene-therapy-genetic-testing-and-personalised-medicine",
    "how-patients-may-access-gene-therapy-and-atmps-in-the-uk",
    "costs-nhs-funding-and-private-access",
    "risks-and-side-effects-of-advanced-therapies",
    "red-flags-in-private-or-overseas-claims",
    "questions-to-ask-before-considering-gene-therapy-or-an-atmp",
    "gene-therapy-and-atmp-faqs",
]
GOVUK = "https://www.gov.uk/guidance/advanced-therapy-medicinal-products-regulation-and-licensing"
INNOVATION = "https://www.gov.uk/government/groups/mhra-innovation-office"
NHS = "https://www.nhs.uk/conditions/genetic-and-genomic-testing/"


@pytest.mark.parametrize("ext", ["md", "html", "txt"])
def test_sections_same_in_every_format(ext: str) -> None:
    g = load_guide(GUIDES / f"gene-therapy-atmps-uk.{ext}")
    assert [s.id for s in g.sections if s.level == 1] == MAIN_SECTIONS
    faqs = [s for s in g.sections if s.level == 2]
    assert len(faqs) == 13
    assert {s.parent for s in faqs} == {"gene-therapy-and-atmp-faqs"}
    assert faqs[0].id == "what-does-atmp-mean"
    assert "what-is-hospital-exemption" in [s.id for s in faqs]
    assert g.sections[0].id == "introduction"
    assert g.sections[0].own_text.startswith("Gene therapy and advanced therapy medicinal products")
    assert [s.order for s in g.sections] == list(range(len(g.sections)))


@pytest.mark.parametrize("ext", ["md", "html"])
def test_citations_sit_under_the_section_that_links_them(ext: str) -> None:
    g = load_guide(GUIDES / f"gene-therapy-atmps-uk.{ext}", base_url="https://www.allhealthandcare.co.uk")
    ext_cites = {(c.section, c.url) for c in g.external_citations}
    assert ext_cites == {
        ("how-atmps-are-regulated-in-the-uk", INNOVATION),
        ("how-atmps-are-regulated-in-the-uk", GOVUK),
        ("gene-therapy-genetic-testing-and-personalised-medicine", NHS),
    }
    internal = [c for c in g.citations if c.internal]
    assert internal, "relative links to the publisher's own guides are kept"
    assert all(c.url.startswith("https://www.allhealthandcare.co.uk/guides/") for c in internal)
    assert any(c.section == "costs-nhs-funding-and-private-access" and c.url.endswith("regenerative-medicine-cost-uk")
               for c in internal)


def test_internal_links_without_base_url_stay_relative() -> None:
    g = load_guide(GUIDES / "gene-therapy-atmps-uk.md")
    assert {c.url for c in g.citations if c.internal} >= {"/guides/regenerative-medicine-abroad"}


def test_section_text_includes_subsections() -> None:
    g = load_guide(GUIDES / "gene-therapy-atmps-uk.md")
    faq = g.section("gene-therapy-and-atmp-faqs")
    assert "Hospital exemption is a route" in faq.text
    assert "Hospital exemption is a route" not in faq.own_text
    he = g.section("what-is-hospital-exemption")
    assert he.path == ("Gene therapy and ATMP FAQs", "What is hospital exemption?")
    assert he.text.startswith("Hospital exemption is a route")


def test_mentions_of_named_bodies_without_links() -> None:
    g = load_guide(GUIDES / "gene-therapy-atmps-uk.md")
    regulated = {m.body for m in g.mentions if m.section == "how-atmps-are-regulated-in-the-uk"}
    assert regulated == {"MHRA", "NICE", "HTA", "HRA", "CQC", "NHS England"}
    assert ("are-atmps-approved-by-the-mhra", "MHRA") in {(m.section, m.body) for m in g.mentions}


def test_txt_has_no_links_but_the_same_sections() -> None:
    g = load_guide(GUIDES / "gene-therapy-atmps-uk.txt")
    assert g.external_citations == []
    assert g.section("what-is-hospital-exemption").level == 2


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("How ATMPs are regulated in the UK", "how-atmps-are-regulated-in-the-uk"),
        ("Approved treatment, hospital exemption or clinical trial?",
         "approved-treatment-hospital-exemption-or-clinical-trial"),
        ("Is CAR-T an ATMP?", "is-car-t-an-atmp"),
        ("Patients’ rights", "patients-rights"),
    ],
)
def test_slugify_github_style(heading: str, slug: str) -> None:
    assert slugify(heading) == slug


def test_duplicate_headings_get_numbered_ids() -> None:
    g = parse_guide("# T\n\n## Risks\n\ntext\n\n## Risks\n\nmore\n", slug="x", fmt="md")
    assert [s.id for s in g.sections] == ["risks", "risks-1"]


def test_bad_guide_files(tmp_path: Path) -> None:
    binary = tmp_path / "bin.md"
    binary.write_bytes(b"# x\n\x00\x01")
    with pytest.raises(GuideError, match=r"bin\.md: guide looks binary"):
        load_guide(binary)
    latin = tmp_path / "latin.md"
    latin.write_bytes(b"# Title\n\nline two\ncaf\xe9\n")
    with pytest.raises(GuideError, match=r"latin\.md:4: guide is not valid UTF-8"):
        load_guide(latin)
    with pytest.raises(GuideError, match="unsupported guide format"):
        load_guide(tmp_path / "guide.docx")
    with pytest.raises(GuideError, match="cannot read guide"):
        load_guide(tmp_path / "missing.md")

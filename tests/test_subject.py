"""guidewatch.changes.subject: a change about something the guide never names flags only what rests on the page."""

from __future__ import annotations

from guidewatch.changes.claims import claims_of
from guidewatch.changes.link import link_change, word_ops
from guidewatch.changes.severity import classify
from guidewatch.changes.subject import known_terms, rare, unknown_subject
from guidewatch.model import Change
from guidewatch.sources.guides import parse_guide

NICE = "https://www.nice.org.uk/guidance/cg164"
GUIDE = parse_guide(
    "# Inherited breast cancer: a guide\n\n"
    "## Who can have testing?\n\nYou may be offered genetic testing if your family history means you are at "
    "high risk of breast cancer or ovarian cancer.\n\n"
    "## If you carry a BRCA variant\n\nWomen with a BRCA variant are offered yearly MRI scans from age 30. "
    "You may be offered surgery to remove your ovaries and fallopian tubes from age 35, as the "
    f"[NICE guideline on familial breast cancer]({NICE}) recommends.\n\n"
    "## Lynch syndrome\n\nLynch syndrome raises the risk of bowel cancer and womb cancer.\n\n"
    "## Costs\n\nNHS genetic tests are free. A private test costs about £300.\n",
    slug="breast",
    fmt="md",
)


def change(old: str, new: str, section: str) -> Change:
    severity, reason = classify(old, new)
    return Change("c1", "modified", severity, reason, (section,), old, new, word_ops(old, new), "block", "")


def test_technical_words_are_rare_and_everyday_words_are_not() -> None:
    assert rare("tamoxifen") and rare("oophorectomy") and rare("clomifene")
    assert not rare("women") and not rare("risk") and not rare("offered")


def test_plain_words_read_from_the_shipped_list_score_as_wordfreq_scores_them() -> None:
    """subject.zipf reads wordfreq's small English list itself for words of plain letters (importing
    wordfreq costs ~80 ms): every plain word of the list, capitalised too, and words it does not list
    get wordfreq's own value, to the last bit; other words are asked of wordfreq."""
    import random
    import string

    from wordfreq import iter_wordlist, zipf_frequency

    from guidewatch.changes.subject import zipf

    listed = [w for w in iter_wordlist("en", "small") if w.isascii() and w.isalpha()]
    rng = random.Random(3)
    unlisted = ["".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(1, 9))) for _ in range(2000)]
    assert len(listed) > 25000
    for word in [*listed, *(w.capitalize() for w in listed[:3000]), *unlisted]:
        assert repr(zipf.__wrapped__(word)) == repr(zipf_frequency(word.lower(), "en", wordlist="small")), word
    for word in ("CAR-T", "patient’s", "don't", "covid19"):
        assert zipf(word) == zipf_frequency(word.lower(), "en", wordlist="small")


def test_the_subject_is_a_technical_word_of_the_unchanged_claim_the_guide_never_writes() -> None:
    c = change("Offer tamoxifen for 5 years to premenopausal women at high risk of breast cancer.",
               "Offer tamoxifen for 5 years to premenopausal women at moderate or high risk of breast cancer.",
               "1.8 Chemoprevention")
    known = known_terms(s.heading + "\n" + s.text for s in GUIDE.sections)
    assert unknown_subject(claims_of(c)[0], known) == {"tamoxifen", "premenopaus"}


def test_a_recommendation_about_a_drug_the_guide_never_names_is_not_reread_for_population_words() -> None:
    """"women at high risk of breast cancer" says whom tamoxifen is for; the guide says nothing of tamoxifen:
    a section meeting those words is at most worth a glance (related), never a must re-read."""
    c = change("Offer tamoxifen for 5 years to premenopausal women at high risk of breast cancer unless they have "
               "a past history of thromboembolic disease.",
               "Offer tamoxifen for 5 years to premenopausal women at high risk of breast cancer unless they have "
               "a past history or increased risk of thromboembolic disease or womb cancer.", "1.8 Chemoprevention")
    impacts = link_change(c, NICE, [GUIDE])
    assert "who-can-have-testing" in {i.section for i in impacts}  # kept: demoted, never dropped
    assert not {i.section for i in impacts if i.tier == "reread"} & {"who-can-have-testing", "lynch-syndrome"}


def test_the_section_citing_the_page_is_still_sent_for_a_subject_it_names_in_lay_words() -> None:
    """"Salpingo-oophorectomy" is "surgery to remove your ovaries and fallopian tubes" in the guide."""
    c = change("Discuss risk-reducing bilateral salpingo-oophorectomy with women with a BRCA variant from age 35.",
               "Discuss risk-reducing bilateral salpingo-oophorectomy with women with a BRCA variant from age 40.",
               "1.7 Risk-reducing surgery")
    impacts = link_change(c, NICE, [GUIDE])
    assert [i.section for i in impacts][:1] == ["if-you-carry-a-brca-variant"]


TRIALS = "https://www.gov.uk/guidance/clinical-trials-for-medicines"
ATMP = parse_guide(
    "# Gene therapy: a guide\n\n"
    f"## Clinical trials\n\nA clinical trial tests a new treatment. Read the [MHRA guidance]({TRIALS}).\n\n"
    "## Red flags\n\nBe cautious of clinics that show:\n\n- heavy use of testimonials rather than published evidence\n"
    "- pressure to pay quickly\n\n"
    "## Questions to ask\n\nGood clinicians expect these questions.\n\n"
    "## Costs\n\nSome advanced therapies are funded by the NHS for eligible patients.\n\n"
    "## Hospital exemption\n\nSome unlicensed therapies may be made in a hospital for one patient.\n\n"
    "## Risks\n\nRisks include immune reactions, infection and long-term uncertainty.\n\n"
    "## Genetic testing\n\nA genetic test may show whether a gene therapy could work for you.\n\n"
    "## Treatment abroad\n\nClinics abroad may offer stem cell treatments without evidence.\n",
    slug="atmp",
    fmt="md",
)


def test_one_everyday_word_shared_with_a_sentence_decides_nothing() -> None:
    """A new duty to publish trial results is not a red flag about "published evidence"."""
    c = Change("c1", "added", "substantive", "", ("Transparency",), "",
               "Sponsors must publish a summary of the results within 12 months of the end of the trial.",
               word_ops("", "Sponsors must publish a summary of the results within 12 months of the end of the trial."),
               "block", "")
    assert "red-flags" not in {i.section for i in link_change(c, TRIALS, [ATMP])}

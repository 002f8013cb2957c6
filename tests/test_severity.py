"""Severity rules, driven by a table of realistic GOV.UK / nhs.uk text pairs."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from guidewatch.changes.severity import classify, sentences, worst

TABLE = tomllib.loads((Path(__file__).parent / "data" / "severity_pairs.toml").read_text("utf-8"))
PAIRS: list[dict[str, Any]] = TABLE["pair"]
COSMETIC = [p for p in PAIRS if p["severity"] == "cosmetic"]


def test_table_is_big_enough_and_ids_are_unique() -> None:
    assert len(PAIRS) >= 40
    assert len(COSMETIC) >= 12
    assert {"minor", "substantive"} <= {p["severity"] for p in PAIRS}
    assert len({p["id"] for p in PAIRS}) == len(PAIRS)


@pytest.mark.parametrize("pair", PAIRS, ids=[p["id"] for p in PAIRS])
def test_pair_severity(pair: dict[str, Any]) -> None:
    severity, reason = classify(pair["old"], pair["new"])
    assert severity == pair["severity"], reason
    assert pair.get("reason", "") in reason
    assert reason and "\n" not in reason


@pytest.mark.parametrize("pair", COSMETIC, ids=[p["id"] for p in COSMETIC])
def test_cosmetic_pairs_are_cosmetic_both_ways(pair: dict[str, Any]) -> None:
    """Undoing a cosmetic edit is cosmetic too: nothing about the direction may matter."""
    assert classify(pair["new"], pair["old"])[0] == "cosmetic"


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("You must apply within 30 days.", "You may apply within 30 days.", "'must' became 'may'"),
        ("Up to 30 patients can be treated.", "Up to 15 patients can be treated.", "number changed: 30 → 15"),
        (
            "Apply online.",
            "Apply online. You will then receive a reference number by email.",
            "sentence added",
        ),
        ("Do this before you start.", "Do not do this before you start.", "negation added ('not')"),
        ("A  licence is  needed.", "A licence is needed.", "white space"),
    ],
)
def test_reason_phrases(old: str, new: str, reason: str) -> None:
    assert reason in classify(old, new)[1]


def test_each_modal_verb_is_named_once() -> None:
    old = "Hospitals may notify the MHRA. The MHRA may ask for data. Reactions should be reported."
    new = "Hospitals must notify the MHRA. The MHRA must ask for data. Reactions must be reported."
    assert classify(old, new) == ("substantive", "'may', 'should' became 'must'")


def test_identical_text_is_cosmetic() -> None:
    assert classify("The MHRA regulates ATMPs.", "The MHRA regulates ATMPs.") == ("cosmetic", "no change")


def test_may_as_a_month_is_not_a_modal_verb() -> None:
    severity, reason = classify("Updated on 1 May 2024 to add fees.", "Updated on 3 May 2024 to add fees.")
    assert severity == "substantive"
    assert reason.startswith("date changed")


def test_month_after_a_preposition_is_a_date_not_a_modal_verb() -> None:
    assert classify("Applications open in May.", "Applications open in June.") == (
        "substantive",
        "date changed: in May → in June",
    )


def test_several_signals_are_counted_in_the_reason() -> None:
    severity, reason = classify(
        "You must apply within 30 days.", "You may apply within 15 days. Late applications are refused."
    )
    assert severity == "substantive"
    assert "more)" in reason


def test_whole_block_added_short_is_minor_long_is_substantive() -> None:
    assert classify("", "Fees")[0] == "minor"
    assert classify("Fees", "")[0] == "minor"
    assert (
        classify("", "You must pay a fee of £3,000 for each clinical trial application.")[0] == "substantive"
    )
    assert classify("", "…")[0] == "cosmetic"


def test_sentences_split_lines_and_full_stops() -> None:
    assert sentences("One thing. Two things!\nThree e.g. four") == [
        "One thing.",
        "Two things!",
        "Three e.g. four",
    ]


def test_worst() -> None:
    assert worst("cosmetic", "minor") == "minor"
    assert worst("minor", "substantive", "cosmetic") == "substantive"
    assert worst("cosmetic") == "cosmetic"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Overview", "Step 1: Overview"),  # gov.uk step-by-step headings
        ("Who can donate", "Part 3. Who can donate"),
        ("Making the cells usually takes 3 to 5 weeks.", "Making the cells usually takes 3-5 weeks."),
        ("Results take 4 to 8 weeks.", "Results take 4–8 weeks."),
        ("Risks and benefits of IVF", "Risks & benefits of IVF"),
        ("Add-ons, for example embryo glue, cost extra.", "Add-ons, e.g. embryo glue, cost extra."),
        ("Clinics organise counselling.", "Clinics organize counselling."),
        ("One cycle can cost £5,000 or more.", "One cycle can cost £5000 or more."),
    ],
)
def test_typography_and_heading_numbering_are_cosmetic(old: str, new: str) -> None:
    """Issue 18: heading numbering, ranges, '&', 'e.g.', spelling variants and digit
    grouping change nothing a reader takes in; graded higher, they sent editors to re-read."""
    assert classify(old, new)[0] == "cosmetic"
    assert classify(new, old)[0] == "cosmetic"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Making the cells usually takes 3 to 5 weeks.", "Making the cells usually takes 3-6 weeks."),
        ("You should drive carefully.", "You shouldn't drive."),
        ("Step 1: Overview", "Step 2: Overview and costs"),
        ("you have at least one Jewish grandparent", "you have at least one Jewish parent or grandparent"),
        ("if one partner already has a child", "if one or both partners already have a child"),
    ],
)
def test_what_a_reader_takes_in_is_not_cosmetic(old: str, new: str) -> None:
    """The same normalisation must not hide a changed range, a negation or a widened eligibility."""
    assert classify(old, new)[0] == "substantive"


def test_a_contraction_is_wording_not_a_new_sentence() -> None:
    """"shouldn't" for "should not" is wording (minor, as the table has "You'll" for "You will"),
    not a sentence replaced: short sentences were graded substantive for it."""
    assert classify("You should not drive for 8 weeks.", "You shouldn't drive for 8 weeks.")[0] == "minor"
    assert classify("It is licensed by the HFEA.", "It's licensed by the HFEA.")[0] == "minor"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("You must have consent before you analyse someone's DNA.",
         "Consent is needed before anyone's DNA is analysed."),
        ("You must ask your GP for a referral.", "You need to ask your GP for a referral."),
        ("A licence is required for this work.", "This work requires a licence."),
    ],
)
def test_an_obligation_said_in_other_words_is_not_a_modal_change(old: str, new: str) -> None:
    """"must", "is needed", "needs" and "is required" state the same duty: no modal verb changed."""
    assert classify(old, new) == ("minor", "wording changed")
    assert classify(new, old) == ("minor", "wording changed")


def test_an_obligation_dropped_is_still_a_modal_change() -> None:
    assert classify("You must ask your GP for a referral.", "You can ask your GP for a referral.")[0] == "substantive"
    assert classify("You must ask your GP for a referral.", "Ask your GP for a referral if you need one.")[0] == (
        "substantive")

"""guidewatch.changes.surfaces: evidence words as the guide writes them."""

from __future__ import annotations

import random
import re

from guidewatch.changes.surfaces import _word_terms, _written, surfaces


def _every_pair_written(text: str) -> dict[str, str]:
    """surfaces._written before issue 20's lazy pairs: every term and pair written out, first writer kept."""
    words: list[tuple[str, str]] = []
    for word in re.findall(r"[A-Za-z0-9][A-Za-z0-9'’-]*", text):
        for term in _word_terms(word):
            if not words or words[-1] != (term, word):
                words.append((term, word))
    written: dict[str, str] = {}
    for i, (t, w) in enumerate(words):
        written.setdefault(t, w)
        for j in range(i + 1, min(i + 4, len(words))):
            written.setdefault(f"{t} {words[j][0]}", " ".join(dict.fromkeys(x for _, x in words[i : j + 1])))
    return written


def test_a_term_or_pair_comes_from_the_words_every_pair_written_out_gives() -> None:
    rng = random.Random(5)
    vocab = ["The", "hospital", "exemption", "applies", "to", "CAR-T", "cells", "cell", "of", "5", "weeks", "five",
             "fee", "price", "Patients’", "don't", "ATMPs", "and", "the", "exempt", "2026", "£1,250", "one"]
    for _ in range(400):
        text = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 25)))
        reference = _every_pair_written(text)
        lazy = _written(text)
        asked = [*reference, "hospit", "hospit exempt", "cell cell", "a b c", "", " ", "exempt "]
        asked += [f"{a} {b}" for a in list(reference)[:8] for b in list(reference)[:8]]
        for term in asked:
            assert lazy.get(term) == reference.get(term), (text, term)


def test_evidence_shows_the_words_as_written() -> None:
    text = "Hospital exemption applies to CAR-T cells made for one patient."
    # a pair hides its own words; a word capitalised inside stays so
    assert surfaces(["hospit exempt", "hospit", "car", "1 patient"], text) == ["hospital exemption", "CAR-T",
                                                                             "one patient"]

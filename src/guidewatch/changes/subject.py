"""What a changed claim is about, when the guide never names it.

A NICE recommendation such as "Offer tamoxifen for 5 years to premenopausal women at high
risk of breast cancer" is about tamoxifen; "women at high risk of breast cancer" only says
whom it is for. When the unchanged part of the changed sentence names a technical thing
(a drug, procedure or test: a word rare in everyday English) that the guide writes nowhere,
the guide has no sentence about that subject, and population or eligibility words met
elsewhere must not flag a section. Only the section that cites the page may still be sent:
it rests on the page and may name the subject in lay words ("ovaries removed" for
"salpingo-oophorectomy"). Rarity comes from the wordfreq package's shipped English list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

from guidewatch.changes.claims import Claim, Hit, terms
from guidewatch.changes.surfaces import surfaces
from guidewatch.model import Tier

RARE_ZIPF = 3.3  # below this Zipf frequency (about 2 per million words) a word is technical
_WORD = re.compile(r"[A-Za-z]{3,}")


@lru_cache(maxsize=65536)
def zipf(word: str) -> float:
    """The word's frequency in wordfreq's shipped English list; imported on first use (0.1 s),
    so a crawl with nothing to link never loads it."""
    from wordfreq import zipf_frequency

    return zipf_frequency(word.lower(), "en", wordlist="small")


def rare(word: str) -> bool:
    """A word the everyday English list hardly knows: a drug, procedure or test name."""
    return zipf(word) < RARE_ZIPF


@lru_cache(maxsize=64)
def guide_terms(texts: tuple[str, ...]) -> frozenset[str]:
    """Every term the guide writes, headings included."""
    return frozenset(t for text in texts for t in terms(text))


def known_terms(texts: Iterable[str]) -> frozenset[str]:
    return guide_terms(tuple(texts))


def unknown_subject(claim: Claim, known: frozenset[str], path: Sequence[str] = ()) -> frozenset[str]:
    """Terms of the claim's unchanged words that name a technical thing the guide never writes.

    One such word alone ("excluding VAT") may be incidental: the subject must be named twice,
    by two such words or by one that the heading path the change sits under names too.
    """
    kept = claim.core - claim.delta
    out = set()
    for word in _WORD.findall(claim.sentence):  # hyphenated words split: "salpingo-oophorectomy"
        found = terms(word)
        if len(found) == 1 and found[0] in kept and found[0] not in known and rare(word):
            out.add(found[0])
    named = {t for heading in path for t in terms(heading)}
    return frozenset(out) if len(out) + len(out & named) >= 2 else frozenset()




EVERYDAY_ZIPF = 4.5  # a word used this often in everyday English ("good", "published") names nothing


def one_everyday_word(hit: Hit) -> bool:
    """The guide sentence meets the claim in one everyday word only ("good", "published",
    "increase"): a word both happen to use, not something the section asserts about the change."""
    if len(hit.shared) != 1 or " " in hit.shared[0] or hit.shared[0][0] in "~0123456789":
        return False
    shown = surfaces(hit.shared, hit.unit.text)
    return bool(shown) and zipf(shown[0]) >= EVERYDAY_ZIPF



def judge_subject(
    tiers: Mapping[str, Tier], hits: Mapping[str, Hit], rests: set[str], known: frozenset[str], path: Sequence[str]
) -> dict[str, Tier]:
    """The sections the page rests on (those citing it, and their restatements) keep their tier.
    Any other is dropped when one everyday word is all it shares with the change, and is at most
    related (never re-read) when the change is about something the guide never names."""
    out: dict[str, Tier] = {}
    for sid, tier in tiers.items():
        if sid in rests:
            out[sid] = tier
        elif not one_everyday_word(hits[sid]):
            out[sid] = "related" if unknown_subject(hits[sid].claim, known, path) else tier
    return out


__all__ = [
    "EVERYDAY_ZIPF", "RARE_ZIPF", "judge_subject", "known_terms", "one_everyday_word", "rare", "unknown_subject",
]

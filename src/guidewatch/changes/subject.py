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

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

from guidewatch.changes.claims import Claim, Hit, terms
from guidewatch.changes.surfaces import surfaces
from guidewatch.model import Tier

RARE_ZIPF = 3.3  # below this Zipf frequency (about 2 per million words) a word is technical
_WORD = re.compile(r"[A-Za-z]{3,}")


_PLAIN = re.compile(r"[A-Za-z]+")


@lru_cache(maxsize=65536)
def zipf(word: str) -> float:
    """The word's frequency in wordfreq's shipped English list (`zipf_frequency(word, "en", "small")`).

    A word of plain letters (every word rare() is asked about) is looked up in the list itself: wordfreq
    tokenises it to itself, lower-cased, and importing wordfreq (ftfy, langcodes, regex) costs 80 ms of
    CPU against ~10 ms for msgpack and the list. Any other word asks wordfreq, imported then.
    """
    if _PLAIN.fullmatch(word):
        return _small_en().get(word.lower(), _ABSENT)
    from wordfreq import zipf_frequency

    return zipf_frequency(word.lower(), "en", wordlist="small")


def _zipf_of_bucket(index: int | None) -> float:
    """wordfreq's Zipf value of a word in the list's bucket `index` (-index centibels; None: not listed),
    computed as zipf_frequency computes it for a one-token word, step for step (the same floats)."""
    minimum = 10**0.0 / 1e9  # zipf_to_freq(0), zipf_frequency's default minimum
    if index is None:
        freq = minimum  # a token not listed: the minimum, unrounded
    else:
        freq = 1.0 / (0.0 + 1.0 / 10 ** (-index / 100))  # cB_to_freq, combined over one token
        freq = max(freq, minimum)
        freq = round(freq, math.floor(-math.log(freq, 10)) + 3)
    return round(math.log(freq, 10) + 9, 2)


_ABSENT = _zipf_of_bucket(None)


@lru_cache(maxsize=1)
def _small_en() -> dict[str, float]:
    """wordfreq's small English list, word -> Zipf value, read from the file wordfreq ships (its cBpack:
    a gzipped msgpack list, a header then one bucket of words per centibel; a later bucket wins, as in
    wordfreq's get_frequency_dict). msgpack comes with wordfreq."""
    import gzip
    from importlib.util import find_spec
    from pathlib import Path

    import msgpack  # type: ignore[import-untyped]

    spec = find_spec("wordfreq")  # its location, without running its __init__
    assert spec is not None and spec.submodule_search_locations
    with gzip.open(Path(next(iter(spec.submodule_search_locations))) / "data" / "small_en.msgpack.gz", "rb") as f:
        data = msgpack.load(f, raw=False)
    header = data[0]
    if not isinstance(header, dict) or header.get("format") != "cB" or header.get("version") != 1:
        raise ValueError(f"wordfreq's small_en list: unexpected header {header!r}")
    return {w: z for i, bucket in enumerate(data[1:]) for z in (_zipf_of_bucket(i),) for w in bucket}


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
    unknown: dict[Claim, bool] = {}  # a change has a few claims, met by many sections
    for sid, tier in tiers.items():
        if sid in rests:
            out[sid] = tier
        elif not one_everyday_word(hits[sid]):
            claim = hits[sid].claim
            if claim not in unknown:
                unknown[claim] = bool(unknown_subject(claim, known, path))
            out[sid] = "related" if unknown[claim] else tier
    return out


__all__ = [
    "EVERYDAY_ZIPF", "RARE_ZIPF", "judge_subject", "known_terms", "one_everyday_word", "rare", "unknown_subject",
]

"""Evidence as the guide writes it: which written words of a guide sentence a matched term came
from, so an editor reads "hospital exemption", not the stems "hospit exempt"."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from guidewatch.changes.claims import _NUMBER_WORDS, _STOP, _SYNONYMS, _TOKEN, stem  # one tokeniser: claims'
from guidewatch.changes.wording import fold


@lru_cache(maxsize=65536)
def _word_terms(word: str) -> tuple[str, ...]:
    """The terms one written word gives (a hyphenated word may give several)."""
    out = []
    for part in _TOKEN.findall(fold(word)):
        part = _NUMBER_WORDS.get(part, part)
        if part[0].isdigit() or (part not in _STOP and len(part) > 1):
            out.append(part if part[0].isdigit() else _SYNONYMS.get(stem(part), stem(part)))
    return tuple(out)


def surfaces(found: Sequence[str], text: str, limit: int | None = None) -> list[str]:
    """The words of `text` that terms came from, as written; a pair hides its own words. The
    first `limit` of them only, when given (later ones never change the earlier)."""
    written = _written(text)
    out: list[str] = []
    lowered: list[str] = []  # out, lower-cased
    for term in found:
        if limit is not None and len(out) >= limit:
            break
        shown = written.get(term)
        if shown and not any(shown.lower() in o for o in lowered):
            out.append(_as_shown(shown))
            lowered.append(out[-1].lower())
    return out


@lru_cache(maxsize=16384)
def _as_shown(written: str) -> str:
    """Written words as evidence shows them: lower case, except words capitalised inside ("ATMPs")."""
    return " ".join(w if any(c.isupper() for c in w[1:]) else w.lower() for w in written.split())


class _Written:
    """Each term of a text and the words it came from (`get`); a pair spans dropped stop words.

    A pair's words are found and joined only when asked: evidence shows a few terms of a sentence,
    and writing out its every pair up front was most of the cold evidence cost (issue 20). Terms
    have no spaces, so a term with one space can only be a pair: the first pair written, in the
    order the words come, as a dict of every pair filled in that order would hold.
    """

    __slots__ = ("first", "terms", "words")

    def __init__(self, text: str) -> None:
        terms: list[str] = []
        words: list[str] = []  # the word each of terms came from; two lists of strings: little for the collector
        for word in re.findall(r"[A-Za-z0-9][A-Za-z0-9'’-]*", text):
            for term in _word_terms(word):
                if not terms or terms[-1] != term or words[-1] != word:
                    terms.append(term)
                    words.append(word)
        self.terms, self.words = terms, words
        self.first: dict[str, str] = {}  # term -> the word it first came from (and pairs, once asked)
        for t, w in zip(terms, words, strict=True):
            self.first.setdefault(t, w)

    def get(self, term: str) -> str | None:
        found = self.first.get(term)
        if found is not None or " " not in term:
            return found
        a, _, b = term.partition(" ")
        if a not in self.first:
            return None
        terms = self.terms
        i = terms.index(a)
        while True:
            for j in range(i + 1, min(i + 4, len(terms))):  # a pair spans dropped stop words
                if terms[j] == b:
                    found = self.first[term] = " ".join(dict.fromkeys(self.words[i : j + 1]))  # kept
                    return found
            if a not in terms[i + 1 :]:
                return None  # (b with a space never matches: no term has one)
            i = terms.index(a, i + 1)


@lru_cache(maxsize=4096)
def _written(text: str) -> _Written:
    """The terms of `text` and the words they came from; cached per guide sentence."""
    return _Written(text)

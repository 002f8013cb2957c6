"""How much a text change matters to a patient guide: cosmetic, minor or substantive.

Editors re-read a guide only when a source says something different, so the rules look
for the tokens that carry meaning in regulatory and health guidance (numbers, dates,
money, durations, negation, modal verbs, named bodies, links, whole sentences) and treat
everything else as wording. A change that survives white-space, typography, case and
punctuation normalisation, or that only touches page furniture (review dates, cookie
banner, navigation), is cosmetic.

`classify(old, new)` returns the severity and one short phrase saying why; either side
may be empty for a whole block added or removed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from difflib import SequenceMatcher
from functools import cached_property

from guidewatch.changes.cosmetic import (
    DATE,
    URL,
    cosmetic_reason,
    links,
    sentences,
    squash,
    strip_furniture,
    typography,
    unpunctuated,
)
from guidewatch.model import RANK, Severity

_Check = Callable[["_Tokens", "_Tokens"], str | None]


def worst(*severities: Severity) -> Severity:
    """The most serious of several severities (for changes built from several parts)."""
    return max(severities, key=RANK.__getitem__)


# --- token patterns -----------------------------------------------------------------------

_NUMBER_WORDS = {
    "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20", "thirty": "30",
    "forty": "40", "fifty": "50", "sixty": "60", "ninety": "90", "hundred": "100",
}  # fmt: skip
_NUM = r"(?:\d[\d,]*(?:\.\d+)?|" + "|".join(_NUMBER_WORDS) + r")"
_MONEY = re.compile(
    r"[£€$]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:million|billion|bn|m|k)\b)?"
    r"|\b\d[\d,]*(?:\.\d+)?\s?(?:pounds|euros|pence)\b",
    re.I,
)
_PERCENT = re.compile(rf"\b{_NUM}\s?(?:%|per\s?cent\b)", re.I)
_UNIT = r"(?:second|minute|hour|day|week|month|year)s?"
_DURATION = re.compile(
    rf"\b{_NUM}(?:\s?(?:-|to|or)\s?{_NUM})?\s+(?:(?:working|calendar|business|clear)\s+)?{_UNIT}\b", re.I
)
_NUMBER = re.compile(rf"\b{_NUM}\b", re.I)
_TIME_WORD = re.compile(r"\b(?:daily|weekly|monthly|yearly|annual(?:ly)?|day|week|month|year|hour)s?\b", re.I)

_NEGATIONS = frozenset({"not", "no", "never", "none", "nor", "neither"})
_MODALS = frozenset(
    {"must", "should", "may", "might", "can", "could", "will", "would", "shall", "ought",
     "required", "require", "requires", "mandatory", "optional"}
)  # fmt: skip
_CONTRACTIONS = [
    (re.compile(r"\bcan't\b|\bcannot\b"), "can not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bshan't\b"), "shall not"),
    (re.compile(r"\b(\w+)n't\b"), r"\1 not"),
    (re.compile(r"\b(\w+)'ll\b"), r"\1 will"),
    (re.compile(r"\b(\w+)'d\b"), r"\1 would"),
]

_BODY_NAMES: dict[str, re.Pattern[str]] = {
    "MHRA": re.compile(r"Medicines and Healthcare products Regulatory Agency", re.I),
    "NICE": re.compile(r"National Institute for Health and Care Excellence", re.I),
    "NIHR": re.compile(r"National Institute for Health and Care Research", re.I),
    "HTA": re.compile(r"Human Tissue Authority", re.I),
    "HRA": re.compile(r"Health Research Authority", re.I),
    "CQC": re.compile(r"Care Quality Commission", re.I),
    "EMA": re.compile(r"European Medicines Agency", re.I),
    "CHM": re.compile(r"Commission on Human Medicines", re.I),
    "DHSC": re.compile(r"Department of Health and Social Care", re.I),
    "UKHSA": re.compile(r"UK Health Security Agency", re.I),
    "NHS England": re.compile(r"\bNHS England\b"),
    "Innovation Office": re.compile(r"\bInnovation Office\b", re.I),
}
# Acronyms and products in capitals: MHRA, CAR-T, ATMPs, COVID-19, UK, GB.
_CAPS = re.compile(r"\b[A-Z][A-Z0-9]*(?:[-/][A-Z0-9]+)*s?\b")

_STOPWORDS: frozenset[str] = frozenset(
    {
        "a", "an", "and", "or", "the", "of", "to", "in", "on", "for", "with", "by", "at", "from", "as",
        "is", "are", "was", "were", "be", "been", "being", "this", "that", "these", "those", "it",
        "its", "your", "you", "we", "our", "us", "their", "they", "them", "he", "she", "his", "her",
        "if", "which", "who", "whom", "what", "when", "where", "how", "than", "then", "there", "here",
        "so", "such", "into", "about", "also", "any", "all", "each", "other", "some", "more", "most",
        "do", "does", "did", "has", "have", "had", "i", "my", "me",
    }
)  # fmt: skip

_SHOUTED = _STOPWORDS | _NEGATIONS | _MODALS  # "Do NOT stop": emphasis, not an acronym

# --- meaning-bearing tokens ---------------------------------------------------------------


def _take(pattern: re.Pattern[str], text: str) -> tuple[list[tuple[str, str]], str]:
    """Matches of `pattern` as (comparison key, text as written), and the text without them."""
    found = [(_norm_token(m.group()), squash(m.group())) for m in pattern.finditer(text)]
    return found, pattern.sub(" ", text)


def _norm_token(token: str) -> str:
    """Comparison key: "3,000" = "3000", "1st May" = "1 may", "thirty days" = "30 days"."""
    token = squash(re.sub(r"(?<=\d),(?=\d{3})", "", token).replace(",", " ")).lower()
    token = re.sub(r"(\d)(?:st|nd|rd|th)\b", r"\1", token)
    return " ".join(_NUMBER_WORDS.get(w, w) for w in token.split())


_QUANTITY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("date", DATE),
    ("amount", _MONEY),
    ("percentage", _PERCENT),
    ("duration", _DURATION),
    ("number", _NUMBER),
    ("time period", _TIME_WORD),
)


class _Tokens:
    """The meaning-bearing tokens of one text, each extracted once per `classify` call."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.masked = URL.sub(" ", typography(text))  # links' digits and words do not count

    @cached_property
    def links(self) -> frozenset[str]:
        return links(self.text)

    @cached_property
    def quantities(self) -> dict[str, list[tuple[str, str]]]:
        """Dates, amounts, percentages, durations, numbers and time words, each masked before the next."""
        rest = self.masked
        out: dict[str, list[tuple[str, str]]] = {}
        for label, pattern in _QUANTITY_PATTERNS:
            found, rest = _take(pattern, rest)
            if label == "time period":  # "weeks", "weekly" and "week" name the same period
                found = [(re.sub(r"(?:ly|s)$", "", k).replace("annual", "year"), w) for k, w in found]
            out[label] = found
        return out

    @cached_property
    def words(self) -> list[str]:
        """Lower-case words, dates masked, contractions expanded ("can't" → can not)."""
        low = DATE.sub(" ", self.masked).lower()
        for pattern, repl in _CONTRACTIONS:
            low = pattern.sub(repl, low)
        return re.findall(r"[a-z]+", low)

    @cached_property
    def bodies(self) -> frozenset[str]:
        rest = self.masked
        found: set[str] = set()
        for name, pattern in _BODY_NAMES.items():
            if pattern.search(rest):
                found.add(name)
                rest = pattern.sub(" ", rest)
        for m in _CAPS.finditer(rest):
            token = m.group().removesuffix("s")  # ATMPs = ATMP
            if sum(c.isupper() for c in token) >= 2 and token.lower() not in _SHOUTED:
                found.add(token)
        return frozenset(found)


def _quote(items: Iterable[str]) -> str:
    return ", ".join(f"'{i}'" for i in items)


def _delta(label: str, removed: list[str], added: list[str], quote: bool = False) -> str | None:
    """'number changed: 30 → 15', 'date added: 1 May 2025', ... or None when nothing moved."""
    if not removed and not added:
        return None
    fmt = _quote if quote else ", ".join
    if len(removed) == 1 and len(added) == 1:
        return f"{label} changed: {fmt(removed)} → {fmt(added)}"
    if not removed:
        return f"{label} added: {fmt(added)}"
    if not added:
        return f"{label} removed: {fmt(removed)}"
    return f"{label}s changed: {fmt(removed)} → {fmt(added)}"


def _counter_delta(old: list[str], new: list[str]) -> tuple[list[str], list[str]]:
    o, n = Counter(old), Counter(new)
    return list((o - n).elements()), list((n - o).elements())


def _token_delta(old: list[tuple[str, str]], new: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Like `_counter_delta` on comparison keys, but reporting the tokens as written."""
    shown = dict(reversed(old + new))
    removed, added = _counter_delta([k for k, _ in old], [k for k, _ in new])
    return [shown[k] for k in removed], [shown[k] for k in added]


# --- substantive checks (in order of how well they explain a change) ----------------------


def _content_words(sentence: str) -> set[str]:
    low = sentence.casefold().replace("’", "'")
    for pattern, repl in _CONTRACTIONS:  # "shouldn't" is "should not": the same words, not a new sentence
        low = pattern.sub(repl, low)
    return {w for w in re.findall(r"[a-z0-9]+", low) if w not in _STOPWORDS}


def _novel(span: list[str], other: list[str]) -> int:
    """Sentences in `span` (3+ content words) mostly made of words absent from `other`."""
    pool = set().union(*(_content_words(s) for s in other))
    count = 0
    for s in span:
        words = _content_words(s)
        if len(words) >= 3 and len(words & pool) / len(words) < 0.5:
            count += 1
    return count


def _sentence_counts(old: str, new: str) -> tuple[int, int, int]:
    """(added, removed, replaced) sentences, after aligning the two texts sentence by sentence.

    A new sentence counts as added only where the new span has more sentences than the old
    one, so a sentence that is merely expanded or split is not mistaken for new content.
    """
    s_old, s_new = sentences(old), sentences(new)
    k_old = [unpunctuated(s.casefold()) for s in s_old]
    k_new = [unpunctuated(s.casefold()) for s in s_new]
    added = removed = replaced = 0
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, k_old, k_new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        fresh = _novel(s_new[j1:j2], s_old[i1:i2])
        gone = _novel(s_old[i1:i2], s_new[j1:j2])
        swapped = min(fresh, gone)
        replaced += swapped
        added += min(fresh - swapped, max(0, (j2 - j1) - (i2 - i1))) if i2 > i1 else fresh
        removed += min(gone - swapped, max(0, (i2 - i1) - (j2 - j1))) if j2 > j1 else gone
    return added, removed, replaced


def _plural(n: int, what: str) -> str:
    return what if n == 1 else f"{n} {what.replace('sentence', 'sentences')}"


def _check_sentences(old: _Tokens, new: _Tokens) -> str | None:
    added, removed, replaced = _sentence_counts(old.text, new.text)
    parts = [
        _plural(added, "sentence added") if added else "",
        _plural(removed, "sentence removed") if removed else "",
        _plural(replaced, "sentence replaced") if replaced else "",
    ]
    return ", ".join(p for p in parts if p) or None


def _check_negation(old: _Tokens, new: _Tokens) -> str | None:
    o = [w for w in old.words if w in _NEGATIONS]
    n = [w for w in new.words if w in _NEGATIONS]
    if len(o) == len(n):
        return None
    removed, added = _counter_delta(o, n)
    if len(n) > len(o):
        return f"negation added ({_quote(dict.fromkeys(added))})"
    return f"negation removed ({_quote(dict.fromkeys(removed))})"


_OBLIGATIONS = frozenset({"must", "required", "require", "requires", "mandatory"})
_OBLIGED = re.compile(r"\b(?:needs? to|(?:is|are|be|been) needed|(?:has|have) to)\b")  # "is needed": a duty too


def _duties(tokens: _Tokens) -> int:
    return sum(w in _OBLIGATIONS for w in tokens.words) + len(_OBLIGED.findall(" ".join(tokens.words)))


def _check_modals(old: _Tokens, new: _Tokens) -> str | None:
    removed, added = _counter_delta(
        [w for w in old.words if w in _MODALS], [w for w in new.words if w in _MODALS]
    )
    if {*removed, *added} & _OBLIGATIONS and _duties(old) == _duties(new):
        # "You must have consent" / "Consent is needed": the same duty in other words
        removed = [w for w in removed if w not in _OBLIGATIONS]
        added = [w for w in added if w not in _OBLIGATIONS]
    if not removed and not added:
        return None
    removed, added = list(dict.fromkeys(removed)), list(dict.fromkeys(added))  # say each verb once
    if removed and added:
        return f"{_quote(removed)} became {_quote(added)}"
    return f"{_quote(added)} added" if added else f"{_quote(removed)} removed"


def _quantity_check(label: str) -> _Check:
    def check(old: _Tokens, new: _Tokens) -> str | None:
        return _delta(label, *_token_delta(old.quantities[label], new.quantities[label]))

    return check


# Words that change who or how many a rule covers: "one" -> "one or both", "only", "no longer".
_QUALIFIERS = re.compile(
    r"\b(?:only|or both|and both|at least|at most|no longer|no more than|not more than|up to|more than"
    r"|less than|fewer than|except|unless|either|neither|every)\b",
    re.I,
)


def _check_qualifiers(old: _Tokens, new: _Tokens) -> str | None:
    """A qualifier added or removed changes who is eligible, though no number or modal moves."""
    o = [m.group().lower() for m in _QUALIFIERS.finditer(old.masked)]
    n = [m.group().lower() for m in _QUALIFIERS.finditer(new.masked)]
    removed, added = _counter_delta(o, n)
    if not removed and not added:
        return None
    if added and not removed:
        return f"qualifier added: {_quote(dict.fromkeys(added))}"
    if removed and not added:
        return f"qualifier removed: {_quote(dict.fromkeys(removed))}"
    return f"qualifier changed: {_quote(dict.fromkeys(removed))} → {_quote(dict.fromkeys(added))}"


def _check_alternatives(old: _Tokens, new: _Tokens) -> str | None:
    """An alternative added or dropped ("one Jewish grandparent" -> "one Jewish parent or grandparent")
    changes who a rule covers."""
    o, n = old.words.count("or"), new.words.count("or")
    if o == n:
        return None
    return "alternative added ('or')" if n > o else "alternative removed ('or')"


def _check_bodies(old: _Tokens, new: _Tokens) -> str | None:
    o, n = old.bodies, new.bodies
    return _delta("named body or product", sorted(o - n), sorted(n - o), quote=True)


def _check_links(old: _Tokens, new: _Tokens) -> str | None:
    o, n = old.links, new.links
    return _delta("link", sorted(o - n), sorted(n - o))


_CHECKS: list[_Check] = [
    _check_sentences,
    _check_negation,
    _check_modals,
    *(_quantity_check(label) for label in ("amount", "percentage", "duration", "date", "number")),
    _check_bodies,
    _check_links,
    _check_qualifiers,
    _check_alternatives,
    _quantity_check("time period"),
]


def substantive_reasons(old: str, new: str) -> list[str]:
    """Every meaning-bearing difference between two texts, most telling first."""
    a, b = _Tokens(old), _Tokens(new)
    return [r for r in (check(a, b) for check in _CHECKS) if r]


def _differing_sentences(old: str, new: str) -> tuple[str, str]:
    """The two texts without their common leading and trailing sentences.

    Unchanged sentences add the same tokens to both sides, so dropping them changes no
    verdict, keeps long paragraphs cheap, and stops an unchanged mention elsewhere in the
    block from hiding one that was removed.
    """
    a, b = sentences(old), sentences(new)
    lo = 0
    while lo < min(len(a), len(b)) and a[lo] == b[lo]:
        lo += 1
    hi = 0
    while hi < min(len(a), len(b)) - lo and a[-1 - hi] == b[-1 - hi]:
        hi += 1
    return "\n".join(a[lo : len(a) - hi]), "\n".join(b[lo : len(b) - hi])


# --- entry point --------------------------------------------------------------------------


def classify(old: str, new: str) -> tuple[Severity, str]:
    """Severity of changing `old` into `new`, and one phrase saying why."""
    reason = cosmetic_reason(old, new)
    if reason:
        return "cosmetic", reason
    old_body, new_body = strip_furniture(old)[0], strip_furniture(new)[0]
    reasons = substantive_reasons(*_differing_sentences(old_body, new_body))
    one_sided = not old_body.strip() or not new_body.strip()
    if reasons:  # for a whole block added or removed, every token is new: the first reason says it
        more = f" (+{len(reasons) - 1} more)" if len(reasons) > 1 and not one_sided else ""
        return "substantive", reasons[0] + more
    if one_sided:
        return "minor", "short text added" if new_body.strip() else "short text removed"
    return "minor", "wording changed"


__all__ = ["DATE", "classify", "cosmetic_reason", "sentences", "squash", "substantive_reasons", "typography", "worst"]

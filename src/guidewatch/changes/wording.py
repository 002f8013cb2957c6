"""Wording shared by the linker's stages: folding formal and lay terms, stop words, a light stemmer.

Kept apart from link.py so that the claim scorer (claims.py) and the section index use the
same folding without importing each other. The claim matcher's terms (Snowball stems, numbers,
pairs) live here too, so claims.py holds the claim and how it meets a guide sentence.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

# Regulators write formal terms where patient guides use lay ones; fold both to one form. Each
# with a word it cannot match without: a substring test skips the pattern on the many texts
# that lack it (issue 20: 13 regular expressions over every guide sentence of a cold index).
LAY_TERMS: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(p), r, needle)
    for p, r, needle in (
        (r"\bmalignanc(?:y|ies)\b", "cancer", "malignanc"),
        (r"\badverse (?:drug )?(?:reaction|event|effect)s?\b", "side effects", "adverse "),
        (r"\bneurotoxicity\b", "neurological side effects", "neurotoxicity"),
        (r"\bpharmacovigilance\b", "pharmacovigilance safety monitoring of side effects and risks",
         "pharmacovigilance"),
        (r"\bpa?ediatric\b", "children", "ediatric"),
        (r"\bunlicen[cs]ed\b", "not licensed", "unlicen"),
        (r"\bgenome sequencing\b", "genome sequencing genomic test", "genome sequencing"),
        (r"\bcolorectal\b", "bowel", "colorectal"),
        (r"\bendometrial\b", "womb", "endometrial"),
        (r"\buterine\b", "womb", "uterine"),
        (r"\bmutations?\b", "variant", "mutation"),
        (r"\bintercourse\b", "sex", "intercourse"),
        (r"\bgametes?\b", "eggs or sperm", "gamete"),
        (r"(?<=[a-z])iz(e|ed|es|ing|ation|ations)\b", r"is\1", "iz"),
        (r"\bone of\b", "of", "one of"),  # "into one of your veins" is "into a vein": a determiner, not a count
    )
)
_POSSESSIVE = re.compile(r"'s\b")
# "GPs", "MDTs": the stemmer keeps an s after no vowel ("gps"), so the plural would never meet "GP"
_ACRONYM_PLURAL = re.compile(r"\b([A-Z][A-Z0-9]+)s\b")


def fold(text: str) -> str:
    """Lower-case plain text: typography and formal-versus-lay wording must not change what matches."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("’", "'").replace("‘", "'").replace("\u2011", "-").replace("\u00a0", " ")
    text = _POSSESSIVE.sub("", _ACRONYM_PLURAL.sub(r"\1", text).lower())
    for pattern, repl, needle in LAY_TERMS:
        if needle in text:
            text = pattern.sub(repl, text)
    return text.replace("-", " ")


_SUFFIXES = (
    ("ingly", 4),
    ("edly", 4),
    ("ations", 4),
    ("ation", 4),
    ("ing", 4),
    ("ory", 4),
    ("ed", 4),
    ("ly", 4),
)


_IRREGULAR = {"children": "child", "people": "person", "women": "woman", "men": "man"}


@lru_cache(maxsize=65536)
def light_stem(word: str) -> str:
    """A light suffix stripper: "regulated", "regulation" and "regulatory" meet; predictable, no deps."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix, keep in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= keep:
            word = word[: -len(suffix)]
            break
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 5 and word.endswith("at"):
        word = word[:-2]  # "regulat(ed|ion)", "combinat(ion)" meet "regul", "combin(ed)"
    if len(word) > 4 and word.endswith("y"):
        word = word[:-1]  # "risky" meets "risk"; "therapy" and "therapies" stay together
    return word.replace("licenc", "licens")


# scikit-learn's English stop list (ENGLISH_STOP_WORDS, from the Glasgow IR group), copied so that
# linking needs no scikit-learn; the matching rests on it.
_ENGLISH_STOP_TEXT = """
a about above across after afterwards again against all almost alone along already also although always am
among amongst amoungst amount an and another any anyhow anyone anything anyway anywhere are around as at back
be became because become becomes becoming been before beforehand behind being below beside besides between
beyond bill both bottom but by call can cannot cant co con could couldnt cry de describe detail do done down
due during each eg eight either eleven else elsewhere empty enough etc even ever every everyone everything
everywhere except few fifteen fifty fill find fire first five for former formerly forty found four from front
full further get give go had has hasnt have he hence her here hereafter hereby herein hereupon hers herself
him himself his how however hundred i ie if in inc indeed interest into is it its itself keep last latter
latterly least less ltd made many may me meanwhile might mill mine more moreover most mostly move much must my
myself name namely neither never nevertheless next nine no nobody none noone nor not nothing now nowhere of
off often on once one only onto or other others otherwise our ours ourselves out over own part per perhaps
please put rather re same see seem seemed seeming seems serious several she should show side since sincere six
sixty so some somehow someone something sometime sometimes somewhere still such system take ten than that the
their them themselves then thence there thereafter thereby therefore therein thereupon these they thick thin
third this those though three through throughout thru thus to together too top toward towards twelve twenty
two un under until up upon us very via was we well were what whatever when whence whenever where whereafter
whereas whereby wherein whereupon wherever whether which while whither who whoever whole whom whose why will
with within without would yet you your yours yourself yourselves
"""
_ENGLISH_STOP_WORDS = frozenset(_ENGLISH_STOP_TEXT.split())
# That list drops words that carry meaning in health text ("side effects", "serious").
_KEEP = {
    "side",
    "serious",
    "system",
    "part",
    "whole",
    "full",
    "name",
    "interest",
    "move",
    "detail",
    "bill",
    "fire",
}
_EXTRA_STOP = {
    "s",
    "also",
    "use",
    "used",
    "using",
    "including",
    "include",
    "does",
    "did",
    "doing",
    "just",
    "like",
    "ll",
    "ve",
    "d",
    "shall",
}
_STOP_WORDS = (_ENGLISH_STOP_WORDS - _KEEP) | _EXTRA_STOP
STOP_WORDS = _STOP_WORDS
STOP = frozenset(_STOP_WORDS | {light_stem(w) for w in _STOP_WORDS})


# --- the claim matcher's terms (claims.py) -------------------------------------------------

_SNOWBALL = snowballstemmer.stemmer("english")
_PLURALS = {"children": "child", "people": "person", "women": "woman", "men": "man", "licence": "license"}
_NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "fifteen": "15", "twenty": "20", "thirty": "30",
    "forty": "40", "fifty": "50", "sixty": "60", "hundred": "100", "once": "1", "twice": "2", "half": "0.5",
}  # fmt: skip
# Formal and lay words for one thing, after stemming.
_SYNONYMS = {"price": "cost", "fee": "cost", "charg": "cost", "paid": "pay", "expens": "cost"}
_STOP = frozenset(STOP_WORDS - set(_NUMBER_WORDS)) | {"t", "s", "c", "e", "g", "i"}
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+")
# A year: four digits from 1800 to 2199, with no currency sign or digit group around it.
_YEAR = re.compile(r"(?<![£$€\d,.])((?:1[89]|2[01])\d\d)(?![\d,]\d|\.\d)")
_YEAR_MARK = "\x00"
_DIGIT_GROUP = re.compile(r"(?<=\d),(?=\d{3})")
_PUNCTUATION = re.compile(r"[.,;:!?()\[\]\"“”•|]+")
_SENTENCE = re.compile(r"(?<=[.!?:])\s+(?=[A-Z0-9“\"‘'(£])|\n+")
_LABEL_WORDS = 3  # "cocaine:", "Age limit:", "Step 1:" name what follows; "You can join only if you:" leads in


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Snowball English, after folding irregular plurals; "licence" meets "licensed"."""
    return _SNOWBALL.stemWord(_PLURALS.get(word, word)).replace("licenc", "licens")


def _runs(text: str) -> tuple[tuple[tuple[str, bool], ...], ...]:
    """Punctuation-free runs of (term, written right after the previous term, no word dropped between).

    Not cached: its callers (terms, phrases) are, and a cache here had no hits at N = 10,000 nor in
    bench/difflink.py while holding ~16 MB of tuples (issue 20)."""
    folded = _DIGIT_GROUP.sub("", _YEAR.sub("\\1" + _YEAR_MARK, fold(text)))
    runs = []
    for chunk in _PUNCTUATION.split(folded):
        run: list[tuple[str, bool]] = []
        gap = False
        for m in _TOKEN.finditer(chunk):
            token = m.group()
            word = _NUMBER_WORDS.get(token, token)
            if word[0].isdigit():
                run.append((word, not gap))
                sum_like = len(word) >= 4 and "." not in word and not chunk.startswith(_YEAR_MARK, m.end())
                if sum_like:  # £280,451 meets "more than £280,000"; a year (2026) is a date, never a sum
                    run.append(("~" + str(round(int(word), 1 - len(word) + 1)), True))
                gap = False
            elif word not in _STOP and len(word) > 1:
                word = stem(word)
                run.append((_SYNONYMS.get(word, word), not gap))
                gap = False
            else:
                gap = True
        runs.append(tuple(run))
    return tuple(runs)


@lru_cache(maxsize=4096)
def terms(text: str) -> tuple[str, ...]:
    """Matching terms in order: stems of content words, numbers as digits, then adjacent pairs.

    4096 texts cached: at N = 10,000 that keeps 58 % hits (68 % at 16384) for ~9 MB less.

    Pairs ("hospital exempt", "5 week") span dropped stop words but never a comma or full stop.
    """
    out: list[str] = []
    for run in _runs(text):
        words = [w for w, _ in run]
        out += words
        out += [f"{a} {b}" for a, b in zip(words, words[1:], strict=False) if a != b]
    return tuple(out)


@lru_cache(maxsize=16384)
def phrases(text: str) -> frozenset[str]:
    """The pairs written as one phrase, with no word dropped between: "breast cancer", "hospital
    exempt", not "risk breast" (from "risk of breast cancer")."""
    out = set()
    for run in _runs(text):
        for (a, _), (b, tight) in zip(run, run[1:], strict=False):
            if tight and a != b:
                out.add(f"{a} {b}")
    return frozenset(out)


def sentences(text: str) -> list[str]:
    """Sentences and list items; a lead-in ending in ":" stays its own unit, but a label of a few
    words before a colon on the same line is what the rest is said of ("cocaine: 10 micrograms
    per litre of blood", "Cost: £250"), and stays with it."""
    out: list[str] = []
    for line in text.split("\n"):
        label = ""
        for part in (p.strip() for p in _SENTENCE.split(line)):
            if label:
                part, label = f"{label} {part}", ""
            if part.endswith(":") and len(part.split()) <= _LABEL_WORDS:
                label = part
                continue
            out.append(part)
        out.append(label)
    return [s for s in out if len(s) > 2]

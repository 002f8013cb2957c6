"""Wording shared by the linker's stages: folding formal and lay terms, stop words, a light stemmer.

Kept apart from link.py so that the claim scorer (claims.py) and the section index use the
same folding without importing each other.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Regulators write formal terms where patient guides use lay ones; fold both to one form.
LAY_TERMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"\bmalignanc(?:y|ies)\b", "cancer"),
        (r"\badverse (?:drug )?(?:reaction|event|effect)s?\b", "side effects"),
        (r"\bneurotoxicity\b", "neurological side effects"),
        (r"\bpharmacovigilance\b", "pharmacovigilance safety monitoring of side effects and risks"),
        (r"\bpa?ediatric\b", "children"),
        (r"\bunlicen[cs]ed\b", "not licensed"),
        (r"\bgenome sequencing\b", "genome sequencing genomic test"),
        (r"\bcolorectal\b", "bowel"),
        (r"\b(?:endometrial|uterine)\b", "womb"),
        (r"\bmutations?\b", "variant"),
        (r"\bintercourse\b", "sex"),
        (r"\bgametes?\b", "eggs or sperm"),
        (r"(?<=[a-z])iz(e|ed|es|ing|ation|ations)\b", r"is\1"),
        (r"\bone of\b", "of"),  # "into one of your veins" is "into a vein": a determiner, not a count
    )
)


def fold(text: str) -> str:
    """Lower-case plain text: typography and formal-versus-lay wording must not change what matches."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("’", "'").replace("‘", "'").replace("\u2011", "-").replace("\u00a0", " ")
    text = re.sub(r"'s\b", "", text.lower())
    for pattern, repl in LAY_TERMS:
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

"""A sentence said again with the same words: wording that changes no claim.

A change graded minor (no number, modal verb, negation, qualifier or name moved) whose content
words are the same, in the same order apart from one moved phrase ("You can apply for a licence
using the online portal" / "You can use the online portal to apply for a licence"), states
nothing new, so it bears on no guide section. Two words trading places ("men before women" /
"women before men") takes two moves, so it is still linked. Duty words are left out of the
order: severity has already found the same duties on both sides ("must have consent" /
"consent is needed").
"""

from __future__ import annotations

import re

from guidewatch.changes.claims import stem

_FUNCTION = frozenset(
    {
        "a", "an", "and", "or", "the", "of", "to", "in", "on", "for", "with", "by", "at", "from", "as",
        "is", "are", "was", "were", "be", "been", "being", "this", "that", "these", "those", "it",
        "its", "your", "you", "we", "our", "us", "their", "they", "them", "he", "she", "his", "her",
        "then", "there", "here", "so", "into", "also", "do", "does", "did", "has", "have", "had", "i", "my", "me",
        "s", "someone", "anyone", "everyone", "somebody", "anybody", "everybody",
        "must", "need", "needs", "needed", "required", "require", "requires",
    }
)  # fmt: skip
_LONGEST = 60  # content words; a longer block is not checked (the search is cubic)


def _content(text: str) -> list[str]:
    return [stem(w) for w in re.findall(r"[a-z0-9]+", text.lower().replace("’", "'")) if w not in _FUNCTION]


def moves(old: str, new: str) -> int | None:
    """How many phrase moves turn old's content words into new's: 0 or 1 (counted exactly), 2 for
    more than one; None when the words themselves differ (or the block is too long to check)."""
    a, b = _content(old), _content(new)
    if sorted(a) != sorted(b) or not a or len(a) > _LONGEST:
        return None
    if a == b:
        return 0
    n = len(a)
    for i in range(n):
        for j in range(i + 1, n + 1):
            rest = a[:i] + a[j:]
            for k in range(len(rest) + 1):
                if k != i and rest[:k] + a[i:j] + rest[k:] == b:
                    return 1
    return 2


def reworded(old: str, new: str) -> bool:
    """The same content words, in the same order apart from one moved phrase."""
    return moves(old, new) in (0, 1)


__all__ = ["moves", "reworded"]

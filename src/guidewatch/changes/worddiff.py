"""Word-level diff for highlighting, and the diff-match-patch helpers every diff step shares.

Tokens (words, lines, whole blocks) are mapped to one character each, so diff-match-patch
never splits a token and its cost is counted in tokens, not characters.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence

from diff_match_patch import diff_match_patch

from guidewatch.model import DiffOp

MAX_WORD_DIFF_CHARS = 100_000  # above this, highlight by sentence/line instead of by word
MAX_TOKENS = 1_000_000  # tokens are mapped to code points, so stay below 0x110000


def _encode(tokens_a: Sequence[str], tokens_b: Sequence[str]) -> tuple[str, str, list[str]]:
    """Map each distinct token to one character, as `diff_linesToChars` does for lines."""
    table: dict[str, str] = {}
    inverse: list[str] = []

    def enc(tokens: Sequence[str]) -> str:
        chars = []
        for t in tokens:
            c = table.get(t)
            if c is None:
                c = table[t] = chr(len(inverse))
                inverse.append(t)
            chars.append(c)
        return "".join(chars)

    return enc(tokens_a), enc(tokens_b), inverse


Clock = Callable[[], float]


def _wall(deadline: float, clock: Clock) -> float:
    """`deadline`, read on `clock`, as the time.time() value diff-match-patch compares with."""
    return deadline if clock is time.time else time.time() + (deadline - clock())


def _dmp(timeout_s: float) -> diff_match_patch:
    dmp = diff_match_patch()
    dmp.Diff_Timeout = max(timeout_s, 0.001)  # > 0 also enables the half-match speed-up
    return dmp


_WORD = re.compile(r"\d+(?:[.,]\d+)*|\w+|\s+|[^\w\s]")  # "3,000" and "1.5" stay one token
_SENTENCE_TOKEN = re.compile(r"[^\n]*?(?:[.!?]+(?:\s+|$)|\n|$)")


def _tokens(text: str, pattern: re.Pattern[str]) -> list[str]:
    return [t for t in pattern.findall(text) if t]


def word_diff(old: str, new: str, *, deadline: float | None = None, timeout_s: float = 1.0) -> list[DiffOp]:
    """Word-level diff for highlighting; deletions + kept text rebuild `old`, insertions + kept `new`.

    Words (and white-space runs and punctuation marks) are mapped to characters so that
    diff-match-patch never splits a word, then semantically cleaned up. Very long texts are
    diffed by sentence or line instead; past the deadline diff-match-patch returns a coarser
    but still exact result.
    """
    if old == new:
        return [DiffOp(0, old)] if old else []
    if not old or not new:
        return [DiffOp(1, new)] if new else [DiffOp(-1, old)]
    pattern = _WORD if len(old) + len(new) <= MAX_WORD_DIFF_CHARS else _SENTENCE_TOKEN
    tokens_old, tokens_new = _tokens(old, pattern), _tokens(new, pattern)
    if len(tokens_old) + len(tokens_new) > MAX_TOKENS:  # one character per token must stay a code point
        return [DiffOp(-1, old), DiffOp(1, new)]
    a, b, inverse = _encode(tokens_old, tokens_new)
    dmp = _dmp(timeout_s)
    diffs = dmp.diff_main(a, b, False, deadline if deadline is not None else time.time() + timeout_s)
    dmp.diff_cleanupSemantic(diffs)
    return [DiffOp(op, "".join(inverse[ord(c)] for c in chars)) for op, chars in diffs if chars]

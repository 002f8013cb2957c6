"""Alignment: which blocks of two pages are unchanged, and the changed regions between them.

Blocks are matched as whole units (each mapped to one character), anchored on units unique to
both sides so diff-match-patch only ever sees short stretches (see `_anchored_diff`).
"""

from __future__ import annotations

import math
import re
import sys
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from diff_match_patch import diff_match_patch

from guidewatch.changes.worddiff import _encode
from guidewatch.model import Block
from guidewatch.text import typography

MAX_BLOCKS = 100_000  # pages with more blocks are aligned by whole sections (bounds memory, not time)
ANCHOR_ABOVE = 400  # a changed stretch of more units than this is split at unique unchanged units first
MAX_ANCHOR_DEPTH = 8  # stretches between anchors are split again (by units unique within them) this deep


# --- units --------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return typography(text).casefold()


@dataclass(frozen=True)
class _Unit:
    """A block (or, for oversized pages, a whole section) as it is aligned and reported.

    The loose key and words are cached: move detection and pairing look at them many times.
    The exact key is not: alignment reads it once per unit, and 100,000 cached copies of
    every block's text would only cost memory.
    """

    path: tuple[str, ...]
    kind: str
    level: int
    text: str

    @property
    def key(self) -> str:
        """Exact identity: an edit of any kind, even white space, makes the unit differ."""
        return f"{self.kind}{self.level}\x00{self.text}"

    @cached_property
    def loose_key(self) -> str:
        """Identity up to typography and case, for recognising moved text."""
        return f"{self.kind == 'heading'}\x00{_norm(self.text)}"

    @cached_property
    def words(self) -> frozenset[str]:
        return frozenset(re.findall(r"\w+", _norm(self.text)))


def _units(blocks: Sequence[Block], max_blocks: int) -> list[_Unit]:
    """Blocks as units; past `max_blocks`, whole sections, then runs of sections (coarser)."""
    units = [_Unit(b.path, b.kind, b.level, b.text) for b in blocks]
    if len(units) <= max_blocks:
        return units
    sections: list[list[_Unit]] = []
    for u in units:
        if u.kind == "heading" or not sections:
            sections.append([])
        sections[-1].append(u)
    per_chunk = math.ceil(len(sections) / max(1, max_blocks))
    merged: list[_Unit] = []
    for k in range(0, len(sections), per_chunk):
        parts = [u for section in sections[k : k + per_chunk] for u in section]
        first = parts[0]
        merged.append(_Unit(first.path, first.kind, first.level, "\n".join(u.text for u in parts)))
    return merged


@dataclass(frozen=True)
class _Hunk:
    """A changed region: old units [a, b) were replaced by new units [c, d)."""

    a: int
    b: int
    c: int
    d: int


def _align(old: list[_Unit], new: list[_Unit], dmp: diff_match_patch, deadline: float) -> list[_Hunk]:
    """Changed regions between two unit sequences, from an anchored line-mode diff of their keys."""
    a_chars, b_chars, _ = _encode([u.key for u in old], [u.key for u in new])
    diffs = _anchored_diff(a_chars, b_chars, dmp, deadline)
    hunks: list[_Hunk] = []
    i = j = 0
    start: tuple[int, int] | None = None
    for op, chars in diffs:
        if op == 0:
            if start:
                hunks.append(_Hunk(start[0], i, start[1], j))
                start = None
            i += len(chars)
            j += len(chars)
            continue
        start = start or (i, j)
        if op < 0:
            i += len(chars)
        else:
            j += len(chars)
    if start:
        hunks.append(_Hunk(start[0], i, start[1], j))
    return hunks


def _anchored_diff(a: str, b: str, dmp: diff_match_patch, deadline: float, depth: int = 0) -> list[tuple[int, str]]:
    """diff-match-patch ops from `a` to `b` (one character per unit), near-linear in their length.

    After the common prefix and suffix, a long middle is cut at its anchors (units that occur
    once in `a` and once in `b`, in the same order) and each stretch between two anchors is
    diffed on its own, itself anchored again by what is unique within it. diff-match-patch
    then only ever sees short stretches, where its cost (length times edits) stays small.
    Where every unit is distinct and nothing moved, the result is the same alignment as one
    diff-match-patch run over the whole: the longest common subsequence is then unique.
    """
    keep = dmp.diff_commonPrefix(a, b)
    prefix, a, b = a[:keep], a[keep:], b[keep:]
    keep = dmp.diff_commonSuffix(a, b)
    suffix = a[len(a) - keep:] if keep else ""
    if keep:
        a, b = a[:-keep], b[:-keep]
    out: list[tuple[int, str]] = [(0, prefix)] if prefix else []
    anchors = _anchors(a, b) if len(a) + len(b) > ANCHOR_ABOVE and depth < MAX_ANCHOR_DEPTH else []
    if not anchors:
        out += dmp.diff_main(a, b, False, deadline) if a or b else []
    else:
        i = j = same = 0  # a[same:i] is the run of anchors not yet written out
        for x, y in [*anchors, (len(a), len(b))]:
            if x > i or y > j:
                if i > same:
                    out.append((0, a[same:i]))
                out += _anchored_diff(a[i:x], b[j:y], dmp, deadline, depth + 1)
                same = x
            i, j = x + 1, y + 1
        if len(a) > same:
            out.append((0, a[same:]))
    if suffix:
        out.append((0, suffix))
    return out


def _anchors(a: str, b: str) -> list[tuple[int, int]]:
    """(i, j) of units found exactly once in `a` and once in `b`, in the same order on both sides.

    Preferably those no other such unit crosses (every longest common subsequence keeps
    them, so cutting there changes nothing); where moves leave none, the longest run of
    them in order (patience sorting).
    """
    count_a, count_b = Counter(a), Counter(b)
    at_b = {c: j for j, c in enumerate(b) if count_b[c] == 1}
    pairs = [(i, at_b[c]) for i, c in enumerate(a) if count_a[c] == 1 and c in at_b]
    js = [j for _, j in pairs]
    if js == sorted(js):  # nothing moved: no pair crosses another
        return pairs
    return _uncrossed(pairs) or _longest_increasing(pairs)


def _uncrossed(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The pairs (sorted by i) no other pair crosses: j above every j before, below every j after."""
    low_after = [0] * len(pairs)
    low = sys.maxsize
    for n in range(len(pairs) - 1, -1, -1):
        low_after[n] = low
        low = min(low, pairs[n][1])
    out: list[tuple[int, int]] = []
    high = -1
    for n, (i, j) in enumerate(pairs):
        if high < j < low_after[n]:
            out.append((i, j))
        high = max(high, j)
    return out


def _longest_increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A longest run of the pairs (sorted by i) increasing in j: O(k log k)."""
    tails: list[int] = []  # tails[k]: the smallest j ending an increasing run of k + 1 pairs
    ends: list[int] = []  # ends[k]: index in `pairs` of that run's last pair
    before = [-1] * len(pairs)  # the previous pair in the run each pair ends
    for n, (_, j) in enumerate(pairs):
        k = bisect_left(tails, j)
        before[n] = ends[k - 1] if k else -1
        if k == len(tails):
            tails.append(j)
            ends.append(n)
        else:
            tails[k], ends[k] = j, n
    run: list[tuple[int, int]] = []
    n = ends[-1] if ends else -1
    while n >= 0:
        run.append(pairs[n])
        n = before[n]
    return run[::-1]

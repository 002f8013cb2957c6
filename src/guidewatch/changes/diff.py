"""Block-level diff of two normalised pages, with word-level highlighting.

Diffing the whole page as one string turns an inserted or moved section into a cascade
of small edits. So the diff works in two steps:

1. align: the pages' blocks (headings, paragraphs, list items, table rows) are matched as
   whole units (each block mapped to one character): first on blocks that occur once in
   each page, unchanged, in the same order (as patience diff does), then each stretch
   between two such anchors with diff-match-patch in "line mode"; blocks deleted in one
   place and inserted in another are paired up as moves, and the rest of each changed
   region is paired by similarity;
2. describe: each run of changed blocks becomes one `Change` (a whole added, removed or
   moved section is one change), whose text is diffed at word level (words mapped to
   characters, then `diff_cleanupSemantic`) for highlighting, and classified by
   `severity.classify`.

Work is bounded: anchoring keeps alignment near-linear in the number of blocks (a
diff-match-patch run over a whole long page costs its length times its edits), a deadline
is shared by every diff-match-patch call, alignment falls back to whole sections when a page
has too many blocks, and very long texts are highlighted by sentence. Past the deadline the
result gets coarser, never slower.
"""

from __future__ import annotations

import math
import re
import sys
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import attrgetter

from diff_match_patch import diff_match_patch

from guidewatch.changes.severity import classify, cosmetic_reason, sentences, typography, worst
from guidewatch.model import Block, Change, ChangeKind, DiffOp, Page, Severity

MAX_WORD_DIFF_CHARS = 100_000  # above this, highlight by sentence/line instead of by word
MAX_PAIRING_CELLS = 10_000  # similarity pairing inside one changed region: n_old * n_new cap
MAX_FUZZY_MOVE_CELLS = 40_000  # cap on similarity comparisons when looking for edited moves
MAX_BLOCKS = 100_000  # pages with more blocks are aligned by whole sections (bounds memory, not time)
MAX_TOKENS = 1_000_000  # tokens are mapped to code points, so stay below 0x110000
ANCHOR_ABOVE = 400  # a changed stretch of more units than this is split at unique unchanged units first
MAX_ANCHOR_DEPTH = 8  # stretches between anchors are split again (by units unique within them) this deep
MIN_MOVE_CHARS = 20  # shorter runs ("Yes", "Overview") are not reported as moves
FUZZY_MOVE_MIN_CHARS = 40
FUZZY_MOVE_SIMILARITY = 0.8
PAIR_SIMILARITY = 0.4
CONTEXT_CHARS = 300
ANALYSIS_SHARE = 0.8  # of timeout_s for full analysis; the rest for the cheap fallback
UNANALYSED = "changed (not analysed: diff time limit reached)"


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


# --- diff-match-patch helpers -------------------------------------------------------------


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


# --- correspondence: moves across regions, pairs within them ------------------------------


def _similarity(x: _Unit, y: _Unit) -> float:
    """Dice overlap of the two units' word sets; headings only ever pair with headings."""
    if (x.kind == "heading") != (y.kind == "heading"):
        return 0.0
    if x.loose_key == y.loose_key:
        return 1.0
    wx, wy = x.words, y.words
    if not wx or not wy:
        return 0.0
    return 2 * len(wx & wy) / (len(wx) + len(wy))


@dataclass
class _Move:
    pairs: list[tuple[int, int]]  # (old index, new index), consecutive on both sides


@dataclass
class _Plan:
    """How the units of the changed regions correspond."""

    moves: list[_Move]
    local: list[list[tuple[int, int]]]  # per region: order-preserving (old, new) pairs

    @property
    def moved_old(self) -> set[int]:
        return {i for m in self.moves for i, _ in m.pairs}

    @property
    def moved_new(self) -> set[int]:
        return {j for m in self.moves for _, j in m.pairs}


class _Planner:
    """Finds moves and in-place pairs, strongest evidence first.

    1. exact moves: a unit deleted in one region and inserted, equal up to typography, in
       another, grown over similar changed neighbours (a moved section's edited paragraph);
       2. in-place pairs: the rest of each region paired by similarity, so an edited
       paragraph stays an edit; 3. edited moves: units still unpaired on both sides that
       are near-identical across regions, when displaced far enough.
    """

    def __init__(self, old: list[_Unit], new: list[_Unit], hunks: list[_Hunk]) -> None:
        self.old, self.new, self.hunks = old, new, hunks
        self.old_hunk = {i: h for h, hk in enumerate(hunks) for i in range(hk.a, hk.b)}
        self.new_hunk = {j: h for h, hk in enumerate(hunks) for j in range(hk.c, hk.d)}

    def plan(self) -> _Plan:
        exact = self._exact_pairs()
        exact = {j: i for m in self._moves(exact, exact) for i, j in m.pairs}
        anchored = self._extend(exact)
        local = [self._local(h, set(anchored.values()), set(anchored)) for h in self.hunks]
        paired_old = set(anchored.values()) | {i for lp in local for i, _ in lp}
        paired_new = set(anchored) | {j for lp in local for _, j in lp}
        pairs = anchored | self._fuzzy_pairs(paired_old, paired_new)
        return _Plan(self._moves(pairs, exact), local)

    def _exact_pairs(self) -> dict[int, int]:
        """Each changed new unit with the first unused changed old unit equal to it (up to
        typography) in another region. Near-linear: the unused candidates of a key are found
        through skip pointers, and a region's own candidates, adjacent in the list, are jumped
        over at once (a page of thousands of identical "Yes" cells stays cheap)."""
        by_key: dict[str, list[int]] = {}
        for i in self.old_hunk:  # in old order, so each key's candidates are sorted
            by_key.setdefault(self.old[i].loose_key, []).append(i)
        unused: dict[str, list[int]] = {}  # per key: skip pointers to the next unused candidate
        pairs: dict[int, int] = {}  # new index -> old index
        for j, h in self.new_hunk.items():
            key = self.new[j].loose_key
            candidates = by_key.get(key)
            if not candidates:
                continue
            skip = unused.get(key)
            if skip is None:
                skip = unused[key] = list(range(len(candidates) + 1))
            k = _next_unused(skip, 0)
            if k < len(candidates) and self.old_hunk[candidates[k]] == h:
                k = _next_unused(skip, bisect_left(candidates, self.hunks[h].b))
            if k < len(candidates):
                pairs[j] = candidates[k]
                skip[k] = k + 1
        return pairs

    def _extend(self, pairs: dict[int, int]) -> dict[int, int]:
        """Grow exact moves over similar changed neighbours: a moved section's edited paragraph."""
        out = dict(pairs)
        matched_old = set(pairs.values())
        for move in self._runs(pairs):
            for (i, j), step in ((move.pairs[-1], 1), (move.pairs[0], -1)):
                i, j = i + step, j + step
                while (
                    i in self.old_hunk
                    and j in self.new_hunk
                    and i not in matched_old
                    and j not in out
                    and _similarity(self.old[i], self.new[j]) >= PAIR_SIMILARITY
                ):
                    out[j] = i
                    matched_old.add(i)
                    i, j = i + step, j + step
        return out

    def _local(self, hunk: _Hunk, taken_old: set[int], taken_new: set[int]) -> list[tuple[int, int]]:
        olds = [i for i in range(hunk.a, hunk.b) if i not in taken_old]
        news = [j for j in range(hunk.c, hunk.d) if j not in taken_new]
        return _pair(olds, news, self.old, self.new)

    def _fuzzy_pairs(self, paired_old: set[int], paired_new: set[int]) -> dict[int, int]:
        """Long, near-identical units unpaired on both sides, in different regions."""
        olds = [
            i for i in self.old_hunk if i not in paired_old and len(self.old[i].text) >= FUZZY_MOVE_MIN_CHARS
        ]
        news = [
            j for j in self.new_hunk if j not in paired_new and len(self.new[j].text) >= FUZZY_MOVE_MIN_CHARS
        ]
        pairs: dict[int, int] = {}
        if len(olds) * len(news) > MAX_FUZZY_MOVE_CELLS:
            return pairs
        used: set[int] = set()
        for j in news:
            scored = [
                (_similarity(self.old[i], self.new[j]), i)
                for i in olds
                if i not in used and self.old_hunk[i] != self.new_hunk[j]
            ]
            best = max(scored, default=(0.0, -1))
            if best[0] >= FUZZY_MOVE_SIMILARITY:
                pairs[j] = best[1]
                used.add(best[1])
        return pairs

    @staticmethod
    def _runs(pairs: dict[int, int]) -> list[_Move]:
        """Pairs grouped into runs consecutive on both sides."""
        runs: list[_Move] = []
        for j in sorted(pairs):
            i = pairs[j]
            if runs and runs[-1].pairs[-1] == (i - 1, j - 1):
                runs[-1].pairs.append((i, j))
            else:
                runs.append(_Move([(i, j)]))
        return runs

    def _moves(self, pairs: dict[int, int], exact: dict[int, int]) -> list[_Move]:
        """Runs of pairs that read as moves."""
        matched_old = set(pairs.values())
        return [m for m in self._runs(pairs) if self._is_move(m, pairs, matched_old, exact)]

    def _is_move(self, move: _Move, pairs: dict[int, int], matched_old: set[int], exact: dict[int, int]) -> bool:
        """Long enough to matter; not boilerplate shared by a removed and an added passage
        (surrounded on both sides by changed units that did not move with it); and, when
        no unit is an exact match, displaced by more than a unit or two."""
        if sum(len(self.old[i].text) for i, _ in move.pairs) < MIN_MOVE_CHARS:
            return False
        (i0, j0), (i1, j1) = move.pairs[0], move.pairs[-1]
        stranded_old = [i for i in (i0 - 1, i1 + 1) if i in self.old_hunk and i not in matched_old]
        stranded_new = [j for j in (j0 - 1, j1 + 1) if j in self.new_hunk and j not in pairs]
        if len(stranded_old) == 2 and len(stranded_new) == 2:
            return False
        return any(j in exact for _, j in move.pairs) or abs(self.hunks[self.old_hunk[i0]].c - j0) > 2


def _next_unused(skip: list[int], k: int) -> int:
    """The first unused position from `k` on (skip[k] == k when k is unused), compressing the path."""
    root = k
    while skip[root] != root:
        root = skip[root]
    while skip[k] != root:
        skip[k], k = root, skip[k]
    return root


def _pair(olds: list[int], news: list[int], old: list[_Unit], new: list[_Unit]) -> list[tuple[int, int]]:
    """Order-preserving pairing of similar units (max total similarity), bounded in size."""
    n, m = len(olds), len(news)
    if not n or not m:
        return []
    if n * m > MAX_PAIRING_CELLS:
        return _pair_exact(olds, news, old, new)
    sim = [[_similarity(old[i], new[j]) for j in news] for i in olds]
    score = [[0.0] * (m + 1) for _ in range(n + 1)]
    for x in range(n - 1, -1, -1):
        for y in range(m - 1, -1, -1):
            best = max(score[x + 1][y], score[x][y + 1])
            if sim[x][y] >= PAIR_SIMILARITY:
                best = max(best, sim[x][y] + score[x + 1][y + 1])
            score[x][y] = best
    out: list[tuple[int, int]] = []
    x = y = 0
    while x < n and y < m:
        if sim[x][y] >= PAIR_SIMILARITY and score[x][y] == sim[x][y] + score[x + 1][y + 1]:
            out.append((olds[x], news[y]))
            x, y = x + 1, y + 1
        elif score[x][y] == score[x + 1][y]:
            x += 1
        else:
            y += 1
    return out


def _pair_exact(
    olds: list[int], news: list[int], old: list[_Unit], new: list[_Unit]
) -> list[tuple[int, int]]:
    """Fallback for huge regions: pair units equal up to typography, greedily and in order."""
    where: dict[str, list[int]] = {}
    for k, j in enumerate(news):
        where.setdefault(new[j].loose_key, []).append(k)
    out: list[tuple[int, int]] = []
    y = 0
    for i in olds:
        positions = where.get(old[i].loose_key, [])
        at = bisect_left(positions, y)
        if at < len(positions):
            out.append((i, news[positions[at]]))
            y = positions[at] + 1
    return out


@dataclass(frozen=True)
class _Item:
    """One step through a changed region: op "rem", "add", "mod" or "same"."""

    op: str
    i: int | None  # old index
    j: int | None  # new index
    pos: int  # new-page position, for ordering removals among insertions


def _items(
    hunk: _Hunk,
    pairs: list[tuple[int, int]],
    moved_old: set[int],
    moved_new: set[int],
    old: list[_Unit],
    new: list[_Unit],
) -> list[_Item]:
    """The region's units in reading order: removed, added, and paired (edited or not)."""
    olds = [i for i in range(hunk.a, hunk.b) if i not in moved_old]
    news = [j for j in range(hunk.c, hunk.d) if j not in moved_new]
    items: list[_Item] = []
    x = y = 0
    for pi, pj in [*pairs, (None, None)]:
        while x < len(olds) and olds[x] != pi:
            items.append(_Item("rem", olds[x], None, news[y] if y < len(news) else hunk.d))
            x += 1
        while y < len(news) and news[y] != pj:
            items.append(_Item("add", None, news[y], news[y]))
            y += 1
        if pi is not None and pj is not None:
            same = old[pi].key == new[pj].key
            items.append(_Item("same" if same else "mod", pi, pj, pj))
            x, y = x + 1, y + 1
    return items


# --- grouping into changes ----------------------------------------------------------------


def _subtree_end(units: list[_Unit], start: int) -> int:
    """Index just past the heading at `start` and everything under it."""
    level = units[start].level
    k = start + 1
    while k < len(units) and not (units[k].kind == "heading" and units[k].level <= level):
        k += 1
    return k


def _whole_section(items: list[_Item], k: int, units: list[_Unit], idx: Callable[[_Item], int | None]) -> int:
    """Length of the run of items from k that adds (or removes) one whole section, else 0."""
    first = idx(items[k])
    if first is None or units[first].kind != "heading":
        return 0
    end = _subtree_end(units, first)
    n = 0
    while k + n < len(items) and items[k + n].op == items[k].op and idx(items[k + n]) == first + n:
        n += 1
        if first + n == end:
            return n
    return 0


@dataclass
class _Group:
    items: list[_Item]
    whole_section: bool = False


def _groups(items: list[_Item], old: list[_Unit], new: list[_Unit]) -> list[_Group]:
    """Whole added/removed sections as single groups; otherwise adjacent changes per section."""
    groups: list[_Group] = []
    last_section: tuple[str, ...] | None = None
    k = 0
    while k < len(items):
        it = items[k]
        if it.op == "same":
            last_section = None
            k += 1
            continue
        if it.op in ("add", "rem"):
            units, idx = (new, attrgetter("j")) if it.op == "add" else (old, attrgetter("i"))
            n = _whole_section(items, k, units, idx)
            if n:
                groups.append(_Group(items[k : k + n], whole_section=True))
                last_section = None
                k += n
                continue
        section = new[it.j].path if it.j is not None else old[it.i].path  # type: ignore[index]
        if groups and section == last_section:
            groups[-1].items.append(it)
        else:
            groups.append(_Group([it]))
        last_section = section
        k += 1
    return groups


# --- building changes ---------------------------------------------------------------------


def _context(units: list[_Unit], first: int, last: int) -> str:
    """The sentence before and the sentence after the changed units, for reading."""
    before = sentences(units[first - 1].text)[-1:] if first > 0 else []
    after = sentences(units[last + 1].text)[:1] if last + 1 < len(units) else []
    parts = [s[-CONTEXT_CHARS:] for s in before] + ["[…]"] + [s[:CONTEXT_CHARS] for s in after]
    return " ".join(parts) if before or after else ""


def _path_label(path: tuple[str, ...]) -> str:
    return " > ".join(path) if path else "the page"


def _parent(unit: _Unit) -> tuple[str, ...]:
    """The section a unit sits in; for a heading, the section that contains it."""
    return unit.path[:-1] if unit.kind == "heading" else unit.path


@dataclass
class _Draft:
    """A change before it is numbered: where it sits in the new page, then its content."""

    order: tuple[int, int, int]
    change: Change


class _Builder:
    """Turns groups of aligned units into `Change` values, sharing one deadline."""

    def __init__(self, old: list[_Unit], new: list[_Unit], start: float, timeout_s: float,
                 clock: Clock = time.time) -> None:
        self.old, self.new = old, new
        self.deadline, self.end = start + timeout_s * ANALYSIS_SHARE, start + timeout_s
        self.timeout_s, self.clock = timeout_s, clock
        self.seq = 0
        self.over = False  # the whole budget is spent: no more work per change

    def _ops(self, old_text: str, new_text: str) -> list[DiffOp]:
        if self.over:  # exact (old and new rebuild), and no work: the whole text is the difference
            return [op for op in (DiffOp(-1, old_text), DiffOp(1, new_text)) if op.text]
        return word_diff(old_text, new_text, deadline=_wall(self.deadline, self.clock), timeout_s=self.timeout_s)

    def _classify(self, old_text: str, new_text: str) -> tuple[Severity, str]:
        """Full classification until the deadline; after it, only the cosmetic test until the
        budget is spent; then none. Anything not analysed is assumed substantive (an editor
        looks rather than misses it)."""
        now = self.clock()
        if now <= self.deadline:
            return classify(old_text, new_text)
        self.over = self.over or now > self.end
        reason = None if self.over else cosmetic_reason(old_text, new_text)
        return ("cosmetic", reason) if reason else ("substantive", UNANALYSED)

    def _draft(self, pos: int, phase: int, change: Change) -> _Draft:
        self.seq += 1
        return _Draft((pos, phase, self.seq), change)

    def group(self, group: _Group) -> _Draft:
        items = group.items
        olds = [it.i for it in items if it.i is not None]
        news = [it.j for it in items if it.j is not None]
        old_text = "\n".join(self.old[i].text for i in olds)
        new_text = "\n".join(self.new[j].text for j in news)
        ops_set = {it.op for it in items}
        kind: ChangeKind = "added" if ops_set == {"add"} else "removed" if ops_set == {"rem"} else "modified"
        severity, reason = self._classify(old_text, new_text)
        if group.whole_section and severity == "substantive" and reason != UNANALYSED:
            reason = f"section {kind}"
        elif kind == "modified" and reason == "no change":
            reason = "block type or heading level only"
        if news:
            section, context = self.new[news[0]].path, _context(self.new, news[0], news[-1])
        else:
            section, context = self.old[olds[0]].path, _context(self.old, olds[0], olds[-1])
        change = Change(
            id="",
            kind=kind,
            severity=severity,
            reason=reason,
            source_section=section,
            old=old_text,
            new=new_text,
            ops=self._ops(old_text, new_text),
            context=context,
        )
        return self._draft(items[0].pos, 0 if items[0].op == "rem" else 1, change)

    def move(self, move: _Move) -> _Draft:
        olds = [i for i, _ in move.pairs]
        news = [j for _, j in move.pairs]
        old_text = "\n".join(self.old[i].text for i in olds)
        new_text = "\n".join(self.new[j].text for j in news)
        first_old, first_new = self.old[olds[0]], self.new[news[0]]
        what = "section" if first_new.kind == "heading" else "text"
        was, now = _parent(first_old), _parent(first_new)
        where = (
            f"from '{_path_label(was)}' to '{_path_label(now)}'"
            if was != now
            else f"within '{_path_label(now)}'"
        )
        severity, reason = self._classify(old_text, new_text)
        moved_reason = f"{what} moved {where}"
        reason = f"{moved_reason} (text unchanged)" if severity == "cosmetic" else f"{moved_reason}; {reason}"
        change = Change(
            id="",
            kind="moved",
            severity=worst("minor", severity),
            reason=reason,
            source_section=first_new.path,
            old=old_text,
            new=new_text,
            ops=self._ops(old_text, new_text),
            context=_context(self.new, news[0], news[-1]),
        )
        return self._draft(news[0], 1, change)


def number_changes(changes: list[Change], prefix: str = "c") -> list[Change]:
    """Give changes the ids "c1", "c2", ... in list order (e.g. after adding page events)."""
    for n, change in enumerate(changes, 1):
        change.id = f"{prefix}{n}"
    return changes


def diff_pages(old: Page, new: Page, *, max_blocks: int = MAX_BLOCKS, timeout_s: float = 2.0,
               clock: Clock = time.time) -> list[Change]:
    """Changes from `old` to `new`, in new-page order, numbered "c1", "c2", ...

    Identical block lists give []. Cosmetic changes stay in the list (severity
    "cosmetic"); callers filter. Pages over `max_blocks` blocks are aligned by whole
    sections instead. `timeout_s` bounds the work: alignment gets half of it, and changes
    still unanalysed when it is nearly spent get coarse highlighting and the cheap cosmetic
    test only (otherwise "substantive", reason `UNANALYSED`). The budget is read on
    `clock` (seconds), so a test can drive the deadline without measuring wall time.
    """
    if old.blocks == new.blocks:
        return []
    start = clock()
    o_units, n_units = _units(old.blocks, max_blocks), _units(new.blocks, max_blocks)
    dmp = _dmp(timeout_s)
    hunks = _align(o_units, n_units, dmp, _wall(start + timeout_s / 2, clock))
    plan = _Planner(o_units, n_units, hunks).plan()
    moved_old, moved_new = plan.moved_old, plan.moved_new
    builder = _Builder(o_units, n_units, start, timeout_s, clock)
    drafts = [builder.move(m) for m in plan.moves]
    for hunk, pairs in zip(hunks, plan.local, strict=True):
        items = _items(hunk, pairs, moved_old, moved_new, o_units, n_units)
        drafts.extend(builder.group(g) for g in _groups(items, o_units, n_units))
    drafts.sort(key=lambda d: d.order)
    return number_changes([d.change for d in drafts])

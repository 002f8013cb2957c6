"""Correspondence inside the changed regions: moves across regions, pairs within them, so a moved
section is reported as one move and an edited paragraph as an edit (not a removal plus an addition)."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from guidewatch.changes.align import _Hunk, _Unit

MAX_PAIRING_CELLS = 10_000  # similarity pairing inside one changed region: n_old * n_new cap
MAX_FUZZY_MOVE_CELLS = 40_000  # cap on similarity comparisons when looking for edited moves
MIN_MOVE_CHARS = 20  # shorter runs ("Yes", "Overview") are not reported as moves
FUZZY_MOVE_MIN_CHARS = 40
FUZZY_MOVE_SIMILARITY = 0.8
PAIR_SIMILARITY = 0.4


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

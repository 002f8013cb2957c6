"""Block alignment is near-linear and aligns as the single diff-match-patch run did (issue 15, item 11).

The reference is the aligner as it was before anchoring: one diff-match-patch line-mode run
over the whole page, kept here verbatim (`reference_align`), with the region-pairing loop it
used (`reference_exact_pairs`). Work is counted (the O(N·D) bound of each diff-match-patch
run, the units the anchoring looks at), never timed.
"""

from __future__ import annotations

import importlib.util
import random
import time
from pathlib import Path
from types import ModuleType

import pytest
from diff_match_patch import diff_match_patch
from hypothesis import given, settings
from hypothesis import strategies as st

from guidewatch.changes import align as alignment
from guidewatch.changes import diff
from guidewatch.changes.align import _Hunk, _Unit, _units
from guidewatch.changes.diff import diff_pages
from guidewatch.changes.moves import _Planner
from guidewatch.model import Block

FAR = 3600.0  # seconds: no deadline interferes with an equivalence check


def reference_align(old: list[_Unit], new: list[_Unit], dmp: diff_match_patch, deadline: float) -> list[_Hunk]:
    """`diff._align` before issue 15: changed regions from one line-mode diff of the whole page."""
    a_chars, b_chars, _ = alignment._encode([u.key for u in old], [u.key for u in new])
    diffs = dmp.diff_main(a_chars, b_chars, False, deadline)
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


def reference_exact_pairs(planner: _Planner) -> dict[int, int]:
    """`_Planner._exact_pairs` before issue 15 (a scan per unit: quadratic in repeated units)."""
    by_key: dict[str, list[int]] = {}
    for i in planner.old_hunk:
        by_key.setdefault(planner.old[i].loose_key, []).append(i)
    pairs: dict[int, int] = {}
    used: set[int] = set()
    for j, h in planner.new_hunk.items():
        i = next((i for i in by_key.get(planner.new[j].loose_key, ())
                  if i not in used and planner.old_hunk[i] != h), None)
        if i is not None:
            pairs[j] = i
            used.add(i)
    return pairs


def units(texts: list[str]) -> list[_Unit]:
    return _units([Block(("Page",), "p", t) for t in texts], 10**9)


def align(old: list[_Unit], new: list[_Unit]) -> list[_Hunk]:
    return diff._align(old, new, diff._dmp(FAR), time.time() + FAR)


def matched(hunks: list[_Hunk], n_old: int) -> int:
    return n_old - sum(h.b - h.a for h in hunks)


def assert_valid(hunks: list[_Hunk], old: list[_Unit], new: list[_Unit]) -> None:
    """Hunks in order, and every stretch between them pairs equal units one to one."""
    i = j = 0
    for h in [*hunks, _Hunk(len(old), len(old), len(new), len(new))]:
        assert h.a >= i and h.c >= j and h.a - i == h.c - j
        assert [u.key for u in old[i:h.a]] == [u.key for u in new[j:h.c]]
        i, j = h.b, h.d
    assert (i, j) == (len(old), len(new))


# --- edits on pages of distinct blocks: the same alignment as the reference --------------


@st.composite
def distinct_pages(draw: st.DrawFn, moves: bool) -> tuple[list[str], list[str]]:
    old = [f"block {k}" for k in range(draw(st.integers(1, 60)))]
    new = list(old)
    actions = ["edit", "insert", "delete", *(["move", "swap"] if moves else [])]
    for n in range(draw(st.integers(1, 8))):
        action = draw(st.sampled_from(actions))
        k = draw(st.integers(0, len(new)))
        if action == "insert" or not new:
            new.insert(k, f"added {n}")
        elif action == "edit":
            new[min(k, len(new) - 1)] = f"edited {n}"
        elif action == "delete":
            del new[min(k, len(new) - 1)]
        elif action == "move":
            new.insert(draw(st.integers(0, len(new) - 1)), new.pop(min(k, len(new) - 1)))
        elif len(new) > 1:
            k = min(k, len(new) - 2)
            new[k], new[k + 1] = new[k + 1], new[k]
    return old, new


@settings(max_examples=300, deadline=None)
@given(distinct_pages(moves=False))
def test_without_moves_the_anchored_alignment_is_the_reference_one(pages: tuple[list[str], list[str]]) -> None:
    old, new = units(pages[0]), units(pages[1])
    expected = reference_align(old, new, diff._dmp(FAR), time.time() + FAR)
    assert align(old, new) == expected
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(alignment, "ANCHOR_ABOVE", 0)
        assert align(old, new) == expected


@settings(max_examples=300, deadline=None)
@given(distinct_pages(moves=True))
def test_with_moves_the_anchored_alignment_keeps_as_many_blocks(pages: tuple[list[str], list[str]]) -> None:
    """Distinct blocks: the anchors are a longest common subsequence, so nothing is lost; where a
    swap leaves two equally long choices, either may be kept."""
    old, new = units(pages[0]), units(pages[1])
    expected = reference_align(old, new, diff._dmp(FAR), time.time() + FAR)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(alignment, "ANCHOR_ABOVE", 0)
        got = align(old, new)
    assert_valid(got, old, new)
    assert matched(got, len(old)) >= matched(expected, len(old))


_SHORT = st.sampled_from(["Yes", "No", "Contact", "Overview", "a", "b", "c", "d", "e"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_SHORT, max_size=40), st.lists(_SHORT, max_size=40))
def test_any_two_pages_get_a_valid_alignment(old_texts: list[str], new_texts: list[str]) -> None:
    old, new = units(old_texts), units(new_texts)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(alignment, "ANCHOR_ABOVE", 0)
        assert_valid(align(old, new), old, new)
    assert_valid(align(old, new), old, new)


# --- the bench corpus: every change exactly as before --------------------------------------


def _load_bench() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "bench" / "diff.py"
    spec = importlib.util.spec_from_file_location("guidewatch_bench_diff_alignment", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _load_bench()


@pytest.mark.parametrize(("seed", "kb"), [(1, 500), (2, 300), (3, 120), (4, 500)])
def test_bench_pages_diff_exactly_as_with_the_reference_aligner(bench: ModuleType, seed: int, kb: int) -> None:
    old, new = bench.build_pair(seed=seed, target_kb=kb, edits=100)
    got = diff_pages(old, new, timeout_s=FAR)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(diff, "_align", reference_align)
        mp.setattr(diff._Planner, "_exact_pairs", reference_exact_pairs)
        expected = diff_pages(old, new, timeout_s=FAR)
    assert got == expected and len(got) > 50


def test_region_pairing_is_the_reference_one_with_many_repeated_blocks() -> None:
    rng = random.Random(4)
    for _ in range(200):
        old = units([rng.choice(["Yes", "No", "Yes.", "N/A", "x"]) for _ in range(rng.randint(0, 60))])
        new = units([rng.choice(["Yes", "No", "YES", "N/A", "y"]) for _ in range(rng.randint(0, 60))])
        cuts = sorted(rng.sample(range(61), 6))
        hunks = [_Hunk(min(a, len(old)), min(b, len(old)), min(a, len(new)), min(b, len(new)))
                 for a, b in zip(cuts[::2], cuts[1::2], strict=True)]
        planner = _Planner(old, new, hunks)
        assert planner._exact_pairs() == reference_exact_pairs(planner)


# --- work grows about linearly with the page -----------------------------------------------


class CountingDMP(diff_match_patch):
    """Adds up, for each run the aligner starts (not the runs' own recursive calls), Myers'
    bound on its comparisons: (N + M) x D, its lengths times the units it finds changed."""

    def __init__(self) -> None:
        super().__init__()
        self.Diff_Timeout = FAR
        self.work = 0
        self.depth = 0

    def diff_main(self, text1: str, text2: str, checklines: bool = True, deadline: float | None = None) -> list:
        self.depth += 1
        try:
            diffs = super().diff_main(text1, text2, checklines, deadline)
        finally:
            self.depth -= 1
        if self.depth == 0:
            changed = sum(len(chars) for op, chars in diffs if op)
            self.work += (len(text1) + len(text2)) * max(changed, 1)
        return diffs


def page_with_edits(n: int, seed: int) -> tuple[list[_Unit], list[_Unit]]:
    """n paragraphs (one in 20 a repeated "Yes" or "No"), one edit per 20 blocks."""
    rng = random.Random(seed)
    old = [rng.choice(["Yes", "No"]) if k % 20 == 7 else f"Paragraph {k} of the guidance" for k in range(n)]
    new = list(old)
    for k in sorted(rng.sample(range(n), n // 20), reverse=True):
        action = rng.random()
        if action < 0.4:
            new[k] = f"Paragraph {k} of the revised guidance"
        elif action < 0.7:
            new.insert(k, f"A new paragraph before {k}")
        else:
            del new[k]
    return units(old), units(new)


def alignment_work(old: list[_Unit], new: list[_Unit], aligner: object) -> int:
    dmp = CountingDMP()
    looked_at = [0]
    anchors = alignment._anchors

    def counted_anchors(a: str, b: str) -> list[tuple[int, int]]:
        looked_at[0] += len(a) + len(b)
        return anchors(a, b)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(alignment, "_anchors", counted_anchors)
        hunks = aligner(old, new, dmp, time.time() + FAR)  # type: ignore[operator]
    assert_valid(hunks, old, new)
    return dmp.work + looked_at[0]


def test_alignment_work_grows_about_linearly_with_the_number_of_blocks() -> None:
    sizes = (2_000, 8_000, 32_000)
    work = {n: alignment_work(*page_with_edits(n, seed=n), diff._align) for n in sizes}
    for small, large in zip(sizes, sizes[1:], strict=False):
        assert work[large] <= 4 * 1.3 * work[small], work  # 4x the blocks: about 4x the work
    assert work[32_000] <= 20 * 32_000, work  # a few comparisons per block
    # The measure tells the two apart: one run over the whole page costs its length times
    # its edits, which grow with the page (4x the blocks, ~16x the work).
    reference = {n: alignment_work(*page_with_edits(n, seed=n), reference_align) for n in sizes[:2]}
    assert reference[8_000] >= 12 * reference[2_000] and reference[8_000] > 100 * work[8_000], (reference, work)

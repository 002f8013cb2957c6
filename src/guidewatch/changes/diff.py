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

The steps live in `align` (units, anchored alignment), `moves` (moves and in-place pairs),
`describe` (grouping and `Change` building) and `worddiff` (word-level highlighting).
"""

from __future__ import annotations

import time

from guidewatch.changes.align import MAX_BLOCKS, _align, _units
from guidewatch.changes.describe import UNANALYSED, _Builder, _groups, _items, number_changes
from guidewatch.changes.moves import _Planner
from guidewatch.changes.worddiff import Clock, _dmp, _wall, word_diff
from guidewatch.model import Change, Page

__all__ = ["MAX_BLOCKS", "UNANALYSED", "diff_pages", "number_changes", "word_diff"]


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

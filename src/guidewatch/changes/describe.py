"""Describing the changed regions: their units in reading order, grouped per section, as `Change`s.

Each group's text is diffed at word level for highlighting and classified by `severity.classify`,
all under one deadline shared by the whole diff.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter

from guidewatch.changes.align import _Hunk, _Unit
from guidewatch.changes.moves import _Move
from guidewatch.changes.severity import classify, cosmetic_reason, sentences, worst
from guidewatch.changes.worddiff import Clock, _wall, word_diff
from guidewatch.model import Change, ChangeKind, DiffOp, Severity

CONTEXT_CHARS = 300
ANALYSIS_SHARE = 0.8  # of timeout_s for full analysis; the rest for the cheap fallback
UNANALYSED = "changed (not analysed: diff time limit reached)"


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

"""Block-level page diff: alignment, grouping, word-level ops, bounds."""

from __future__ import annotations

import importlib.util
import random
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guidewatch.changes.diff import UNANALYSED, diff_pages, number_changes, word_diff
from guidewatch.model import Block, Change, DiffOp, Page

TITLE = "Advanced therapy medicinal products: regulation and licensing"

SECTIONS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Overview",
        [
            ("p", "ATMPs are medicines for human use based on genes, tissues or cells."),
            ("p", "They offer new opportunities for the treatment of disease and injury."),
        ],
    ),
    (
        "Marketing authorisation",
        [
            ("p", "ATMPs placed on the UK market must have a marketing authorisation."),
            ("p", "The MHRA assesses the quality, safety and efficacy of each ATMP that needs one."),
        ],
    ),
    (
        "Hospital exemption",
        [
            ("p", "The hospital exemption allows ATMPs to be prepared on a non-routine basis in a hospital."),
            ("li", "for an individual patient"),
            ("li", "under the exclusive professional responsibility of a medical practitioner"),
            ("p", "A manufacturer's licence from the MHRA is required."),
        ],
    ),
    (
        "Clinical trials",
        [
            ("p", "You must apply to the MHRA for a clinical trial authorisation before the trial starts."),
            ("p", "The fee is £3,000 for each application."),
        ],
    ),
    (
        "Contact",
        [("p", "Email the Innovation Office at innovation@mhra.gov.uk for advice on classification.")],
    ),
]


def section_blocks(heading: str, body: list[tuple[str, str]], level: int = 2) -> list[Block]:
    path = (TITLE, heading) if level == 2 else (TITLE, "Clinical trials", heading)
    return [Block(path, "heading", heading, level)] + [Block(path, kind, text) for kind, text in body]


def make_page(sections: list[tuple[str, list[tuple[str, str]]]] = SECTIONS) -> Page:
    blocks = [Block((TITLE,), "heading", TITLE, 1)]
    for heading, body in sections:
        blocks += section_blocks(heading, body)
    return Page("https://www.gov.uk/guidance/atmps", "govuk", TITLE, blocks)


def replace_text(page: Page, old: str, new: str) -> Page:
    blocks = [Block(b.path, b.kind, b.text.replace(old, new), b.level) for b in page.blocks]
    return Page(page.url, page.profile, page.title, blocks)


def assert_ops_rebuild(change: Change) -> None:
    assert "".join(o.text for o in change.ops if o.op <= 0) == change.old
    assert "".join(o.text for o in change.ops if o.op >= 0) == change.new


# --- identity -----------------------------------------------------------------------------


def test_identical_page_gives_no_changes() -> None:
    page = make_page()
    assert diff_pages(page, page) == []
    assert diff_pages(page, make_page()) == []  # equal content, different objects


def test_metadata_alone_is_not_diffed() -> None:
    old, new = make_page(), make_page()
    new.metadata = {"last_reviewed": "2025-04-04", "next_review_due": "2028-04-04"}
    assert diff_pages(old, new) == []


# --- alignment: one change per inserted / removed / moved section -------------------------


def test_section_inserted_in_the_middle_is_one_added_change() -> None:
    new_section = (
        "Genetic testing",
        [
            ("p", "Genetic testing can find changes in genes that may cause an inherited condition."),
            ("li", "a blood test"),
            ("li", "a saliva sample"),
            ("p", "Results usually take 2 to 3 weeks."),
        ],
    )
    old = make_page()
    new = make_page([*SECTIONS[:2], new_section, *SECTIONS[2:]])
    changes = diff_pages(old, new)
    assert len(changes) == 1
    (c,) = changes
    assert (c.id, c.kind, c.severity) == ("c1", "added", "substantive")
    assert c.source_section == (TITLE, "Genetic testing")
    assert c.old == ""
    assert c.new == "\n".join(["Genetic testing"] + [t for _, t in new_section[1]])
    assert c.ops == [DiffOp(1, c.new)]
    assert c.reason == "section added"
    assert "[…]" in c.context and "Hospital exemption" in c.context


def test_section_with_subsections_inserted_is_one_change() -> None:
    old = make_page()
    blocks = list(old.blocks)
    at = next(k for k, b in enumerate(blocks) if b.text == "Contact")
    sub = [
        Block((TITLE, "Fees"), "heading", "Fees", 2),
        Block((TITLE, "Fees"), "p", "Fees are set out in the MHRA statutory fees guidance."),
        Block((TITLE, "Fees", "Refunds"), "heading", "Refunds", 3),
        Block((TITLE, "Fees", "Refunds"), "p", "Refunds are not given once assessment has started."),
    ]
    new = Page(old.url, old.profile, old.title, blocks[:at] + sub + blocks[at:])
    (c,) = diff_pages(old, new)
    assert c.kind == "added"
    assert c.source_section == (TITLE, "Fees")
    assert "Refunds are not given" in c.new


def test_section_removed_is_one_removed_change() -> None:
    old = make_page()
    new = make_page([s for s in SECTIONS if s[0] != "Hospital exemption"])
    (c,) = diff_pages(old, new)
    assert (c.kind, c.severity, c.reason) == ("removed", "substantive", "section removed")
    assert c.source_section == (TITLE, "Hospital exemption")
    assert c.new == ""
    assert c.old.startswith("Hospital exemption\nThe hospital exemption allows")
    assert_ops_rebuild(c)


def test_section_moved_is_one_moved_change() -> None:
    old = make_page()
    by_name = dict(SECTIONS)
    order = ["Overview", "Hospital exemption", "Marketing authorisation", "Clinical trials", "Contact"]
    new = make_page([(name, by_name[name]) for name in order])
    (c,) = diff_pages(old, new)
    assert c.kind == "moved"
    assert c.severity == "minor"
    assert c.old == c.new
    assert "moved" in c.reason and "text unchanged" in c.reason
    assert c.source_section[-1] in {"Hospital exemption", "Marketing authorisation"}
    assert c.ops == [DiffOp(0, c.new)]


def test_section_moved_and_edited_is_one_moved_change_with_the_edit() -> None:
    old = make_page()
    by_name = dict(SECTIONS)
    clinical = [(k, t.replace("£3,000", "£3,500")) for k, t in by_name["Clinical trials"]]
    new = make_page(
        [
            ("Clinical trials", clinical),
            ("Overview", by_name["Overview"]),
            ("Marketing authorisation", by_name["Marketing authorisation"]),
            ("Hospital exemption", by_name["Hospital exemption"]),
            ("Contact", by_name["Contact"]),
        ]
    )
    changes = diff_pages(old, new)
    assert [c.kind for c in changes] == ["moved"]
    (c,) = changes
    assert c.severity == "substantive"
    assert "£3,000 → £3,500" in c.reason
    assert [o for o in c.ops if o.op] == [DiffOp(-1, "3,000"), DiffOp(1, "3,500")]
    assert_ops_rebuild(c)


def test_paragraph_moved_between_sections() -> None:
    old = make_page()
    para = "A manufacturer's licence from the MHRA is required."
    by_name = {h: [b for b in body if b[1] != para] for h, body in SECTIONS}
    by_name["Clinical trials"].append(("p", para))
    new = make_page(list(by_name.items()))
    (c,) = diff_pages(old, new)
    assert c.kind == "moved"
    assert c.source_section == (TITLE, "Clinical trials")
    assert "from '" + TITLE + " > Hospital exemption'" in c.reason


# --- modified blocks and word-level ops ---------------------------------------------------


def test_paragraph_edit_is_one_modified_change_with_word_ops() -> None:
    old = make_page()
    new = replace_text(old, "You must apply", "You may apply")
    (c,) = diff_pages(old, new)
    assert (c.id, c.kind, c.severity) == ("c1", "modified", "substantive")
    assert c.reason == "'must' became 'may'"
    assert c.source_section == (TITLE, "Clinical trials")
    assert c.old == "You must apply to the MHRA for a clinical trial authorisation before the trial starts."
    assert c.new == c.old.replace("must", "may")
    assert [o for o in c.ops if o.op != 0] == [DiffOp(-1, "must"), DiffOp(1, "may")]
    assert_ops_rebuild(c)
    assert c.context == "Clinical trials […] The fee is £3,000 for each application."


def test_word_ops_never_split_words() -> None:
    old = "The MHRA assesses the quality, safety and efficacy of each ATMP that needs one."
    new = "The MHRA evaluates the quality and safety of every ATMP which needs one."
    ops = word_diff(old, new)
    for side, keep in ((old, (-1, 0)), (new, (0, 1))):
        pieces = [o.text for o in ops if o.op in keep]
        assert "".join(pieces) == side
        for a, b in zip(pieces, pieces[1:], strict=False):
            assert not (a[-1:].isalnum() and b[:1].isalnum()), (a, b)


def test_word_diff_edge_cases() -> None:
    assert word_diff("", "") == []
    assert word_diff("same", "same") == [DiffOp(0, "same")]
    assert word_diff("", "new text") == [DiffOp(1, "new text")]
    assert word_diff("old text", "") == [DiffOp(-1, "old text")]


def test_adjacent_edits_in_one_section_are_grouped() -> None:
    old = make_page()
    new = replace_text(old, "for an individual patient", "for an individual named patient")
    new = replace_text(new, "of a medical practitioner", "of a registered medical practitioner")
    (c,) = diff_pages(old, new)
    assert c.kind == "modified"
    assert c.source_section == (TITLE, "Hospital exemption")
    assert c.old.splitlines() == [
        "for an individual patient",
        "under the exclusive professional responsibility of a medical practitioner",
    ]
    assert_ops_rebuild(c)


def test_paragraph_added_inside_a_section() -> None:
    old = make_page()
    by_name = dict(SECTIONS)
    overview = [*by_name["Overview"], ("p", "Most ATMPs are used in specialist NHS centres.")]
    new = make_page([("Overview", overview), *SECTIONS[1:]])
    (c,) = diff_pages(old, new)
    assert (c.kind, c.severity) == ("added", "substantive")
    assert c.source_section == (TITLE, "Overview")
    assert c.new == "Most ATMPs are used in specialist NHS centres."


def test_heading_renamed_and_first_paragraph_edited_is_one_change() -> None:
    old = make_page()
    renamed = "Clinical trials of ATMPs"
    blocks = [
        Block(
            tuple(renamed if p == "Clinical trials" else p for p in b.path),
            b.kind,
            renamed if b.text == "Clinical trials" else b.text.replace("You must apply", "You should apply"),
            b.level,
        )
        for b in old.blocks
    ]
    (c,) = diff_pages(old, Page(old.url, old.profile, old.title, blocks))
    assert c.kind == "modified"
    assert c.source_section == (TITLE, renamed)
    assert c.old.splitlines()[0] == "Clinical trials"
    assert c.new.splitlines()[0] == renamed
    assert c.severity == "substantive"
    assert_ops_rebuild(c)


def test_changes_are_numbered_in_page_order() -> None:
    old = make_page()
    new = replace_text(old, "must have", "should have")
    new = replace_text(new, "£3,000", "£4,000")
    new = make_page([(h, b) for h, b in SECTIONS if h != "Hospital exemption"])
    new = replace_text(new, "must have", "should have")
    new = replace_text(new, "£3,000", "£4,000")
    changes = diff_pages(old, new)
    assert [c.id for c in changes] == ["c1", "c2", "c3"]
    assert [c.kind for c in changes] == ["modified", "removed", "modified"]
    assert [c.source_section[-1] for c in changes] == [
        "Marketing authorisation",
        "Hospital exemption",
        "Clinical trials",
    ]


# --- cosmetic -----------------------------------------------------------------------------


def test_whitespace_and_typography_only_edits_are_all_cosmetic() -> None:
    old = make_page()
    new = replace_text(old, "manufacturer's", "manufacturer’s")
    new = replace_text(new, "must have a", "must  have a")
    new = replace_text(new, "disease and injury.", "disease and injury")
    new = replace_text(new, "Overview", "OVERVIEW")
    changes = diff_pages(old, new)
    assert len(changes) == 4
    assert {c.severity for c in changes} == {"cosmetic"}
    for c in changes:
        assert_ops_rebuild(c)


def test_review_date_line_is_cosmetic() -> None:
    def with_review(date: str) -> Page:
        page = make_page()
        line = Block((TITLE, "Contact"), "p", f"Page last reviewed: {date} Next review due: {date[:-4]}2028")
        return Page(page.url, page.profile, page.title, [*page.blocks, line])

    (c,) = diff_pages(with_review("12 March 2024"), with_review("4 April 2025"))
    assert c.severity == "cosmetic"
    assert "review dates" in c.reason


def test_block_kind_change_is_cosmetic() -> None:
    old = make_page()
    blocks = [Block(b.path, "p" if b.kind == "li" else b.kind, b.text, b.level) for b in old.blocks]
    changes = diff_pages(old, Page(old.url, old.profile, old.title, blocks))
    assert changes and {c.severity for c in changes} == {"cosmetic"}


# --- bounds -------------------------------------------------------------------------------


def _load_bench() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "bench" / "diff.py"
    spec = importlib.util.spec_from_file_location("guidewatch_bench_diff", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _load_bench()


class TickingClock:
    """A clock that moves `step` seconds each time it is read: time passes with the work done,
    the same on an idle machine and a busy one (no unit test measures wall time; bench/ does)."""

    def __init__(self, step: float) -> None:
        self.now, self.step, self.reads = 0.0, step, 0

    def __call__(self) -> float:
        self.reads += 1
        self.now += self.step
        return self.now


def count_calls(monkeypatch: pytest.MonkeyPatch, *names: str) -> dict[str, list[int]]:
    """Count the calls to guidewatch.changes.describe's `names` (the real functions still run), with the
    length of the text each got."""
    import guidewatch.changes.describe as diff_module

    calls: dict[str, list[int]] = {name: [] for name in names}
    for name in names:
        real = getattr(diff_module, name)

        def counted(old: str, new: str, *args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls[_name].append(len(old) + len(new))
            return _real(old, new, *args, **kwargs)

        monkeypatch.setattr(diff_module, name, counted)
    return calls


def test_big_page_with_scattered_edits_word_diffs_only_what_changed(
        bench: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """What keeps a 500 KB page fast is counted, not timed: blocks are aligned whole, and only
    the changed passages are diffed word by word and classified (bench/diff.py has the times)."""
    old, new = bench.build_pair(seed=1, target_kb=500, edits=100)
    assert len(old.text()) > 500_000
    calls = count_calls(monkeypatch, "word_diff", "classify")
    changes = diff_pages(old, new, clock=lambda: 0.0)  # a clock that never runs out: full analysis
    assert 60 <= len(changes) <= 100  # adjacent edits in one section may share a change
    assert all(c.reason != UNANALYSED for c in changes)
    assert not [c for c in changes if c.kind == "moved"]  # nothing was moved
    assert len(calls["word_diff"]) == len(calls["classify"]) == len(changes)
    assert sum(calls["word_diff"]) < len(old.text()) // 10, "word-diffed far more than the changed passages"
    for c in changes:
        assert_ops_rebuild(c)


def test_over_max_blocks_degrades_to_sections(bench: ModuleType) -> None:
    old, new = bench.build_pair(seed=2, target_kb=200, edits=20)
    fine = diff_pages(old, new)
    coarse = diff_pages(old, new, max_blocks=100)
    assert coarse and len(coarse) <= len(fine)
    for c in coarse:
        assert_ops_rebuild(c)
        assert c.old or c.new


def test_time_limit_is_respected_on_a_rewritten_page(bench: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past 80 % of the budget only the cheap cosmetic test runs; once it is all spent, no work
    per change at all (whole-text highlighting, "substantive"), however many changes remain."""
    old = bench.build_page(random.Random(5), 300)
    new = bench.build_page(random.Random(6), 300)
    calls = count_calls(monkeypatch, "classify", "cosmetic_reason", "word_diff")
    clock = TickingClock(step=0.01)  # 0.4 s of the 0.5 s budget is 40 reads of the clock
    changes = diff_pages(old, new, timeout_s=0.5, clock=clock)
    assert len(changes) > 200
    assert 0 < len(calls["classify"]) <= 40
    assert 0 < len(calls["cosmetic_reason"]) <= 10
    assert len(calls["word_diff"]) <= len(calls["classify"]) + len(calls["cosmetic_reason"])
    unanalysed = [c for c in changes if c.reason == UNANALYSED]
    assert len(unanalysed) >= len(changes) - len(calls["classify"]) - len(calls["cosmetic_reason"])
    assert {c.severity for c in unanalysed} == {"substantive"}
    assert {c.severity for c in changes} <= {"substantive", "minor", "cosmetic"}
    for c in changes:
        assert_ops_rebuild(c)


def test_a_clock_that_never_runs_out_analyses_every_change(bench: ModuleType,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    old = bench.build_page(random.Random(5), 20)
    new = bench.build_page(random.Random(6), 20)
    calls = count_calls(monkeypatch, "classify", "cosmetic_reason")
    changes = diff_pages(old, new, timeout_s=0.5, clock=lambda: 0.0)
    assert changes and not [c for c in changes if c.reason == UNANALYSED]
    assert len(calls["classify"]) == len(changes) and calls["cosmetic_reason"] == []


def test_number_changes() -> None:
    changes = diff_pages(make_page(), replace_text(make_page(), "must", "may"))
    assert [c.id for c in number_changes(changes, prefix="x")] == [
        f"x{k}" for k in range(1, len(changes) + 1)
    ]


# --- properties ---------------------------------------------------------------------------

_WORDS = st.sampled_from(
    ["the", "MHRA", "must", "may", "not", "30", "days", "ATMP", "licence", "hospital", "exemption", "patient"]
)
_TEXT = st.lists(_WORDS, min_size=1, max_size=12).map(" ".join)


@st.composite
def edited_pages(draw: st.DrawFn) -> tuple[Page, Page]:
    old = make_page()
    blocks = list(old.blocks)
    for _ in range(draw(st.integers(1, 4))):
        k = draw(st.integers(1, len(blocks) - 1))
        action = draw(st.sampled_from(["edit", "insert", "delete", "move"]))
        b = blocks[k]
        if action == "edit":
            blocks[k] = Block(b.path, b.kind, draw(_TEXT), b.level)
        elif action == "insert":
            blocks.insert(k, Block(b.path, "p", draw(_TEXT)))
        elif action == "delete" and len(blocks) > 3:
            del blocks[k]
        elif action == "move":
            blocks.insert(draw(st.integers(1, len(blocks) - 1)), blocks.pop(k))
    return old, Page(old.url, old.profile, old.title, blocks)


@settings(max_examples=60, deadline=None)
@given(edited_pages())
def test_every_change_rebuilds_its_texts(pages: tuple[Page, Page]) -> None:
    old, new = pages
    changes = diff_pages(old, new)
    assert [c.id for c in changes] == [f"c{k}" for k in range(1, len(changes) + 1)]
    for c in changes:
        assert_ops_rebuild(c)
        assert c.kind in {"modified", "added", "removed", "moved"}
        assert c.scope == "block"
    if old.blocks == new.blocks:
        assert changes == []
    else:
        assert changes


def test_context_is_sentences_not_whole_blocks() -> None:
    old = make_page()
    new = replace_text(old, "They offer new", "They bring new")
    (c,) = diff_pages(old, new)
    assert (
        c.context
        == "ATMPs are medicines for human use based on genes, tissues or cells. […] Marketing authorisation"
    )
    assert re.search(r"\[…\]", c.context)

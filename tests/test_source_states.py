"""What one fetch makes of a source's state (`sources.states`)."""

from __future__ import annotations

from guidewatch.sources.states import after_answer, after_failure


def test_a_source_is_unreachable_only_after_enough_failures_in_a_row() -> None:
    assert after_failure("ok", 1, 3) == "ok"
    assert after_failure("ok", 2, 3) == "ok"
    assert after_failure("ok", 3, 3) == "unreachable"
    assert after_failure("new", 1, 1) == "unreachable"
    assert after_failure("gone", 9, 3) == "gone"  # a page known gone stays gone
    assert after_failure("withdrawn", 3, 3) == "unreachable"


def test_a_404_or_soft_404_is_gone_whatever_came_before() -> None:
    for state in ("new", "ok", "moved", "withdrawn", "unreachable"):
        assert after_answer(state, "gone", has_page=False, moved=False, withdrawn=False) == "gone"
        assert after_answer(state, "soft_404", has_page=False, moved=False, withdrawn=False) == "gone"


def test_a_304_clears_new_and_unreachable_but_keeps_page_level_states() -> None:
    for state, after in (("new", "ok"), ("unreachable", "ok"), ("ok", "ok"), ("gone", "gone"),
                         ("moved", "moved"), ("withdrawn", "withdrawn")):
        assert after_answer(state, "not_modified", has_page=False, moved=False, withdrawn=False) == after
    # an answer without a page to compare (held back) counts the same as a 304
    assert after_answer("unreachable", "ok", has_page=False, moved=False, withdrawn=False) == "ok"
    assert after_answer("gone", "ok", has_page=False, moved=False, withdrawn=False) == "gone"


def test_a_page_says_its_own_state() -> None:
    assert after_answer("gone", "ok", has_page=True, moved=False, withdrawn=False) == "ok"  # it came back
    assert after_answer("ok", "ok", has_page=True, moved=True, withdrawn=False) == "moved"
    assert after_answer("moved", "ok", has_page=True, moved=False, withdrawn=False) == "ok"
    assert after_answer("ok", "ok", has_page=True, moved=True, withdrawn=True) == "withdrawn"

"""The alert lifecycle's superseding rules (`changes.passages`), as pure functions: which
passage a change is about, when a change is news, which guides it alerts, and which open
alerts a comparison leaves behind."""

from __future__ import annotations

from guidewatch.changes.passages import (
    OpenAlert,
    PriorEvent,
    alert_guides,
    is_repeat,
    on_passage,
    passage_key,
    stale_block_alerts,
)
from guidewatch.model import Change, Impact


def block(old: str, new: str, severity: str = "substantive", section: tuple[str, ...] = ("Dose",)) -> Change:
    return Change("c1", "modified", severity, "changed", section, old, new)  # type: ignore[arg-type]


def page(kind: str, new: str) -> Change:
    return Change("c1", kind, "substantive", kind, (), "", new, scope="page")  # type: ignore[arg-type]


def alert(alert_id: int, change: Change, source_id: int = 1) -> OpenAlert:
    return OpenAlert(alert_id, passage_key(source_id, change), change.scope, change.new, change.severity)


def never() -> PriorEvent | None:
    raise AssertionError("the prior event is only asked for a page-level event without an open alert")


def test_a_block_passage_is_its_source_section_and_old_text_not_its_new_text() -> None:
    key = passage_key(1, block("Take 2 tablets.", "Take 3 tablets."))
    assert key == passage_key(1, block("Take 2 tablets.", "Take 4 tablets."))  # changed again: same passage
    assert key != passage_key(1, block("Take 1 tablet.", "Take 3 tablets."))
    assert key != passage_key(1, block("Take 2 tablets.", "Take 3 tablets.", section=("Side effects",)))
    assert key != passage_key(2, block("Take 2 tablets.", "Take 3 tablets."))  # another source
    assert len(key) == 64 and int(key, 16) >= 0


def test_a_page_level_passage_is_its_kind() -> None:
    assert passage_key(1, page("gone", "404")) == passage_key(1, page("gone", "410"))
    assert passage_key(1, page("gone", "404")) != passage_key(1, page("moved", "404"))


def test_a_change_its_open_alerts_already_say_is_not_news() -> None:
    first = block("Take 2 tablets.", "Take 3 tablets.")
    same = on_passage([alert(7, first), alert(8, block("Other.", "Text."))], passage_key(1, first))
    assert [a.id for a in same] == [7]
    assert is_repeat(first, same, never)
    assert not is_repeat(block("Take 2 tablets.", "Take 4 tablets."), same, never)  # new wording
    assert not is_repeat(block("Take 2 tablets.", "Take 3 tablets.", severity="minor"), same, never)  # regraded
    assert not is_repeat(first, [], never)  # no alert open on it: a block change is always news


def test_a_page_event_already_recorded_is_not_news_unless_a_failure_cleared_in_between() -> None:
    gone = page("gone", "HTTP 404")
    assert not is_repeat(gone, [], lambda: None)  # first time
    assert is_repeat(gone, [], lambda: PriorEvent("HTTP 404", "gone", answered_since=False))
    assert not is_repeat(gone, [], lambda: PriorEvent("HTTP 410", "gone", answered_since=False))
    # the page came back and is gone again: a second outage is news
    assert not is_repeat(gone, [], lambda: PriorEvent("HTTP 404", "gone", answered_since=True))
    # a withdrawal does not end when the page answers: still the same, already-seen event
    withdrawn = page("withdrawn", "withdrawn 1 May")
    assert is_repeat(withdrawn, [], lambda: PriorEvent("withdrawn 1 May", "withdrawn", answered_since=True))


def test_one_alert_per_affected_guide_and_none_below_the_minimum_severity() -> None:
    impacts = [Impact("b-guide", "s1", "H", 0.9, ()), Impact("a-guide", "s2", "H", 0.5, ()),
               Impact("b-guide", "s3", "H", 0.4, ())]
    assert alert_guides(block("a", "b"), impacts, "minor") == ["a-guide", "b-guide"]
    assert alert_guides(block("a", "b", severity="minor"), impacts, "minor") == ["a-guide", "b-guide"]
    assert alert_guides(block("a", "b", severity="cosmetic"), impacts, "minor") == []
    assert alert_guides(block("a", "b", severity="minor"), impacts, "substantive") == []
    assert alert_guides(block("a", "b", severity="cosmetic"), impacts, "cosmetic") == ["a-guide", "b-guide"]
    assert alert_guides(block("a", "b"), [], "minor") == []  # linked to no guide: recorded, no alert


def test_open_block_alerts_on_passages_no_longer_reported_are_stale() -> None:
    kept, gone_back = block("Take 2.", "Take 3."), block("Rest.", "Sleep.")
    outage = page("unreachable", "timed out")
    open_alerts = [alert(1, kept), alert(2, gone_back), alert(3, outage)]
    seen = {passage_key(1, kept)}
    # page-level alerts end by their own rules (the source answers again, an editor accepts)
    assert stale_block_alerts(open_alerts, seen) == [2]
    assert stale_block_alerts(open_alerts, {passage_key(1, kept), passage_key(1, gone_back)}) == []

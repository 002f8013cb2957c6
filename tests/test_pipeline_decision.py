"""The crawl's decision about one answer, from plain values: no store, no files, no HTTP.

Screening, page-level events, the diff to record, the review-due closure, the verdict and the
summary category are all decided by `app.decision`; these tests give it the values the
recorder would read from the store (the store's own frozen records) and check what it decides.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime

from guidewatch.app.decision import (
    CATEGORIES,
    Facts,
    Screened,
    answers_again,
    apply_judgement,
    decide,
    screen_page,
    screen_parsed,
    state_events,
)
from guidewatch.model import Block, FetchOutcome, Page, serialise_blocks
from guidewatch.pages.suspect import Judgement
from guidewatch.store import SnapshotRecord, SourceState

URL = "https://example.org/guidance/atmp"
TODAY = date(2026, 6, 1)
V1 = [Block(("Hospital exemption",), "heading", "Hospital exemption", 2),
      Block(("Hospital exemption",), "p", "Hospitals may supply the product after notifying the regulator.")]
V2 = [V1[0], Block(("Hospital exemption",), "p", "Hospitals must not supply the product without a licence.")]


def outcome(status: str = "ok", **kw: object) -> FetchOutcome:
    return FetchOutcome(url=URL, status=status, http_status=kw.pop("http_status", 200),  # type: ignore[arg-type]
                        body=b"<html>...</html>", fetched_at=datetime(2026, 6, 1, tzinfo=UTC), **kw)  # type: ignore[arg-type]


def page(blocks: list[Block] | None = None, **meta: str) -> Page:
    return Page(URL, "default", "ATMPs", V1 if blocks is None else blocks, metadata=dict(meta))


def state(name: str = "ok", failures: int = 0) -> SourceState:
    failed_at = datetime(2026, 5, 30, tzinfo=UTC) if failures else None
    return SourceState(1, URL, "default", name, None, "ATMPs", None, None, None, None, failures, failed_at,
                       "timed out" if failures else None, 2, 1, None, True)


def snapshot(sid: int, blocks: list[Block], **meta: str) -> SnapshotRecord:
    text = serialise_blocks(blocks)
    return SnapshotRecord(sid, 1, URL, datetime(2026, 5, 1, tzinfo=UTC), f"hash{sid}", "ATMPs", "default", text,
                          dict(meta))


# --- screening ------------------------------------------------------------------------------


def test_screening_returns_a_new_outcome_and_never_changes_the_one_given() -> None:
    cases = {
        "unavailable": (page(unavailable="Sorry, the service is unavailable"), "failed", True,
                        "page says it is unavailable: 'Sorry, the service is unavailable'"),
        "soft 404": (page(soft_404="1"), "soft_404", False, None),
        "empty html": (page([], content_type="text/html"), "failed", True, "page had no main content"),
        "no type": (page([]), "failed", True, "page had no main content"),
        "pdf": (page([], content_type="application/pdf"), "failed", False,
                "not a web page: the server sent application/pdf"),
        "text": (page([], content_type="text/plain"), "failed", True, "not a web page: the server sent text/plain"),
    }
    for name, (parsed, status, transient, error) in cases.items():
        given = outcome()
        before = copy.deepcopy(given)
        screened = screen_page(parsed, given)
        assert given == before, name
        assert screened.page is None, name
        assert (screened.outcome.status, screened.outcome.transient, screened.outcome.error) == \
               (status, transient, error), name
        assert screened.outcome.body == given.body and screened.outcome.url == URL


def test_a_page_with_content_passes_screening_as_it_is() -> None:
    given, parsed = outcome(), page()
    screened = screen_page(parsed, given)
    assert screened == Screened(given, parsed) and screened.outcome is given


def test_an_unparseable_body_is_a_transient_failure_not_a_change() -> None:
    given = outcome()
    screened = screen_parsed(given, "cannot decode the body: invalid start byte")
    assert screened.page is None and given.status == "ok"
    assert (screened.outcome.status, screened.outcome.error, screened.outcome.transient) == \
           ("failed", "cannot decode the body: invalid start byte", True)


def test_the_structural_guard_holds_a_suspect_page_back_and_notes_a_confirmed_one() -> None:
    kept = screen_page(page(V2), outcome())
    assert apply_judgement(kept, Judgement("accept")) is kept
    held = apply_judgement(kept, Judgement("suspect", "main content fell"))
    assert held.page is None and held.suspect_hash == page(V2).content_hash
    assert held.outcome.status == "failed" and held.outcome.transient
    assert held.outcome.error == "suspect page held back until a later crawl sees it again: main content fell"
    assert kept.outcome.status == "ok" and kept.page is not None, "the screened value is not changed either"
    confirmed = apply_judgement(kept, Judgement("confirmed", "seen again"))
    assert confirmed.page is kept.page and confirmed.outcome is kept.outcome
    assert confirmed.note == "; suspect page confirmed: seen again"


# --- page-level events ----------------------------------------------------------------------


def test_only_an_answer_from_a_gone_or_unreachable_source_closes_its_outage_alerts() -> None:
    assert answers_again("gone", outcome("ok")) and answers_again("unreachable", outcome("not_modified"))
    assert not answers_again("ok", outcome("ok"))
    for status in ("failed", "blocked", "gone", "soft_404"):
        assert not answers_again("unreachable", outcome(status)), status


def test_failures_count_towards_unreachable_and_then_raise_its_event() -> None:
    failed = outcome("failed", error="timed out after 30 s", transient=True, http_status=None)
    events, verdict = state_events(failed, state("ok", 1), None, recovered=False, unreachable_after=3)
    assert events == [] and verdict == "failed (timed out after 30 s); transient, try 1 of 3"
    events, verdict = state_events(failed, state("unreachable", 3), None, recovered=False, unreachable_after=3)
    assert [e.kind for e in events] == ["unreachable"]
    assert verdict == "failed (timed out after 30 s); unreachable after 3 tries"


def test_gone_moved_and_recovered_answers() -> None:
    events, verdict = state_events(outcome("gone", http_status=404), state(), None, recovered=False,
                                   unreachable_after=2)
    assert [e.kind for e in events] == ["gone"] and verdict == "gone (HTTP 404)"
    events, verdict = state_events(outcome("soft_404"), state(), None, recovered=False, unreachable_after=2)
    assert [e.kind for e in events] == ["gone"] and verdict == "gone (page says it was not found)"
    moved = outcome("ok", final_url="https://example.org/guidance/atmp-new")
    events, verdict = state_events(moved, state(), page(), recovered=True, unreachable_after=2)
    assert [e.kind for e in events] == ["moved"] and verdict == "moved to https://example.org/guidance/atmp-new"
    events, verdict = state_events(outcome("ok"), state(), page(), recovered=True, unreachable_after=2)
    assert events == [] and verdict == "answers again (gone/unreachable alerts closed)"
    withdrawn = page(withdrawn_at="2026-05-30", withdrawn_explanation="Replaced by new guidance.")
    events, _ = state_events(outcome("ok"), state(), withdrawn, recovered=False, unreachable_after=2)
    assert [e.kind for e in events] == ["withdrawn"]


# --- the whole decision ---------------------------------------------------------------------


def test_a_first_version_is_the_baseline_with_nothing_to_diff() -> None:
    first = snapshot(1, V1)
    d = decide(Facts(Screened(outcome(), page()), state(), TODAY, 2, baseline=True, new_version=True,
                     fresh=first, reviewed=first, current_meta={}))
    assert (d.verdict, d.category, d.diffed, d.changes, d.to_record) == ("baseline recorded", "new", False, (), False)


def test_a_new_version_is_diffed_against_the_reviewed_one_and_its_changes_numbered() -> None:
    reviewed, fresh = snapshot(1, V1), snapshot(2, V2)
    d = decide(Facts(Screened(outcome(), page(V2)), state(), TODAY, 2, new_version=True, fresh=fresh,
                     reviewed=reviewed, current_meta={}))
    assert d.diffed and d.to_record and d.category == "changed"
    assert d.verdict == f"changed: {len(d.changes)} change(s) to review"
    assert [c.id for c in d.changes] == [f"c{i}" for i in range(1, len(d.changes) + 1)]
    assert any(c.severity == "substantive" and "must not" in c.new for c in d.changes)
    assert reviewed.text == serialise_blocks(V1) and fresh.text == serialise_blocks(V2)


def test_an_unchanged_304_records_nothing_and_a_moved_page_counts_as_moved() -> None:
    d = decide(Facts(Screened(outcome("not_modified")), state(), TODAY, 2))
    assert (d.verdict, d.category, d.to_record, d.review_due) == ("unchanged", "unchanged", False, None)
    moved = outcome("ok", final_url="https://example.org/new")
    same = snapshot(1, V1)
    d = decide(Facts(Screened(moved, page()), state(), TODAY, 2, fresh=None, reviewed=same, current_meta={}))
    assert d.category == "moved" and [c.kind for c in d.changes] == ["moved"] and d.changes[0].id == "c1"
    assert d.to_record and not d.diffed


def test_a_failed_check_is_counted_failed_and_closes_nothing() -> None:
    failed = outcome("failed", error="HTTP 503", transient=True)
    d = decide(Facts(Screened(failed), state("ok", 1), TODAY, 2))
    assert d.category == "failed" and d.review_due is None and d.changes == ()
    assert d.verdict == "failed (HTTP 503); transient, try 1 of 2"
    assert CATEGORIES.count(d.category) == 1


def test_a_page_re_reviewed_by_its_publisher_closes_the_review_due_alert_and_an_overdue_one_raises_it() -> None:
    reviewed = snapshot(1, V1, next_review_due="2026-01-01")
    later = {"next_review_due": "2029-03-01"}
    d = decide(Facts(Screened(outcome(), page(**later)), state(), TODAY, 2, reviewed=reviewed, current_meta=later))
    assert d.review_due is not None and d.review_due.kinds == ("review_due",)
    assert "no longer overdue" in d.review_due.note and d.changes == ()
    overdue = {"next_review_due": "2026-01-01"}
    d = decide(Facts(Screened(outcome(), page(**overdue)), state(), TODAY, 2, reviewed=reviewed,
                     current_meta=overdue))
    assert d.review_due is None and [c.kind for c in d.changes] == ["review_due"]


def test_the_stored_version_s_metadata_wins_over_the_page_s_own() -> None:
    """A 200 that stored no new version: the current version's metadata is what is judged."""
    reviewed = snapshot(1, V1)
    stored = {"next_review_due": "2026-01-01"}
    d = decide(Facts(Screened(outcome(), page(next_review_due="2029-01-01")), state(), TODAY, 2,
                     reviewed=reviewed, current_meta=stored))
    assert [c.kind for c in d.changes] == ["review_due"] and d.review_due is None

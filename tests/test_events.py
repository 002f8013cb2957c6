"""Page-level events: gone, moved, withdrawn, unreachable, change notes, review dates."""

from __future__ import annotations

import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from guidewatch.changes.events import (
    gone_event,
    metadata_events,
    moved_event,
    parse_day,
    unreachable_event,
    withdrawn_event,
)
from guidewatch.model import Block, Change, Page

EVENTS: list[dict[str, Any]] = tomllib.loads(
    (Path(__file__).parent / "data" / "severity_pairs.toml").read_text("utf-8")
)["event"]

URL = "https://www.gov.uk/guidance/advanced-therapy-medicinal-products-regulation-and-licensing"


def assert_page_level(change: Change) -> None:
    assert change.scope == "page"
    assert change.source_section == ()
    assert change.reason and change.id


@pytest.mark.parametrize("case", EVENTS, ids=[e["id"] for e in EVENTS])
def test_metadata_events_table(case: dict[str, Any]) -> None:
    changes = metadata_events(case.get("old"), case["new"], today=case["today"])
    assert [c.kind for c in changes] == case["kinds"]
    assert [c.severity for c in changes] == case.get("severities", [])
    for c in changes:
        assert_page_level(c)
    if "reason" in case:
        assert case["reason"] in changes[0].reason


def test_change_note_event_carries_the_note() -> None:
    old = {"change_note": "First published.", "change_note_at": "2021-01-01"}
    new = {"change_note": "Hospital exemption section updated.", "change_note_at": "2025-06-03"}
    (event,) = metadata_events(old, new, today=date(2025, 6, 10))
    assert event.kind == "change_note"
    assert event.reason == "GOV.UK change note: Hospital exemption section updated."
    assert (event.old, event.new) == ("First published.", "Hospital exemption section updated.")
    assert "3 June 2025" in event.context


def test_review_due_reason_counts_days() -> None:
    (event,) = metadata_events(None, {"next_review_due": "2025-06-01"}, today=date(2025, 6, 10))
    assert event.kind == "review_due"
    assert event.severity == "minor"
    assert event.reason == "next review was due 1 June 2025 (9 days overdue)"
    assert event.new == "2025-06-01"


def test_unparseable_review_date_gives_no_event() -> None:
    assert metadata_events(None, {"next_review_due": "soon"}, today=date(2025, 6, 10)) == []


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (404, "page not found (HTTP 404)"),
        (410, "page gone (HTTP 410)"),
        (200, "soft 404"),
        (None, "soft 404"),
        (451, "HTTP 451"),
    ],
)
def test_gone_event(status: int | None, reason: str) -> None:
    event = gone_event(URL, status)
    assert_page_level(event)
    assert event.kind == "gone"
    assert event.severity == "substantive"
    assert reason in event.reason
    assert event.old == URL


def test_moved_event_to_new_address_is_minor_and_keeps_both_urls() -> None:
    final = "https://www.gov.uk/government/publications/atmps-guidance"
    event = moved_event(URL, final)
    assert_page_level(event)
    assert (event.kind, event.severity) == ("moved", "minor")
    assert (event.old, event.new) == (URL, final)
    assert final in event.reason


def test_moved_event_equivalent_address_is_cosmetic() -> None:
    event = moved_event(
        "http://nhs.uk/conditions/genetic-and-genomic-testing",
        "https://www.nhs.uk/conditions/genetic-and-genomic-testing/",
    )
    assert event.severity == "cosmetic"


def test_moved_event_to_home_page_is_substantive() -> None:
    event = moved_event(URL, "https://www.gov.uk/")
    assert event.severity == "substantive"
    assert "home page" in event.reason


def test_moved_event_to_another_site() -> None:
    event = moved_event(
        "https://www.nhs.uk/conditions/genetic-and-genomic-testing/", "https://www.genomicsengland.co.uk/"
    )
    assert event.severity == "substantive"  # the home page of another site: the page is gone
    event = moved_event("https://www.nhs.uk/conditions/x/", "https://www.genomicsengland.co.uk/patients/x")
    assert event.severity == "minor" and "another site" in event.reason


def test_withdrawn_event_from_page_and_from_metadata() -> None:
    meta = {
        "withdrawn_at": "2024-11-05T10:00:00.000+00:00",
        "withdrawn_explanation": "This guidance has been replaced by the new clinical trials regulations.",
    }
    page = Page(URL, "govuk", "ATMPs", [Block(("ATMPs",), "heading", "ATMPs", 1)], metadata=meta)
    for arg in (page, {**meta, "url": URL}):
        event = withdrawn_event(arg)
        assert_page_level(event)
        assert (event.kind, event.severity) == ("withdrawn", "substantive")
        assert event.reason.startswith("page withdrawn on 5 November 2024: This guidance has been replaced")
        assert event.new == meta["withdrawn_explanation"]
        assert event.old == URL


def test_withdrawn_event_without_details() -> None:
    assert withdrawn_event({}).reason == "page withdrawn"


def test_unreachable_event() -> None:
    event = unreachable_event(
        URL, 5, datetime(2025, 6, 1, 6, 0), "TimeoutError: took longer than 180.0 seconds"
    )
    assert_page_level(event)
    assert (event.kind, event.severity) == ("unreachable", "minor")
    assert event.reason == (
        "unreachable: 5 failed checks in a row since 1 June 2025 "
        "(last error: TimeoutError: took longer than 180.0 seconds)"
    )
    assert unreachable_event(URL, 1, None, None).reason == "unreachable: 1 failed check in a row"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2027-03-12", date(2027, 3, 12)),
        ("2025-06-03T09:30:00+01:00", date(2025, 6, 3)),
        ("2025-06-03T09:30:00Z", date(2025, 6, 3)),
        ("12 March 2027", date(2027, 3, 12)),
        ("Next review due: 1st Sept 2026", date(2026, 9, 1)),
        (date(2025, 1, 2), date(2025, 1, 2)),
        ("31 February 2025", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_day(value: object, expected: date | None) -> None:
    assert parse_day(value) == expected

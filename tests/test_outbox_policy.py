"""The outbox's retry policy (`alerts.outbox`): doubling back-off, and when a delivery is given up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from guidewatch.alerts.outbox import after_failure, claim_name

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_retries_back_off_by_doubling_from_the_base() -> None:
    waits = []
    attempts = 0
    for _ in range(4):
        decided = after_failure(attempts, now=NOW, retry_base=30, max_attempts=5)
        assert not decided.dead and decided.attempts == attempts + 1
        assert decided.next_attempt_at is not None
        waits.append(decided.next_attempt_at - NOW)
        attempts = decided.attempts
    assert waits == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    last = after_failure(attempts, now=NOW, retry_base=30, max_attempts=5)
    assert last.dead and last.attempts == 5 and last.next_attempt_at is None  # the 5th failure gives up


def test_a_permanent_refusal_gives_up_at_once() -> None:
    decided = after_failure(0, now=NOW, retry_base=30, max_attempts=5, permanent=True)
    assert decided.dead and decided.attempts == 1 and decided.next_attempt_at is None


def test_one_attempt_allowed_means_no_retry() -> None:
    assert after_failure(0, now=NOW, retry_base=30, max_attempts=1).dead


def test_each_delivery_has_its_own_claim() -> None:
    assert claim_name(7) == "delivery:7" and claim_name(7) != claim_name(70)

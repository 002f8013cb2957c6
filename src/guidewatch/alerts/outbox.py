"""The outbox's retry policy: when a failed delivery is tried again, and when it is given up.

Pure decisions; the store records what they return.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

#: How long a delivery claim lasts without renewal before another run may take it over.
DELIVERY_LEASE = timedelta(minutes=10)

#: Longest error text kept on a delivery.
MAX_ERROR = 2000


@dataclass(frozen=True)
class AfterFailure:
    """What one failed attempt leaves: the attempt count, and either a retry time or dead."""

    attempts: int
    dead: bool
    next_attempt_at: datetime | None


def after_failure(attempts: int, *, now: datetime, retry_base: float, max_attempts: int,
                  permanent: bool = False) -> AfterFailure:
    """`attempts` made before this one. Retries back off by doubling (`retry_base` seconds
    first); a `permanent` refusal or the `max_attempts`th failure gives the delivery up."""
    made = attempts + 1
    if permanent or made >= max_attempts:
        return AfterFailure(made, True, None)
    return AfterFailure(made, False, now + timedelta(seconds=retry_base * 2 ** (made - 1)))


def claim_name(delivery_id: int) -> str:
    """Name of the lock row recording which process claimed a delivery."""
    return f"delivery:{delivery_id}"

"""Which passage a change is about, and what a newly detected change does to the alerts
already open on that passage: the alert lifecycle's superseding rules.

Pure policy: the store asks these functions and persists what they decide.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from guidewatch.model import RANK, Change, Impact

#: Page-level events that end when the source answers again.
RECOVERABLE_EVENTS = ("gone", "unreachable")

#: Why an open alert was closed without an editor.
NO_LONGER_DIFFERS = "passage no longer differs"
ANSWERS_AGAIN = "source answers again"


def passage_key(source_id: int, change: Change) -> str:
    """Identity of the changed passage, stable across crawls: a block change is its source
    section and old text, a page-level event its kind."""
    raw = json.dumps([source_id, change.scope, change.kind if change.scope == "page" else "",
                      list(change.source_section), change.old if change.scope == "block" else ""])
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class OpenAlert:
    """An alert still open, with the change it was raised for."""

    id: int
    passage: str
    scope: str
    new: str
    severity: str


@dataclass(frozen=True)
class PriorEvent:
    """The last change recorded on a page-level passage (open, accepted or superseded)."""

    new: str
    kind: str
    answered_since: bool  # the source was fetched successfully after it was detected


def on_passage(open_alerts: Sequence[OpenAlert], passage: str) -> list[OpenAlert]:
    """The open alerts a change on `passage` supersedes."""
    return [a for a in open_alerts if a.passage == passage]


def is_repeat(change: Change, same: Sequence[OpenAlert], prior: Callable[[], PriorEvent | None]) -> bool:
    """Whether `change` says nothing new: its open alerts (`same`) already say it, or it is a
    page-level event already recorded (and perhaps accepted). A failure that cleared in between
    is news again: a second outage. `prior` is asked only for a page-level event with no open alert."""
    if change.scope == "page" and not same:
        last = prior()
        if last is not None and last.new == change.new and not (last.kind in RECOVERABLE_EVENTS
                                                                and last.answered_since):
            return True
    return bool(same) and all(a.new == change.new and a.severity == change.severity for a in same)


def alert_guides(change: Change, impacts: Sequence[Impact], min_severity: str) -> list[str]:
    """The guides to alert about a recorded change: one alert per guide it affects, none when
    it is less serious than `min_severity`."""
    if RANK[change.severity] < RANK[min_severity]:
        return []
    return sorted({i.guide for i in impacts})


def stale_block_alerts(open_alerts: Sequence[OpenAlert], seen: Collection[str]) -> list[int]:
    """Open block alerts whose passage this comparison no longer reports: the page went back,
    or the text moved on so far that the old passage is gone. (Alerts on a `seen` passage were
    superseded by its new change, or still stand.)"""
    return [a.id for a in open_alerts if a.scope == "block" and a.passage not in seen]

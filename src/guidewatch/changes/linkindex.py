"""Shortcuts for the linker that change none of its output (issue 20: a 500 KB page in < 1 s).

The linker asks `claims.meet` about every (claim, guide sentence) pair of every guide citing
the page. Shortcuts, all switched off by `plain()` so tests can compare:

* A change's claims are built once for all the guides it is linked to, so every guide scores
  the same `Claim` objects (the scorer's caches then find them by identity, not by comparing
  their term sets).

tests/test_link_speed.py checks the outputs are identical on every labelled set and a large
generated page.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields

from guidewatch.changes.claims import Claim, claims_of
from guidewatch.model import Change

_enabled = True


@contextmanager
def plain() -> Iterator[None]:
    """The linker without these shortcuts: the reference the equivalence tests compare with."""
    global _enabled
    was, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = was


def _key(change: Change) -> tuple:
    """Every field of the change, hashable: the claims depend on nothing else."""
    values = (getattr(change, f.name) for f in fields(change))
    return tuple(tuple(v) if isinstance(v, list | tuple) else v for v in values)


_last: tuple[tuple, list[Claim]] | None = None  # one change is linked to every guide in a row


def claims(change: Change) -> list[Claim]:
    """The change's claims, the same objects for every guide it is linked to; callers must not modify them."""
    global _last
    if not _enabled:
        return claims_of(change)
    key, last = _key(change), _last  # one read of _last: another thread may replace it
    if last is None or last[0] != key:
        last = _last = (key, claims_of(change))
    return last[1]

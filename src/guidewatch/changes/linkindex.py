"""Shortcuts for the linker that change none of its output (issue 20: a 500 KB page in < 1 s).

The linker asks `claims.meet` about every (claim, guide sentence) pair of every guide citing
the page. Shortcuts, all switched off by `plain()` so tests can compare:

* A change's claims are built once for all the guides it is linked to, so every guide scores
  the same `Claim` objects (the scorer's caches then find them by identity, not by comparing
  their term sets).
* A guide sentence none of the change's claims can meet is never asked, and a section none of
  whose sentences can give a body hit is skipped whole. Why that is exact, from meet() and
  link._score:
  - meet() returns None unless the changed (kind 0) or kept (kind 1) terms weigh something
    ("only the source's heading path meets"); those are exactly the claim's `core` terms
    (`delta` is a subset of `core`, the rest of `words` is `context`), met in the sentence
    or its section heading. A sentence sharing no `core` term with any claim gives no hit.
  - _score drops a section unless some hit has `body`: a term met in the sentence itself
    that is not a named body. A section where no sentence left by the first rule shares a
    non-body term of the claims' `words` cannot score.
  Only sentences that cannot give a hit are left out, in their order: best_hits sees the rest
  as before. `best_hits` applies the first rule per claim too: claims.best_hits, asking meet()
  only about the claims that share a core term with the sentence.
* `best_hits` reads each claim's terms against a section's heading once, not once per sentence
  (the sentences of a section share one heading), and builds a `Hit` only for the claim that
  wins each sentence (the first of the best scores, as max() keeps): the rest are never seen.
  It reads the claims (claims._plan) once per change and guide, not once per section.
* Whether a citation points at the source is asked once per (cited URL, source URL): every
  change of a page asks it again for every guide (`same_source`, a cached sources.sites.same_source).

tests/test_link_speed.py checks the outputs are identical on every labelled set and a large
generated page.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields
from functools import lru_cache
from operator import attrgetter

from guidewatch.changes import claims as _claims
from guidewatch.changes.claims import BODY_TERMS, Claim, Hit, Unit, Weights, claims_of, hit
from guidewatch.model import Change
from guidewatch.sources.sites import same_source as _sites_same_source

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


def forget_claims() -> None:
    """Empty the scorer's caches keyed by claim once a page's changes are linked: a later page's
    changes build new claims, so at N = 10,000 they only held ~8 MB of dead claims (issue 20)."""
    global _last, _last_plans
    _last = _last_plans = None
    for cached in (_claims.figure_terms, _claims.numeric):
        cached.cache_clear()


@lru_cache(maxsize=4096)
def _same_source(cited: str, source: str) -> bool:
    return _sites_same_source(cited, source)


def same_source(cited: str, source: str) -> bool:
    """sources.sites.same_source, cached: it depends on the two URLs and the built-in profiles only."""
    return _same_source(cited, source) if _enabled else _sites_same_source(cited, source)


class GuideTerms:
    """Per section of a guide, its sentences with the terms each can be met on (sentence and heading)."""

    def __init__(self, units: Mapping[str, Sequence[Unit]]) -> None:
        self.units = units
        self.sections: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
        for sid, us in units.items():
            body = frozenset().union(*(u.terms for u in us))
            self.sections[sid] = (body, frozenset().union(*(u.heading for u in us)))


class Probe:
    """One change's claims, read for what any of them could meet."""

    def __init__(self, claims: Sequence[Claim]) -> None:
        self.core: frozenset[str] = frozenset().union(*(c.core for c in claims))
        self.body: frozenset[str] = frozenset().union(*(c.words for c in claims)) - BODY_TERMS
        self.few = len(claims) <= 2

    def units(self, guide: GuideTerms, section: str) -> Sequence[Unit]:
        """The section's sentences that can meet a claim, in order; none when the section cannot score.

        With one or two claims, every sentence of a section where some may meet one: best_hits asks
        each sentence about each claim's core terms anyway, and a sentence sharing none gives no hit;
        a section whose hits would all lack a body term is then dropped by link._score, not here.
        """
        units = guide.units[section]
        if not _enabled:
            return units
        body, heading = guide.sections[section]
        words = self.body
        if words.isdisjoint(body):
            return ()  # no sentence states a non-body term of the claims: no body hit
        core = self.core
        if self.few:
            return () if core.isdisjoint(body) and core.isdisjoint(heading) else units
        kept: list[Unit] = []
        stated = False  # some sentence kept states a non-body term of the claims
        if core.isdisjoint(heading):
            for u in units:
                if not core.isdisjoint(u.terms):
                    kept.append(u)
                    stated = stated or not words.isdisjoint(u.terms)
        else:  # a heading meets a core term
            for u in units:
                if not (core.isdisjoint(u.terms) and core.isdisjoint(u.heading)):
                    kept.append(u)
                    stated = stated or not words.isdisjoint(u.terms)
        return kept if stated else ()


_Seen = dict[frozenset[str], dict[object, "_claims._Met | None"]]
_Plans = tuple[Sequence[Claim], Weights, list[_claims._Plan], list[_Seen | None], list[frozenset[str] | None]]
_last_plans: _Plans | None = None
_UNSEEN = object()


def _seen(plan: _claims._Plan) -> _Seen | None:
    """Where best_hits keeps a plan's answers in one guide, by the terms a sentence's heading and the
    sentence itself state: all _meet reads of a sentence (and, for a figure-only claim, whether it states
    a figure; it reads `removed` of the sentence's terms, and `removed` <= `words`), unless it meets a term
    of a name the claim writes (_meet then reads the sentence's text for that name). None: not kept."""
    return {} if plan.removed <= plan.words else None


def best_hits(claims: Sequence[Claim], units: Sequence[Unit], weigh: Weights) -> list[Hit]:
    """claims.best_hits, asking meet() only about the claims sharing a core term with each sentence,
    reading a section's heading once per claim, building a `Hit` only for each sentence's best claim,
    and scoring a claim once per guide for the sentences that state the same terms of it."""
    if not _enabled:
        return _claims.best_hits(claims, units, weigh)
    if not units:
        return []  # a section Probe.units left nothing of
    global _last_plans
    last = _last_plans  # one read: another thread may replace it
    if last is not None and last[0] is claims and last[1] is weigh and len(last[2]) == len(claims):
        # the next section of the same guide and change: the same claims, read once
        plans, seens, names = last[2], last[3], last[4]
    else:
        plans = [_claims._plan(c, weigh) for c in claims]
        seens = [_seen(p) for p in plans]  # the last guide's are dropped: a guide is scored once per change
        names = [p.name_terms if p.names else None for p in plans]
        _last_plans = (claims, weigh, plans, seens, names)
    meet = _claims._meet
    hits: list[Hit] = []
    heading: frozenset[str] | None = None
    asked: list[tuple[_claims._Plan, Claim, frozenset[str], frozenset[str], frozenset[str], bool, dict | None,
                      bool, frozenset[str] | None]] = []
    for unit in units:
        if unit.heading is not heading:  # a section's sentences share one heading
            heading = unit.heading
            asked = []
            for p, c, seen, named in zip(plans, claims, seens, names, strict=True):
                h = p.words & heading
                if seen is not None:
                    seen = seen[h] if h in seen else seen.setdefault(h, {})
                if named is not None and not named.isdisjoint(h):
                    seen = None  # every sentence here meets a term of a name
                asked.append((p, c, p.core, p.words, h, not p.core.isdisjoint(heading), seen, p.numeric, named))
        terms = unit.terms
        best, by = None, None
        for plan, claim, core, words, in_heading, core_heading, seen, numeric, named in asked:
            if not core_heading and core.isdisjoint(terms):
                continue
            in_body = words & terms
            if seen is None or (named is not None and not named.isdisjoint(in_body)):
                found = meet(plan, unit, in_body, in_heading)
            else:
                key = (in_body, unit.figure) if numeric else in_body
                found = seen.get(key, _UNSEEN)
                if found is _UNSEEN:
                    found = seen[key] = meet(plan, unit, in_body, in_heading)
            if found is not None and (best is None or found[0] > best[0]):  # the first best, as max() keeps
                best, by = found, claim
        if best is not None and by is not None:
            hits.append(hit(best, unit, by))
    hits.sort(key=attrgetter("score"), reverse=True)  # stable, as sorted(key=-score)
    return hits

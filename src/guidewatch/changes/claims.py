"""The changed claim, and where a guide asserts it.

A page change is scored by what it changes, not by what the page is about: each changed
sentence becomes a `Claim` (its words, the words only one version has, and the lead-in,
neighbouring sentence and heading path it sits in), and each guide sentence is asked how
much of that claim it asserts. Words that the guide uses in most sections are context,
not evidence; named bodies count only when the change is about them; heading words alone
never decide; numerals meet number words ("1" / "one"). A whole added or removed block is
compared sentence by sentence, never as one bag of words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cached_property, lru_cache
from operator import itemgetter

from guidewatch.changes.wording import _NUMBER_WORDS as _NUMBER_WORDS  # the tokeniser, as surfaces.py reads it
from guidewatch.changes.wording import _STOP as _STOP
from guidewatch.changes.wording import _SYNONYMS as _SYNONYMS
from guidewatch.changes.wording import _TOKEN as _TOKEN
from guidewatch.changes.wording import phrases, sentences, terms
from guidewatch.changes.wording import stem as stem
from guidewatch.model import Change

# Named bodies: evidence only when the change is about them (they are in the changed words).
BODY_TERMS = frozenset({"mhra", "nice", "hta", "hra", "cqc", "hfea", "nhs", "ema", "icb", "abi", "nhse"})
# Words that say what kind of text a heading is, not what it is about.
_GENERIC = frozenset(
    {"question", "ask", "faq", "medicin", "treatment", "guid", "inform", "patient", "know", "need", "thing",
     "option", "work", "use", "mean", "uk", "get", "happen", "can", "help", "care", "team", "your", "what"}
)  # fmt: skip
_NAME = re.compile(r"\b[A-Z][A-Za-z0-9’'-]*(?:[ \t]+[A-Z][A-Za-z0-9’'-]*)+")

ROLE_DELTA, ROLE_CORE, ROLE_CONTEXT = 1.0, 0.55, 0.3
ROLE_REMOVED = 1.25  # the guide still says the words the source took out
HEADING_SHARE = 0.7  # a word met only in the section's heading
FIGURE_DAMP, FIGURE_SUPPORT = 0.45, 0.2  # changed figures met with < this weight of other words


# --- the claim ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """One changed sentence, as the editor reads it, and its terms by role."""

    sentence: str  # the sentence as it now reads (as it read, when removed)
    core: frozenset[str]  # terms of the changed sentence, both versions
    delta: frozenset[str]  # terms only one version has: what changed
    removed: frozenset[str]  # terms only the old version has
    context: frozenset[str]  # lead-in, neighbouring sentence and heading path
    added: bool = False  # a sentence with no old version (or no new one): all of it is news
    names: tuple[tuple[str, frozenset[str]], ...] = ()  # proper names in it ("Lynch Syndrome UK"), with their terms
    lead_in: frozenset[str] = frozenset()  # an item added or removed alone: its list's lead-in, where it sits
    phrases: frozenset[str] = frozenset()  # its pairs written as one phrase ("breast cancer", not "risk breast")

    def __hash__(self) -> int:
        """Cached: the scorer's caches hash the claim on every guide sentence it meets."""
        return self._hash

    @cached_property
    def _hash(self) -> int:
        return hash((self.sentence, self.core, self.delta, self.removed, self.context, self.added, self.names,
                     self.lead_in, self.phrases))

    @cached_property
    def reading(self) -> _Reading:
        """What meet() reads of the claim in any guide: once per claim, not per guide citing the page."""
        return _reading(self)

    @cached_property
    def plans(self) -> dict[Weights, _Plan]:
        """meet()'s reading of the claim per guide, kept with the claim: it dies with the page's claims."""
        return {}

    @cached_property
    def words(self) -> frozenset[str]:
        """Every term that can meet a guide sentence (cached: meet() asks for it per guide sentence)."""
        return self.core | self.context

    def role(self, term: str) -> float:
        if term in self.removed:
            return ROLE_REMOVED
        if term in self.delta:
            return ROLE_DELTA
        return ROLE_CORE if term in self.core else ROLE_CONTEXT


def claims_of(change: Change) -> list[Claim]:
    """The change's claims: one per changed sentence, paired old with new where they align.

    A sentence added or removed on its own is read with what it hangs on: the list's lead-in
    ("... include:") or the sentence next to it in the block. Those words must meet the guide
    too, so a new list item does not match every section that shares one of its words.
    """
    context, lead, siblings = _context_terms(change)
    if change.kind == "change_note":
        return [_claim("", s, context, frozenset()) for s in sentences(change.new)]
    old, new = sentences(change.old), sentences(change.new)
    out: list[Claim] = []
    matcher = SequenceMatcher(None, [_key(s) for s in old], [_key(s) for s in new], autojunk=False)
    kept = set(old) & set(new)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        for o, n in _pair(old[i1:i2], new[j1:j2]):
            block, sentence = (new, n) if n else (old, o)
            near = _neighbour(block, sentence, kept, always=not (o and n))
            if not (o and n) and len(block) == 1:
                near |= siblings  # one item added or removed: it lives where its neighbours are
            out.append(_claim(o, n, context, lead | near, lead if not (o and n) else frozenset()))
    if not out and (change.old or change.new):  # same sentences, other order or spacing: a move
        out = [_claim(s, s, context, frozenset()) for s in new or old]
    return out


def _key(sentence: str) -> str:
    return " ".join(terms(sentence)) or sentence.lower()


def _pair(old: Sequence[str], new: Sequence[str]) -> list[tuple[str, str]]:
    """Each new sentence with the old one it most resembles; leftovers stand alone."""
    pairs: list[tuple[str, str]] = []
    free = list(old)
    for n in new:
        words = set(terms(n))
        best = max(free, key=lambda o: len(words & set(terms(o))), default=None)
        if best is not None and words & set(terms(best)):
            free.remove(best)
            pairs.append((best, n))
        else:
            pairs.append(("", n))
    return pairs + [(o, "") for o in free]


def _claim(
    old: str, new: str, context: frozenset[str], lead: frozenset[str], lead_in: frozenset[str] = frozenset()
) -> Claim:
    t_old, t_new = frozenset(terms(old)), frozenset(terms(new))
    core = t_old | t_new
    delta = t_old ^ t_new
    names = names_in(old + "\n" + new)
    if not old or not new:
        delta = core  # all of it is news, read with what it hangs on
        if not lead - core:
            return Claim(new or old, core, delta, frozenset(), context - core, added=True, names=names,
                     phrases=phrases(old + "\n" + new))
        return Claim(new or old, core | lead, delta, frozenset(), context - core - lead, names=names,
                     lead_in=lead_in - core, phrases=phrases(old + "\n" + new))
    if not delta:  # only function words changed ("must" -> "should", "one" -> "one or both"): all of it is the claim
        delta = core
    return Claim(new, core | lead, delta, t_old - t_new, context - core - lead, names=names,
                     phrases=phrases(old + "\n" + new))


def names_in(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """Proper names: runs of two or more capitalised words ("Lynch Syndrome UK", "BRCA Network").

    A name stands for one body, not for its words: "Lynch Syndrome UK" is a charity, and meets
    a sentence about Lynch syndrome only where that sentence names the charity.
    """
    out = []
    for m in _NAME.finditer(text):
        name = re.sub(r"^(?:The|A|An|In|On|From|For)\s+", "", m.group())
        if " " in name:
            out.append((name.lower(), frozenset(terms(name))))
    return tuple(dict.fromkeys(out))


def _neighbour(block: Sequence[str], sentence: str, kept: set[str], always: bool = False) -> frozenset[str]:
    """The unchanged sentence before a short or pronoun-led one: "This usually takes 3 to 5 weeks."
    needs it. A sentence added or removed on its own (`always`) is read with its unchanged
    neighbour in the block; a block added or removed whole has none, and each sentence stands alone.
    """
    if sentence not in block or len(block) < 2:
        return frozenset()
    i = block.index(sentence)
    short = len(terms(sentence)) <= 10 or re.match(r"(?i)(this|it|they|these|that|the same)\b", sentence)
    if not (always or short):
        return frozenset()
    near = [x for x in (block[i - 1] if i else None, None if i or not always else block[1]) if x in kept]
    return frozenset(terms(near[0])) if near else frozenset()


def _context_terms(change: Change) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The heading path (context), the list's lead-in before the change ("... include:"), and the
    neighbouring sentences or list items around it (where an item added or removed on its own lives)."""
    before, _, after = change.context.partition("[…]") if change.context else ("", "", "")
    before, after = before.strip(), after.strip()
    heading = frozenset(terms(" / ".join(change.source_section).replace(" / ", ". ")))
    near = sentences(after)[:1]
    if before.endswith(":"):
        return heading, frozenset(terms(before)), frozenset(t for s in near for t in terms(s))
    if before:
        near = sentences(before)[-1:] + near
    return heading | frozenset(terms(before)), frozenset(), frozenset(t for s in near for t in terms(s))


# --- the guide side -----------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One sentence of a guide section, with its terms and the section heading's."""

    section: str
    text: str
    terms: frozenset[str]
    heading: frozenset[str]

    @cached_property
    def figure(self) -> bool:
        """The sentence states some figure ("3 in 10"): asked for every claim where only a figure changed."""
        return any(t[0].isdigit() for t in self.terms)


class Weights:
    """How much meeting a term says: rare in the guide says more; words in most sections say little."""

    def __init__(self, texts: Iterable[str]) -> None:
        docs = [frozenset(terms(t)) for t in texts]
        self.n = max(2, len(docs))
        self.df: dict[str, int] = {}
        for d in docs:
            for t in d:
                self.df[t] = self.df.get(t, 0) + 1
        # Each guide's own cache, freed with its index: an lru_cache on the method kept every
        # guide's Weights alive after the index cache dropped it (5.6 MB of a 10,000-source crawl).
        self._known: dict[str, float] = {}

    def __call__(self, term: str) -> float:
        w = self._known.get(term)
        if w is None:
            w = self._known[term] = self._weigh(term)
        return w

    def _weigh(self, term: str) -> float:
        df = self.df.get(term, 0)
        w = (math.log((self.n + 1) / (df + 1)) / math.log(self.n + 1)) ** 2  # squared: rare terms stand out
        trust = min(1.0, self.n / 8)  # a guide of few sections says little about rarity: lean on a prior
        w = trust * w + (1 - trust) * _PRIOR_WEIGHT
        if df / self.n >= 0.5:
            w *= 1 - 0.75 * trust  # the guide's subject ("IVF", "CAR-T"): context, not evidence
        if " " in term:
            w *= 1.3
        elif term[0].isdigit():
            w *= 0.6  # a bare number means less than its pair with the unit ("5 week")
        return max(0.0, w)


@dataclass(frozen=True)
class Hit:
    """How one claim meets one guide sentence."""

    score: float
    anchor: float  # weight of changed words the sentence states (or of the claim it restates, its subject)
    changed: float  # weight of the changed words alone that the sentence states
    body: bool  # some term met in the sentence itself, not only in the heading
    met: tuple[tuple[float, str], ...]  # (weight, term) of the terms met, in the order they were weighed
    unit: Unit
    claim: Claim

    @cached_property
    def shared(self) -> tuple[str, ...]:
        """The terms met, strongest first (ties in weighing order); ranked when asked, as most hits never are."""
        return tuple(t for _, t in sorted(self.met, key=itemgetter(0), reverse=True))


_SCALE = 1.0
_PRIOR_WEIGHT = 0.5
SUBJECT, SUBJECT_FLOOR = 0.45, 0.5  # a kept phrase this rare in the guide names the claim's subject
RESTATE_FLOOR, RESTATE_MIN = 0.4, 0.5  # a restating sentence scores at least the floor; the claim needs substance
_NAME_DAMP = 0.15  # a name's words met outside that name: as little as a body met by mere presence
RESTATES = 0.4  # a guide sentence with this share of the claim's kept words restates it


class _Plan:
    """What meet() asks of one claim in one guide, worked out once: every term's weight in a
    sentence and in a heading, and the claim's figures (issue 20: ~140,000 meetings per large page)."""

    __slots__ = ("added", "beside", "changed_figures", "core", "figures", "label", "lead_context", "name_terms",
                 "names", "numeric", "removed", "terms", "whole", "words")

    def __init__(self, claim: Claim, weigh: Weights) -> None:
        # not the claim itself: the claim keeps its plans, and a cycle would wait for the garbage collector
        self.words, self.core, self.removed = claim.words, claim.core, claim.removed
        self.added, self.names = claim.added, claim.names
        self.name_terms: frozenset[str] = frozenset().union(*(ts for _, ts in claim.names))  # damped by the text
        rows, self.numeric, self.figures, self.changed_figures, self.beside, self.lead_context = claim.reading
        # term -> (weight, kind: 0 changed / 1 kept / 2 context, subject weight met in the sentence,
        #          weight met in the heading only, the heading's factor)
        self.terms: dict[str, tuple[float, int, float, float, float]] = {}
        known = weigh._known  # weigh(term), without the call for a term already weighed in this guide
        for term, role, body, kind, subject, share in rows:
            guide = known.get(term)
            if guide is None:
                guide = weigh(term)
            w = guide * role
            if body:
                w *= 0.15  # a body met by mere presence: the change is not about it
            self.terms[term] = (w, kind, guide if subject else 0.0, w * share, share)
        self.whole = claim_weight(claim, weigh)
        # what a changed figure is said of, above all: its rarest word in this guide ("cocaine" in
        # "cocaine: 5 micrograms per litre of blood")
        self.label = min(self.beside, key=lambda t: (-self.terms[t][0], t), default="") if self.numeric else ""


_Reading = tuple[
    tuple[tuple[str, float, bool, int, bool, float], ...], bool, frozenset[str], frozenset[str], frozenset[str],
    frozenset[str],
]


def _reading(claim: Claim) -> _Reading:
    """What _Plan needs of the claim whatever the guide: per term its role, whether it is a body
    met by mere presence, its kind, whether it can name the subject, its heading factor; then the
    claim's figures and the words that place them."""
    rows = []
    for term in claim.words:
        kind = 0 if term in claim.delta else 1 if term in claim.core else 2
        # a kept phrase, written as one, can name the subject; the lead-in is where it sits
        subject = kind == 1 and term in claim.phrases and term not in claim.lead_in
        rows.append((term, claim.role(term), term in BODY_TERMS and term not in claim.delta, kind, subject,
                     HEADING_SHARE * (0.2 if term in _GENERIC else 1.0)))
    figures = figure_terms(claim)
    units = {p.split()[1] for p in claim.delta if " " in p and p[0] in "~0123456789"}
    # a figure-only claim meets a sentence stating one of these: a word it says the figure of
    beside = frozenset(
        t for t in claim.core - claim.delta if " " not in t and t not in units and t[0] not in "~0123456789"
    )
    return tuple(rows), numeric(claim), figures, figures & claim.delta, beside, claim.lead_in | claim.context


def _plan(claim: Claim, weigh: Weights) -> _Plan:
    plans = claim.plans
    plan = plans.get(weigh)
    if plan is None:
        plan = plans[weigh] = _Plan(claim, weigh)
    return plan


def meet(claim: Claim, unit: Unit, weigh: Weights) -> Hit | None:
    """The claim against one guide sentence; None when they share nothing that counts."""
    plan = _plan(claim, weigh)
    found = _meet(plan, unit, plan.words & unit.terms, plan.words & unit.heading)
    return None if found is None else hit(found, unit, claim)


_new = object.__new__


def hit(found: _Met, unit: Unit, claim: Claim) -> Hit:
    """Hit(*found, unit, claim), its fields written at once: the frozen dataclass's __init__ sets
    them one object.__setattr__ at a time, ~3x slower over ~80,000 hits per bench page (issue 20)."""
    out = _new(Hit)
    fields = out.__dict__
    fields["score"], fields["anchor"], fields["changed"], fields["body"], fields["met"] = found
    fields["unit"], fields["claim"] = unit, claim
    return out


_Met = tuple[float, float, float, bool, tuple[tuple[float, str], ...]]


def _meet(plan: _Plan, unit: Unit, in_body: frozenset[str], in_heading: frozenset[str]) -> _Met | None:
    """meet() without the Hit, given the claim's terms the sentence and its heading state:
    (score, anchor, changed, body, met). best_hits builds a Hit for each sentence's best claim only."""
    if in_heading:
        met = sorted(in_body | in_heading) if in_body else sorted(in_heading)
    elif in_body:
        met = sorted(in_body)
    else:
        return None  # set operations first: most sentences share nothing
    anchor = kept = support = subject = 0.0  # changed, kept and context weight met
    dropped = False  # some term met weighs nothing in this guide (it is in every section)
    shared: list[tuple[float, str]] = []
    weighed = plan.terms
    # the sentence's text is read for the claim's names only when it meets a term of one
    other = _other_names(plan.names, unit.text) if plan.names and not plan.name_terms.isdisjoint(met) else None
    for term in met:  # a fixed order: float sums and ties the same in every process
        w, kind, pair, heading_w, share = weighed[term]
        if other and term in other:
            w *= _NAME_DAMP
            heading_w = w * share
        if term in in_body:
            subject = pair if pair > subject else subject  # max() without the call
        else:
            w = heading_w
        if w > 0:
            if kind == 0:
                anchor += w
            elif kind == 1:
                kept += w
            else:
                support += w
            shared.append((w, term))
        else:
            dropped = True
    if not anchor and not kept:
        return None  # nothing met, or only the source's heading path: the page's topic, not the claim
    if anchor and plan.numeric and plan.beside.isdisjoint(in_body):
        return None  # the same figure said of something else ("24 hours a day" vs "report within 24 hours")
    total = anchor + kept + support
    changed_figures = plan.changed_figures
    if not changed_figures.isdisjoint(met) and (not dropped or not changed_figures.isdisjoint(t for _, t in shared)):
        figures = plan.figures  # the changed figures, met with next to nothing else the claim says: the same
        if sum([w for w, t in shared if t not in figures]) < FIGURE_SUPPORT:  # age or count said of something else
            total *= FIGURE_DAMP  # "from the age of 40" met in a sentence about something else at 40
    restates = False
    whole = plan.whole
    cover = kept / whole if kept and whole else 0.0
    off_figure = False  # only a figure changed, and this sentence neither states it nor restates the claim
    if not plan.added:
        restates = cover >= RESTATES and whole >= RESTATE_MIN and not in_body <= plan.lead_context
        off_figure = anchor == 0 and not restates and plan.numeric
        if restates and anchor == 0 and plan.numeric and unit.figure and plan.label and plan.label not in in_body:
            return None  # its own figure for the same measure, said of something else (THC's limit, not cocaine's)
        if off_figure and not unit.figure:
            return None  # a figure changed, and this sentence states no figure for anything ("3 in 10" would do)
        if anchor == 0 and not restates:
            total *= 0.45 if off_figure else 0.65  # the sentence meets the topic, none of the words that changed
        elif cover < 0.15 and not (cover >= 0.08 and not plan.removed.isdisjoint(in_body)):  # removed <= words
            total *= 0.45  # the changed words, in a sentence about something else
    score = 1 - math.exp(-total / _SCALE)
    if restates:
        floor = RESTATE_FLOOR + (1 - RESTATE_FLOOR) * (cover if cover < 1.0 else 1.0)  # min() and max()
        score = floor if floor > score else score  # without the calls: the same values
    changed = anchor
    if subject >= SUBJECT and not off_figure:  # the sentence names what the claim is about, in words rare in the guide
        score = SUBJECT_FLOOR if score < SUBJECT_FLOOR else score
        anchor = subject if subject > anchor else anchor
    body = not in_body <= BODY_TERMS  # some term met in the sentence is not a named body
    return score, kept if restates and kept > anchor else anchor, changed, body, tuple(shared)


@lru_cache(maxsize=4096)
def figure_terms(claim: Claim) -> frozenset[str]:
    """The claim's figures and what they count: numbers, pairs with a number ("age 40", "2 embryo"),
    the word after a number ("embryo", "day") or an age, and pairs of those ("woman age")."""

    def figure(t: str) -> bool:
        return t[0] in "~0123456789"

    pairs = [t.split() for t in claim.words if " " in t]
    units = {b for a, b in pairs if figure(a) and not figure(b)} | {"age"}
    return frozenset(
        t for t in claim.words
        if figure(t) or t in units or (" " in t and any(figure(w) for w in t.split()))
        or (" " in t and all(w in units for w in t.split()))
    )


def _other_names(names: tuple[tuple[str, frozenset[str]], ...], text: str) -> frozenset[str]:
    """Terms of the claim's names that the guide sentence writes neither as that name nor as its
    initials ("Health Research Authority", "HRA"); meet() asks only when the claim names something."""
    lowered, words = _lowered_words(text)
    return frozenset(
        t for name, ts in names if name not in lowered and "".join(w[0] for w in name.split()) not in words
        for t in ts
    )


@lru_cache(maxsize=16384)
def _lowered_words(text: str) -> tuple[str, frozenset[str]]:
    """A guide sentence lower-cased, and its words: read once, asked for every claim naming a body."""
    lowered = text.lower()
    return lowered, frozenset(re.findall(r"[a-z]+", lowered))


@lru_cache(maxsize=4096)
def numeric(claim: Claim) -> bool:
    """Only figures changed ("£986" -> "£1,250", "35" -> "36"): the claim is that figure."""
    changed = [t for t in claim.delta if " " not in t]
    return bool(changed) and all(t[0].isdigit() or t[0] == "~" for t in changed)


def claim_weight(claim: Claim, weigh: Weights) -> float:
    """Weight of the claim's kept words: what the sentence is about besides what changed. Summed in
    sorted order, as meet() sums what it met: a sentence stating all of them covers exactly 1.0 in
    every process (in set order the last bit moved with the hash seed, and a restatement's floor with it)."""
    return sum([weigh(t) * ROLE_CORE for t in sorted(claim.core - claim.delta)])


def best_hits(claims: Sequence[Claim], units: Sequence[Unit], weigh: Weights) -> list[Hit]:
    """Every unit's best hit over the claims, strongest first."""
    hits: list[Hit] = []
    for unit in units:
        found = [h for h in (meet(c, unit, weigh) for c in claims) if h]
        if found:
            hits.append(max(found, key=lambda h: h.score))
    return sorted(hits, key=lambda h: -h.score)


__all__ = [
    "BODY_TERMS", "Claim", "Hit", "Unit", "Weights", "best_hits", "claims_of", "meet", "sentences", "terms",
]

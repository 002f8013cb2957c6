"""Link source changes to the guide sections an editor must re-read, and say why.

For every guide that cites the source (URL match that ignores scheme, www., trailing slash,
and follows a page that moved within its site), each changed sentence of the passage becomes
a claim (claims.py) and each guide sentence is asked how much of it it asserts: the changed
words weigh most, the guide's everyday subject words little, named bodies only when the change
is about them. A section's best sentence (plus a little for a second) is its score.

Two tiers: *re-read* needs a confident hit on the changed words; *related* is worth a glance.
An FAQ answer and the body section it restates (found from the guide alone) share a confident
hit. Editors' "not relevant" marks keep a (section, source passage) pair out until a change
meets what the section asserts. Missing an affected section leaves a stale medical claim live,
so the cut favours recall. Page-level events (gone, moved, withdrawn, unreachable, review due)
flag the citing sections at 1.0; a change note is linked like a passage, plus the citing sections.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache

from guidewatch.changes.claims import BODY_TERMS, Claim, Hit, Unit, Weights
from guidewatch.changes.claims import sentences as claim_sentences
from guidewatch.changes.claims import terms as claim_terms
from guidewatch.changes.linkindex import GuideTerms, Probe, best_hits, forget_claims
from guidewatch.changes.linkindex import claims as linked_claims
from guidewatch.changes.linkindex import same_source as cites_source
from guidewatch.changes.passage import Passage, _content_tokens, passage_of, sentences, word_ops
from guidewatch.changes.reword import moves
from guidewatch.changes.subject import judge_subject, known_terms
from guidewatch.changes.surfaces import surfaces
from guidewatch.changes.tfidf import pairwise
from guidewatch.model import Change, Citation, Dismissal, Guide, Impact, Section, Tier
from guidewatch.sources.sites import same_source, url_key

DEFAULT_THRESHOLD = 0.30  # the related tier's floor, for the change's best section
RELATIVE_CUT = 0.7  # a related section scores at least this share of the change's best section
PAGE_KINDS = frozenset({"gone", "withdrawn", "unreachable", "review_due"})  # "moved" may be a block

_REREAD_BEST = 0.5  # the change's best section is re-read from this score ...
_REREAD = 0.6  # ... any other from this one ...
_REREAD_SHARE = 0.6  # ... and this share of the best
_CONFIDENT = 0.7  # ... and is in the re-read tier from this score (else related: demoted, never dropped)
_RELATED = 0.3  # a related section other than the best scores at least this
_ANCHOR = 0.25  # weight of changed words a re-read section must state
_MARKED_ANCHOR = 0.35  # ... and a section marked not relevant to the passage, to come back
_FAIR = 0.3  # a hit that counts towards a section's anchor
_SECOND = 0.3  # share of a second matching sentence that counts
_VAGUE = 0.2  # no section of the guide scores this much ...
_CITE_FALLBACK = 0.1  # a citing section meeting the claim this much is related when nothing else is
_CITE_BONUS = 0.1  # the section that links the source rests on it
_ECHO_CONFIDENT, _ECHO_MIN = 0.5, 0.1  # restatement: the partner's confident hit, and our own minimum
_ECHO_MIN_SIM, _ECHO_MARGIN = 0.15, 1.5
_REPEAT_SHARE = 0.5  # share of a sentence's words that repeat the stale sentence
_SHOWN = 4
_MAX_GLANCES = 2  # related sections per change and guide, besides those the page rests on

# --- which guides and sections cite the source --------------------------------------------


def citing(guide: Guide, source_urls: Iterable[str]) -> list[Citation]:
    """External citations of the guide that point at any of the given URLs."""
    urls = [u for u in source_urls if u]
    return [c for c in guide.external_citations if any(cites_source(c.url, u) for u in urls)]


def _source_urls(change: Change, source_url: str) -> list[str]:
    urls = [source_url]
    if change.scope == "page" and change.kind == "moved":
        urls += [u for u in (change.old, change.new) if u.startswith(("http://", "https://"))]
    return urls


# --- scoring ------------------------------------------------------------------------------


def _doc(section: Section, own: bool) -> str:
    return section.heading + "\n" + (section.own_text if own else section.text)


def _children(guide: Guide) -> dict[str, list[str]]:
    kids: dict[str, list[str]] = {}
    for s in guide.sections:
        if s.parent:
            kids.setdefault(s.parent, []).append(s.id)
    return kids



class _GuideIndex:
    """What is known about a guide before any change arrives: its sentences, term weights, restatements.

    A leaf section is judged on its text; a section with sub-sections on its own text only,
    so a parent is flagged over a matching child only when its own words match.
    """

    def __init__(self, guide: Guide) -> None:
        self.guide = guide
        self.kids = _children(guide)
        leaves = [s for s in guide.sections if not self.kids.get(s.id)]
        self.weigh = Weights(_doc(s, own=True) for s in leaves)
        self.units: dict[str, list[Unit]] = {}
        for s in guide.sections:
            heading = frozenset(claim_terms(s.heading))
            self.units[s.id] = [
                Unit(s.id, x, frozenset(claim_terms(x)), heading) for x in claim_sentences(s.own_text)
            ]
        self.pairs = restatements(guide)
        self.terms = GuideTerms(self.units)  # for skipping sentences a change cannot meet (linkindex)
        self.titles: dict[tuple[tuple[str, str], ...], frozenset[str]] = {}

    @cached_property
    def known(self) -> frozenset[str]:
        """Every term the guide writes (subject.known_terms): once per index, not per change."""
        return known_terms(s.heading + "\n" + s.text for s in self.guide.sections)

    def title_only(self, cites: Sequence[Citation]) -> frozenset[str]:
        """Terms of the link texts citing the source that the guide writes nowhere else: they name
        the cited page ("axicabtagene ciloleucel for ..."), the change's topic, not a claim the guide makes."""
        key = tuple(sorted({(c.section, c.text) for c in cites}))
        if key not in self.titles:
            title = {t for _, text in key for t in claim_terms(text)}
            rest: set[str] = set()
            for s in self.guide.sections:
                text = s.own_text
                for sid, link in key:
                    text = text.replace(link, " ") if sid == s.id else text
                rest.update(claim_terms(s.heading + "\n" + text))
            self.titles[key] = frozenset(title - rest)
        return self.titles[key]


#: Guide indexes, least recently used first. A crawl links each changed page to the few
#: guides citing it: 16 keeps memory bounded.
_INDEXES: OrderedDict[tuple, _GuideIndex] = OrderedDict()
_MAX_INDEXES = 16


def _index(guide: Guide) -> _GuideIndex:
    key = (guide.slug, tuple((s.id, s.parent, s.heading, s.text) for s in guide.sections))
    if key in _INDEXES:
        _INDEXES.move_to_end(key)
    else:
        _INDEXES[key] = _GuideIndex(guide)
        while len(_INDEXES) > _MAX_INDEXES:
            _INDEXES.popitem(last=False)
    return _INDEXES[key]


@dataclass(frozen=True)
class _Scored:
    """A section's best evidence for one change."""

    section: Section
    score: float
    hit: Hit
    anchor: float  # the most changed-word weight any of its fair hits states
    changed: float  # ... counting the changed words alone (no restatement, no subject phrase)


def restatements(guide: Guide) -> dict[str, str]:
    """Pairs of sections that say the same thing, typically an FAQ answer and its body section.

    A change to a claim in the body is a change to its FAQ summary too, although the short
    answer shares few words with the source. Two leaf sections pair up when each is the
    other's closest section, clearly closer than any third one.
    """
    kids = _children(guide)
    leaves = tuple((s.id, _doc(s, own=False)) for s in guide.sections if not kids.get(s.id) and s.own_text.strip())
    return dict(_restatements(leaves))


@lru_cache(maxsize=64)
def _restatements(leaves: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    if len(leaves) < 3:
        return ()
    sim = pairwise([doc for _, doc in leaves], _content_tokens)
    for i, row in enumerate(sim):
        row[i] = 0.0
    best = [max(range(len(row)), key=row.__getitem__) for row in sim]  # the first maximum, as numpy's argmax
    second = [sorted(row)[-2] for row in sim]  # the diagonal's 0 included, as before
    pairs = []
    for i, j in enumerate(best):
        if best[j] != i or sim[i][j] < _ECHO_MIN_SIM:
            continue
        if sim[i][j] >= _ECHO_MARGIN * max(second[i], second[j]):
            pairs.append((leaves[i][0], leaves[j][0]))
    return tuple(pairs)


def _score(index: _GuideIndex, claims: list[Claim], cites: set[str]) -> dict[str, _Scored]:
    """Each section with evidence: its best sentence, plus a little for a second one."""
    out: dict[str, _Scored] = {}
    probe = Probe(claims)
    for s in index.guide.sections:
        hits = best_hits(claims, probe.units(index.terms, s.id), index.weigh)
        if not hits or not any(h.body for h in hits):
            continue  # heading words alone never decide
        score = hits[0].score + _SECOND * (hits[1].score if len(hits) > 1 else 0.0) * (1 - hits[0].score)
        if s.id in cites:
            score += _CITE_BONUS * (1 - score)
        anchor, changed = hits[0].anchor, hits[0].changed  # the most over the fair hits: the best one, ...
        for h in hits[1:]:
            if h.score < _FAIR:
                break  # ... and those scoring _FAIR, first as hits come strongest first
            anchor, changed = max(anchor, h.anchor), max(changed, h.changed)
        out[s.id] = _Scored(s, round(min(1.0, score), 3), hits[0], anchor, changed)
    return out


def _phrase_hit(x: _Scored | None, own: bool = False) -> bool:
    """The section meets a phrase of the claim; with `own`, of the changed words themselves (an
    added list item's own words, not its lead-in or neighbours: those are where it sits, not what it says)."""
    if x is None or x.score < _CITE_FALLBACK:
        return False
    return any(" " in t and (not own or t in x.hit.claim.delta) for t in x.hit.shared)


def _tiers(scored: dict[str, _Scored], pairs: dict[str, str], threshold: float) -> dict[str, Tier]:
    """Re-read: a confident hit on the changed words; related: worth a glance.

    The change's best section needs less than the others: they must come close to it, so
    a second section that merely shares a word or a number is not sent. An FAQ answer and
    the body section it restates share a confident hit, if the restating one meets the
    claim itself too.
    """
    if not scored:
        return {}
    top = max(scored.values(), key=lambda x: x.score)
    tiers: dict[str, Tier] = {}
    for sid, x in scored.items():
        anchored = x.anchor >= _ANCHOR or x.hit.claim.added
        first = x is top
        floor, share = (_REREAD_BEST, 0.0) if first else (_REREAD, _REREAD_SHARE)
        if anchored and x.score >= floor and x.score >= share * top.score:
            tiers[sid] = "reread" if first or x.score >= _CONFIDENT else "related"
        elif x.score >= (threshold if first else _RELATED) and x.score >= RELATIVE_CUT * top.score:
            tiers[sid] = "related"
    for sid in _repeats(scored, top):
        tiers.setdefault(sid, "related")
    for sid, partner in pairs.items():
        mine, theirs = scored.get(sid), scored.get(partner)
        if not mine or not theirs or partner not in tiers or tiers.get(sid) == "reread":
            continue
        if theirs.score >= _ECHO_CONFIDENT and mine.score >= _ECHO_MIN:
            strong = tiers[partner] == "reread" and mine.anchor >= _ANCHOR and mine.score >= _REREAD_BEST
            tiers[sid] = "reread" if strong else "related"
    return tiers


def _single(terms: frozenset[str]) -> frozenset[str]:
    return frozenset(t for t in terms if " " not in t and not t.startswith("~"))


def _repeats(scored: dict[str, _Scored], top: _Scored) -> list[str]:
    """Sections that repeat the stale statement the best section makes: a confident hit on a
    guide sentence still stating what the source took out makes every other sentence that states
    those words and mostly says the same (read with its heading, as an FAQ answer is: "Usually
    not until they are 18") stale too. Sent as related: the editor checks the repeat."""
    stale = top.hit.claim.removed & top.hit.unit.terms
    if top.score < _CONFIDENT or not stale:
        return []
    said = _single(top.hit.unit.terms | top.hit.unit.heading)
    out = []
    for sid, x in scored.items():
        if x is top or not stale & x.hit.unit.terms:
            continue
        mine = _single(x.hit.unit.terms | x.hit.unit.heading)
        if mine and len(mine & said) >= _REPEAT_SHARE * len(mine):
            out.append(sid)
    return out


def _few_glances(tiers: dict[str, Tier], scored: dict[str, _Scored], rests: set[str]) -> dict[str, Tier]:
    """At most the best _MAX_GLANCES related sections the page does not rest on: past two, a change
    that shares words with many sections is about none of them in particular, and the editor stops reading."""
    glances = sorted((sid for sid, t in tiers.items() if t == "related" and sid not in rests),
                     key=lambda sid: (-scored[sid].score, sid))
    return {sid: t for sid, t in tiers.items() if sid not in glances[_MAX_GLANCES:]}


def _kept(x: _Scored, marks: Sequence[Dismissal]) -> bool:
    """A section an editor marked not relevant to this passage stays out, unless the change is
    about something it asserts: the changed words themselves (or a changed figure) meet its sentence,
    or the change meets another sentence than the one the editor judged (new evidence: a mark names
    what was read)."""
    mine = [m for m in marks if m.section == x.section.id]
    if not mine or x.changed >= _MARKED_ANCHOR or _states_changed_figure(x.hit):
        return True
    return all(m.sentence and m.sentence != x.hit.unit.text for m in mine)


def _states_changed_figure(hit: Hit) -> bool:
    """The sentence states a figure the change changed ("aged 2" when "2 years" became "1 year"): the
    change is about what it asserts, however little a figure weighs against words."""
    return any(t[0].isdigit() for t in hit.claim.delta & hit.unit.terms)


def _marks_for(change: Change, guide: Guide, source_url: str, dismissed: Sequence[Dismissal]) -> list[Dismissal]:
    return [
        d
        for d in dismissed
        if d.guide == guide.slug and tuple(d.source_section) == tuple(change.source_section)
        and same_source(d.source_url, source_url)
    ]


def _evidence(x: _Scored, weigh: Weights) -> tuple[str, ...]:
    """The words that met, as the guide writes them, then the guide sentence they met in.

    Phrases the guide uses in more than one section come first, named bodies last.
    """

    def rank(term: str) -> tuple[int, float]:
        if not BODY_TERMS.isdisjoint(term.split()):  # the term, or a word of it, names a body
            return (3, 0.0)
        if " " in term:
            return (0 if weigh.df.get(term, 0) > 1 else 1, -weigh(term))
        return (2, -weigh(term))

    ordered = sorted(x.hit.shared, key=rank)
    shown = surfaces(ordered, x.hit.unit.text + "\n" + x.section.heading, _SHOWN)
    return (*shown, x.hit.unit.text)


# --- public API ---------------------------------------------------------------------------


def link_change(
    change: Change,
    source_url: str,
    guides: Sequence[Guide],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    dismissed: Sequence[Dismissal] = (),
) -> list[Impact]:
    """Guide sections a change bears on, best first; cosmetic changes and the same words reordered bear on nothing."""
    moved = moves(change.old, change.new) if change.severity == "minor" else None  # once, for every guide
    if change.severity == "cosmetic" or (change.kind == "modified" and moved in (0, 1)):
        return []
    regroup = change.severity == "minor" and moved != 2  # words trading places stay linked
    urls = _source_urls(change, source_url)
    impacts: list[Impact] = []
    for guide in guides:
        cites = citing(guide, urls)
        if not cites:
            continue
        marks = _marks_for(change, guide, source_url, dismissed)
        if change.kind == "change_note":  # the note says what changed: link it, and the citing sections
            passage = _passage_impacts(change, guide, cites, threshold, marks, regroup)
            impacts += _merge(_citing_impacts(change, guide, cites), passage)
        elif change.scope == "page" or change.kind in PAGE_KINDS:
            impacts += _citing_impacts(change, guide, cites)
        else:
            impacts += _passage_impacts(change, guide, cites, threshold, marks, regroup)
    return sorted(impacts, key=lambda i: (-i.score, i.guide, i.section))


def _passage_impacts(
    change: Change, guide: Guide, cites: list[Citation], threshold: float, marks: Sequence[Dismissal] = (),
    regroup: bool = False,
) -> list[Impact]:
    """Sections whose sentences assert the changed claim, each with its tier and evidence."""
    index = _index(guide)
    title = index.title_only(cites)
    claims = [_as_topic(c, title) for c in linked_claims(change)]
    if regroup:
        claims = [c for c in map(_unregrouped, claims) if c is not None]
    cited = {c.section for c in cites}
    scored = _score(index, claims, cited)
    tiers = _tiers(scored, index.pairs, threshold)
    rests = cited | {k for k, v in index.pairs.items() if v in cited}  # the page's own sections, and restatements
    tiers = judge_subject(tiers, {k: scored[k].hit for k in tiers}, rests, index.known, change.source_section)
    tiers = _few_glances(tiers, scored, rests)
    if not tiers and max((x.score for x in scored.values()), default=0.0) < _VAGUE:
        # the guide's wording cannot tell its sections apart: those citing the source, if they share a phrase
        # of the claim (single context words such as the guide's subject are not enough)
        tiers = {c.section: "related" for c in cites if _phrase_hit(scored.get(c.section))}
    elif not (change.old.strip() and change.new.strip()):
        # a block added or removed whole: the section citing the page relies on it, if it meets a phrase of it
        for c in cites:
            if _phrase_hit(scored.get(c.section), own=True):
                tiers.setdefault(c.section, "related")
    return [
        Impact(guide.slug, sid, x.section.heading, x.score, _evidence(x, index.weigh), tier, x.hit.claim.sentence)
        for sid, tier in tiers.items()
        if _kept(x := scored[sid], marks)
    ]


def _as_topic(claim: Claim, title: frozenset[str]) -> Claim:
    """The claim with the unchanged words that only name the cited page moved to its context."""
    named = (claim.core - claim.delta) & title
    if not named:
        return claim
    return replace(claim, core=claim.core - named, context=claim.context | named)


def _unregrouped(claim: Claim) -> Claim | None:
    """A reworded claim without the word pairs it only regrouped ("cells given" in "given the cells" /
    "the cells are given" pairs words both versions have); None when nothing else changed. Only for
    minor wording: where a number, duty or negation changed, such a pair may be the changed fact
    ("test done" / "test usually done")."""
    if claim.added:
        return claim
    both = {t for t in claim.core - claim.delta if " " not in t}
    delta = frozenset(t for t in claim.delta if " " not in t or not all(w in both for w in t.split()))
    if not delta:
        return None
    if delta == claim.delta:
        return claim
    return replace(claim, delta=delta, removed=claim.removed & delta)


def link_changes(
    changes: Iterable[Change],
    source_url: str,
    guides: Sequence[Guide],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    dismissed: Sequence[Dismissal] = (),
) -> dict[str, list[Impact]]:
    """Impacts of each change, keyed by change id; `dismissed` are editors' "not relevant" marks."""
    try:
        return {c.id: link_change(c, source_url, guides, threshold=threshold, dismissed=dismissed) for c in changes}
    finally:
        forget_claims()


def _citing_impacts(change: Change, guide: Guide, cites: list[Citation]) -> list[Impact]:
    """Page-level events: every section that links the source must be re-read."""
    by_section: dict[str, list[Citation]] = {}
    for c in cites:
        by_section.setdefault(c.section, []).append(c)
    out = []
    for sid, cs in by_section.items():
        section = guide.section(sid)
        evidence = [f"cites {c.url}" for c in cs]
        if change.reason:
            evidence.append(change.reason)
        sentence = next((s for s in sentences(section.own_text) if any(c.text in s for c in cs)), "")
        if sentence:
            evidence.append(sentence)
        out.append(Impact(guide.slug, sid, section.heading, 1.0, tuple(evidence)))
    return out


def _merge(first: list[Impact], second: list[Impact]) -> list[Impact]:
    seen = {i.section for i in first}
    return first + [i for i in second if i.section not in seen]


__all__ = [
    "DEFAULT_THRESHOLD",
    "Passage",
    "citing",
    "link_change",
    "link_changes",
    "passage_of",
    "same_source",
    "url_key",
    "word_ops",
]

"""Link source changes to the guide sections an editor must re-read.

A generic page monitor says "this page changed". guidewatch says which sections of which
guide rest on the changed passage. For every guide that cites the source, each section is
scored against the changed passage (its heading path, its old and new text and the words
the diff inserted or deleted) by four signals, combined as a noisy-OR so the score stays
in [0, 1]:

- TF-IDF cosine (scikit-learn, word 1-3 grams, fitted on the guide's sections plus the
  passage) between the passage and the section, and between the passage and the section's
  best-matching sentence, so a long section with one pointed sentence is not diluted;
- shared domain phrases (multi-word noun phrases such as "hospital exemption"), weighted
  by how specific they are to few sections of the guide and by whether they name the
  changed topic (heading path) or the changed words;
- shared named bodies (MHRA, NICE, HTA, HRA, CQC, NHS England), weighted the same way;
- a prior for the section that links the source, which rests on it by construction.

Missing an affected section leaves a stale medical claim live, so the cut-offs favour
recall: a section is flagged when it clears an absolute threshold and is not far below the
best section for the same change.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlparse

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from .guides import BODIES
from .model import Change, Citation, DiffOp, Guide, Impact, Section

DEFAULT_THRESHOLD = 0.30
RELATIVE_CUT = 0.40  # a flagged section scores at least this share of the change's best section
PAGE_KINDS = frozenset({"gone", "moved", "withdrawn", "unreachable"})

# Weights of the signals. Each signal is first mapped into [0, 1].
_W_HEADING, _W_TEXT, _W_DELTA = 0.8, 1.0, 0.8  # parts of the passage query vector
_SIM_SCALE = 1.6  # cosine values of short passages rarely exceed 0.5
_SENT_SHARE = 0.7  # a single matching sentence counts a little less than the whole section
_PHRASE_SCALE = 1.1  # saturation of the summed phrase weights
_BODY_SCALE = 0.20
_CITE_PRIOR = 0.20
_TOPIC_BONUS, _DELTA_BONUS = 0.6, 0.4

_WORD = re.compile(r"[a-z0-9]+")
_BOUNDARY = re.compile(r"[.,;:!?()\[\]\"“”\n•|/]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9“\"‘'(])|\n+")


# --- text handling ------------------------------------------------------------------------


# Regulators write formal terms where patient guides use lay ones; fold both to one form.
LAY_TERMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"\bmalignanc(?:y|ies)\b", "cancer"),
        (r"\badverse (?:drug )?(?:reaction|event|effect)s?\b", "side effects"),
        (r"\bneurotoxicity\b", "neurological side effects"),
        (r"\bpharmacovigilance\b", "pharmacovigilance safety monitoring"),
        (r"\bpa?ediatric\b", "children"),
        (r"(?<=[a-z])iz(e|ed|es|ing|ation|ations)\b", r"is\1"),
    )
)


def _fold(text: str) -> str:
    """Lower-case plain text: typography and formal-versus-lay wording must not change what matches."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("’", "'").replace("‘", "'").replace("\u2011", "-").replace("\u00a0", " ")
    text = re.sub(r"'s\b", "", text.lower())
    for pattern, repl in LAY_TERMS:
        text = pattern.sub(repl, text)
    return text.replace("-", " ")


_SUFFIXES = (("ingly", 4), ("edly", 4), ("ations", 4), ("ation", 4), ("ing", 4), ("ory", 4), ("ed", 4), ("ly", 4))


def _stem(word: str) -> str:
    """A light suffix stripper: "regulated", "regulation" and "regulatory" meet; predictable, no deps."""
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix, keep in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= keep:
            word = word[: -len(suffix)] + ("at" if suffix.startswith("ation") else "")
            break
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word.replace("licenc", "licens")


_EXTRA_STOP = {"s", "also", "use", "used", "using", "including", "include"}
_STOP = frozenset(ENGLISH_STOP_WORDS | _EXTRA_STOP | {_stem(w) for w in ENGLISH_STOP_WORDS | _EXTRA_STOP})


def tokens(text: str) -> list[str]:
    """Stemmed word tokens; the tokenizer the TF-IDF model uses."""
    return [_stem(w) for w in _WORD.findall(_fold(text))]


def _runs(text: str) -> list[list[tuple[str, str]]]:
    """Punctuation-free runs of (stem, surface word); phrases never cross a comma or full stop."""
    runs: list[list[tuple[str, str]]] = []
    for chunk in _BOUNDARY.split(unicodedata.normalize("NFKC", text).replace("’", "'")):
        words = [w for w in re.findall(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*", chunk)]
        run: list[tuple[str, str]] = []
        for w in words:
            for part in tokens(w):
                run.append((part, w))
        if run:
            runs.append(run)
    return runs


def phrases(text: str, max_len: int = 4) -> dict[tuple[str, ...], str]:
    """Candidate noun phrases: 2-4 word runs that neither start nor end with a stop word."""
    found: dict[tuple[str, ...], str] = {}
    for run in _runs(text):
        stems = [s for s, _ in run]
        for n in range(2, max_len + 1):
            for i in range(len(run) - n + 1):
                gram = tuple(stems[i : i + n])
                if gram[0] in _STOP or gram[-1] in _STOP or gram[0].isdigit() or gram[-1].isdigit():
                    continue
                if sum(w not in _STOP for w in gram) < 2:
                    continue
                found.setdefault(gram, _surface(run[i : i + n]))
    return found


def _surface(run: list[tuple[str, str]]) -> str:
    words: list[str] = []
    for _, w in run:
        if not words or words[-1] != w:
            words.append(w)
    return " ".join(words)


def bodies(text: str) -> set[str]:
    """Named bodies (MHRA, NICE, ...) a text refers to."""
    return {name for name, pattern in BODIES.items() if pattern.search(text)}


def sentences(text: str) -> list[str]:
    """Sentences and list items: the unit of evidence an editor reads."""
    return [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) > 2]


# --- the changed passage ------------------------------------------------------------------


@dataclass(frozen=True)
class Passage:
    """What changed on the source, split into the parts that are weighed differently."""

    heading: str  # heading path on the source page: the topic of the change
    text: str  # old and new text (and context when the change itself is tiny)
    delta: str  # the words the diff inserted or deleted

    @property
    def all_text(self) -> str:
        return "\n".join(p for p in (self.heading, self.text, self.delta) if p)


def word_ops(old: str, new: str) -> list[DiffOp]:
    """Word-level diff, used when a change arrives without ops (tests, change notes)."""
    a, b = re.findall(r"\S+\s*", old), re.findall(r"\S+\s*", new)
    ops: list[DiffOp] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            ops.append(DiffOp(0, "".join(a[i1:i2])))
            continue
        if i2 > i1:
            ops.append(DiffOp(-1, "".join(a[i1:i2])))
        if j2 > j1:
            ops.append(DiffOp(1, "".join(b[j1:j2])))
    return ops


def passage_of(change: Change) -> Passage:
    """The passage to match: topic, both versions, and the changed words on their own."""
    ops = change.ops or word_ops(change.old, change.new)
    delta = " ".join(op.text.strip() for op in ops if op.op != 0 and op.text.strip())
    body = "\n".join(t for t in (change.old, change.new) if t)
    if len(tokens(body)) < 12 and change.context:
        body = body + "\n" + change.context
    return Passage(" / ".join(change.source_section), body, delta)


# --- which guides and sections cite the source --------------------------------------------


def url_key(url: str) -> tuple[str, str]:
    """(host, path) ignoring scheme, www., trailing slash, query, fragment and the GOV.UK API prefix."""
    parsed = urlparse(url.strip() if "//" in url else "//" + url.strip())
    host = (parsed.hostname or "").lower().removeprefix("www.")
    path = re.sub(r"/+", "/", parsed.path).rstrip("/").lower()
    if host == "gov.uk" and path.startswith("/api/content/"):
        path = path[len("/api/content") :]
    return host, path


def same_source(cited: str, source: str) -> bool:
    """A citation matches the source exactly, or the same page moved within its site.

    NHS pages move between sections (/conditions/x/ to /tests-and-treatments/x/) and keep
    their last path segment, so a same-host match on that segment counts.
    """
    a, b = url_key(cited), url_key(source)
    if a == b:
        return True
    if a[0] != b[0] or not a[1] or not b[1]:
        return False
    last_a, last_b = a[1].rsplit("/", 1)[-1], b[1].rsplit("/", 1)[-1]
    return bool(last_a) and last_a == last_b and len(last_a) > 8


def citing(guide: Guide, source_urls: Iterable[str]) -> list[Citation]:
    """External citations of the guide that point at any of the given URLs."""
    urls = [u for u in source_urls if u]
    return [c for c in guide.external_citations if any(same_source(c.url, u) for u in urls)]


def _source_urls(change: Change, source_url: str) -> list[str]:
    urls = [source_url]
    if change.kind == "moved":
        urls += [u for u in (change.old, change.new) if u.startswith(("http://", "https://"))]
    return urls


# --- scoring ------------------------------------------------------------------------------


@dataclass
class _Scored:
    section: Section
    score: float
    own_score: float  # score of the section's own text, without its sub-sections
    evidence: tuple[str, ...]


def _doc(section: Section, own: bool) -> str:
    return section.heading + "\n" + (section.own_text if own else section.text)


def _children(guide: Guide) -> dict[str, list[str]]:
    kids: dict[str, list[str]] = {}
    for s in guide.sections:
        if s.parent:
            kids.setdefault(s.parent, []).append(s.id)
    return kids


class _GuideModel:
    """TF-IDF model of one guide plus the passage, and phrase statistics over its sections."""

    def __init__(self, guide: Guide, passage: Passage) -> None:
        self.guide = guide
        self.kids = _children(guide)
        self.leaf_docs = {s.id: _doc(s, own=bool(self.kids.get(s.id))) for s in guide.sections}
        corpus = [_doc(s, own=False) for s in guide.sections] + [passage.all_text]
        self.vectorizer = TfidfVectorizer(
            tokenizer=tokens,
            token_pattern=None,
            lowercase=False,
            stop_words=sorted(_STOP),
            ngram_range=(1, 3),
            sublinear_tf=True,
        )
        self.vectorizer.fit(corpus)
        self.n_docs = len(guide.sections)
        self.section_phrases = {s.id: phrases(_doc(s, own=False)) for s in guide.sections}
        self.section_bodies = {s.id: bodies(_doc(s, own=False)) for s in guide.sections}
        self.phrase_df: dict[tuple[str, ...], int] = {}
        for sid, found in self.section_phrases.items():
            if self.kids.get(sid):
                continue  # a parent repeats its children's phrases; count each text once
            for gram in found:
                self.phrase_df[gram] = self.phrase_df.get(gram, 0) + 1
        self.body_df: dict[str, int] = {}
        for sid, found in self.section_bodies.items():
            if not self.kids.get(sid):
                for b in found:
                    self.body_df[b] = self.body_df.get(b, 0) + 1

    def vec(self, texts: list[str]) -> np.ndarray:
        return self.vectorizer.transform(texts).toarray()

    def specificity(self, df: int) -> float:
        """1.0 for a phrase in one section, falling towards 0 for one in every section."""
        leaves = max(2, sum(1 for s in self.guide.sections if not self.kids.get(s.id)))
        return max(0.0, math.log((leaves + 1) / (df + 1)) / math.log((leaves + 1) / 2))


def _query_vector(model: _GuideModel, passage: Passage) -> np.ndarray:
    parts = [(passage.heading, _W_HEADING), (passage.text, _W_TEXT), (passage.delta, _W_DELTA)]
    rows = model.vec([t or "" for t, _ in parts])
    q = sum(w * rows[i] for i, (_, w) in enumerate(parts))
    norm = float(np.linalg.norm(q))
    return q / norm if norm else q


def _phrase_signal(
    model: _GuideModel, passage: Passage, section: Section, own: bool
) -> tuple[float, list[tuple[float, str]]]:
    """Summed weights of the passage's phrases found in the section, and the phrases themselves."""
    mine = phrases(_doc(section, own)) if own else model.section_phrases[section.id]
    topic = phrases(passage.heading)
    changed = phrases(passage.delta)
    total, hits = 0.0, []
    for gram, surface in phrases(passage.all_text).items():
        if gram not in mine:
            continue
        spec = model.specificity(model.phrase_df.get(gram, 1))
        weight = spec * (1 + 0.25 * (len(gram) - 2))
        weight *= 1 + _TOPIC_BONUS * (gram in topic) + _DELTA_BONUS * (gram in changed)
        if weight > 0.05:
            total += weight
            hits.append((weight, mine[gram] or surface))
    # A longer phrase already counts its sub-phrases' evidence; drop contained ones from display.
    hits.sort(key=lambda h: -h[0])
    return total, hits


def _body_signal(model: _GuideModel, passage: Passage, section: Section, own: bool) -> tuple[float, list[str]]:
    mine = bodies(_doc(section, own)) if own else model.section_bodies[section.id]
    shared = sorted(bodies(passage.all_text) & mine, key=lambda b: model.body_df.get(b, 1))
    total = sum(0.5 + model.specificity(model.body_df.get(b, 1)) for b in shared)
    return total, shared


def _best_sentence(model: _GuideModel, q: np.ndarray, text: str, hits: list[str]) -> tuple[str, float]:
    """The guide sentence that best matches the passage, and its cosine."""
    sents = sentences(text)
    if not sents:
        return "", 0.0
    sims = model.vec(sents) @ q
    bonus = np.array([sum(h.lower() in s.lower() for h in hits[:3]) * 0.02 for s in sents])
    best = int(np.argmax(sims + bonus))
    return sents[best], float(sims[best])


def _noisy_or(*signals: float) -> float:
    out = 1.0
    for s in signals:
        out *= 1.0 - min(1.0, max(0.0, s))
    return 1.0 - out


def _score_section(
    model: _GuideModel, passage: Passage, q: np.ndarray, section: Section, cites: bool, own: bool
) -> tuple[float, tuple[str, ...]]:
    doc = _doc(section, own)
    if not doc.strip() or (own and not section.own_text.strip()):
        return 0.0, ()
    cos_doc = float(model.vec([doc])[0] @ q)
    sentence, cos_sent = _best_sentence(model, q, doc, [])
    phrase_w, phrase_hits = _phrase_signal(model, passage, section, own)
    body_w, shared_bodies = _body_signal(model, passage, section, own)
    sim = _SIM_SCALE * max(cos_doc, _SENT_SHARE * cos_sent)
    phrase = 1 - math.exp(-phrase_w / _PHRASE_SCALE)
    body = 1 - math.exp(-body_w * _BODY_SCALE)
    score = _noisy_or(sim, phrase, body, _CITE_PRIOR if cites else 0.0)
    shown = _dedupe_phrases([p for _, p in phrase_hits])[:4] + shared_bodies
    if shown:
        sentence, _ = _best_sentence(model, q, doc, shown)
    evidence = tuple(dict.fromkeys([*shown, sentence] if sentence else shown))
    return round(score, 3), evidence


def _dedupe_phrases(found: list[str]) -> list[str]:
    """Keep the most specific wording: drop a phrase contained in a longer one already kept."""
    kept: list[str] = []
    for p in sorted(found, key=lambda s: -len(s.split())):
        if not any(p.lower() in k.lower() for k in kept):
            kept.append(p)
    return sorted(kept, key=found.index)


def _rank(change: Change, guide: Guide, cites: set[str]) -> list[_Scored]:
    passage = passage_of(change)
    model = _GuideModel(guide, passage)
    q = _query_vector(model, passage)
    scored = []
    for s in guide.sections:
        score, evidence = _score_section(model, passage, q, s, s.id in cites, own=False)
        own = score
        if model.kids.get(s.id):
            own, _ = _score_section(model, passage, q, s, s.id in cites, own=True)
        scored.append(_Scored(s, score, own, evidence))
    return scored


def _select(scored: list[_Scored], kids: dict[str, list[str]], threshold: float) -> list[_Scored]:
    """Flag sections over the threshold, preferring a matching sub-section to its parent."""
    if not scored:
        return []
    top = max(x.score for x in scored)
    cut = max(threshold, RELATIVE_CUT * top)
    hit = {x.section.id for x in scored if x.score >= cut}
    chosen = []
    for x in scored:
        if x.section.id not in hit:
            continue
        if any(k in hit for k in kids.get(x.section.id, [])) and x.own_score < cut:
            continue  # a sub-section is itself the match
        chosen.append(x)
    return chosen


# --- public API ---------------------------------------------------------------------------


def link_change(
    change: Change, source_url: str, guides: Sequence[Guide], *, threshold: float = DEFAULT_THRESHOLD
) -> list[Impact]:
    """Guide sections a change bears on, best first; cosmetic changes bear on nothing."""
    if change.severity == "cosmetic":
        return []
    urls = _source_urls(change, source_url)
    impacts: list[Impact] = []
    for guide in guides:
        cites = citing(guide, urls)
        if not cites:
            continue
        if change.scope == "page" or change.kind in PAGE_KINDS or change.kind == "review_due":
            impacts += _citing_impacts(change, guide, cites)
            continue
        cite_ids = {c.section for c in cites}
        chosen = _select(_rank(change, guide, cite_ids), _children(guide), threshold)
        found = [Impact(guide.slug, x.section.id, x.section.heading, x.score, x.evidence) for x in chosen]
        if change.kind == "change_note":
            found = _merge(_citing_impacts(change, guide, cites), found)
        impacts += found
    return sorted(impacts, key=lambda i: (-i.score, i.guide, i.section))


def link_changes(
    changes: Iterable[Change], source_url: str, guides: Sequence[Guide], *, threshold: float = DEFAULT_THRESHOLD
) -> dict[str, list[Impact]]:
    """Impacts of each change, keyed by change id."""
    return {c.id: link_change(c, source_url, guides, threshold=threshold) for c in changes}


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

"""Link source changes to the guide sections an editor must re-read.

A generic page monitor says "this page changed". guidewatch says which sections of which
guide rest on the changed passage. For every guide that cites the source (URL match that
ignores scheme, www., trailing slash, and follows a page that moved within its site), each
section is scored against the changed passage: its heading path (the topic), its old and
new text, and the words the diff inserted or deleted. Five signals, each mapped to [0, 1]
and combined as a noisy-OR, so the score stays in [0, 1]:

- TF-IDF cosine (word 1-3 grams over stemmed tokens, fitted on the guide's sections plus
  the passage; see tfidf.py) with the section and with its best sentence, so a long
  section with one pointed sentence is not diluted;
- shared domain phrases (multi-word noun phrases such as "hospital exemption"), weighted
  by how few of the guide's sections use them, by length, and by whether they name the
  changed topic or the changed words; phrases that meet in one sentence count fully;
- shared words between the source heading path and the section heading ("Early access to
  ATMPs" / "How patients may access ..."), weighted by how rare they are among headings;
- shared named bodies (MHRA, NICE, HTA, HRA, CQC, NHS England), weighted by rarity;
- a prior for the section that links the source, which rests on it by construction.

A small regulatory-to-lay glossary (adverse reaction -> side effect, malignancy -> cancer,
...) lets the formal source meet the plain guide. An FAQ answer and the body section it
restates (found from the guide alone) share part of each other's score. A section that
includes a matching sub-section is judged on its own text. Missing an affected section
leaves a stale medical claim live, so the cut favours recall: flagged sections clear an
absolute threshold and reach a modest share of the best section's score for the change.
Page-level events (gone, moved, withdrawn, unreachable, review due) flag the citing
sections at 1.0; a change note is linked like a passage, plus the citing sections.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlparse

from .guides import BODIES
from .model import Change, Citation, DiffOp, Dismissal, Guide, Impact, Section
from .tfidf import Corpus, pairwise

DEFAULT_THRESHOLD = 0.30
RELATIVE_CUT = 0.45  # a flagged section scores at least this share of the change's best section
PAGE_KINDS = frozenset({"gone", "withdrawn", "unreachable", "review_due"})  # "moved" may be a block

# Weights of the signals. Each signal is first mapped into [0, 1].
_W_HEADING, _W_TEXT, _W_DELTA = 0.8, 1.0, 0.8  # parts of the passage query vector
_SIM_SCALE = 1.2  # cosine values of short passages rarely exceed 0.5
_SENT_SHARE = 0.7  # a single matching sentence counts a little less than the whole section
_PHRASE_SCALE = 1.5  # saturation of the summed phrase weights
_BODY_SCALE = 0.30
_HEAD_SCALE = 1.2  # saturation of the heading-topic signal
_CITE_PRIOR = 0.30
# Restating sections (an FAQ and its body section) share a part of each other's score.
_ECHO, _ECHO_GATE, _ECHO_MIN_SIM, _ECHO_MARGIN = 0.75, 0.4, 0.15, 1.5
_SCATTERED = 0.5  # share of phrase weight that counts when phrases sit in different sentences
_BASE_ROLE, _TOPIC_BONUS, _DELTA_BONUS = 0.4, 0.8, 0.4

_JOINERS = frozenset({"and", "of", "for", "to", "or", "on"})
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
        (r"\bpharmacovigilance\b", "pharmacovigilance safety monitoring of side effects and risks"),
        (r"\bpa?ediatric\b", "children"),
        (r"\bunlicen[cs]ed\b", "not licensed"),
        (r"\bgenome sequencing\b", "genome sequencing genomic test"),
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


_SUFFIXES = (
    ("ingly", 4),
    ("edly", 4),
    ("ations", 4),
    ("ation", 4),
    ("ing", 4),
    ("ory", 4),
    ("ed", 4),
    ("ly", 4),
)


_IRREGULAR = {"children": "child", "people": "person", "women": "woman", "men": "man"}


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """A light suffix stripper: "regulated", "regulation" and "regulatory" meet; predictable, no deps."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix, keep in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= keep:
            word = word[: -len(suffix)]
            break
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 5 and word.endswith("at"):
        word = word[:-2]  # "regulat(ed|ion)", "combinat(ion)" meet "regul", "combin(ed)"
    if len(word) > 4 and word.endswith("y"):
        word = word[:-1]  # "risky" meets "risk"; "therapy" and "therapies" stay together
    return word.replace("licenc", "licens")


# scikit-learn's English stop list (ENGLISH_STOP_WORDS, from the Glasgow IR group), copied so that
# linking needs no scikit-learn; the matching rests on it.
_ENGLISH_STOP_TEXT = """
a about above across after afterwards again against all almost alone along already also although always am
among amongst amoungst amount an and another any anyhow anyone anything anyway anywhere are around as at back
be became because become becomes becoming been before beforehand behind being below beside besides between
beyond bill both bottom but by call can cannot cant co con could couldnt cry de describe detail do done down
due during each eg eight either eleven else elsewhere empty enough etc even ever every everyone everything
everywhere except few fifteen fifty fill find fire first five for former formerly forty found four from front
full further get give go had has hasnt have he hence her here hereafter hereby herein hereupon hers herself
him himself his how however hundred i ie if in inc indeed interest into is it its itself keep last latter
latterly least less ltd made many may me meanwhile might mill mine more moreover most mostly move much must my
myself name namely neither never nevertheless next nine no nobody none noone nor not nothing now nowhere of
off often on once one only onto or other others otherwise our ours ourselves out over own part per perhaps
please put rather re same see seem seemed seeming seems serious several she should show side since sincere six
sixty so some somehow someone something sometime sometimes somewhere still such system take ten than that the
their them themselves then thence there thereafter thereby therefore therein thereupon these they thick thin
third this those though three through throughout thru thus to together too top toward towards twelve twenty
two un under until up upon us very via was we well were what whatever when whence whenever where whereafter
whereas whereby wherein whereupon wherever whether which while whither who whoever whole whom whose why will
with within without would yet you your yours yourself yourselves
"""
_ENGLISH_STOP_WORDS = frozenset(_ENGLISH_STOP_TEXT.split())
# That list drops words that carry meaning in health text ("side effects", "serious").
_KEEP = {
    "side",
    "serious",
    "system",
    "part",
    "whole",
    "full",
    "name",
    "interest",
    "move",
    "detail",
    "bill",
    "fire",
}
_EXTRA_STOP = {
    "s",
    "also",
    "use",
    "used",
    "using",
    "including",
    "include",
    "does",
    "did",
    "doing",
    "just",
    "like",
    "ll",
    "ve",
    "d",
    "shall",
}
_STOP_WORDS = (_ENGLISH_STOP_WORDS - _KEEP) | _EXTRA_STOP
_STOP = frozenset(_STOP_WORDS | {_stem(w) for w in _STOP_WORDS})


def tokens(text: str) -> list[str]:
    """Stemmed word tokens; the tokenizer the TF-IDF model uses."""
    return list(_tokens(text))


@lru_cache(maxsize=8192)
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(_stem(w) for w in _WORD.findall(_fold(text)))


def _runs(text: str) -> list[list[tuple[str, str]]]:
    """Punctuation-free runs of (stem, surface word); phrases never cross a comma or full stop."""
    runs: list[list[tuple[str, str]]] = []
    for chunk in _BOUNDARY.split(unicodedata.normalize("NFKC", text).replace("’", "'")):
        words = re.findall(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*", chunk)
        run = [(part, w) for w in words for part in _tokens(w)]
        if run:
            runs.append(run)
    return runs


@lru_cache(maxsize=8192)
def phrases(text: str, max_len: int = 4) -> dict[tuple[str, ...], str]:
    """Candidate noun phrases: 2-4 word runs that neither start nor end with a stop word.

    Inside, at most one joining word ("and", "of", ...) is allowed. The result is cached:
    callers must not modify it.
    """
    found: dict[tuple[str, ...], str] = {}
    for run in _runs(text):
        stems = [s for s, _ in run]
        for n in range(2, max_len + 1):
            for i in range(len(run) - n + 1):
                gram = tuple(stems[i : i + n])
                if gram[0] in _STOP or gram[-1] in _STOP or gram[0].isdigit() or gram[-1].isdigit():
                    continue
                inner = [w for w in gram[1:-1] if w in _STOP]
                if len(inner) > 1 or any(w not in _JOINERS for w in inner):
                    continue  # "safety and efficacy" is a phrase, "ATMPs in the UK" is not
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
    return set(_bodies(text))


@lru_cache(maxsize=8192)
def _bodies(text: str) -> frozenset[str]:
    """Cached: every section text and the passage are searched again for each change and guide."""
    return frozenset(name for name, pattern in BODIES.items() if pattern.search(text))


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

    @property
    def topic_phrases(self) -> list[tuple[str, ...]]:
        return list(phrases(self.heading.replace(" / ", "\n")))

    @property
    def delta_phrases(self) -> list[tuple[str, ...]]:
        return list(phrases(self.delta))

    @property
    def topic_tokens(self) -> set[str]:
        return set(_content_tokens(self.heading))


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
    """The passage to match: topic, both versions, and the changed words on their own.

    A change note is all news: its `old` is the previous, unrelated note, so only the new
    note counts.
    """
    if change.kind == "change_note":
        return Passage(" / ".join(change.source_section), change.new, change.new)
    ops = change.ops or word_ops(change.old, change.new)
    delta = "\n".join(op.text.strip() for op in ops if op.op != 0 and op.text.strip())
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


def _content_tokens(text: str) -> list[str]:
    """Tokens without stop words, the TF-IDF's tokenizer; its word 1-3 grams then span the dropped words."""
    return [t for t in _tokens(text) if t not in _STOP]


class _GuideIndex:
    """What is known about a guide before any change arrives: texts, sentences, phrase statistics.

    A section's text includes its sub-sections'; a parent's own text is scored separately,
    so a parent is only flagged over a matching child when its own words match.
    """

    def __init__(self, guide: Guide) -> None:
        self.guide = guide
        self.kids = _children(guide)
        self.full = {s.id: _doc(s, own=False) for s in guide.sections}
        self.own = {s.id: _doc(s, own=True) for s in guide.sections if self.kids.get(s.id) and s.own_text.strip()}
        texts = set(self.full.values()) | set(self.own.values())
        self.sentences = {t: sentences(t) for t in texts}
        self.headings = {s.heading.strip() for s in guide.sections}
        self.sentence_phrases = {t: [phrases(x) for x in self.sentences[t]] or [{}] for t in texts}
        leaves = [s.id for s in guide.sections if not self.kids.get(s.id)]
        self.n_leaves = max(2, len(leaves))
        self.phrase_df: dict[tuple[str, ...], int] = {}
        self.body_df: dict[str, int] = {}
        for sid in leaves:  # a parent repeats its children's words; count each text once
            for gram in phrases(self.full[sid]):
                self.phrase_df[gram] = self.phrase_df.get(gram, 0) + 1
            for body in bodies(self.full[sid]):
                self.body_df[body] = self.body_df.get(body, 0) + 1
        self.heading_tokens = {s.id: set(_content_tokens(s.heading)) for s in guide.sections}
        self.heading_df: dict[str, int] = {}
        for found in self.heading_tokens.values():
            for tok in found:
                self.heading_df[tok] = self.heading_df.get(tok, 0) + 1
        self.pairs = restatements(guide)
        # TF-IDF over the full texts, scoring every text and sentence; a change only adds itself
        scored = dict.fromkeys([*self.sentences, *(s for ss in self.sentences.values() for s in ss)])
        self.tfidf = Corpus(self.full.values(), list(scored), _content_tokens)

    def specificity(self, df: int, n: int | None = None) -> float:
        """1.0 for a phrase in one section, falling fast towards 0 for one in many sections."""
        n = n or self.n_leaves
        if n <= 1:
            return 1.0  # a one-section guide: every phrase is as specific as it gets
        return max(0.0, math.log((n + 1) / (max(df, 1) + 1)) / math.log((n + 1) / 2)) ** 2


#: Guide indexes, least recently used first. A 50-section guide's index is ~2 MB, and a
#: crawl links each changed page to the few guides citing it: 16 keeps memory bounded.
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


class _Similarity:
    """TF-IDF cosines between the passage and every section text and sentence of one guide."""

    def __init__(self, index: _GuideIndex, passage: Passage) -> None:
        parts = [(passage.heading, _W_HEADING), (passage.text, _W_TEXT), (passage.delta, _W_DELTA)]
        self._cos = index.tfidf.cosines(passage.all_text, parts)

    def cos(self, text: str) -> float:
        """0 for a text that shares no gram with the passage."""
        return self._cos.get(text, 0.0)


@dataclass(frozen=True)
class _Match:
    score: float  # all signals, in [0, 1]
    content: float  # the same without the citing-section prior: what the text itself says
    cos: float  # best TF-IDF cosine of the section or one of its sentences
    evidence: tuple[str, ...]


_NO_MATCH = _Match(0.0, 0.0, 0.0, ())


@dataclass
class _Scored:
    section: Section
    match: _Match
    own: _Match  # a parent's own text without its sub-sections (for a leaf, the same as match)

    @property
    def score(self) -> float:
        return self.match.score


def _within(small: tuple[str, ...], big: tuple[str, ...]) -> bool:
    n = len(small)
    return any(big[i : i + n] == small for i in range(len(big) - n + 1))


def _phrase_signal(index: _GuideIndex, passage: Passage, text: str) -> tuple[float, list[str]]:
    """Weight of the passage's phrases found in the text, and those phrases, strongest first.

    Only maximal matches count, so "gene therapy medicinal products" is not also counted as
    "gene therapy" and "therapy medicinal". A phrase weighs more when few sections use it,
    when it is longer, and when it names the changed topic (heading path) or changed words.
    Phrases that meet in one sentence count fully; scattered ones count less, because a
    section that mentions two of the passage's terms far apart rarely restates it.
    """
    mine = phrases(text)
    matched = [g for g in phrases(passage.all_text) if g in mine]
    maximal = [g for g in matched if not any(h != g and _within(g, h) for h in matched)]
    weights: dict[tuple[str, ...], float] = {}
    for gram in maximal:
        role = _BASE_ROLE + _TOPIC_BONUS * any(_within(gram, t) or _within(t, gram) for t in passage.topic_phrases)
        role += _DELTA_BONUS * any(_within(gram, c) for c in passage.delta_phrases)
        weight = index.specificity(index.phrase_df.get(gram, 1)) * (1 + 0.25 * (len(gram) - 2)) * role
        if weight > 0.02:
            weights[gram] = weight
    if not weights:
        return 0.0, []
    total = sum(weights.values())
    best = max(sum(w for g, w in weights.items() if g in found) for found in index.sentence_phrases[text])
    ranked = sorted(weights, key=lambda g: -weights[g])
    return best + _SCATTERED * (total - best), [mine[g] for g in ranked]


def _body_signal(index: _GuideIndex, passage: Passage, text: str) -> tuple[float, list[str]]:
    """Weight of the named bodies the passage and the text share, and those bodies, rarest first."""
    shared = sorted(_bodies(passage.all_text) & _bodies(text), key=lambda b: (index.body_df.get(b, 1), b))
    return sum(index.specificity(index.body_df.get(b, 1)) for b in shared), shared


def _heading_signal(index: _GuideIndex, passage: Passage, section: Section) -> tuple[float, list[str]]:
    """Weight of the words the change's heading path shares with the section's heading.

    Headings name topics on both sides: "Early access to ATMPs" on the source and "How
    patients may access gene therapy and ATMPs" in the guide share "access", which the
    section's body may never say again. Words in most of the guide's headings weigh nothing.
    Returns the weight and the heading's own words that matched, most specific first.
    """
    n = len(index.heading_tokens)
    shared = passage.topic_tokens & index.heading_tokens[section.id]
    weights = {t: index.specificity(index.heading_df[t], n) for t in shared}

    def weight(word: str) -> float:
        return max((weights.get(t, 0.0) for t in _content_tokens(word)), default=0.0)

    words = sorted(re.findall(r"[A-Za-z0-9][\w'-]*", section.heading), key=weight, reverse=True)
    return sum(weights.values()), [w for w in words if weight(w) >= 0.3]


def _best_sentence(index: _GuideIndex, sim: _Similarity, text: str, shown: list[str]) -> tuple[str, float]:
    """The body sentence closest to the passage, and the best cosine of any line (heading included).

    The shown phrases break near-ties toward sentences that contain them.
    """
    sents = index.sentences[text]
    if not sents:
        return "", 0.0
    body = [x for x in sents if x not in index.headings] or sents  # evidence quotes text, not headings
    keyed = [(sim.cos(s) + 0.02 * sum(p.lower() in s.lower() for p in shown[:3]), s) for s in body]
    best = max(keyed, key=lambda k: k[0])[1]
    return best, max(sim.cos(s) for s in sents)


def _distinct(found: list[str]) -> list[str]:
    """Drop a phrase that mostly repeats a stronger one already shown (overlapping 4-word windows)."""
    kept: list[tuple[str, set[str]]] = []
    for phrase in found:
        words = set(_content_tokens(phrase))
        if not any(len(words & seen) >= max(2, min(len(words), len(seen)) // 2 + 1) for _, seen in kept):
            kept.append((phrase, words))
    return [p for p, _ in kept]


def _noisy_or(*signals: float) -> float:
    out = 1.0
    for s in signals:
        out *= 1.0 - min(1.0, max(0.0, s))
    return 1.0 - out


def _score_text(
    index: _GuideIndex, sim: _Similarity, passage: Passage, section: Section, text: str, cites: bool
) -> _Match:
    phrase_w, shared_phrases = _phrase_signal(index, passage, text)
    heading_w, heading_words = _heading_signal(index, passage, section)
    heading = 1 - math.exp(-heading_w / _HEAD_SCALE)
    body_w, shared_bodies = _body_signal(index, passage, text)
    shown = _distinct(shared_phrases)[:4] + shared_bodies
    shown += [w for w in heading_words if not any(w.lower() in p.lower() for p in shown)][:2]
    sentence, cos_sent = _best_sentence(index, sim, text, shown)
    cos = max(sim.cos(text), _SENT_SHARE * cos_sent)
    phrase = 1 - math.exp(-phrase_w / _PHRASE_SCALE)
    body = 1 - math.exp(-body_w * _BODY_SCALE)
    content = _noisy_or(_SIM_SCALE * cos, phrase, body, heading)
    score = _noisy_or(content, _CITE_PRIOR if cites else 0.0)
    evidence = tuple(dict.fromkeys([*shown, sentence] if sentence else shown))
    return _Match(round(score, 3), content, cos, evidence)


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


def _rank(change: Change, guide: Guide, cites: set[str]) -> list[_Scored]:
    """Every section of the guide, scored against the change."""
    index = _index(guide)
    passage = passage_of(change)
    sim = _Similarity(index, passage)
    scored: dict[str, _Scored] = {}
    for s in guide.sections:
        match = _score_text(index, sim, passage, s, index.full[s.id], s.id in cites)
        own = match
        if index.kids.get(s.id):
            text = index.own.get(s.id)
            own = _score_text(index, sim, passage, s, text, s.id in cites) if text else _NO_MATCH
        scored[s.id] = _Scored(s, match, own)
    for sid, partner in index.pairs.items():
        _echo(scored[sid], scored[partner])
    return list(scored.values())


def _echo(mine: _Scored, partner: _Scored) -> None:
    """Lift a section to a share of its restating partner's score, if it touches the same text.

    The gate keeps a broad section from lifting its narrow FAQ when the match lies in a part
    of the broad section the FAQ does not restate.
    """
    theirs = partner.match
    if mine.match.cos < _ECHO_GATE * theirs.cos:
        return
    echoed = round(_ECHO * theirs.content, 3)
    if echoed <= mine.score:
        return
    note = f"restates “{partner.section.heading}”"
    ev = mine.match.evidence
    evidence = (*ev[:-1], note, *ev[-1:]) if ev else (note,)
    mine.match = _Match(echoed, max(mine.match.content, echoed), mine.match.cos, evidence)
    if mine.own.score < echoed:
        mine.own = mine.match


def _select(scored: list[_Scored], kids: dict[str, list[str]], threshold: float) -> list[tuple[Section, _Match]]:
    """Flag sections over the threshold, preferring a matching sub-section to its parent.

    When a sub-section is itself the match, its parent is judged on its own text alone
    (score and evidence), so the sub-section's words do not count twice.
    """
    leaves = [x.score for x in scored if not kids.get(x.section.id)]
    if not leaves:
        return []
    cut = max(threshold, RELATIVE_CUT * max(leaves))
    hit = {x.section.id for x in scored if x.score >= cut}
    chosen = []
    for x in scored:
        if x.section.id not in hit:
            continue
        match = x.own if any(k in hit for k in kids.get(x.section.id, [])) else x.match
        if match.score >= cut:
            chosen.append((x.section, match))
    return chosen


# --- public API ---------------------------------------------------------------------------


def link_change(
    change: Change,
    source_url: str,
    guides: Sequence[Guide],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    dismissed: Sequence[Dismissal] = (),
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
        if change.kind == "change_note":  # the note says what changed: link it, and the citing sections
            impacts += _merge(_citing_impacts(change, guide, cites), _passage_impacts(change, guide, cites, threshold))
        elif change.scope == "page" or change.kind in PAGE_KINDS:
            impacts += _citing_impacts(change, guide, cites)
        else:
            impacts += _passage_impacts(change, guide, cites, threshold)
    return sorted(impacts, key=lambda i: (-i.score, i.guide, i.section))


def _passage_impacts(change: Change, guide: Guide, cites: list[Citation], threshold: float) -> list[Impact]:
    chosen = _select(_rank(change, guide, {c.section for c in cites}), _children(guide), threshold)
    return [Impact(guide.slug, section.id, section.heading, match.score, match.evidence) for section, match in chosen]


def link_changes(
    changes: Iterable[Change],
    source_url: str,
    guides: Sequence[Guide],
    *,
    threshold: float = DEFAULT_THRESHOLD,
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

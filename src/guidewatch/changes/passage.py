"""The changed passage, as the linker reads it: tokens, noun phrases, named bodies, word ops.

Kept apart from link.py so the scorer's tokenisation is one place, shared by the guide index,
the TF-IDF restatement pairing and callers that build changes without diff ops (tests, notes).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from guidewatch.changes.wording import STOP, fold, light_stem
from guidewatch.model import Change, DiffOp
from guidewatch.sources.sites import BODIES

_JOINERS = frozenset({"and", "of", "for", "to", "or", "on"})
_WORD = re.compile(r"[a-z0-9]+")
_BOUNDARY = re.compile(r"[.,;:!?()\[\]\"“”\n•|/]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9“\"‘'(])|\n+")


_fold, _stem, _STOP = fold, light_stem, STOP


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


def _content_tokens(text: str) -> list[str]:
    """Tokens without stop words, the TF-IDF's tokenizer; its word 1-3 grams then span the dropped words."""
    return [t for t in _tokens(text) if t not in _STOP]

"""TF-IDF cosines, exactly as scikit-learn's TfidfVectorizer computes them, in pure Python.

The settings mirrored are the linker's: word 1-3 grams from a tokenizer, sublinear tf
(1 + ln count), smooth idf (ln((1 + N) / (1 + df)) + 1 over the N fit documents), l2 norm,
and a vocabulary of the grams in the fit documents only. scikit-learn cost ~1.3 s and
~80 MB to import, and the linker refitted it for every change and guide, re-vectorising
texts that had not changed. Here a guide's texts are counted once (`Corpus`); a change
only moves the idf of its own grams, so scoring it touches only the texts that share them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

Tokenizer = Callable[[str], list[str]]
Vector = dict[str, float]


def ngrams(tokens: Sequence[str], max_n: int = 3) -> list[str]:
    """Word 1..max_n grams, spelled and ordered as scikit-learn's `_word_ngrams` makes them."""
    if max_n < 1:
        return []
    out = list(tokens)  # the 1-, 2- and 3-grams without slicing and joining each (the same strings)
    if max_n >= 2:
        out += [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]
    if max_n >= 3:
        out += [f"{a} {b} {c}" for a, b, c in zip(tokens, tokens[1:], tokens[2:], strict=False)]
    return out + [" ".join(tokens[i : i + n]) for n in range(4, max_n + 1) for i in range(len(tokens) - n + 1)]


def idf(n_docs: int, df: int) -> float:
    """Smooth idf: as if one extra document held every term, so no term divides by zero."""
    return math.log((1 + n_docs) / (1 + df)) + 1


def sublinear_tf(grams: Iterable[str]) -> Vector:
    """1 + ln(count): a repeated term saturates instead of dominating."""
    return {g: 1 + math.log(c) for g, c in Counter(grams).items()}


def _normalised(vec: Vector) -> Vector:
    norm = math.sqrt(sum(w * w for w in vec.values()))
    return {g: w / norm for g, w in vec.items()} if norm else {}


def pairwise(docs: Sequence[str], tokenize: Tokenizer) -> list[list[float]]:
    """Cosine matrix of documents under a TF-IDF fitted on them (diagonal included)."""
    tfs = [sublinear_tf(ngrams(tokenize(d))) for d in docs]
    df = Counter(g for tf in tfs for g in tf)
    idfs = {k: idf(len(docs), k) for k in set(df.values())}  # the same values, one log per document count
    postings: dict[str, list[tuple[int, float]]] = {}
    for i, tf in enumerate(tfs):
        for g, w in _normalised({g: w * idfs[df[g]] for g, w in tf.items()}).items():
            postings.setdefault(g, []).append((i, w))
    sim = [[0.0] * len(docs) for _ in docs]
    for posting in postings.values():  # only pairs that share a gram
        if len(posting) == 1:  # a gram of one document: its own square only
            i, wi = posting[0]
            sim[i][i] += wi * wi
            continue
        for k, (i, wi) in enumerate(posting):
            row = sim[i]
            for j, wj in posting[k:]:  # the upper triangle: each cell sums the same products in gram order ...
                row[j] += wi * wj
    for i, row in enumerate(sim):  # ... and a product is the same either way round, so the lower one is a copy
        for j in range(i):
            row[j] = sim[j][i]
    return sim


class Corpus:
    """One guide's fit documents and scored texts, counted once, then scored against many queries.

    A query joins the fit documents, as refitting scikit-learn on documents + query would:
    N grows by one for every gram, df by one for the query's grams, and the query's grams
    that no document has join the vocabulary. Each text's squared norm is kept for the
    query-free idf and corrected only for the grams whose idf the query moves.
    """

    def __init__(self, docs: Iterable[str], texts: Sequence[str], tokenize: Tokenizer) -> None:
        self.tokenize = tokenize
        doc_list = list(docs)
        self.n_docs = len(doc_list)
        self.df = Counter(g for d in doc_list for g in set(ngrams(tokenize(d))))
        self.texts = list(texts)
        self.postings: dict[str, list[tuple[int, float]]] = {}  # gram -> (text, sublinear tf)
        self.norm_sq: list[float] = []
        base = self.n_docs + 1  # the query is always one more document
        for i, text in enumerate(self.texts):
            tf = sublinear_tf(ngrams(tokenize(text)))
            for g, w in tf.items():
                self.postings.setdefault(g, []).append((i, w))
            self.norm_sq.append(sum((w * idf(base, self.df[g])) ** 2 for g, w in tf.items() if g in self.df))

    def cosines(self, query: str, parts: Sequence[tuple[str, float]]) -> dict[str, float]:
        """Cosine of every text sharing a gram with the query vector; the rest are 0.

        The query vector is the weighted sum of the parts' l2-normed TF-IDF rows, renormalised;
        `query` is the document the parts come from, fitted with the corpus.
        """
        grams = set(ngrams(self.tokenize(query)))
        n = self.n_docs + 1
        moved = {g: idf(n, self.df[g] + 1) for g in grams}

        def idf_of(gram: str) -> float:
            return moved[gram] if gram in moved else idf(n, self.df[gram])

        q: Vector = {}
        for text, weight in parts:
            tf = sublinear_tf(ngrams(self.tokenize(text)))
            row = {g: w * idf_of(g) for g, w in tf.items() if g in moved or g in self.df}  # the fit's vocabulary
            for g, w in _normalised(row).items():
                q[g] = q.get(g, 0.0) + weight * w
        q = _normalised(q)
        dot: dict[int, float] = {}
        for g, qw in q.items():
            w = qw * idf_of(g)
            for i, tf in self.postings.get(g, ()):
                dot[i] = dot.get(i, 0.0) + tf * w
        norm_sq = {i: self.norm_sq[i] for i in dot}
        for g, new in moved.items():
            old = idf(n, self.df[g]) if g in self.df else 0.0
            for i, tf in self.postings.get(g, ()):
                if i in norm_sq:
                    norm_sq[i] += tf * tf * (new * new - old * old)
        return {self.texts[i]: d / math.sqrt(norm_sq[i]) for i, d in dot.items()}

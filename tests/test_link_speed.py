"""The linker's shortcuts (changes/linkindex.py) change no output (issue 20).

Each check links the same changes twice in one process, with the shortcuts and under
`linkindex.plain()`, and asserts the impacts are identical: scores, tiers, evidence and its
order, claims. The inputs are every labelled set (tests/data/linking_devset.toml,
tests/data/linking/*.toml: alone, against all the guides at once, and replayed with editors'
marks) and a large generated page diffed and linked as bench/difflink.py does. Timing lives
in bench/difflink.py, never here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from guidewatch.changes import claims as claims_module
from guidewatch.changes import linkindex
from guidewatch.changes.claims import claims_of
from guidewatch.changes.diff import diff_pages
from guidewatch.changes.link import link_change, link_changes
from guidewatch.model import Change, Guide, Impact

ROOT = Path(__file__).resolve().parents[1]


def _bench(name: str, file: str) -> ModuleType:
    """A bench script as a module (read only): the labelled sets' loader and the large-page generator."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / file)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sets() -> dict[str, tuple[Guide, list]]:
    return _bench("bench_linking", "linking.py").all_sets()


def _both(run):  # noqa: ANN001, ANN202 - any callable of no arguments
    """The result with the shortcuts, then without."""
    fast = run()
    with linkindex.plain():
        slow = run()
    return fast, slow


def _diff(fast: list[Impact], slow: list[Impact]) -> str:
    return next((f"{a}\n!=\n{b}" for a, b in zip(fast, slow, strict=False) if a != b), f"{len(fast)} != {len(slow)}")


def test_every_labelled_item_links_identically(sets: dict[str, tuple[Guide, list]]) -> None:
    guides = [g for g, _ in sets.values()]
    compared = 0
    for guide, items in sets.values():
        for it in items:
            for among, threshold in (([guide], 0.30), (guides, 0.15)):
                fast, slow = _both(lambda: link_change(it.change, it.source_url, among, threshold=threshold))  # noqa: B023
                assert fast == slow, f"{guide.slug} {it.id}: {_diff(fast, slow)}"
                compared += len(fast)
    assert compared > 200  # the sets do flag sections: the comparison is not of empty lists


@pytest.mark.parametrize("marks", ["round", "sequential"])
def test_labelled_sets_replayed_with_marks_link_identically(sets: dict[str, tuple[Guide, list]], marks: str) -> None:
    evaluate = _bench("bench_linking", "linking.py").evaluate
    for guide, items in sets.values():
        fast, slow = _both(lambda: [r.flagged for r in evaluate(guide, items, marks=marks).results])  # noqa: B023
        assert fast == slow, guide.slug


@pytest.fixture(scope="module")
def large() -> tuple[list[Change], list[Guide], str]:
    """A generated 120 KB guidance page with 30 edits, and 4 guides of 30 sections citing it."""
    difflink = _bench("difflink", "difflink.py")
    old, new = difflink.diffbench.build_pair(3, 120, 30)
    return diff_pages(old, new), difflink.build_guides(4, 30, seed=11), difflink.URL


def test_large_generated_page_links_identically(large: tuple[list[Change], list[Guide], str]) -> None:
    changes, guides, url = large
    fast, slow = _both(lambda: link_changes(changes, url, guides))
    assert fast.keys() == slow.keys()
    for cid in fast:
        assert fast[cid] == slow[cid], f"{cid}: {_diff(fast[cid], slow[cid])}"
    assert sum(len(v) for v in fast.values()) > 100


def test_shortcuts_skip_work(large: tuple[list[Change], list[Guide], str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path really is taken: it scores fewer sentence pairs than the plain one (meet() and
    the fast path's best_hits both score through claims._meet)."""
    changes, guides, url = large
    calls = {"n": 0}
    meet = claims_module._meet

    def counting(*args):  # noqa: ANN002, ANN202
        calls["n"] += 1
        return meet(*args)

    monkeypatch.setattr(claims_module, "_meet", counting)
    link_changes(changes[:10], url, guides)
    fast = calls["n"]
    calls["n"] = 0
    with linkindex.plain():
        link_changes(changes[:10], url, guides)
    assert 0 < fast < calls["n"]


def test_claims_are_shared_until_the_change_differs() -> None:
    change = Change("c1", "modified", "substantive", "", ("Fees",), "The fee is £100.", "The fee is £120.")
    first = linkindex.claims(change)
    assert first == claims_of(change)
    assert linkindex.claims(change) is first  # the next guide scores the same objects
    changed = Change("c1", "modified", "substantive", "", ("Fees",), "The fee is £100.", "The fee is £150.")
    assert linkindex.claims(changed) == claims_of(changed) != first
    with linkindex.plain():
        assert linkindex.claims(change) is not linkindex.claims(change)


def test_a_hit_written_at_once_is_the_dataclass_hit() -> None:
    """claims.hit (the fast path's constructor) gives the object Hit(...) gives: equal, same repr, hashable, frozen."""
    from dataclasses import FrozenInstanceError

    from guidewatch.changes.claims import Hit, Unit, hit

    claim = claims_of(Change("c1", "modified", "substantive", "", ("Fees",), "The fee is £100.", "The fee is £120."))[0]
    unit = Unit("fees", "The fee is £120.", frozenset({"cost", "120"}), frozenset({"cost"}))
    found = (0.5, 0.25, 0.25, True, ((0.3, "120"), (0.4, "cost")))
    fast, slow = hit(found, unit, claim), Hit(*found, unit, claim)
    assert fast == slow and repr(fast) == repr(slow) and hash(fast) == hash(slow)
    assert fast.shared == slow.shared == ("cost", "120")
    with pytest.raises(FrozenInstanceError):
        fast.score = 1.0  # type: ignore[misc]

"""Recall and precision of guidewatch.changes.link on the labelled development sets.

Run: .venv/bin/python bench/linking.py [--part tune|holdout|all] [--threshold X] [--ids PREFIX] [--intervals] [-v]

Sets: tests/data/linking_devset.toml (the ATMP guide; `holdout`/`batch` fields) and every
tests/data/linking/*.toml (one guide each; a `split` field per item, "tune" or "holdout").
Recall    = must-read sections flagged / all must-read sections (misses leave stale claims live)
Precision = flagged sections that are must-read or acceptable (`may` / `ok`) / all flagged
Re-read precision counts the re-read tier alone; "strict" counts only must-read sections.
Cosmetic and off-topic items must flag nothing: every flag on them is counted.
"With marks", two replays of one round of editor marks ("not relevant" on every wrong flag, for
the guide section and the source passage): "sequential" replays the items in file order and each
item sees the marks made on earlier items; "round 2" makes the marks on a first pass, then links
every item again, as the next change to each passage would be linked.
The new sets' severity is computed by guidewatch.changes.severity.classify, as a crawl would.
--intervals adds, under each line, 95 % Wilson intervals with the counts behind each figure: the
parts are small (16-27 items), so a figure's neighbour on the other side of a target may be the
same linker measured on other items.
"""

from __future__ import annotations

import argparse
import math
import sys
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from guidewatch.changes.link import DEFAULT_THRESHOLD, link_change, word_ops
from guidewatch.changes.severity import classify
from guidewatch.model import Change, Dismissal, Guide, Impact
from guidewatch.sources.guides import load_guide

ROOT = Path(__file__).resolve().parents[1]
DEVSET = ROOT / "tests" / "data" / "linking_devset.toml"
SETS = ROOT / "tests" / "data" / "linking"


@dataclass
class Item:
    id: str
    change: Change
    source_url: str
    must: set[str]
    may: set[str]
    holdout: bool
    batch: int = 1  # ATMP holdout batch: 1 written before the scorer, 2 written after batch 1 was seen
    topic: str = "linked"  # "cosmetic" / "offtopic": nothing may be flagged
    grade: str | None = None  # the severity the label expects, where it says one


@dataclass
class Result:
    item: Item
    flagged: list[Impact]

    @property
    def found(self) -> set[str]:
        return {i.section for i in self.flagged}

    @property
    def missed(self) -> set[str]:
        return self.item.must - self.found

    @property
    def wrong(self) -> set[str]:
        return self.found - self.item.must - self.item.may

    def tier(self, name: str) -> set[str]:
        return {i.section for i in self.flagged if i.tier == name}


@dataclass
class Summary:
    results: list[Result] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return _ratio(self.recall_counts)

    @property
    def precision(self) -> float:
        return _ratio(self.precision_counts)

    def tier_precision(self, name: str, strict: bool = False) -> float:
        return _ratio(self.tier_counts(name, strict))

    @property
    def recall_counts(self) -> tuple[int, int]:
        """Must-read sections flagged, and all must-read sections."""
        return (sum(len(r.item.must & r.found) for r in self.results), sum(len(r.item.must) for r in self.results))

    @property
    def precision_counts(self) -> tuple[int, int]:
        """Flagged sections that are must-read or acceptable, and all flagged."""
        flagged = sum(len(r.found) for r in self.results)
        return flagged - sum(len(r.wrong) for r in self.results), flagged

    def tier_counts(self, name: str, strict: bool = False) -> tuple[int, int]:
        good = sum(len(r.tier(name) & (r.item.must if strict else r.item.must | r.item.may)) for r in self.results)
        return good, self.tier_count(name)

    def tier_count(self, name: str) -> int:
        return sum(len(r.tier(name)) for r in self.results)

    @property
    def noise_flags(self) -> int:
        """Flags on cosmetic and off-topic items (the target is zero)."""
        return sum(len(r.found) for r in self.results if r.item.topic != "linked")

    @property
    def grade_errors(self) -> list[str]:
        return [r.item.id for r in self.results if r.item.grade and r.item.grade != r.item.change.severity]


def load_devset(path: Path = DEVSET) -> tuple[Guide, list[Item]]:
    """The ATMP guide the set is labelled against, and the items as model.Change values."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    guide = load_guide(ROOT / data["guide"])
    items = []
    for raw in data["item"]:
        old, new = raw.get("old", ""), raw.get("new", "")
        change = Change(
            id=raw["id"],
            kind=raw.get("kind", "modified"),
            severity=raw.get("severity", "substantive"),
            reason=raw.get("reason", ""),
            source_section=tuple(raw.get("source_section", [])),
            old=old,
            new=new,
            ops=word_ops(old, new) if raw.get("scope", "block") == "block" else [],
            scope=raw.get("scope", "block"),
            context=raw.get("context", ""),
        )
        topic = "cosmetic" if change.severity == "cosmetic" else "linked"
        items.append(
            Item(raw["id"], change, raw["source_url"], set(raw["must"]), set(raw["may"]), raw.get("holdout", False),
                 raw.get("batch", 1), topic)
        )
    return guide, items


def load_set(path: Path) -> tuple[Guide, list[Item]]:
    """A one-guide set of tests/data/linking/: severity from severity.classify, as a crawl grades it."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    guide = load_guide(ROOT / data["guide"])
    items = []
    for raw in data["item"]:
        old, new = raw.get("old", ""), raw.get("new", "")
        severity, reason = classify(old, new)
        change = Change(raw["id"], raw.get("kind", "modified"), severity, reason, tuple(raw.get("source_section", [])),
                        old, new, word_ops(old, new), "block", raw.get("context", ""))
        items.append(Item(raw["id"], change, raw["source_url"], set(raw["must"]), set(raw.get("ok", [])),
                          raw["split"] == "holdout", topic=raw.get("topic", "linked"), grade=raw.get("grade")))
    return guide, items


def all_sets() -> dict[str, tuple[Guide, list[Item]]]:
    """Every labelled set by guide slug, the ATMP set first."""
    sets = {"gene-therapy-atmps-uk": load_devset()}
    for path in sorted(SETS.glob("*.toml")):
        guide, items = load_set(path)
        sets[guide.slug] = (guide, items)
    return sets


def _mark(item: Item, impact: Impact, n: int) -> Dismissal:
    return Dismissal(impact.guide, impact.section, item.source_url, item.change.source_section, "replay",
                     datetime(2026, 1, 1, tzinfo=UTC), f"replayed mark {n}", sentence=impact.evidence[-1])


def evaluate(guide: Guide, items: list[Item], threshold: float = DEFAULT_THRESHOLD, *, marks: str = "") -> Summary:
    """Link every item. With marks="sequential", items are replayed in file order and each sees the
    marks made on the wrong flags of the items before it; with marks="round", one round of marks on
    every wrong flag is made first, then every item is linked again (the next change to each passage)."""
    results: list[Result] = []
    given: list[Dismissal] = []
    if marks == "round":
        first = evaluate(guide, items, threshold)
        given = [_mark(r.item, i, n) for n, r in enumerate(first.results) for i in r.flagged if i.section in r.wrong]
    for it in items:
        flagged = link_change(it.change, it.source_url, [guide], threshold=threshold, dismissed=tuple(given))
        results.append(Result(it, flagged))
        if marks == "sequential":
            given += [_mark(it, i, len(given)) for i in flagged if i.section in Result(it, flagged).wrong]
    return Summary(results)

def part(summary: Summary, holdout: bool | None) -> Summary:
    """The results of the tuned (False) or untuned (True) items; None keeps all."""
    return Summary([r for r in summary.results if holdout is None or r.item.holdout == holdout])


def line(name: str, s: Summary) -> str:
    return (
        f"{name:<58} n={len(s.results):>3}  recall {s.recall:.3f}  precision {s.precision:.3f}  "
        f"re-read {s.tier_precision('reread'):.3f} (strict {s.tier_precision('reread', True):.3f}, "
        f"{s.tier_count('reread')} flags)  related {s.tier_precision('related'):.3f} "
        f"({s.tier_count('related')} flags)  noise flags {s.noise_flags}"
    )


def _ratio(counts: tuple[int, int]) -> float:
    k, n = counts
    return 1.0 if not n else k / n


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of k successes in n: sound at the small counts of these parts."""
    if n == 0:
        return (0.0, 1.0)
    p, d = k / n, 1 + z * z / n
    mid, half = (p + z * z / (2 * n)) / d, z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, mid - half), min(1.0, mid + half))


def intervals(s: Summary) -> str:
    parts = [("recall", s.recall_counts), ("precision", s.precision_counts), ("re-read", s.tier_counts("reread"))]
    return "    95 % intervals: " + "  ".join(
        f"{name} {k}/{n} [{lo:.2f}, {hi:.2f}]" for name, (k, n) in parts for lo, hi in [wilson(k, n)])


def details(s: Summary, verbose: bool) -> list[str]:
    out = []
    for r in s.results:
        if r.missed or r.wrong or verbose:
            out.append(f"    {r.item.id}: missed {sorted(r.missed) or '-'}  unexpected {sorted(r.wrong) or '-'}")
            if verbose:
                out += [f"        {i.score:.3f} {i.tier:<7} {i.section}  {list(i.evidence)}" for i in r.flagged]
    return out


def splits(items: list[Item]) -> dict[str, list[Item]]:
    """The ATMP set's tuning items, and each holdout batch on its own."""
    out = {"tune": [i for i in items if not i.holdout]}
    for batch in sorted({i.batch for i in items if i.holdout}):
        out[f"holdout{batch}"] = [i for i in items if i.holdout and i.batch == batch]
    return out


def report(name: str, summary: Summary, verbose: bool) -> str:
    """The ATMP set's old one-line report (kept for tests and habits)."""
    lines = [f"{name}: {len(summary.results)} items  recall {summary.recall:.3f}  precision {summary.precision:.3f}"]
    return "\n".join(lines + details(summary, verbose))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["tune", "holdout", "all"], default="all")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--guide", help="only this guide slug")
    parser.add_argument("--ids", metavar="PREFIX", action="append", default=[],
                        help="only items whose id starts with PREFIX (repeatable), e.g. --ids b4- for one batch")
    parser.add_argument("--no-marks", action="store_true", help="skip the replay of editor marks")
    parser.add_argument("--intervals", action="store_true", help="95 %% Wilson intervals and counts under each line")
    parser.add_argument("-v", "--verbose", action="store_true", help="every item with its flags")
    parser.add_argument("-e", "--errors", action="store_true", help="list misses and wrong flags")
    args = parser.parse_args(argv)
    parts = {"tune": [False], "holdout": [True], "all": [False, True]}[args.part]
    grades: list[str] = []
    pooled: dict[bool, list[Result]] = {h: [] for h in parts}  # every guide's plain results, per part
    hidden = 0  # severity misses on the untuned parts: counted, never named
    for slug, (guide, items) in all_sets().items():
        if args.guide and slug != args.guide:
            continue
        if args.ids:
            items = [i for i in items if i.id.startswith(tuple(args.ids))]
            if not items:
                continue
        runs = [("", evaluate(guide, items, args.threshold))]
        if not args.no_marks:
            runs.append((" +marks(sequential)", evaluate(guide, items, args.threshold, marks="sequential")))
            runs.append((" +marks(round 2)", evaluate(guide, items, args.threshold, marks="round")))
        for suffix, summary in runs:
            for holdout in parts:
                s = part(summary, holdout)
                print(line(f"{slug} {'untuned' if holdout else 'tuned'}{suffix}", s))
                if args.intervals:
                    print(intervals(s))
                if args.errors or args.verbose:
                    print("\n".join(details(s, args.verbose)))
        for holdout in parts:
            pooled[holdout] += part(runs[0][1], holdout).results
        grades += part(runs[0][1], False).grade_errors
        hidden += len(part(runs[0][1], True).grade_errors)
    if args.intervals:
        for holdout, results in pooled.items():
            print(line(f"all guides pooled, {'untuned' if holdout else 'tuned'}", Summary(results)))
            print(intervals(Summary(results)))
    print(f"severity labels missed: tuned {len(grades)} {grades if grades else ''}  untuned {hidden}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

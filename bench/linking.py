"""Recall and precision of guidewatch.link on the labelled development set.

Run: .venv/bin/python bench/linking.py [--split all|tune|holdout1|holdout2] [--threshold X] [-v]

Recall    = must-flag sections found / all must-flag sections (misses leave stale claims live)
Precision = flagged sections that are in must or may / all flagged sections
Holdout items are reported separately, by batch: batch 1 was written before the scorer
existed; batch 2 after batch 1 had been measured once (see tests/data/linking_devset.toml).
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from guidewatch.guides import load_guide
from guidewatch.link import DEFAULT_THRESHOLD, link_change, word_ops
from guidewatch.model import Change, Guide, Impact

ROOT = Path(__file__).resolve().parents[1]
DEVSET = ROOT / "tests" / "data" / "linking_devset.toml"


@dataclass
class Item:
    id: str
    change: Change
    source_url: str
    must: set[str]
    may: set[str]
    holdout: bool
    batch: int = 1  # holdout batch: 1 written before the scorer, 2 written after batch 1 was seen


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


@dataclass
class Summary:
    results: list[Result] = field(default_factory=list)

    @property
    def recall(self) -> float:
        must = sum(len(r.item.must) for r in self.results)
        return 1.0 if not must else sum(len(r.item.must & r.found) for r in self.results) / must

    @property
    def precision(self) -> float:
        flagged = sum(len(r.found) for r in self.results)
        return 1.0 if not flagged else sum(len(r.found) - len(r.wrong) for r in self.results) / flagged


def load_devset(path: Path = DEVSET) -> tuple[Guide, list[Item]]:
    """The guide the set is labelled against, and the items as model.Change values."""
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
        items.append(
            Item(
                raw["id"],
                change,
                raw["source_url"],
                set(raw["must"]),
                set(raw["may"]),
                raw.get("holdout", False),
                raw.get("batch", 1),
            )
        )
    return guide, items


def evaluate(guide: Guide, items: list[Item], threshold: float = DEFAULT_THRESHOLD) -> Summary:
    return Summary([Result(it, link_change(it.change, it.source_url, [guide], threshold=threshold)) for it in items])


def report(name: str, summary: Summary, verbose: bool) -> str:
    lines = [
        f"{name}: {len(summary.results)} items  recall {summary.recall:.3f}  precision {summary.precision:.3f}"
    ]
    for r in summary.results:
        if r.missed or r.wrong or verbose:
            lines.append(f"  {r.item.id}: missed {sorted(r.missed) or '-'}  unexpected {sorted(r.wrong) or '-'}")
            if verbose:
                lines += [f"      {i.score:.3f} {i.section}  {list(i.evidence[:-1])}" for i in r.flagged]
    return "\n".join(lines)


def splits(items: list[Item]) -> dict[str, list[Item]]:
    """The tuning items, and each holdout batch on its own."""
    out = {"tune": [i for i in items if not i.holdout]}
    for batch in sorted({i.batch for i in items if i.holdout}):
        out[f"holdout{batch}"] = [i for i in items if i.holdout and i.batch == batch]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="all", help="all, tune, holdout1, holdout2, ...")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    guide, items = load_devset()
    parts = splits(items)
    if args.split != "all" and args.split not in parts:
        parser.error(f"--split must be all or one of {', '.join(parts)}")
    names = list(parts) if args.split == "all" else [args.split]
    if args.split == "all":
        print(report("all", evaluate(guide, items, args.threshold), False).splitlines()[0])
    for name in names:
        print(report(name, evaluate(guide, parts[name], args.threshold), args.verbose))
    return 0


if __name__ == "__main__":
    sys.exit(main())

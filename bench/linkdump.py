"""Dump every impact the linker gives on the labelled sets and the difflink page, to compare two versions.

    .venv/bin/python bench/linkdump.py OUT.json            # dump
    .venv/bin/python bench/linkdump.py --compare A.json B.json

Not a test: a speed change to the linker must leave its output identical, and this is the
record to diff before and after (run it under several PYTHONHASHSEED values too). Covered:
every item of bench/linking.py (--part all: every set, plain and with both replays of editor
marks) and every change of bench/difflink.py's page against its 10 guides. Per impact: guide,
section, heading, tier, score rounded to 6 places, evidence, claim.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "src"))
sys.path.insert(0, str(BENCH))

import diff as diffbench  # noqa: E402
import difflink  # noqa: E402
import linking  # noqa: E402

from guidewatch.changes.diff import diff_pages  # noqa: E402
from guidewatch.changes.link import link_changes  # noqa: E402
from guidewatch.model import Impact  # noqa: E402


def _row(i: Impact) -> dict[str, Any]:
    return {"guide": i.guide, "section": i.section, "heading": i.heading, "tier": i.tier,
            "score": round(i.score, 6), "evidence": list(i.evidence), "claim": i.claim}


def dump() -> dict[str, Any]:
    """Impacts by '<set>/<replay>/<item id>' and by 'difflink/<change id>'."""
    out: dict[str, Any] = {}
    for slug, (guide, items) in linking.all_sets().items():
        for marks in ("", "sequential", "round"):
            summary = linking.evaluate(guide, items, marks=marks)
            for r in summary.results:
                out[f"{slug}/{marks or 'plain'}/{r.item.id}"] = [_row(i) for i in r.flagged]
    old, new = diffbench.build_pair(1, 500, 100)
    changes = diff_pages(old, new)
    linked = link_changes(changes, difflink.URL, difflink.build_guides(10, 50))
    for n, c in enumerate(changes):
        out[f"difflink/{n:03d}/{c.id}"] = {"kind": c.kind, "severity": c.severity, "old": c.old, "new": c.new,
                                           "impacts": [_row(i) for i in linked[c.id]]}
    return out


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Keys whose impacts differ, or that only one dump has."""
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--compare", action="store_true", help="compare two dumps")
    a = ap.parse_args(argv)
    if a.compare:
        one, two = (json.loads(Path(p).read_text()) for p in a.paths)
        diff = compare(one, two)
        impacts = sum(len(v["impacts"] if isinstance(v, dict) else v) for v in one.values())
        print(f"{len(one)} keys, {impacts} impacts; {len(diff)} differ" + "".join(f"\n  {k}" for k in diff[:20]))
        return 1 if diff else 0
    Path(a.paths[0]).write_text(json.dumps(dump(), indent=0, sort_keys=True, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

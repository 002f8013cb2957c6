"""Diff + link one large page: ~500 KB, 100 scattered edits, against 10 guides of 50 sections.

    .venv/bin/python bench/difflink.py [--kb 500] [--edits 100] [--guides 10] [--sections 50] [--runs 3]

The page pair comes from bench/diff.py (synthetic GOV.UK-style guidance with realistic
edits). The guides are generated Markdown on the same topics, parsed by guidewatch.sources.guides;
every guide cites the page, so every change is scored against all 500 sections. Timed:
`diff_pages` and then `link_changes` over the 10 guides, as `pipeline.process_outcome`
does. The first run is reported separately (it builds each guide's TF-IDF index).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "src"))
sys.path.insert(0, str(BENCH))

import diff as diffbench  # noqa: E402  (bench/diff.py: the page generator)

from guidewatch.changes.diff import diff_pages  # noqa: E402
from guidewatch.changes.link import link_changes  # noqa: E402
from guidewatch.model import Guide  # noqa: E402
from guidewatch.sources.guides import parse_guide  # noqa: E402

URL = "https://www.gov.uk/guidance/synthetic"


def build_guides(count: int, sections: int, seed: int = 7) -> list[Guide]:
    """`count` guides of `sections` sections each, on the page's topics; each cites the page."""
    rng = random.Random(seed)
    guides = []
    for g in range(count):
        lines = [f"# Patient guide {g}", "", "Who this guide is for.", ""]
        for s in range(sections):
            topic = rng.choice(diffbench.TOPICS)
            lines += [f"## {topic.capitalize()}: question {s + 1}", ""]
            lines += [diffbench._sentence(rng, topic) for _ in range(rng.randint(2, 4))]
            if s % 10 == 0:
                lines.append(f"Read the [MHRA guidance]({URL}).")
            lines.append("")
        guides.append(parse_guide("\n".join(lines), slug=f"guide-{g}", fmt="md"))
    return guides


def run(old: object, new: object, guides: list[Guide]) -> tuple[float, float, int, int]:
    t0 = time.perf_counter()
    changes = diff_pages(old, new)  # type: ignore[arg-type]
    t1 = time.perf_counter()
    linked = link_changes(changes, URL, guides)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, len(changes), sum(len(v) for v in linked.values())


def report(kb: int = 500, edits: int = 100, guides: int = 10, sections: int = 50, runs: int = 2) -> str:
    old, new = diffbench.build_pair(1, kb, edits)
    gs = build_guides(guides, sections)
    first = run(old, new, gs)
    warm = [run(old, new, gs) for _ in range(runs)]
    d = statistics.median(w[0] for w in warm)
    lk = statistics.median(w[1] for w in warm)
    size = len(old.text().encode()) / 1024
    return "\n".join([
        f"page {size:.0f} KB ({len(old.blocks)} blocks), {edits} edits; {guides} guides x {sections} sections, "
        f"all citing the page",
        "| run | diff ms | link ms | total ms | changes | impacts |",
        "|---|---:|---:|---:|---:|---:|",
        f"| first (builds guide indexes) | {first[0] * 1000:.0f} | {first[1] * 1000:.0f} | "
        f"{(first[0] + first[1]) * 1000:.0f} | {first[2]} | {first[3]} |",
        f"| warm, median of {runs} | {d * 1000:.0f} | {lk * 1000:.0f} | {(d + lk) * 1000:.0f} | {warm[0][2]} | "
        f"{warm[0][3]} |",
    ])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb", type=int, default=500)
    ap.add_argument("--edits", type=int, default=100)
    ap.add_argument("--guides", type=int, default=10)
    ap.add_argument("--sections", type=int, default=50)
    ap.add_argument("--runs", type=int, default=2)
    a = ap.parse_args(argv)
    print(report(a.kb, a.edits, a.guides, a.sections, a.runs))


if __name__ == "__main__":
    main()

"""Benchmark: parse pathological and ordinary guides, at growing sizes.

    .venv/bin/python bench/guides.py [--runs 3] [--max-kb 1200]

Prints the median parse time of each input at each size, and the time per KB, so a reader
can see the growth is linear (the regex parser took 56 s on `## S` + 3,000 spaces + `x` and
over 120 s on a 150 KB line of `[`). No asserts: tests/test_guide_markdown.py holds the
hang guards.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from guidewatch.sources.guides import parse_guide  # noqa: E402

ATMP = (ROOT / "tests" / "fixtures" / "guides" / "gene-therapy-atmps-uk.md").read_text(encoding="utf-8")

# name -> (format, a function giving an input of about n bytes)
INPUTS: dict[str, tuple[str, Callable[[int], str]]] = {
    "heading + spaces": ("md", lambda n: "## S" + " " * n + "x\n"),
    "line of [": ("md", lambda n: "[" * n + "\n"),
    "line of ![": ("md", lambda n: "![" * (n // 2) + "\n"),
    "link of (": ("md", lambda n: "[x](" + "(" * n + "\n"),
    "url + )": ("md", lambda n: "https://www.gov.uk/a" + ")" * n + "\n"),
    "many bare urls": ("md", lambda n: "see https://www.gov.uk/a " * (n // 25) + "\n"),
    "txt bare urls": ("txt", lambda n: "Guide\n\n" + "see https://www.gov.uk/a " * (n // 25) + "\n"),
    "ATMP guide copies": ("md", lambda n: ATMP * max(1, n // len(ATMP))),
}


def _median(text: str, fmt: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        parse_guide(text, slug="bench", fmt=fmt)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--max-kb", type=int, default=1200)
    args = ap.parse_args()
    sizes = [kb for kb in (3, 150, 600, 1200, 5000) if kb <= args.max_kb]
    print(f"{'input':<20}" + "".join(f"{kb:>9} KB" for kb in sizes) + "   ms/KB at largest")
    for name, (fmt, make) in INPUTS.items():
        row = []
        for kb in sizes:
            row.append(_median(make(kb * 1000), fmt, args.runs))
        print(f"{name:<20}" + "".join(f"{t:>10.3f}s" for t in row) + f"   {1000 * row[-1] / sizes[-1]:.2f}")


if __name__ == "__main__":
    main()

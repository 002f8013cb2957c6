"""Benchmark: normalise the demo's gov.uk ATMP page with its body repeated to ~600 KB.

    .venv/bin/python bench/normalise.py [--copies 45] [--runs 3]

Prints the page size, the blocks found and the time per profile (min and median of the
runs). No asserts: tests/test_normalise.py checks that the work grows in proportion to the
page (it counts calls, it does not time them).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import guidewatch  # noqa: E402
from guidewatch.pages.normalise import normalise  # noqa: E402
from guidewatch.sources.profiles import load_profiles  # noqa: E402

SLUG = "advanced-therapy-medicinal-products-regulation-and-licensing"
SITE = Path(guidewatch.__file__).parent / "demo_data" / "site" / "v1" / "www.gov.uk"
URL = f"https://www.gov.uk/guidance/{SLUG}"


def big_page(copies: int) -> bytes:
    html = (SITE / "guidance" / SLUG / "index.html").read_text(encoding="utf-8")
    body = json.loads((SITE / "api" / "content" / "guidance" / f"{SLUG}.json").read_text())["details"]["body"]
    return html.replace(body, "".join(body.replace('id="', f'id="c{i}-') for i in range(copies))).encode()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=45)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    page = big_page(args.copies)
    profiles = load_profiles()
    print(f"page: {len(page) / 1024:.0f} KB ({args.copies} copies of the ATMP guidance body)")
    for name in ("govuk", "default"):
        times, blocks = [], 0
        for _ in range(args.runs):
            t0 = time.perf_counter()
            blocks = len(normalise(page, url=URL, profile=profiles[name]).blocks)
            times.append(time.perf_counter() - t0)
        print(f"{name:8} {blocks} blocks: min {min(times) * 1000:.0f} ms, "
              f"median {statistics.median(times) * 1000:.0f} ms over {args.runs} runs")


if __name__ == "__main__":
    main()

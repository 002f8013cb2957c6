"""Benchmark: CPU per page of `normalise`, this checkout against a baseline commit, in one run.

    .venv/bin/python bench/normalise.py [--baseline main] [--pages 200] [--copies 45] [--depth 20000] [--rounds 3]

The pages are the bench corpus (bench/corpus.py: GOV.UK-like ~30 KB and NHS-like ~12 KB pages,
each read with its site's profile), the demo ATMP page with its body repeated to ~600 KB
(`--copies`) and a hostile page nested `--depth` elements deep. Each side runs in its own
process (the baseline from `git archive <baseline>` into a temporary directory, this checkout
from src/), alternating, `--rounds` times; the figure kept
is each side's least CPU time (time.process_time, so other processes' load counts little).
Prints ms per page for both and the ratio. No asserts: tests/test_normalise_golden.py checks
that both give the same text.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SLUG = "advanced-therapy-medicinal-products-regulation-and-licensing"


def big_page(site: Path, copies: int) -> bytes:
    """The demo ATMP page with its guidance body repeated `copies` times (ids kept unique)."""
    html = (site / "www.gov.uk" / "guidance" / SLUG / "index.html").read_text(encoding="utf-8")
    body = json.loads((site / "www.gov.uk" / "api" / "content" / "guidance" / f"{SLUG}.json").read_text())
    inner = body["details"]["body"]
    return html.replace(inner, "".join(inner.replace('id="', f'id="c{i}-') for i in range(copies))).encode()


def worker(src: str, pages: int, copies: int, depth: int) -> dict[str, float]:
    """Run inside one side's process: CPU ms per page for the corpus and for the big page."""
    sys.path.insert(0, src)
    sys.path.insert(0, str(ROOT / "bench"))
    import corpus

    from guidewatch.pages.normalise import normalise
    from guidewatch.sources.profiles import load_profiles, profile_for_url

    profiles = load_profiles()
    templates = corpus.Templates()
    work = []
    for i in range(pages):
        url = ("https://www.nhs.uk" if i % 5 == 4 else "https://www.gov.uk") + corpus.page_path(i)
        work.append((templates.render(i, 1 + i % 3), url, profile_for_url(url, profiles)))
    big = big_page(ROOT / "src" / "guidewatch" / "demo_data" / "site" / "v1", copies)
    normalise(work[0][0], url=work[0][1], profile=work[0][2])  # warm: imports, compiled selectors
    t0 = time.process_time()
    blocks = sum(len(normalise(body, url=url, profile=profile).blocks) for body, url, profile in work)
    corpus_ms = (time.process_time() - t0) * 1000 / pages
    out = {"corpus_ms": corpus_ms, "corpus_blocks": blocks, "big_kb": len(big) / 1024}
    deep = ("<main>" + "<div><span>" * depth + "deep" + "</span></div>" * depth + "<p>after</p></main>").encode()
    t0 = time.process_time()
    out["deep_blocks"] = len(normalise(deep, url="https://www.gov.uk/deep", profile=profiles["govuk"]).blocks)
    out["deep_ms"] = (time.process_time() - t0) * 1000
    for name in ("govuk", "default"):
        t0 = time.process_time()
        out[f"big_{name}_blocks"] = len(normalise(big, url=f"https://www.gov.uk/guidance/{SLUG}",
                                                  profile=profiles[name]).blocks)
        out[f"big_{name}_ms"] = (time.process_time() - t0) * 1000
    return out


def run_side(src: str, args: argparse.Namespace) -> dict[str, float]:
    cmd = [sys.executable, "-B", __file__, "--worker", src, "--pages", str(args.pages), "--copies", str(args.copies),
           "--depth", str(args.depth)]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="main", help="git commit or branch to compare with")
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--copies", type=int, default=45)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--depth", type=int, default=20000, help="nesting of the hostile deep page")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.pages, args.copies, args.depth)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline, "src"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        sides = {args.baseline: str(Path(tmp) / "src"), "this checkout": str(ROOT / "src")}
        best: dict[str, dict[str, float]] = {}
        for _ in range(args.rounds):
            for name, src in sides.items():
                got = run_side(src, args)
                keep = best.setdefault(name, got)
                for key, value in got.items():
                    if key.endswith("_ms"):
                        keep[key] = min(keep[key], value)
    old, new = best[args.baseline], best["this checkout"]
    print(f"{args.pages} corpus pages ({old['corpus_blocks']:.0f} blocks), big page {old['big_kb']:.0f} KB; "
          f"least CPU time of {args.rounds} rounds")
    rows = [("corpus page", "corpus_ms"), ("big page, govuk", "big_govuk_ms"), ("big page, default", "big_default_ms"),
            (f"{args.depth}-deep page", "deep_ms")]
    for label, key in rows:
        print(f"{label:18} {args.baseline}: {old[key]:8.2f} ms   this checkout: {new[key]:8.2f} ms   "
              f"{old[key] / new[key]:5.1f}x")
    same = all(old[k] == new[k] for k in old if k.endswith("blocks"))
    print("block counts equal" if same else f"BLOCK COUNTS DIFFER: {old} vs {new}")


if __name__ == "__main__":
    main()

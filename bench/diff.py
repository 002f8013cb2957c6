"""Benchmark: diff a ~500 KB synthetic guidance page carrying 100 scattered edits, then a
page of 100,000 small blocks (a long register) carrying as many.

    .venv/bin/python bench/diff.py [--kb 500] [--edits 100] [--runs 5] [--seed 1] [--blocks 100000]

Prints the page sizes, the median diff time (wall and CPU) over the runs, and the changes
found by kind and severity; then the time limit on a 300 KB page rewritten from top to
bottom (every block differs): the wall time of `diff_pages(timeout_s=0.5)` against its
0.5 s budget. No asserts: the figures are for reading (tests/test_diff.py and
tests/test_alignment.py hold the bounds by counting work, with a fake clock for the budget).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402  (bench/corpus.py: the shared text generator)

from guidewatch.changes.diff import UNANALYSED, diff_pages  # noqa: E402
from guidewatch.model import Block, Page  # noqa: E402

TITLE = "Advanced therapy medicinal products: regulation and licensing"
# The corpus's sentence generator; its first 12 topics, which these pages were built from.
TOPICS = corpus.TOPICS[:12]
BODIES, SENTENCES, MODALS = corpus.BODIES, corpus.SENTENCES, corpus.MODALS


def _sentence(rng: random.Random, topic: str) -> str:
    return rng.choice(SENTENCES).format(
        modal=rng.choice(MODALS),
        body=rng.choice(BODIES),
        topic=topic,
        n=rng.randint(2, 90),
        fee=f"{rng.randint(1, 40) * 250:,}",
        pct=rng.randint(2, 60),
    )


def _paragraph(rng: random.Random, topic: str) -> str:
    return " ".join(_sentence(rng, topic) for _ in range(rng.randint(3, 6)))


def build_page(rng: random.Random, target_kb: int) -> Page:
    """Sections (h2) with sub-sections (h3) of paragraphs and list items, until ~target_kb."""
    blocks = [Block((TITLE,), "heading", TITLE, 1)]
    size = 0
    n = 0
    while size < target_kb * 1024:
        n += 1
        topic = rng.choice(TOPICS)
        h2 = f"{n}. {topic.capitalize()} (part {n})"
        blocks.append(Block((TITLE, h2), "heading", h2, 2))
        blocks += [Block((TITLE, h2), "p", _paragraph(rng, topic)) for _ in range(rng.randint(1, 3))]
        for k in range(rng.randint(1, 3)):
            h3 = f"{n}.{k + 1} {rng.choice(TOPICS).capitalize()}"
            path = (TITLE, h2, h3)
            blocks.append(Block(path, "heading", h3, 3))
            blocks += [Block(path, "p", _paragraph(rng, topic)) for _ in range(rng.randint(1, 3))]
            blocks += [Block(path, "li", _sentence(rng, topic)) for _ in range(rng.randint(0, 4))]
        size = sum(len(b.text) + 1 for b in blocks)
    return Page("https://www.gov.uk/guidance/synthetic", "govuk", TITLE, blocks)


def build_register(rng: random.Random, blocks: int) -> Page:
    """`blocks` small blocks: an h2 every 500 list items, one item in 20 a bare "Yes" or "No"."""
    out = [Block((TITLE,), "heading", TITLE, 1)]
    path: tuple[str, ...] = (TITLE,)
    while len(out) < blocks:
        k = len(out)
        if k % 500 == 1:
            path = (TITLE, f"Register part {k // 500 + 1}")
            out.append(Block(path, "heading", path[-1], 2))
        elif k % 20 == 7:
            out.append(Block(path, "li", rng.choice(["Yes", "No"])))
        else:
            out.append(Block(path, "li", f"Entry {k}: {_sentence(rng, rng.choice(TOPICS))}"))
    return Page("https://www.gov.uk/guidance/register", "govuk", TITLE, out)


def _edit_text(rng: random.Random, text: str) -> str:
    """One realistic edit: a modal verb, a number, a rewording or typography."""
    choice = rng.random()
    words = text.split(" ")
    k = rng.randrange(len(words))
    if choice < 0.3:
        for m in MODALS:
            if f" {m} " in text:
                return text.replace(f" {m} ", f" {rng.choice([x for x in MODALS if x != m])} ", 1)
    if choice < 0.6:
        digits = [i for i, w in enumerate(words) if any(c.isdigit() for c in w)]
        if digits:
            k = rng.choice(digits)
            words[k] = str(rng.randint(100, 999))
            return " ".join(words)
    if choice < 0.85:
        words[k] = rng.choice(["usually", "normally", "promptly", "in writing"])
        return " ".join(words)
    return text.replace("'", "\u2019").replace(" - ", " \u2013 ").replace(". ", ".  ", 1)


def edit_page(page: Page, rng: random.Random, edits: int) -> Page:
    """`edits` scattered edits: mostly in-place text edits, some blocks inserted or deleted."""
    blocks = list(page.blocks)
    body = [i for i, b in enumerate(blocks) if b.kind != "heading"]
    targets = sorted(rng.sample(body, edits), reverse=True)
    for i in targets:  # back to front, so earlier indices stay valid
        b = blocks[i]
        r = rng.random()
        if r < 0.1:
            del blocks[i]
        elif r < 0.2:
            blocks.insert(i + 1, Block(b.path, "p", _paragraph(rng, "newly added guidance")))
        else:
            blocks[i] = Block(b.path, b.kind, _edit_text(rng, b.text), b.level)
    return Page(page.url, page.profile, page.title, blocks, dict(page.metadata))


def build_pair(seed: int = 1, target_kb: int = 500, edits: int = 100) -> tuple[Page, Page]:
    rng = random.Random(seed)
    old = build_page(rng, target_kb)
    return old, edit_page(old, rng, edits)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb", type=int, default=500)
    ap.add_argument("--edits", type=int, default=100)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--blocks", type=int, default=100_000, help="blocks of the register page (0: skip it)")
    args = ap.parse_args(argv)
    old, new = build_pair(args.seed, args.kb, args.edits)
    _report(old, new, args.edits, args.runs)
    t0 = time.perf_counter()
    same = diff_pages(old, old)
    print(f"page against itself: {len(same)} changes in {(time.perf_counter() - t0) * 1000:.1f} ms")
    if args.blocks:
        rng = random.Random(args.seed)
        register = build_register(rng, args.blocks)
        print()
        _report(register, edit_page(register, rng, args.edits), args.edits, args.runs)
    print()
    time_limit(args.runs)


def _report(old: Page, new: Page, edits: int, runs: int) -> None:
    times, cpu = [], []
    changes = []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        changes = diff_pages(old, new)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print(f"page: {len(old.text().encode()) / 1024:.0f} KB, {len(old.blocks)} blocks; {edits} edits")
    print(f"diff time: median {statistics.median(times) * 1000:.0f} ms over {runs} runs "
          f"(min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms; "
          f"CPU median {statistics.median(cpu) * 1000:.0f} ms)")  # fmt: skip
    print(f"changes: {len(changes)}")
    print(
        "  by kind:     " + ", ".join(f"{k} {n}" for k, n in Counter(c.kind for c in changes).most_common())
    )
    print(
        "  by severity: "
        + ", ".join(f"{k} {n}" for k, n in Counter(c.severity for c in changes).most_common())
    )


def time_limit(runs: int, budget: float = 0.5) -> None:
    """A rewritten page: how long diff_pages takes against its budget, and what it analysed."""
    old, new = build_page(random.Random(5), 300), build_page(random.Random(6), 300)
    times, changes = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        changes = diff_pages(old, new, timeout_s=budget)
        times.append(time.perf_counter() - t0)
    unanalysed = sum(c.reason == UNANALYSED for c in changes)
    print(f"rewritten {len(old.text().encode()) / 1024:.0f} KB page, budget {budget * 1000:.0f} ms: median "
          f"{statistics.median(times) * 1000:.0f} ms (max {max(times) * 1000:.0f} ms); {len(changes)} changes, "
          f"{unanalysed} past the time limit")


if __name__ == "__main__":
    main()

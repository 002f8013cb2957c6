"""Recording cost, in one process: CPU per new page, per changed page and per quiet 304.

    .venv/bin/python bench/record.py [--n 2000] [--changed 5] [--store URL] [--out bench/out]

No HTTP and no crawl child: the corpus pages of bench/corpus.py are handed to
`Recording` as the crawl child would hand them over (an "ok" answer with its body), on the
workspace bench/scale.py builds (N/50 guides of 50 pages, SQLite unless --store). Three
rounds: a first crawl (every page new), an unchanged re-crawl (every answer a 304) and a
re-crawl where --changed % of the pages changed (the rest 304s). CPU is process time
(`time.process_time`, all threads). Each body is rendered and normalised just before it is
handed over, outside the timed part, and the recorder's parse returns that page: "record"
is what screening, storing, deciding and writing files cost; "parse" is timed separately.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "src"))

import corpus  # noqa: E402
import scale  # noqa: E402

from guidewatch.app import recorder  # noqa: E402
from guidewatch.app.recording import CrawlSummary, Recording  # noqa: E402
from guidewatch.app.workspace import Workspace, open_workspace  # noqa: E402
from guidewatch.config import load_config  # noqa: E402
from guidewatch.model import FetchOutcome  # noqa: E402
from guidewatch.pages.normalise import normalise  # noqa: E402
from guidewatch.store import SourceState, utcnow  # noqa: E402

ORIGIN = "http://127.0.0.1:9"  # never contacted: the bodies are handed over directly
HTML = "text/html; charset=utf-8"


def answers(sources: list[SourceState], render: Callable[[int], bytes | None]) -> Iterator[tuple[SourceState,
                                                                                                  FetchOutcome]]:
    """Each source's answer, made when it is needed (so the bench itself holds one body at a time):
    a 200 with `render(i)`, or a 304 when it gives None."""
    index = {corpus.page_path(i): i for i in range(len(sources))}
    for src in sources:
        i = index[src.url.removeprefix(ORIGIN)]
        body = render(i)
        if body is None:
            yield src, FetchOutcome(url=src.url, status="not_modified", http_status=304, fetched_at=utcnow(),
                                    headers={"etag": f'"p{i}-r1"'})
        else:
            yield src, FetchOutcome(url=src.url, status="ok", http_status=200, body=body, fetched_at=utcnow(),
                                    headers={"content-type": HTML, "etag": f'"p{i}-r{2 if i in CHANGED else 1}"'})


CHANGED: set[int] = set()
PARSED: dict[str, object] = {}  # url -> the page parsed for the answer about to be handed over


def record_round(ws: Workspace, sources: list[SourceState], render: Callable[[int], bytes | None]
                 ) -> tuple[float, float, CrawlSummary]:
    """(CPU s recording, CPU s parsing, summary): rendering and parsing happen before each hand-over."""
    summary = CrawlSummary()
    recording = Recording(ws, summary, sources)
    outside = parsing = 0.0
    profile = ws.profiles["govuk"]
    t0 = time.process_time()
    it = answers(sources, render)
    while True:
        r0 = time.process_time()
        try:
            src, outcome = next(it)
        except StopIteration:
            break
        if outcome.status == "ok":
            p0 = time.process_time()
            PARSED[src.url] = normalise(outcome.body, url=src.url, profile=profile, content_type=HTML)
            parsing += time.process_time() - p0
        outside += time.process_time() - r0
        recording.add(src, outcome)
    recording.close()
    return time.process_time() - t0 - outside, parsing, summary


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--changed", type=float, default=5.0)
    ap.add_argument("--store", help="store URL (default: SQLite in the workspace)")
    ap.add_argument("--out", type=Path, default=BENCH / "out")
    args = ap.parse_args(argv)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; N={args.n}", flush=True)
    root = scale.guidewatch_workspace(args.out / f"record-n{args.n}", ORIGIN, args.n, args.store)
    if importlib.util.find_spec("guidewatch.pages.parallel"):  # before page workers were removed: parse inline
        toml = root / "guidewatch.toml"
        toml.write_text(toml.read_text().replace("[fetch]\n", "[fetch]\nparse_workers = 0\n"))
    ws = open_workspace(load_config(root / "guidewatch.toml"))
    templates = corpus.Templates()
    recorder.parse = lambda job, _profiles: PARSED.pop(job.url)  # type: ignore[assignment]  # parsed already
    if importlib.util.find_spec("guidewatch.pages.parallel"):  # where the pool parsed before the workers went
        importlib.import_module("guidewatch.pages.parallel").parse = recorder.parse
    try:
        sources = ws.store.sources.all()
        CHANGED.update(range(0, args.n, max(1, round(100 / args.changed))) if args.changed else ())
        rounds: list[tuple[str, Callable[[int], bytes | None]]] = [
            ("first crawl", lambda i: templates.render(i, 1)),
            ("unchanged (304s)", lambda i: None),
            (f"{len(CHANGED)} changed + 304s", lambda i: templates.render(i, 2) if i in CHANGED else None)]
        quiet = 0.0  # CPU per 304, from the unchanged round
        for name, render in rounds:
            sources = ws.store.sources.all()
            cpu, parsing, summary = record_round(ws, sources, render)
            pages = summary.counts["new"] + summary.counts["changed"]
            if pages:
                rest = cpu - quiet * (len(sources) - pages)
                per = f"record {1000 * rest / pages:.2f} ms/page (parse {1000 * parsing / pages:.2f}; 304s as above)"
            else:
                quiet = cpu / len(sources)
                per = f"{1000 * quiet:.3f} ms/source"
            print(f"{name:<22} {summary.headline()}\n    CPU {cpu:.2f} s recording, {per}", flush=True)
    finally:
        ws.close()
    print(f"peak RSS of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()

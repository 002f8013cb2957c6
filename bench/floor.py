"""The floor under any Scrapy crawl on this machine: what a bare Scrapy spider, with none of
guidewatch in it, costs to start and to re-check N unchanged pages (all 304).

    .venv/bin/python bench/floor.py [--n 200] [--runs 5]

It runs, each --runs times, interleaved: `python -c pass`; importing Scrapy's crawler and the
Twisted reactor; and a minimal spider (Scrapy's engine, scheduler and HTTP handler only: no
middleware, extension, robots.txt or store) that sends N conditional GETs to a local 127.0.0.1
server (bench/startup.py's, which answers 304 to a matching If-None-Match) with 10 requests in
flight. For each: the median wall seconds,
CPU seconds (wait4) and, for the spider, the seconds to the first request the server saw.
Compare with urlwatch's wall for the same N in bench/scale.py's table: a target that needs
guidewatch below this floor cannot be met by any Scrapy crawl started as a new process.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from startup import _Server  # noqa: E402  (bench scripts import each other by path)

PYTHON = sys.executable
SPIDER = '''
import sys
import scrapy
from scrapy.crawler import CrawlerProcess

origin, n = sys.argv[1], int(sys.argv[2])


class Floor(scrapy.Spider):
    name = "floor"

    async def start(self):
        for i in range(n):
            yield scrapy.Request(f"{origin}/page/{i}", headers={"If-None-Match": f'"v1-/page/{i}"'},
                                 callback=self.done, errback=self.done, dont_filter=True)

    def done(self, _):
        pass


# Scrapy's engine, scheduler and HTTP/1.1 handler only: every middleware and extension off, no
# stats, so nothing a real crawl needs (robots.txt, retries, redirects, decompression) is paid for.
process = CrawlerProcess({"LOG_ENABLED": False, "TELNETCONSOLE_ENABLED": False, "ROBOTSTXT_OBEY": False,
                          "CONCURRENT_REQUESTS": 10, "HTTPERROR_ALLOW_ALL": True,
                          "DOWNLOADER_MIDDLEWARES_BASE": {}, "SPIDER_MIDDLEWARES_BASE": {}, "EXTENSIONS_BASE": {},
                          "STATS_CLASS": "scrapy.statscollectors.DummyStatsCollector"})
process.crawl(Floor)
process.start()
'''


def run(cmd: list[str], server: _Server | None = None) -> tuple[float, float, float]:
    """(wall s, CPU s of the process, s to the first request the server saw or nan)."""
    if server:
        server.seen.clear()
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[:3]} failed")
    first = min(server.seen) - start if server and server.seen else float("nan")
    return wall, usage.ru_utime + usage.ru_stime, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="unchanged pages the bare spider re-checks")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    server = _Server()
    with tempfile.TemporaryDirectory() as tmp:
        spider = Path(tmp) / "floor_spider.py"
        spider.write_text(SPIDER, encoding="utf-8")
        cases = {
            "python -c pass": ([PYTHON, "-c", "pass"], None),
            "import scrapy.crawler + reactor": ([PYTHON, "-c", "import scrapy.crawler, twisted.internet.reactor"],
                                                None),
            f"bare Scrapy spider, {args.n} x 304": ([PYTHON, str(spider), server.origin, str(args.n)], server),
        }
        seen: dict[str, list[tuple[float, float, float]]] = {k: [] for k in cases}
        for _ in range(args.runs):
            for name, (cmd, srv) in cases.items():
                seen[name].append(run(cmd, srv))
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores, median of {args.runs} runs\n")
    print("| what | wall s | CPU s | first request s |\n|---|---:|---:|---:|")
    for name, rows in seen.items():
        wall, cpu, first = (statistics.median(col) for col in zip(*rows, strict=True))
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {'-' if first != first else f'{first:.3f}'} |")


if __name__ == "__main__":
    main()

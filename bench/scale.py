"""Crawl throughput, CPU and memory: guidewatch against urlwatch on one local corpus.

    .venv/bin/python bench/scale.py [--sizes 200,2000,10000] [--changed 5] [--no-urlwatch]
                                    [--store postgresql://...] [--out bench/out]

For each corpus size N, `bench/corpus.py` serves N gov.uk/nhs.uk-like pages on 127.0.0.1
and both tools check all of them three times, in the same run, interleaved:

1. first crawl (every page new: 200s);
2. unchanged re-crawl (conditional requests: every page answers 304);
3. re-crawl after --changed % of the pages got a substantive edit (new ETag, 200).

guidewatch runs as the installed command, `guidewatch crawl --all -q`, on a workspace of
N/50 guides citing 50 pages each (SQLite store unless --store). urlwatch runs from its own
venv (bench/.venv-urlwatch, created with pip on first use; never a project dependency) on
the same URLs, default job settings (no filters: it stores and diffs raw HTML; with
--urlwatch-filter each job extracts `main` as text first, closer to what guidewatch does).

Both tools fetch with 10 requests in flight (urlwatch's fixed thread pool size). Wall time
and CPU seconds (user + sys, the command and every child it waited for) come from wait4;
peak memory is the largest sum of RSS over the command's process tree, sampled every 20 ms.
The server runs in its own process and its CPU is not counted. Then one large page is
diffed and linked (bench/difflink.py). Prints a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import corpus  # noqa: E402

URLWATCH_VENV = BENCH / ".venv-urlwatch"
CONCURRENCY = 10  # urlwatch's worker.MAX_WORKERS; guidewatch gets the same
GUIDE_SIZE = 50  # pages cited per guide
PAGE_KB = 1024


@dataclass
class Run:
    tool: str
    phase: str
    n: int
    wall: float
    cpu: float
    peak_mb: float
    code: int
    served: dict[str, int]

    @property
    def rate(self) -> float:
        return self.n / self.wall if self.wall else 0.0


# --- measuring a command ----------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    """pid and all its descendants (via /proc/<pid>/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except OSError:
            continue
    return out


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, IndexError, ValueError):
        return 0


def measure(cmd: list[str], cwd: Path, log: Path) -> tuple[float, float, float, int]:
    """(wall s, CPU s, peak tree RSS MB, exit code) of one command."""
    peak = [0]
    done = threading.Event()
    with log.open("ab") as out:
        out.write(("$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=out)

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], sum(_rss_kb(p) for p in _tree(proc.pid)))
                done.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, peak[0] / 1024, proc.returncode


# --- the corpus server ------------------------------------------------------------------------


class Server:
    def __init__(self, n: int) -> None:
        self.proc = subprocess.Popen([sys.executable, str(BENCH / "corpus.py"), "serve", "--n", str(n)],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout
        line = self.proc.stdout.readline()
        if not line.startswith("port "):
            raise SystemExit(f"corpus server did not start: {line!r}")
        self.origin = f"http://127.0.0.1:{int(line.split()[1])}"

    def control(self, path: str) -> dict[str, object]:
        with urllib.request.urlopen(self.origin + path, timeout=60) as resp:  # noqa: S310 - 127.0.0.1 only
            return json.loads(resp.read())

    def stats(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.control("/_bench/stats?reset=1").items()}  # type: ignore[call-overload]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


# --- workspaces ---------------------------------------------------------------------------------


def guidewatch_workspace(root: Path, origin: str, n: int, store: str | None) -> Path:
    """N/50 guides, each citing 50 pages from its sections; the GOV.UK profile for 127.0.0.1."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "guides").mkdir(parents=True)
    (root / "profiles").mkdir()
    govuk = (ROOT / "src" / "guidewatch" / "sources" / "site_profiles" / "govuk.toml").read_text(encoding="utf-8")
    govuk = govuk.replace('hosts = ["gov.uk"]', 'hosts = ["127.0.0.1"]').split("\n[api]")[0]
    (root / "profiles" / "govuk.toml").write_text(govuk, encoding="utf-8")
    entries = []
    for g in range(0, n, GUIDE_SIZE):
        slug = f"guide-{g // GUIDE_SIZE:04d}"
        (root / "guides" / f"{slug}.md").write_text(_guide(origin, g, min(n, g + GUIDE_SIZE)), encoding="utf-8")
        entries.append(f'[[guides]]\npath = "guides/{slug}.md"\nslug = "{slug}"\neditors = ["ed@example.org"]\n')
    store_line = f'store = "{store}"' if store else 'store = "sqlite:///guidewatch.db"'
    (root / "guidewatch.toml").write_text(f"""{store_line}
profiles_dir = "profiles"

[fetch]
user_agent = "guidewatch-bench/0.1"
contact_url = "https://www.example.org/bench"
concurrency = {CONCURRENCY}
per_host = {CONCURRENCY}
download_delay = 0.0
autothrottle = false
retries = 1
timeout = 30.0
allow_private = true
crawl_timeout = 7200.0

[alerts]
formats = ["md"]

""" + "\n".join(entries), encoding="utf-8")
    return root


def _guide(origin: str, first: int, last: int) -> str:
    lines = [f"# Patient guide {first // GUIDE_SIZE}", "", "What this guide covers and where it comes from.", ""]
    for s, start in enumerate(range(first, last, 5)):
        topic = corpus.TOPICS[(first + s) % len(corpus.TOPICS)]
        lines += [f"## {topic.capitalize()} ({s + 1})", "",
                  f"Applicants must contact the MHRA about {topic} before they apply. Patients should ask "
                  f"their specialist whether {topic} applies to their treatment.", ""]
        for i in range(start, min(last, start + 5)):
            lines.append(f"- [{corpus.page_title(i)}]({origin}{corpus.page_path(i)})")
        lines.append("")
    return "\n".join(lines)


def urlwatch_workspace(root: Path, origin: str, n: int, text_filter: bool = False) -> Path:
    """One job per page; with `text_filter`, urlwatch also extracts the main content as text."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    extra = "filter:\n  - css: main\n  - html2text\n" if text_filter else ""
    jobs = [f"name: page {i}\nurl: {origin}{corpus.page_path(i)}\n{extra}" for i in range(n)]
    (root / "urls.yaml").write_text("---\n".join(jobs), encoding="utf-8")
    return root


def ensure_urlwatch() -> Path:
    exe = URLWATCH_VENV / "bin" / "urlwatch"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(URLWATCH_VENV)], check=True)
        subprocess.run([str(URLWATCH_VENV / "bin" / "pip"), "install", "-q", "urlwatch"], check=True)
    return exe


# --- one corpus size ----------------------------------------------------------------------------


def bench_size(n: int, args: argparse.Namespace, out: Path) -> list[Run]:
    server = Server(n)
    runs: list[Run] = []
    try:
        gw_dir = guidewatch_workspace(out / f"n{n}" / "guidewatch", server.origin, n, args.store)
        uw_dir = urlwatch_workspace(out / f"n{n}" / "urlwatch", server.origin, n, args.urlwatch_filter)
        gw_cmd = [str(Path(sys.executable).parent / "guidewatch"), "crawl", "--all", "-q"]
        uw_cmd = [str(args.urlwatch), "--urls", "urls.yaml", "--config", "config.yaml", "--cache", "cache.db",
                  "--hooks", "hooks.py"] if args.urlwatch else []
        log = out / f"n{n}" / "commands.log"
        server.stats()
        for phase in ("first", "unchanged", f"{args.changed:g}% changed"):
            if phase.endswith("changed") and phase != "unchanged":
                server.control(f"/_bench/change?pct={args.changed}&seed={n}")
            for tool, cmd, cwd in (("guidewatch", gw_cmd, gw_dir), ("urlwatch", uw_cmd, uw_dir)):
                if not cmd:
                    continue
                wall, cpu, peak, code = measure(cmd, cwd, log)
                run = Run(tool, phase, n, wall, cpu, peak, code, server.stats())
                runs.append(run)
                print(f"  N={n:>6} {tool:<10} {phase:<12} {wall:7.1f} s  {run.rate:7.1f}/s  cpu {cpu:6.1f} s  "
                      f"peak {peak:6.0f} MB  exit {code}  served {run.served}", flush=True)
    finally:
        server.close()
    return runs


def table(runs: list[Run]) -> str:
    head = ("| N | phase | tool | wall s | sources/s | CPU s | CPU ms/source | peak MB | served (status: count) |\n"
            "|---:|---|---|---:|---:|---:|---:|---:|---|")
    rows = [f"| {r.n} | {r.phase} | {r.tool} | {r.wall:.1f} | {r.rate:.1f} | {r.cpu:.1f} | "
            f"{1000 * r.cpu / r.n:.2f} | {r.peak_mb:.0f} | {', '.join(f'{k}: {v}' for k, v in r.served.items())}"
            f"{'' if r.code == 0 else f' (exit {r.code})'} |" for r in runs]
    return "\n".join([head, *rows])


def ratios(runs: list[Run]) -> str:
    """guidewatch / urlwatch wall time per (N, phase), and its inverse (the speed-up)."""
    lines = ["| N | phase | guidewatch / urlwatch wall time | guidewatch speed-up |", "|---:|---|---:|---:|"]
    by = {(r.n, r.phase, r.tool): r for r in runs}
    for (n, phase, tool), gw in by.items():
        uw = by.get((n, phase, "urlwatch"))
        if tool == "guidewatch" and uw:
            lines.append(f"| {n} | {phase} | {gw.wall / uw.wall:.2f} | {uw.wall / gw.wall:.2f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="200,2000,10000", help="corpus sizes, comma-separated")
    ap.add_argument("--changed", type=float, default=5.0, help="percent of pages changed before the third crawl")
    ap.add_argument("--no-urlwatch", action="store_true", help="guidewatch only")
    ap.add_argument("--urlwatch-filter", action="store_true",
                    help="urlwatch jobs also extract the main content as text (css: main, html2text)")
    ap.add_argument("--store", help="guidewatch store URL (default: SQLite in the workspace)")
    ap.add_argument("--no-difflink", action="store_true", help="skip the large-page diff + link figure")
    ap.add_argument("--out", type=Path, default=BENCH / "out", help="workspaces and command logs")
    args = ap.parse_args(argv)
    args.urlwatch = None if args.no_urlwatch else ensure_urlwatch()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start; Python {sys.version.split()[0]}", flush=True)
    runs: list[Run] = []
    for n in sizes:
        runs += bench_size(n, args, args.out)
    print("\n## Crawl figures\n")
    print(table(runs))
    if args.urlwatch:
        print("\n" + ratios(runs))
    if not args.no_difflink:
        import difflink

        print("\n## Diff + link of one large page\n")
        print(difflink.report())
    load = os.getloadavg()
    print(f"\nload average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()

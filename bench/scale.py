"""Crawl throughput, CPU and memory: guidewatch against urlwatch (raw and filtered) on one local corpus.

    .venv/bin/python bench/scale.py [--sizes 200,2000,10000] [--changed 5] [--no-urlwatch]
                                    [--store postgresql://...] [--out bench/out] [--compare OLD.json]
    .venv/bin/python bench/scale.py --compare OLD.json NEW.json     # deltas only, runs nothing

For each corpus size N, `bench/corpus.py` serves N gov.uk/nhs.uk-like pages on 127.0.0.1
and three peers check all of them three times, in the same run, interleaved per phase:

1. first crawl (every page new: 200s);
2. unchanged re-crawl (conditional requests: every page answers 304);
3. re-crawl after --changed % of the pages got a substantive edit (new ETag, 200).

guidewatch runs as the installed command, `guidewatch crawl --all -q`, on a workspace of
N/50 guides citing 50 pages each (SQLite store unless --store). urlwatch runs from its own
venv (bench/.venv-urlwatch, created with pip on first use; never a project dependency) on
the same URLs twice: `urlwatch-raw` with default jobs (stores and diffs raw HTML) and
`urlwatch-text` with `filter: [css: main, html2text]` (extracts the main content as text
first: the fair peer for what guidewatch does; html2text's default method, `re`).

Every peer fetches with 10 requests in flight (urlwatch's fixed thread pool size). Wall time
and CPU seconds (user + sys, the command and every child it waited for) come from wait4;
peak memory is the largest sum of RSS over the command's process tree, sampled every 20 ms.
The server runs in its own process and its CPU is not counted. Then one large page is
diffed and linked (bench/difflink.py). Prints the figures, the ratios against both urlwatch
peers and pass/MISS against the issue-20 targets; writes every figure, with the machine's
facts, to <out>/scale-<UTC time>.json and <out>/scale-latest.json (plus the tables as .md).
Nothing is asserted: the exit code is 0 whatever the verdicts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import corpus  # noqa: E402

URLWATCH_VENV = BENCH / ".venv-urlwatch"
CONCURRENCY = 10  # urlwatch's worker.MAX_WORKERS; guidewatch gets the same
PEERS = ("urlwatch-raw", "urlwatch-text")  # urlwatch default jobs; with css: main + html2text
PHASES = ("first", "unchanged", "changed")
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
    load1: float = field(default=0.0)  # 1-minute load average just before the command

    @property
    def rate(self) -> float:
        return self.n / self.wall if self.wall else 0.0

    @property
    def cpu_ms_per_source(self) -> float:
        return 1000 * self.cpu / self.n


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
    # The built-in profile, wherever the package keeps it (it moved into sources/), served from 127.0.0.1.
    govuk = next((ROOT / "src" / "guidewatch").rglob("site_profiles/govuk.toml")).read_text(encoding="utf-8")
    govuk = re.sub(r"^hosts = .*$", 'hosts = ["127.0.0.1"]', govuk, count=1, flags=re.M).split("\n[api]")[0]
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
    """The three phases at one size; within each phase every peer runs once, in the same order."""
    server = Server(n)
    runs: list[Run] = []
    try:
        peers: list[tuple[str, list[str], Path]] = []
        if "guidewatch" in args.peers:
            gw_dir = guidewatch_workspace(out / f"n{n}" / "guidewatch", server.origin, n, args.store)
            peers.append(("guidewatch", [str(Path(sys.executable).parent / "guidewatch"), "crawl", "--all", "-q"],
                          gw_dir))
        for peer in (p for p in PEERS if p in args.peers):
            uw_dir = urlwatch_workspace(out / f"n{n}" / peer, server.origin, n, peer == "urlwatch-text")
            peers.append((peer, [str(args.urlwatch), "--urls", "urls.yaml", "--config", "config.yaml",
                                 "--cache", "cache.db", "--hooks", "hooks.py"], uw_dir))
        log = out / f"n{n}" / "commands.log"
        server.stats()
        for phase in PHASES:
            if phase == "changed":
                server.control(f"/_bench/change?pct={args.changed}&seed={n}")
            for tool, cmd, cwd in peers:
                load1 = os.getloadavg()[0]
                wall, cpu, peak, code = measure(cmd, cwd, log)
                run = Run(tool, phase, n, wall, cpu, peak, code, server.stats(), load1)
                runs.append(run)
                print(f"  N={n:>6} {tool:<14} {phase:<10} {wall:7.1f} s  {run.rate:7.1f}/s  cpu {cpu:6.1f} s  "
                      f"peak {peak:6.0f} MB  exit {code}  load {load1:.2f}  served {run.served}", flush=True)
    finally:
        server.close()
    return runs


# --- verdicts against the issue-20 targets ------------------------------------------------------

# Speed-up (peer wall ÷ guidewatch wall) guidewatch must reach, per phase and peer.
SPEEDUP_TARGETS = {
    "first": {"urlwatch-text": 1.0, "urlwatch-raw": 1 / 1.5},  # no slower; within 1.5x of raw
    "unchanged": {"urlwatch-raw": 3.0, "urlwatch-text": 3.0},
    "changed": {"urlwatch-raw": 2.0, "urlwatch-text": 2.0},
}
PEAK_MB = 200.0  # set at N = 10,000, every phase; checked at every N (memory grows with N)
CPU_MS_UNCHANGED = 1.0  # guidewatch CPU per unchanged source


def phase_label(phase: str, changed: float) -> str:
    return {"first": "first crawl", "unchanged": "unchanged (304s)"}.get(phase, f"{changed:g} % changed")


def verdicts(runs: list[dict[str, Any]], difflink: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per target and (N, phase, peer) it applies to: the measured value, its limit, pass or not."""
    by = {(r["n"], r["phase"], r["tool"]): r for r in runs}
    out: list[dict[str, Any]] = []
    for (n, phase, tool), gw in by.items():
        if tool != "guidewatch":
            continue
        for peer, limit in SPEEDUP_TARGETS[phase].items():
            other = by.get((n, phase, peer))
            if other and gw["wall"]:
                x = other["wall"] / gw["wall"]
                out.append({"target": f"speed-up vs {peer} >= {limit:.2f}x", "n": n, "phase": phase, "peer": peer,
                            "value": round(x, 3), "limit": round(limit, 3), "ok": x >= limit})
        out.append({"target": f"peak < {PEAK_MB:.0f} MB", "n": n, "phase": phase, "peer": None,
                    "value": round(gw["peak_mb"], 1), "limit": PEAK_MB, "ok": gw["peak_mb"] < PEAK_MB})
        if phase == "unchanged":
            ms = 1000 * gw["cpu"] / n
            out.append({"target": f"CPU per unchanged source <= {CPU_MS_UNCHANGED:g} ms", "n": n, "phase": phase,
                        "peer": None, "value": round(ms, 3), "limit": CPU_MS_UNCHANGED, "ok": ms <= CPU_MS_UNCHANGED})
    if difflink:
        out.append({"target": "diff + link of one 500 KB page < 1 s CPU", "n": None, "phase": "difflink",
                    "peer": None, "value": round(difflink["cold"]["total_cpu_s"], 3),
                    "limit": difflink["target_cpu_s"], "ok": difflink["ok"]})
    return out


# --- tables -------------------------------------------------------------------------------------


def table(runs: list[Run], changed: float) -> str:
    head = ("| N | phase | tool | wall s | sources/s | CPU s | CPU ms/source | peak MB | load "
            "| served (status: count) |\n|---:|---|---|---:|---:|---:|---:|---:|---:|---|")
    rows = [f"| {r.n} | {phase_label(r.phase, changed)} | {r.tool} | {r.wall:.1f} | {r.rate:.1f} | {r.cpu:.1f} | "
            f"{r.cpu_ms_per_source:.2f} | {r.peak_mb:.0f} | {r.load1:.2f} | "
            f"{', '.join(f'{k}: {v}' for k, v in r.served.items())}{'' if r.code == 0 else f' (exit {r.code})'} |"
            for r in runs]
    return "\n".join([head, *rows])


def _mark(ok: bool) -> str:
    return "pass" if ok else "MISS"


def ratios(runs: list[Run]) -> list[dict[str, Any]]:
    """Peer ÷ guidewatch wall, CPU and peak memory per (N, phase, peer): above 1, guidewatch does better."""
    by = {(r.n, r.phase, r.tool): r for r in runs}
    out = []
    for (n, phase, tool), gw in by.items():
        for peer in PEERS:
            p = by.get((n, phase, peer))
            if tool == "guidewatch" and p and gw.wall and gw.cpu and gw.peak_mb:
                out.append({"n": n, "phase": phase, "peer": peer, "wall_x": round(p.wall / gw.wall, 3),
                            "cpu_x": round(p.cpu / gw.cpu, 3), "peak_x": round(p.peak_mb / gw.peak_mb, 3)})
    return out


def ratio_table(runs: list[Run], marks: list[dict[str, Any]], changed: float) -> str:
    """Per (N, phase): guidewatch's own figures, peer ÷ guidewatch for both urlwatch peers, verdicts."""
    xs = {(x["n"], x["phase"], x["peer"]): x for x in ratios(runs)}
    lines = ["x = peer / guidewatch (above 1: guidewatch faster or smaller)", "",
             "| N | phase | gw wall s | gw CPU ms/source | gw peak MB | raw wall x | raw CPU x | raw peak x "
             "| text wall x | text CPU x | text peak x | targets |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for gw in (r for r in runs if r.tool == "guidewatch"):
        cells = []
        for peer in PEERS:
            x = xs.get((gw.n, gw.phase, peer))
            cells += [f"{x[k]:.2f}" for k in ("wall_x", "cpu_x", "peak_x")] if x else ["-", "-", "-"]
        verdict = "; ".join(f"{m['target']}: {_mark(m['ok'])} ({m['value']:g})" for m in marks
                            if m["n"] == gw.n and m["phase"] == gw.phase)
        lines.append(f"| {gw.n} | {phase_label(gw.phase, changed)} | {gw.wall:.1f} | {gw.cpu_ms_per_source:.2f} | "
                     f"{gw.peak_mb:.0f} | {' | '.join(cells)} | {verdict} |")
    return "\n".join(lines)


def summary(marks: list[dict[str, Any]]) -> str:
    missed = [m for m in marks if not m["ok"]]
    lines = [f"targets: {len(marks) - len(missed)} pass, {len(missed)} MISS"]
    for m in missed:
        where = f" at N={m['n']} {m['phase']}" if m["n"] else ""
        lines.append(f"- MISS {m['target']}{where}: {m['value']:g}")
    return "\n".join(lines)


# --- the JSON record and comparing two ------------------------------------------------------------


def _git(*cmd: str) -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), *cmd], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine_facts(urlwatch: Path | None) -> dict[str, Any]:
    """What to know before comparing two runs: cores, Python, tool versions, the commit benched."""
    uw_version = ""
    if urlwatch:
        uw_version = subprocess.run([str(urlwatch.parent / "python"), "-c",
                                     "import importlib.metadata as m; print(m.version('urlwatch'))"],
                                    capture_output=True, text=True).stdout.strip()
    return {"cpu_count": os.cpu_count(), "nproc": len(os.sched_getaffinity(0)), "platform": platform.platform(),
            "python": sys.version.split()[0], "guidewatch": importlib.metadata.version("guidewatch"),
            "urlwatch": uw_version, "git_commit": _git("rev-parse", "HEAD"),
            "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no"))}


def write_record(record: dict[str, Any], text: str, out: Path) -> Path:
    """<out>/scale-<UTC time>.json (+ .md with the tables) and a copy as scale-latest.json."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = record["started"].replace(":", "").replace("-", "")[:15]
    path = out / f"scale-{stamp}.json"
    body = json.dumps(record, indent=2, sort_keys=True) + "\n"
    path.write_text(body, encoding="utf-8")
    (out / "scale-latest.json").write_text(body, encoding="utf-8")
    path.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    return path


def _delta(old: float, new: float) -> str:
    pct = f" ({100 * (new - old) / old:+.0f} %)" if old else ""
    return f"{old:.2f} -> {new:.2f}{pct}"


def compare(old: dict[str, Any], new: dict[str, Any]) -> str:
    """Deltas between two records: every run matched by (N, phase, tool), then every verdict."""
    lines = [f"old: {old['started']} commit {old['machine']['git_commit'][:10]} load {old['load_before']} -> "
             f"{old['load_after']}",
             f"new: {new['started']} commit {new['machine']['git_commit'][:10]} load {new['load_before']} -> "
             f"{new['load_after']}", "",
             "| N | phase | tool | wall s | CPU s | peak MB |", "|---:|---|---|---|---|---|"]
    before = {(r["n"], r["phase"], r["tool"]): r for r in old["runs"]}
    for r in new["runs"]:
        o = before.get((r["n"], r["phase"], r["tool"]))
        if o:
            lines.append(f"| {r['n']} | {r['phase']} | {r['tool']} | {_delta(o['wall'], r['wall'])} | "
                         f"{_delta(o['cpu'], r['cpu'])} | {_delta(o['peak_mb'], r['peak_mb'])} |")
    lines += ["", "| target | N | phase | old | new |", "|---|---:|---|---|---|"]
    marks = {(m["target"], m["n"], m["phase"]): m for m in old["targets"]}
    for m in new["targets"]:
        o = marks.get((m["target"], m["n"], m["phase"]))
        if o:
            lines.append(f"| {m['target']} | {m['n'] or ''} | {m['phase']} | {o['value']:g} {_mark(o['ok'])} | "
                         f"{m['value']:g} {_mark(m['ok'])} |")
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------------


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sizes", default="200,2000,10000", help="corpus sizes, comma-separated")
    ap.add_argument("--changed", type=float, default=5.0, help="percent of pages changed before the third crawl")
    ap.add_argument("--peers", default="guidewatch,urlwatch-raw,urlwatch-text",
                    help="which of guidewatch, urlwatch-raw, urlwatch-text to run (comma-separated)")
    ap.add_argument("--no-urlwatch", action="store_true", help="guidewatch only (same as --peers guidewatch)")
    ap.add_argument("--store", help="guidewatch store URL (default: SQLite in the workspace)")
    ap.add_argument("--no-difflink", action="store_true", help="skip the large-page diff + link figure")
    ap.add_argument("--out", type=Path, default=BENCH / "out", help="workspaces, command logs and the JSON records")
    ap.add_argument("--compare", nargs="+", type=Path, metavar="JSON",
                    help="OLD.json: after the run, print deltas against it; OLD.json NEW.json: only compare")
    args = ap.parse_args(argv)
    args.peers = {"guidewatch"} if args.no_urlwatch else set(args.peers.split(","))
    if unknown := args.peers - {"guidewatch", *PEERS}:
        ap.error(f"unknown peers: {', '.join(sorted(unknown))}")
    if args.compare and len(args.compare) > 2:
        ap.error("--compare takes OLD.json or OLD.json NEW.json")
    return args


def main(argv: list[str] | None = None) -> None:
    args = _args(argv)
    if args.compare and len(args.compare) == 2:
        old, new = (json.loads(p.read_text(encoding="utf-8")) for p in args.compare)
        print(compare(old, new))
        return
    args.urlwatch = ensure_urlwatch() if args.peers & set(PEERS) else None
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    facts = machine_facts(args.urlwatch)
    load_before = [round(x, 2) for x in os.getloadavg()]
    print(f"machine: {facts['cpu_count']} CPUs (nproc {facts['nproc']}), load average {load_before} at start; "
          f"Python {facts['python']}, guidewatch {facts['guidewatch']}, urlwatch {facts['urlwatch'] or '-'}, "
          f"commit {facts['git_commit'][:10]}{' (dirty)' if facts['git_dirty'] else ''}", flush=True)
    runs: list[Run] = []
    for n in [int(s) for s in args.sizes.split(",") if s]:
        runs += bench_size(n, args, args.out)
    dl = None
    if not args.no_difflink:
        import difflink

        dl = difflink.figures()
    record: dict[str, Any] = {
        "schema": 1, "started": started, "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": facts, "load_before": load_before, "load_after": [round(x, 2) for x in os.getloadavg()],
        "args": {"sizes": args.sizes, "changed": args.changed, "peers": sorted(args.peers), "store": args.store},
        "runs": [asdict(r) | {"cpu_ms_per_source": round(r.cpu_ms_per_source, 3)} for r in runs],
        "ratios": ratios(runs), "difflink": dl,
    }
    record["targets"] = verdicts(record["runs"], dl)
    parts = ["## Crawl figures", table(runs, args.changed), "## guidewatch against both urlwatch peers",
             ratio_table(runs, record["targets"], args.changed)]
    if dl:
        parts += ["## Diff + link of one large page", difflink.table(dl)]
    parts += ["## Targets (issue 20)", summary(record["targets"]),
              f"load average at start {load_before}, at end {record['load_after']}"]
    text = "\n\n".join(parts)
    print("\n" + text)
    print(f"\nfigures written to {write_record(record, text, args.out)} and {args.out / 'scale-latest.json'}")
    if args.compare:
        print("\n## Against " + str(args.compare[0]) + "\n")
        print(compare(json.loads(args.compare[0].read_text(encoding="utf-8")), record))


if __name__ == "__main__":
    main()

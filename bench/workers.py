"""Scale-out: one local crawl against K `guidewatch worker` processes sharing a Redis queue.

    .venv/bin/python bench/workers.py [--n 2000] [--workers 1,2] [--postgres postgresql://postgres@127.0.0.1/postgres]
                                      [--redis redis://127.0.0.1:6379/15]

On the corpus of bench/corpus.py (served on 127.0.0.1), for each worker count K: a fresh
workspace, `guidewatch crawl --distributed --all` pushes every source, K workers
(`--idle-exit 20`) fetch and record them into the shared store; the figure is the time from
the push until the last source is recorded (polled in the store), and the CPU seconds of all
workers. The local `guidewatch crawl --all` of the same corpus is the baseline. The store is
SQLite in each workspace, or with --postgres a fresh PostgreSQL database per workspace
(created from that admin URL, dropped afterwards). Both a first
crawl (every page new) and an unchanged re-crawl (304s). Prints a table; asserts nothing.
On one machine K workers only help while there are idle cores (the recording, mostly HTML
parsing, is CPU-bound); on several machines each brings its own.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import scale  # noqa: E402

GW = str(Path(sys.executable).parent / "guidewatch")


def _recorded(ws: Path, store: str | None, since: float) -> int:
    """Sources whose last check is newer than `since` (epoch seconds)."""
    sys.path.insert(0, str(BENCH.parent / "src"))
    from guidewatch.store import Store

    s = Store(store or f"sqlite:///{ws / 'guidewatch.db'}", auto_migrate=False)
    try:
        return sum(1 for src in s.sources.all() if src.last_checked_at and src.last_checked_at.timestamp() >= since)
    finally:
        s.close()


def distributed_round(ws: Path, n: int, workers: int, redis: str, store: str | None) -> tuple[float, float]:
    """(seconds from push to the last source recorded, CPU seconds of the workers)."""
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    procs = [subprocess.Popen([GW, "worker", "--redis", redis, "--queue", queue, "--idle-exit", "20", "-q"], cwd=ws,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    time.sleep(3)  # let the workers start (Scrapy import) before the clock starts
    t0, wall0 = time.perf_counter(), time.time()
    subprocess.run([GW, "crawl", "--distributed", "--all", "--redis", redis, "--queue", queue], cwd=ws, check=True,
                   stdout=subprocess.DEVNULL)
    while _recorded(ws, store, wall0) < n:
        time.sleep(0.5)
    elapsed = time.perf_counter() - t0
    cpu = 0.0
    for p in procs:
        _, _, usage = os.wait4(p.pid, 0)
        p.returncode = 0
        cpu += usage.ru_utime + usage.ru_stime
    return elapsed, cpu


class Databases:
    """Fresh PostgreSQL databases from an admin URL (or None: SQLite in each workspace)."""

    def __init__(self, admin: str | None) -> None:
        self.admin, self.made = admin, []  # type: ignore[var-annotated]

    def new(self) -> str | None:
        if not self.admin:
            return None
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        name = f"gwbench_{uuid.uuid4().hex[:10]}"
        engine = create_engine(self.admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        self.made.append(name)
        return make_url(self.admin).set(database=name).render_as_string(hide_password=False)

    def drop(self) -> None:
        if not self.admin:
            return
        from sqlalchemy import create_engine, text

        engine = create_engine(self.admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for name in self.made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--postgres", help="admin URL: a fresh PostgreSQL database per workspace (default: SQLite)")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    ap.add_argument("--out", type=Path, default=BENCH / "out")
    args = ap.parse_args(argv)
    print(f"machine: {len(os.sched_getaffinity(0))} CPUs, load {os.getloadavg()[0]:.2f}; N={args.n}", flush=True)
    rows = []
    server, dbs = scale.Server(args.n), Databases(args.postgres)
    try:
        ws = scale.guidewatch_workspace(args.out / f"local{args.n}", server.origin, args.n, dbs.new())
        for phase in ("first", "unchanged"):
            wall, cpu, _peak, _code = scale.measure([GW, "crawl", "--all", "-q"], ws, ws / "commands.log")
            rows.append((phase, "local crawl", wall, cpu))
            print(f"  {phase:<10} local crawl    {wall:6.1f} s  cpu {cpu:6.1f} s", flush=True)
        for k in (int(x) for x in args.workers.split(",")):
            store = dbs.new()
            ws = scale.guidewatch_workspace(args.out / f"workers{k}-{args.n}", server.origin, args.n, store)
            for phase in ("first", "unchanged"):
                wall, cpu = distributed_round(ws, args.n, k, args.redis, store)
                rows.append((phase, f"{k} worker(s)", wall, cpu))
                print(f"  {phase:<10} {k} worker(s)    {wall:6.1f} s  cpu {cpu:6.1f} s", flush=True)
    finally:
        server.close()
        dbs.drop()
    print("\n| phase | how | wall s | sources/s | CPU s |\n|---|---|---:|---:|---:|")
    for phase, how, wall, cpu in rows:
        print(f"| {phase} | {how} | {wall:.1f} | {args.n / wall:.0f} | {cpu:.1f} |")


if __name__ == "__main__":
    main()

"""Start-up: how long `guidewatch crawl --all -q` takes to send its first request.

    .venv/bin/python bench/startup.py [--sources 20] [--runs 5] [--no-imports]

A local server on 127.0.0.1 (a thread here) serves N small pages with ETags and answers 304
to a matching If-None-Match; it notes the CLOCK_MONOTONIC time of every request (the clock is
system-wide on Linux, so it compares with this process's). A workspace of one guide citing
the N pages is crawled once (every page recorded), then `guidewatch crawl --all -q` runs
`--runs` times; for each run it prints the time from just before the command's process was
started to the first request the server received (robots.txt counts: it is a request), the
whole command's wall time, and the CPU seconds of the command and its crawl child (wait4).
Then the CPU seconds of the parent until it sends the child its job and of a crawl child
until it is ready for one (load hardly changes these; on an idle machine the first request
comes at about the larger of the two), and the import breakdown: `python -X importtime` of
the parent (the same crawl; before and after it sent the job) and of the crawl child (given
the same job the parent sends), by top-level package.
Wall times on a loaded machine are inflated: read them with `uptime`, printed first.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.seen.append(time.monotonic())
        if not self.path.startswith("/page/"):
            self._send(404, b"not found")
            return
        etag = f'"v1-{self.path}"'
        if self.headers.get("If-None-Match") == etag:
            self._send(304, b"", etag)
            return
        n = self.path.rsplit("/", 1)[-1]
        body = (f"<html><head><title>Page {n}</title></head><body><main><h1>Page {n}</h1>"
                f"<p>Applicants must contact the MHRA about item {n} at least 30 days before they apply.</p>"
                "</main></body></html>").encode()
        self._send(200, body, etag)

    def _send(self, status: int, body: bytes, etag: str | None = None) -> None:
        self.send_response(status)
        if etag:
            self.send_header("ETag", etag)
        if status != 304:
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops connections a crawl opens at once: 1 s SYN retries

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[float] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def workspace(root: Path, origin: str, n: int) -> Path:
    """One guide citing `n` pages; private addresses allowed (the server is on 127.0.0.1)."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "guides").mkdir(parents=True)
    links = "\n".join(f"- [Page {i}]({origin}/page/{i})" for i in range(n))
    (root / "guides" / "guide.md").write_text(
        f"# A guide\n\n## Applying\n\nApplicants must contact the MHRA before they apply.\n\n{links}\n",
        encoding="utf-8")
    (root / "guidewatch.toml").write_text("""store = "sqlite:///guidewatch.db"

[fetch]
user_agent = "guidewatch-bench/0.1"
contact_url = "https://www.example.org/bench"
download_delay = 0.0
autothrottle = false
allow_private = true

[alerts]
formats = ["md"]

[[guides]]
path = "guides/guide.md"
slug = "guide"
editors = ["ed@example.org"]
""", encoding="utf-8")
    return root


def crawl_once(root: Path, server: _Server) -> tuple[float, float, float, int]:
    """(seconds to first request, wall seconds, CPU seconds, exit code) of one crawl."""
    server.seen.clear()
    start = time.monotonic()
    proc = subprocess.Popen([str(VENV_BIN / "guidewatch"), "crawl", "--all", "-q"], cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.stderr
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if proc.returncode not in (0, 3):
        raise SystemExit(f"crawl failed ({proc.returncode}): {err}")
    first = min(server.seen) - start if server.seen else float("nan")
    return first, wall, usage.ru_utime + usage.ru_stime, proc.returncode


_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def import_groups(text: str) -> tuple[float, dict[str, float]]:
    """Total import seconds, and the seconds spent in each top-level package's own modules
    (self time: what `import bs4` costs shows under bs4 even when guidewatch imported it)."""
    groups: dict[str, float] = defaultdict(float)
    for m in _IMPORT_LINE.finditer(text):
        groups[m.group(4).split(".")[0]] += int(m.group(1)) / 1e6
    return sum(groups.values()), groups


def parent_imports(root: Path) -> tuple[str, str]:
    """The crawl command's -X importtime lines before it sent the job, and after."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", _JOB_CPU, str(VENV_BIN / "guidewatch")],
                          cwd=root, capture_output=True, text=True, check=False)
    before, _, after = proc.stderr.partition('{"job_cpu"')
    return before, after


def child_imports(origin: str) -> str:
    """The crawl child's imports, given a one-page job exactly as the parent would send it."""
    import dataclasses

    from guidewatch.app.crawl import request_for
    from guidewatch.children import child_env
    from guidewatch.sources.fetch import FetchSettings
    from guidewatch.sources.profiles import load_profiles

    request = request_for(f"{origin}/page/0", load_profiles([])["default"])
    settings = FetchSettings(allow_private=True, download_delay=0.0, autothrottle=False)
    job = {"settings": dataclasses.asdict(settings), "requests": [dataclasses.asdict(request)]}
    proc = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "guidewatch.sources.child"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env())
    assert proc.stdin and proc.stdout and proc.stderr
    proc.stdin.write(json.dumps(job).encode() + b"\n")
    proc.stdin.flush()
    proc.stdout.readline()  # its one outcome
    proc.stdin.close()
    err = proc.stderr.read().decode()
    proc.wait()
    return err


# The crawl command, noting its CPU seconds when its crawl child is given the job (fetch_sources' on_sent).
_JOB_CPU = """
import json, sys, time
import guidewatch.sources.fetch as fetch
real = fetch.fetch_sources
def spy(*a, on_sent=None, **kw):
    def sent():
        print(json.dumps({"job_cpu": time.process_time()}), file=sys.__stderr__, flush=True)
        if on_sent:
            on_sent()
    return real(*a, on_sent=sent, **kw)
fetch.fetch_sources = spy
sys.argv = [sys.argv[1], "crawl", "--all", "-q"]
from guidewatch.cli import main
main(prog_name="guidewatch")
"""
# A crawl child's work before it can take a job: starting, importing, preloading Scrapy's parts.
_CHILD_READY = "import time; import guidewatch.sources.child as c; c.preload(); print(time.process_time())"


def cpu_path(root: Path, runs: int) -> tuple[float, float]:
    """Median CPU seconds (load hardly changes them) of the parent until it sends the job, and
    of a crawl child until it is ready for one: on an idle machine the first request comes
    at about the larger of the two (the child starts first thing), plus ~10 ms."""
    from guidewatch.children import child_env

    parent, child = [], []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-c", _JOB_CPU, str(VENV_BIN / "guidewatch")], cwd=root,
                              capture_output=True, text=True, check=False)
        parent += [json.loads(line)["job_cpu"] for line in proc.stderr.splitlines() if line.startswith('{"job_cpu"')]
        proc = subprocess.run([sys.executable, "-c", _CHILD_READY], capture_output=True, text=True, check=True,
                              env=child_env())
        child.append(float(proc.stdout))
    return statistics.median(parent), statistics.median(child)


# The crawl command up to the moment it gives its crawl child the job, then out at once.
_TO_JOB = _JOB_CPU.replace('print(json.dumps({"job_cpu": time.process_time()}), file=sys.__stderr__, flush=True)',
                           "import os; os._exit(0)")
assert _TO_JOB != _JOB_CPU


def instructions(root: Path) -> tuple[float, float] | None:
    """Millions of instructions (valgrind's callgrind; None without valgrind) of the parent until
    it sends the job and of a crawl child until it is ready: the same on a busy machine as on an
    idle one, where CPU seconds on this shared 2-core machine move by 10-30 % from run to run."""
    from guidewatch.children import child_env

    if shutil.which("valgrind") is None:
        return None
    grind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
    counts = []
    runs = [([*grind, "-c", _TO_JOB, str(VENV_BIN / "guidewatch")], root), ([*grind, "-c", _CHILD_READY], None)]
    for argv, cwd in runs:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, env=child_env())
        found = re.search(r"Collected : (\d+)", proc.stderr)
        if not found:
            raise SystemExit(f"callgrind gave no count: {proc.stderr[-500:]}")
        counts.append(int(found.group(1)) / 1e6)
    return counts[0], counts[1]


def print_imports(title: str, text: str, top: int = 12) -> None:
    total, groups = import_groups(text)
    print(f"\n{title}: {total:.3f} s of imports (-X importtime, which inflates them), by package:")
    for name, seconds in sorted(groups.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {seconds:7.3f} s  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-imports", action="store_true", help="skip the -X importtime breakdown")
    parser.add_argument("--instructions", action="store_true",
                        help="also count the instructions of both start-ups under valgrind (~1 min each)")
    args = parser.parse_args()
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip())
    server = _Server()
    root = workspace(Path(tempfile.mkdtemp(prefix="gw-startup-")), server.origin, args.sources)
    try:
        crawl_once(root, server)  # records every page: the runs below are all 304s
        runs = [crawl_once(root, server) for _ in range(args.runs)]
        print(f"\n{args.sources} sources, all 304, `guidewatch crawl --all -q`, {args.runs} runs:")
        print("  first request   wall      CPU (parent + child)")
        for first, wall, cpu, _code in runs:
            print(f"  {first:8.3f} s   {wall:6.3f} s  {cpu:6.3f} s")
        print(f"  median: first request {statistics.median(r[0] for r in runs):.3f} s, "
              f"wall {statistics.median(r[1] for r in runs):.3f} s, CPU {statistics.median(r[2] for r in runs):.3f} s")
        parent, child = cpu_path(root, args.runs)
        print(f"\nCPU seconds (median of {args.runs}): the parent until it sends the job {parent:.3f} s; "
              f"a crawl child until it is ready for one {child:.3f} s")
        if args.instructions:
            counts = instructions(root)
            print("\ninstructions: valgrind not found" if counts is None else
                  f"\ninstructions (callgrind): the parent until it sends the job {counts[0]:.0f} M; "
                  f"a crawl child until it is ready for one {counts[1]:.0f} M")
        if not args.no_imports:
            before, after = parent_imports(root)
            print_imports("parent (guidewatch crawl --all -q) until it sends the job", before)
            print_imports("parent after it sent the job", after, top=6)
            print_imports("crawl child (python -m guidewatch.sources.child)", child_imports(server.origin))
    finally:
        server.shutdown()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

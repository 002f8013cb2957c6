"""Scale-out: crawl workers sharing one Redis queue and one store, and the claim queues.

The worker tests run the installed `guidewatch` command: one `crawl --distributed` pushes,
two `guidewatch worker` processes fetch from the local HTTP server and record into the
store from the `store_url` fixture (SQLite, or PostgreSQL in CI). Redis: db 15 and a
unique queue name per test. The claim tests run on both store back-ends.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from guidewatch.model import FetchRequest
from guidewatch.sources.work_queue import decode_request, encode_request, queue_key
from guidewatch.store import Store, utcnow
from httpserver import LocalHTTPServer, RecordedRequest, Reply

# --- helpers ------------------------------------------------------------------------------


def gw_command() -> list[str]:
    exe = shutil.which("guidewatch", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "guidewatch.cli"]


def gw(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*gw_command(), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def start_worker(cwd: Path, redis: str, queue: str, idle_exit: float) -> subprocess.Popen[str]:
    return subprocess.Popen([*gw_command(), "worker", "--redis", redis, "--queue", queue, "--idle-exit",
                             str(idle_exit), "-q"], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(proc: subprocess.Popen[str], timeout: float = 90) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"worker did not exit in {timeout} s: {err[-2000:]}") from None
    return proc.returncode, out, err


def fetched(summary_line: str) -> int:
    """Sources that answered, from a summary line ("N checked: …, F failed; …")."""
    m = re.search(r"(\d+) checked: .*, (\d+) failed;", summary_line)
    assert m, summary_line
    return int(m.group(1)) - int(m.group(2))


def db15(url: str) -> str:
    """The test Redis, always database 15 (the issue's rule), whatever the env URL names."""
    return re.sub(r"(/\d+)?$", "/15", url.rstrip("/"), count=1)


@pytest.fixture
def redis15(redis_url: str) -> Iterator[tuple[str, str]]:
    """(Redis URL on db 15, a queue name unique to this test); the queue is deleted afterwards."""
    import redis

    url, name = db15(redis_url), f"gwtest-{uuid.uuid4().hex[:12]}"
    yield url, name
    redis.Redis.from_url(url).delete(queue_key(name))


def page_html(i: int, rev: int) -> str:
    extra = f" Hospitals must also report every {rev + 5} days." if rev > 1 else ""
    return (f"<html><head><title>Guidance {i} - GOV.UK</title></head><body><main id='content'>"
            f"<h1>Guidance {i}</h1><h2>Hospital exemption</h2>"
            f"<p>Hospitals may notify the MHRA about product {i} before first supply.{extra}</p>"
            f"<p>Records about product {i} must be kept for {i + 10} years.</p></main></body></html>")


class Site:
    """n pages on the local server, each with an ETag per revision and a delay."""

    def __init__(self, server: LocalHTTPServer, n: int, delay: float) -> None:
        self.server, self.n = server, n
        self.rev = [1] * n
        for i in range(n):
            server.route(self.path(i), lambda _req, i=i, delay=delay: Reply(
                body=page_html(i, self.rev[i]), etag=f'"p{i}-r{self.rev[i]}"', delay=delay))

    @staticmethod
    def path(i: int) -> str:
        return f"/guidance/page-{i}"

    def url(self, i: int) -> str:
        return self.server.url(self.path(i))

    def page_requests(self, i: int) -> list[RecordedRequest]:
        return self.server.requests(self.path(i))


def workspace(root: Path, site: Site, store_url: str, concurrency: int = 2) -> Path:
    links = "\n".join(f"- [Guidance {i}]({site.url(i)}) says when hospitals notify the MHRA."
                      for i in range(site.n))
    (root / "guide.md").write_text(f"# Hospital exemption guide\n\n## Hospital exemption\n\n{links}\n")
    (root / "guidewatch.toml").write_text(f"""\
store = "{store_url}"

[[guides]]
path = "guide.md"
slug = "he-guide"

[fetch]
contact_url = "https://www.example.org/contact"
concurrency = {concurrency}
per_host = {concurrency}
download_delay = 0.0
autothrottle = false
retries = 0
timeout = 10.0
allow_private = true
crawl_timeout = 90.0
""")
    return root


# --- the queue format ---------------------------------------------------------------------


def test_queue_entry_round_trips_and_carries_the_url_for_scrapy_redis() -> None:
    req = FetchRequest(url="https://www.gov.uk/guidance/x", profile="govuk", etag='"abc"',
                       last_modified="Wed, 01 Jan 2026 00:00:00 GMT",
                       api_url="https://www.gov.uk/api/content/guidance/x", allowed_hosts=("www.gov.uk", "gov.uk"))
    raw = encode_request(req)
    assert json.loads(raw)["url"] == req.url
    assert decode_request(raw.encode()) == req


# --- workers ------------------------------------------------------------------------------


def test_two_workers_fetch_every_source_exactly_once(tmp_path: Path, http_server: LocalHTTPServer,
                                                     store_url: str, redis15: tuple[str, str]) -> None:
    redis, queue = redis15
    site = Site(http_server, n=16, delay=0.4)
    ws = workspace(tmp_path, site, store_url)

    pushed = gw("crawl", "--distributed", "--redis", redis, "--queue", queue, cwd=ws)
    assert pushed.returncode == 0, pushed.stderr
    assert f"queued 16 source(s) on {queue}:requests" in pushed.stdout
    again = gw("crawl", "--distributed", "--redis", redis, "--queue", queue, cwd=ws)
    assert again.returncode == 0 and "no sources are due" in again.stdout  # claimed: not queued twice

    workers = [start_worker(ws, redis, queue, idle_exit=2) for _ in range(2)]
    results = [finish(w) for w in workers]
    for code, _out, err in results:
        assert code == 0, err[-2000:]
    counts = [fetched(out) for _code, out, _err in results]
    assert sum(counts) == 16 and min(counts) > 0, counts  # both workers took a share

    assert [len(site.page_requests(i)) for i in range(16)] == [1] * 16
    store = Store(store_url)
    try:
        for i in range(16):
            history = store.sources.fetch_history(site.url(i))
            assert [h["status"] for h in history] == ["ok"], (i, history)
            assert store.sources.get(site.url(i)).current_snapshot_id is not None
    finally:
        store.close()

    # Second round, pushed with --wait while the workers run: conditional requests answered
    # 304 except for the three changed pages, whose changes are linked to the guide.
    for i in (0, 5, 9):
        site.rev[i] = 2
    workers = [start_worker(ws, redis, queue, idle_exit=3) for _ in range(2)]
    waited = gw("crawl", "--all", "--distributed", "--wait", "--redis", redis, "--queue", queue, cwd=ws)
    results = [finish(w) for w in workers]
    assert waited.returncode == 0, waited.stderr
    assert "all 16 source(s) recorded by the workers" in waited.stdout
    assert sum(fetched(out) for _code, out, _err in results) == 16
    assert [len(site.page_requests(i)) for i in range(16)] == [2] * 16
    for i in range(16):
        second = site.page_requests(i)[1]
        assert second.headers.get("if-none-match") == f'"p{i}-r1"'
    changes = json.loads(gw("changes", "--format", "json", cwd=ws).stdout)
    changed = {c["source"] for c in changes if c["severity"] != "cosmetic"}
    assert changed == {site.url(i) for i in (0, 5, 9)}, [err[-3000:] for _code, _out, err in results]
    assert all(any(a["section"] == "hospital-exemption" for a in c["affects"]) for c in changes
               if c["source"] in changed)


def test_a_worker_records_batched_304s_while_it_idles(tmp_path: Path, http_server: LocalHTTPServer,
                                                      store_url: str, redis15: tuple[str, str]) -> None:
    """A worker batches quiet 304s like a local crawl; when its queue goes idle it records
    them at once, so `--wait` returns while the worker keeps running."""
    redis, queue = redis15
    site = Site(http_server, n=6, delay=0.0)
    ws = workspace(tmp_path, site, store_url)
    first = gw("crawl", cwd=ws)
    assert first.returncode == 0 and first.stdout.startswith("6 checked: 6 new"), first.stderr
    worker = start_worker(ws, redis, queue, idle_exit=120)
    try:
        started = time.monotonic()
        waited = gw("crawl", "--all", "--distributed", "--wait", "--redis", redis, "--queue", queue, cwd=ws,
                    timeout=60)
        assert waited.returncode == 0, waited.stderr
        assert "all 6 source(s) recorded by the workers" in waited.stdout
        assert time.monotonic() - started < 60 and worker.poll() is None, "recorded while the worker still runs"
    finally:
        worker.send_signal(signal.SIGTERM)
        code, out, err = finish(worker)
    assert code == 0, err[-2000:]
    assert out.strip().startswith("6 checked: 0 new, 6 unchanged"), out
    store = Store(store_url)
    try:
        for i in range(6):
            assert [h["status"] for h in store.sources.fetch_history(site.url(i))] == ["not_modified", "ok"]
    finally:
        store.close()


def test_stopped_worker_puts_unfinished_sources_back(tmp_path: Path, http_server: LocalHTTPServer,
                                                     store_url: str, redis15: tuple[str, str]) -> None:
    import redis as redis_lib

    redis, queue = redis15
    site = Site(http_server, n=4, delay=2.5)
    ws = workspace(tmp_path, site, store_url, concurrency=2)  # a batch of 4: 2 in flight, 2 waiting
    assert gw("crawl", "--distributed", "--redis", redis, "--queue", queue, cwd=ws).returncode == 0
    client = redis_lib.Redis.from_url(redis)
    worker = start_worker(ws, redis, queue, idle_exit=60)
    deadline = time.monotonic() + 60
    while sum(len(site.page_requests(i)) for i in range(4)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.llen(queue_key(queue)) == 0  # the worker popped the whole batch
    worker.send_signal(signal.SIGTERM)
    code, out, err = finish(worker)
    assert code == 0, err[-2000:]
    assert fetched(out) == 2  # the two in flight finished and were recorded
    assert client.llen(queue_key(queue)) == 2  # the two not started went back
    assert "2 unfinished source(s) put back on the queue" in err

    code, out, err = finish(start_worker(ws, redis, queue, idle_exit=1))
    assert code == 0 and fetched(out) == 2, err[-2000:]
    assert [len(site.page_requests(i)) for i in range(4)] == [1] * 4
    store = Store(store_url)
    try:
        assert all([h["status"] for h in store.sources.fetch_history(site.url(i))] == ["ok"] for i in range(4))
    finally:
        store.close()


def test_distributed_usage_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "guidewatch.toml").write_text("")
    env_free = {k: v for k, v in os.environ.items() if k != "GUIDEWATCH_REDIS_URL"}
    r = subprocess.run([*gw_command(), "crawl", "--distributed"], cwd=tmp_path, capture_output=True, text=True,
                       env=env_free, timeout=60)
    assert r.returncode == 2 and "--distributed needs --redis URL" in r.stderr
    r = gw("worker", "--redis", "redis://127.0.0.1:1/15", cwd=tmp_path)  # nothing listens on port 1
    assert r.returncode == 4  # an unreachable service, not a usage error (README "Commands and exit codes")
    assert "cannot reach Redis" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "guidewatch.db").exists()  # failed before touching any store
    r = gw("worker", "--help", cwd=tmp_path)
    assert r.returncode == 0 and "--idle-exit" in r.stdout


# --- flow control between the crawl child and the parent (memory at scale) --------------------


def test_crawl_child_stays_a_bounded_window_ahead_of_a_slow_parent(http_server: LocalHTTPServer) -> None:
    """The child starts a source only while fewer than `credit_window` outcomes are unacknowledged,
    so a parent that records slowly never holds more than that many fetched pages in memory."""
    from guidewatch.sources.fetch import FetchSettings, credit_window, fetch_sources

    n = 80
    site = Site(http_server, n=n, delay=0.0)
    settings = FetchSettings(contact_url="https://www.example.org/contact", concurrency=8, per_host=8,
                             download_delay=0.0, autothrottle=False, retries=0, allow_private=True)
    ahead: list[int] = []

    def slow_parent(_outcome: object) -> None:
        time.sleep(0.05)
        ahead.append(sum(len(site.page_requests(i)) for i in range(n)) - (len(ahead) + 1))

    outcomes = fetch_sources([FetchRequest(site.url(i), "default") for i in range(n)], settings,
                             on_outcome=slow_parent, timeout=60)
    assert [o.status for o in outcomes] == ["ok"] * n
    assert max(ahead) <= credit_window(settings) + settings.concurrency, max(ahead)
    assert max(ahead) >= credit_window(settings) // 2  # it does fetch ahead, just not without bound


# --- claims, on whichever store the suite runs against ----------------------------------------

CLAIMER = """
import os, sys, time
from pathlib import Path
from guidewatch.store import Store
url, ready, go = sys.argv[1:4]
store = Store(url, auto_migrate=False)
Path(ready).touch()
while not os.path.exists(go):
    time.sleep(0.001)
def deliver():  # claim, then mark sent as a real sender does (a dead claimer's rows are retaken)
    batch = store.outbox.claim(limit=3)
    for r in batch:
        store.outbox.done(r.id)
    return batch
for claim in (lambda: store.sources.claim_due("w%d" % os.getpid(), 3), deliver):
    got = []
    while batch := claim():
        got += [r.id for r in batch]
    print(" ".join(map(str, got)))
"""


def claim_concurrently(url: str, tmp_path: Path, processes: int = 4) -> dict[str, list[list[int]]]:
    """Start `processes` claimers, release them at once; each claims due sources until none
    are left, then deliveries. Returns, per kind, what each process claimed."""
    go = tmp_path / "go"
    readies = [tmp_path / f"ready-{i}" for i in range(processes)]
    procs = [subprocess.Popen([sys.executable, "-c", CLAIMER, url, str(r), str(go)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for r in readies]
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in readies) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    claimed: dict[str, list[list[int]]] = {"sources": [], "deliveries": []}
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        sources, deliveries = out.split("\n")[:2]
        claimed["sources"].append([int(x) for x in sources.split()])
        claimed["deliveries"].append([int(x) for x in deliveries.split()])
    return claimed


def seed_store(url: str, sources: int, deliveries: int) -> Store:
    store = Store(url)
    store.guides.sync([], {f"https://www.gov.uk/guidance/page-{i}": "govuk" for i in range(sources)})
    for i in range(deliveries):
        store.outbox.enqueue(f"key-{i}", "email", f"ed{i}@example.org", "digest", {"text": "x"}, [])
    return store


def test_concurrent_claimers_never_share_a_source_or_delivery(store_url: str, tmp_path: Path) -> None:
    store = seed_store(store_url, sources=120, deliveries=120)
    try:
        for kind, claimed in claim_concurrently(store_url, tmp_path).items():
            everything = [i for ids in claimed for i in ids]
            assert len(everything) == len(set(everything)) == 120, (kind, [len(c) for c in claimed])
    finally:
        store.close()


def test_claim_is_a_lease(store_url: str) -> None:
    store = seed_store(store_url, sources=5, deliveries=0)
    try:
        now = utcnow()
        first = store.sources.claim_due("a", 10, now=now, lease=timedelta(minutes=30))
        assert len(first) == 5
        assert store.sources.claim_due("b", 10, now=now + timedelta(minutes=29)) == []
        again = store.sources.claim_due("b", 10, now=now + timedelta(minutes=31))
        assert {s.id for s in again} == {s.id for s in first}  # a dead worker's sources come due again
    finally:
        store.close()


def test_a_worker_fetches_from_the_mirror_and_reports_json(tmp_path: Path, http_server: LocalHTTPServer,
                                                           store_url: str, redis15: tuple[str, str]) -> None:
    """`[fetch.mirror]` holds in the workers too: real URLs queued and recorded, pages from the copy."""
    redis, queue = redis15
    site = Site(http_server, n=3, delay=0)
    ws = workspace(tmp_path, site, store_url)
    guide = (ws / "guide.md").read_text().replace(http_server.base_url, "https://www.gov.uk")
    (ws / "guide.md").write_text(guide)
    with (ws / "guidewatch.toml").open("a") as f:
        f.write(f'\n[fetch.mirror]\n"https://www.gov.uk" = "{http_server.base_url}"\n')
    assert gw("crawl", "--distributed", "--redis", redis, "--queue", queue, cwd=ws).returncode == 0
    proc = subprocess.Popen([*gw_command(), "worker", "--redis", redis, "--queue", queue, "--idle-exit", "2", "-q",
                             "--format", "json"], cwd=ws, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    code, out, err = finish(proc)
    assert code == 0, err[-2000:]
    report = json.loads(out)
    assert report["checked"] == 3 and report["counts"]["new"] == 3 and report["counts"]["failed"] == 0, report
    assert [len(site.page_requests(i)) for i in range(3)] == [1] * 3
    store = Store(store_url)
    try:
        for i in range(3):
            real = f"https://www.gov.uk{Site.path(i)}"
            assert [h["status"] for h in store.sources.fetch_history(real)] == ["ok"]
    finally:
        store.close()

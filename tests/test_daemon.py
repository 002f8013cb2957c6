"""Scheduling: the real `guidewatch daemon` and `guidewatch run` processes against a local
server, plus the store lock and source selection in-process.

Every daemon here is a child process of the test, started with seconds-level schedules and
stopped with SIGTERM (or SIGKILL, to leave a dead lock holder behind).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from guidewatch.app import daemon as schedule
from guidewatch.app import instance
from guidewatch.app.workspace import open_workspace
from guidewatch.config import load_config
from guidewatch.pages.snapshots import parse as parse_snapshot
from guidewatch.pages.snapshots import snapshot_path
from guidewatch.store import LockHeld, LockRow, SourceRow, Store, utcnow
from httpserver import LocalHTTPServer, Reply

EXE = shutil.which("guidewatch", path=str(Path(sys.executable).parent))
CMD = [EXE] if EXE else [sys.executable, "-c", "from guidewatch.cli import main; main()"]
NEVER = "0 0 1 1 *"  # a schedule that does not fire during a test

PAGE = """<!doctype html><html><head><title>Hospital exemption | MHRA</title></head><body>
<header>Site header</header>
<main><h1>Hospital exemption</h1>
<h2>Hospital exemption</h2>
<p>Hospitals {verb} make an advanced therapy medicinal product for a single patient under the
hospital exemption. {extra}</p>
<h2>Contact</h2><p>Write to the MHRA innovation office.</p>
</main><footer>Footer</footer></body></html>"""
V1 = PAGE.format(verb="may", extra="")
V2 = PAGE.format(verb="must notify the MHRA before they", extra="Serious adverse reactions must be reported "
                 "within 7 days.")

GUIDE = """# Hospital exemption: a patient guide

## What is hospital exemption?

Under the hospital exemption, a hospital can make an advanced therapy medicinal product for a
single patient. Read the [MHRA guidance on hospital exemption]({url}).

## Contact

Ask your care team.
"""


# --- helpers ------------------------------------------------------------------------------


class Workspace:
    """A guidewatch.toml, a guide citing pages on the local server, and the processes run on it."""

    def __init__(self, root: Path, store_url: str, server: LocalHTTPServer) -> None:
        self.root, self.store_url, self.server = root, store_url, server
        self.procs: list[subprocess.Popen[str]] = []

    def write(self, *, crawl: str, digest: str, paths: tuple[str, ...] = ("/he",), timeout: float = 10.0,
              per_host: int = 2) -> None:
        links = " ".join(f"[page {i}]({self.server.url(p)})" for i, p in enumerate(paths[1:], 2))
        guide = GUIDE.format(url=self.server.url(paths[0])) if paths else "# A guide that cites nothing\n"
        guide += f"\nMore: {links}\n" if links else ""
        (self.root / "guide.md").write_text(guide, encoding="utf-8")
        (self.root / "guidewatch.toml").write_text(f"""
store = "{self.store_url}"

[[guides]]
path = "guide.md"
slug = "he-guide"

[fetch]
contact_url = "https://www.example.org/contact"
download_delay = 0.0
autothrottle = false
retries = 0
timeout = {timeout}
per_host = {per_host}
allow_private = true

[schedule]
crawl = "{crawl}"
digest = "{digest}"
""", encoding="utf-8")

    def start(self, *args: str) -> Daemon:
        log = self.root / f"daemon-{len(self.procs)}.log"
        with log.open("w") as err:
            proc = subprocess.Popen([*CMD, "daemon", *args], cwd=self.root, stdout=subprocess.DEVNULL,
                                    stderr=err, text=True)
        self.procs.append(proc)
        return Daemon(proc, log)

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen([*CMD, *args], cwd=self.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        self.procs.append(proc)
        return proc

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CMD, *args], cwd=self.root, capture_output=True, text=True, timeout=120)

    def locks(self) -> list[LockRow]:
        """The scheduler and crawl lock rows (the outbox keeps its own per-delivery rows)."""
        store = Store(self.store_url)
        try:
            with store.session() as s:
                rows = list(s.scalars(select(LockRow).where(LockRow.name.in_(["scheduler", "crawl"]))))
                s.expunge_all()
                return rows
        finally:
            store.close()


class Daemon:
    def __init__(self, proc: subprocess.Popen[str], log: Path) -> None:
        self.proc, self.log = proc, log

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"event": "not-json", "msg": line})
        return out

    def wait_for(self, what: str, pred: Callable[[dict[str, Any]], bool], timeout: float = 30.0,
                 count: int = 1) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events() if pred(e)]
            if len(found) >= count:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {what} (exit {self.proc.poll()}); log:\n{self.log.read_text()[-4000:]}")

    def started(self) -> None:
        self.wait_for("'daemon started'", lambda e: e.get("event") == "started")

    def terminate(self, timeout: float = 20.0) -> tuple[int, float]:
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - t0


def crawl_done(e: dict[str, Any]) -> bool:
    return e.get("event") == "job-done" and e.get("job") == "crawl" and " checked: " in str(e.get("summary"))


@pytest.fixture
def ws(tmp_path: Path, store_url: str, http_server: LocalHTTPServer) -> Iterator[Workspace]:
    space = Workspace(tmp_path, store_url, http_server)
    yield space
    for proc in space.procs:  # only the processes this test started, by their own handle
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def no_json_errors(d: Daemon) -> None:
    bad = [e for e in d.events() if e.get("event") == "not-json"]
    assert not bad, f"log lines that are not JSON: {bad[:3]}"


# --- the daemon as a real process ---------------------------------------------------------


def test_daemon_two_cycles_pick_up_a_change_write_a_digest_and_stop_on_sigterm(ws: Workspace) -> None:
    ws.server.route("/he", Reply(body=V1), Reply(body=V2))  # changes after the first fetch
    ws.write(crawl="every 1s", digest="every 2s")
    d = ws.start()
    d.started()

    first = d.wait_for("first crawl", crawl_done)[0]
    assert "1 checked: 1 new" in first["summary"] and "0 changed" in first["summary"]
    baseline = snapshot_path(ws.root / "snapshots", ws.server.url("/he"))
    assert "Hospitals may make" in parse_snapshot(baseline.read_text()).text

    changed = d.wait_for("a crawl that sees the change", lambda e: crawl_done(e) and "1 changed" in e["summary"])
    assert "new alerts" in changed[0]["summary"] and "0 new alerts" not in changed[0]["summary"]
    digests = d.wait_for("a digest naming the change", lambda e: e.get("event") == "job-done"
                         and e.get("job") == "digest" and ".md" in str(e.get("summary")))
    md = sorted((ws.root / "alerts").glob("*.md"))
    assert md, digests
    text = md[-1].read_text(encoding="utf-8")
    assert "#what-is-hospital-exemption" in text  # the guide section to re-read
    assert "**must notify the MHRA before they**" in text or "must notify the MHRA" in text
    assert ws.server.url("/he") in text
    assert len([e for e in d.events() if crawl_done(e)]) >= 2

    code, took = d.terminate()
    assert code == 0 and took < 10, (code, took)
    events = d.events()
    assert events[-1]["event"] == "stopped" and events[-1]["msg"] == "daemon stopped"
    assert any(e["event"] == "stopping" and "SIGTERM" in e["reason"] for e in events)
    assert {"ts", "level", "logger", "pid", "event", "msg"} <= set(events[0])
    no_json_errors(d)
    assert ws.locks() == []
    assert not list((ws.root / "snapshots").rglob(".tmp-*"))


def test_second_instance_and_run_refuse_while_the_daemon_holds_the_lock(ws: Workspace) -> None:
    ws.write(crawl=NEVER, digest=NEVER, paths=())
    d = ws.start()
    d.started()
    # the start-up crawl of overdue sources may briefly hold the crawl lock too
    [held] = [row for row in ws.locks() if row.name == "scheduler"]
    assert held.pid == d.proc.pid

    refused = {args: ws.spawn(*args) for args in (("daemon",), ("run",), ("daemon", "--once"))}
    for args, proc in refused.items():
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 2, (args, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "lock is held" in lines[0] and f"pid {d.proc.pid}" in lines[0], err
        assert lines[0].startswith("guidewatch: error: scheduler lock is held by daemon:")

    assert d.terminate()[0] == 0
    assert ws.locks() == []


def test_run_does_one_full_cycle_for_cron(ws: Workspace) -> None:
    ws.server.route("/he", Reply(body=V1), Reply(body=V2))
    ws.write(crawl="every 1s", digest=NEVER)
    first = ws.run("run")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "crawl: 1 checked: 1 new, 0 unchanged, 0 changed, 0 moved, 0 gone, 0 failed; 0 new alerts",
        "digest: no open alerts, no digest written; sent 0, failed 0"]
    logged = [json.loads(line) for line in first.stderr.splitlines()]
    assert [e["event"] for e in logged if e["logger"] == "guidewatch.daemon"] == [
        "cycle-start", "job-start", "job-done", "job-start", "job-done", "cycle-done"]
    assert not list((ws.root / "alerts").glob("*"))

    time.sleep(1.0)  # the source is due again a second after its last fetch
    second = ws.run("run")
    assert second.returncode == 0, second.stderr
    crawl, digest = second.stdout.splitlines()
    assert crawl.startswith("crawl: 1 checked: 0 new, 0 unchanged, 1 changed") and "0 new alerts" not in crawl
    assert digest.startswith("digest: ") and "-digest-all.md" in digest
    [md] = (ws.root / "alerts").glob("*.md")
    assert "#what-is-hospital-exemption" in md.read_text(encoding="utf-8")
    assert ws.server.hits("/he") == 2 and ws.locks() == []


def test_a_failing_job_is_logged_and_the_next_firing_still_runs(ws: Workspace) -> None:
    ws.server.route("/he", Reply(body=V1))
    ws.write(crawl="every 1s", digest=NEVER)
    guide, hidden = ws.root / "guide.md", ws.root / "guide.md.away"
    guide.rename(hidden)  # unreadable while the daemon starts its first jobs
    d = ws.start()
    failed = d.wait_for("job-failed", lambda e: e.get("event") == "job-failed", count=2)
    assert failed[0]["job"] == "crawl" and "cannot read guide" in failed[0]["error"]
    assert failed[0]["level"] == "error" and "GuideError" in failed[0]["exc"]
    hidden.rename(guide)
    d.wait_for("a crawl after the failures", crawl_done)
    assert d.proc.poll() is None  # it carried on
    assert d.terminate()[0] == 0
    no_json_errors(d)


def test_sigterm_during_a_crawl_finishes_the_current_source_and_leaves_no_half_written_files(
        ws: Workspace) -> None:
    ws.server.route("/fast", Reply(body=V1))
    ws.server.route("/slow", Reply(body=V2, delay=3.0))
    ws.server.route("/stuck", Reply(body=V1, delay=40.0))
    ws.write(crawl="every 1s", digest="every 1s", paths=("/fast", "/slow", "/stuck"),
             timeout=60.0, per_host=4)
    d = ws.start()
    fast = snapshot_path(ws.root / "snapshots", ws.server.url("/fast"))
    d.wait_for("the first source recorded", lambda e: fast.exists(), timeout=30)
    code, took = d.terminate(timeout=30)
    assert code == 0 and took < 15, (code, took)  # did not wait 40 s for /stuck

    summary = d.wait_for("the stopped crawl", lambda e: e.get("event") == "job-done")[0]["summary"]
    assert summary.startswith("stopped after 2 of 3"), summary
    assert d.events()[-1]["event"] == "stopped"
    assert not any(e.get("event") == "job-start" and e.get("job") == "digest" for e in d.events())
    slow = snapshot_path(ws.root / "snapshots", ws.server.url("/slow"))
    assert "Serious adverse reactions must be reported" in parse_snapshot(slow.read_text()).text
    assert not list((ws.root / "snapshots").rglob(".tmp-*"))
    store = Store(ws.store_url)
    try:
        stuck = store.sources.get(ws.server.url("/stuck"))
        assert stuck is not None and stuck.last_checked_at is None and stuck.consecutive_failures == 0
    finally:
        store.close()
    assert ws.locks() == []


def test_a_lock_left_by_a_killed_daemon_is_taken_over(ws: Workspace) -> None:
    ws.server.route("/he", Reply(body=V1, delay=0.5))
    ws.write(crawl=NEVER, digest=NEVER)
    first = ws.start()
    first.started()
    first.proc.send_signal(signal.SIGKILL)  # maybe mid-crawl: then it leaves the crawl lock too
    first.proc.wait(timeout=10)
    left = {row.name: row for row in ws.locks()}
    assert left["scheduler"].pid == first.proc.pid  # the dead holder's row is still there

    second = ws.start()
    second.started()
    now = {row.name: row for row in ws.locks()}
    assert now["scheduler"].pid == second.proc.pid and now["scheduler"].holder != left["scheduler"].holder
    done = second.wait_for("the catch-up crawl", lambda e: e.get("event") == "job-done")[0]
    assert not done["summary"].startswith("skipped"), done  # a dead crawl lock is taken over too
    assert second.terminate()[0] == 0
    assert ws.locks() == []


# --- in-process: the lock, heartbeats, source selection -----------------------------------


def _stale_row(store: Store, name: str) -> None:
    """A lock row from a holder on another host whose heartbeat stopped two minutes ago."""
    old = utcnow() - timedelta(minutes=2)
    with store.session() as s:
        s.query(LockRow).filter(LockRow.name == name).delete()
        s.add(LockRow(name=name, holder="daemon:elsewhere:1:dead", pid=1, host="elsewhere.invalid",
                      acquired_at=old, heartbeat_at=old))


def test_live_lock_is_refused_and_stale_one_taken_over_by_exactly_one(store_url: str) -> None:
    stores = [Store(store_url) for _ in range(6)]
    try:
        with instance.single_instance(stores[0], "t") as holder:
            with pytest.raises(LockHeld, match="t lock is held by"):
                stores[1].locks.acquire("t", "other", stale_after=instance.STALE_AFTER)
            assert holder.startswith("t:")
        stores[1].locks.acquire("t", "other")  # released on exit
        stores[1].locks.release("t", "other")

        for _round in range(4):  # several racers for one dead lock: one wins, the rest are refused
            _stale_row(stores[0], "race")
            barrier = threading.Barrier(len(stores))
            won: list[str] = []

            def racer(i: int, barrier: threading.Barrier, won: list[str]) -> None:
                barrier.wait()
                try:
                    stores[i].locks.acquire("race", f"racer-{i}", stale_after=timedelta(seconds=60))
                    won.append(f"racer-{i}")
                except LockHeld:
                    pass

            threads = [threading.Thread(target=racer, args=(i, barrier, won)) for i in range(len(stores))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            assert len(won) == 1, won
            with stores[0].session() as s:
                assert s.get(LockRow, "race").holder == won[0]
    finally:
        for st in stores:
            st.close()


def test_heartbeat_refreshes_the_lock_and_reports_when_it_was_taken_over(
        store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(instance, "HEARTBEAT_SECONDS", 0.05)
    store = Store(store_url)
    lost = threading.Event()
    try:
        with instance.single_instance(store, "hb", on_lost=lost.set) as holder:
            with store.session() as s:
                first = s.get(LockRow, "hb").heartbeat_at
            time.sleep(0.3)
            with store.session() as s:
                assert s.get(LockRow, "hb").heartbeat_at > first
            assert not lost.is_set()
            with store.session() as s:  # another process takes it over
                s.execute(update(LockRow).where(LockRow.name == "hb").values(holder="someone-else"))
            assert lost.wait(5), "the heartbeat did not notice the takeover"
            assert holder != "someone-else"
        with store.session() as s:  # our release does not delete the new holder's lock
            assert s.get(LockRow, "hb").holder == "someone-else"
    finally:
        store.close()


def test_each_schedule_crawls_its_own_sources_and_run_takes_those_due_soon(
        tmp_path: Path, store_url: str) -> None:
    (tmp_path / "guide.md").write_text(
        "# G\n\n## A\n\nSee [a](https://www.nhs.uk/a) and [b](https://example.org/b) and "
        "[c](https://example.org/c).\n", encoding="utf-8")
    (tmp_path / "guidewatch.toml").write_text(f"""
store = "{store_url}"
[[guides]]
path = "guide.md"
[[sources]]
url = "https://example.org/c"
schedule = "every 6h"
[schedule]
crawl = "0 6 * * *"
[schedule.profiles]
nhsuk = "0 5 * * 1"
""", encoding="utf-8")
    config = load_config(tmp_path / "guidewatch.toml")
    assert schedule.crawl_schedules(config) == ["0 6 * * *", "0 5 * * 1", "every 6h"]
    w = open_workspace(config)
    try:
        now = utcnow()
        with w.store.session() as s:  # nothing due for a day, except b in one minute
            s.execute(update(SourceRow).values(next_due_at=now + timedelta(days=1)))
            s.execute(update(SourceRow).where(SourceRow.url == "https://example.org/b")
                      .values(next_due_at=now + timedelta(minutes=1)))

        def urls(expr: str | None) -> list[str]:
            return sorted(s.url for s in schedule.sources_to_crawl(w, expr, now))

        assert urls("0 5 * * 1") == ["https://www.nhs.uk/a"]
        assert urls("every 6h") == ["https://example.org/c"]
        assert urls("0 6 * * *") == ["https://example.org/b"]
        assert urls(None) == ["https://example.org/b"]  # cron `run`: due within the slack
        with w.store.session() as s:  # an overdue source is caught up by any firing
            s.execute(update(SourceRow).where(SourceRow.url == "https://example.org/c")
                      .values(next_due_at=now - timedelta(hours=1)))
        assert urls("0 5 * * 1") == ["https://example.org/c", "https://www.nhs.uk/a"]
    finally:
        w.close()


def test_run_with_an_unreadable_guide_exits_2_with_one_line(ws: Workspace) -> None:
    ws.write(crawl=NEVER, digest=NEVER)
    (ws.root / "guide.md").unlink()
    r = ws.run("run")
    assert r.returncode == 2, r.stderr
    errors = [line for line in r.stderr.splitlines() if not line.startswith("{")]
    assert len(errors) == 1 and errors[0].startswith("guidewatch: error: ") and "cannot read guide" in errors[0]
    failed = [json.loads(line) for line in r.stderr.splitlines() if line.startswith("{")]
    assert [e["job"] for e in failed if e["event"] == "job-failed"] == ["crawl", "digest"]
    assert ws.locks() == []


def test_stop_request_from_a_signal_only_sets_a_flag() -> None:
    stopper = schedule.Stopper()
    before = signal.getsignal(signal.SIGINT)
    with schedule.stop_on_signals(stopper):
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + 2
        while not stopper.stopping and time.monotonic() < deadline:
            time.sleep(0.01)
    assert stopper.reason == "received SIGINT" and stopper.exit_code == 0
    stopper.request("later", 2)  # the first reason wins
    assert stopper.reason == "received SIGINT" and stopper.exit_code == 0
    assert signal.getsignal(signal.SIGINT) is before  # restored


def _quiet_config(root: Path, store_url: str) -> Any:
    """A config whose guide cites nothing, so jobs run without crawling anything."""
    (root / "guide.md").write_text("# A guide that cites nothing\n", encoding="utf-8")
    (root / "guidewatch.toml").write_text(f'store = "{store_url}"\n[[guides]]\npath = "guide.md"\n'
                                          f'[schedule]\ncrawl = "{NEVER}"\ndigest = "every 1s"\n', encoding="utf-8")
    return load_config(root / "guidewatch.toml")


def test_run_cycle_reports_an_unexpected_job_error_in_one_line_and_still_runs_the_digest(
        tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    config = _quiet_config(tmp_path, store_url)

    def broken_crawl(*_args: Any, **_kwargs: Any) -> str:
        raise RuntimeError("reactor exploded")

    monkeypatch.setattr(schedule, "crawl_job", broken_crawl)
    with pytest.raises(schedule.JobFailed, match=r"^crawl job failed: RuntimeError: reactor exploded$"):
        schedule.run_cycle(config)
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert [(e["event"], e.get("job")) for e in logged if e["event"].startswith("job-")] == [
        ("job-start", "crawl"), ("job-failed", "crawl"), ("job-start", "digest"), ("job-done", "digest")]
    store = Store(store_url)
    try:
        with store.session() as s:
            assert list(s.scalars(select(LockRow).where(LockRow.name.in_(["scheduler", "crawl"])))) == []
    finally:
        store.close()


def test_a_daemon_whose_lock_is_taken_over_stops_with_exit_2(
        tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(instance, "HEARTBEAT_SECONDS", 0.1)
    daemon = schedule.Daemon(_quiet_config(tmp_path, store_url))
    store = Store(store_url)  # migrated before the daemon thread opens it
    code: list[int] = []
    thread = threading.Thread(target=lambda: code.append(daemon.run()))
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with store.session() as s:
                taken = s.execute(update(LockRow).where(LockRow.name == "scheduler")
                                  .values(holder="daemon:elsewhere:1:new")).rowcount
            if taken:
                break
            time.sleep(0.05)
        thread.join(timeout=20)
        assert code == [2] and daemon.stopper.reason == "lost the scheduler lock"
        with store.session() as s:  # the new holder's row is left alone
            assert s.get(LockRow, "scheduler").holder == "daemon:elsewhere:1:new"
    finally:
        if thread.is_alive():
            daemon.stopper.request("test cleanup")
            thread.join(timeout=20)
        store.close()

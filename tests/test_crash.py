"""Crash safety and concurrency: kill -9 at any point loses nothing and sends nothing twice.

- `guidewatch crawl` and `guidewatch digest --send` are started from the installed command
  and SIGKILLed: a crawl at a seeded-random time or a random moment after its n-th source,
  a digest by the SMTP server itself before, during and after the message. After every kill
  the store must be consistent and no process left behind; the next complete run must
  record every change once and deliver every digest (twice only if its sender died
  mid-delivery, then with the same Message-ID).
- The narrow windows a random kill rarely hits are reproduced exactly in-process: killed
  after a new version is stored but before its changes; after the changes but before the
  snapshot files; with a temp file half-written; with a delivery claimed but not sent; and
  after the SMTP server took the message but before the outbox heard of it.
- Concurrency: manual commands while the daemon runs, and two crawls racing for the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text

from faultserver import FaultServer, Respond, topic_page, write_workspace
from guidewatch.app.crawl import crawl
from guidewatch.app.digest import queue_deliveries, run_digest
from guidewatch.app.recorder import process_outcome
from guidewatch.app.recording import CrawlSummary
from guidewatch.app.workspace import Workspace, open_workspace
from guidewatch.config import load_config
from guidewatch.model import FetchOutcome
from guidewatch.pages.snapshots import parse as parse_snapshot
from guidewatch.pages.snapshots import snapshot_path
from guidewatch.store import utcnow

EXE = shutil.which("guidewatch", path=str(Path(sys.executable).parent))
CMD = [EXE] if EXE else [sys.executable, "-m", "guidewatch.cli"]
SEED = 20261126
EDITORS = ("ed.one@example.org", "ed.two@example.org")
CHANGED = {"a": " Hospitals must now notify the regulator 60 days before first supply.",
           "b": " An annual report on each product is now required.",
           "e": " Serious adverse reactions must be reported within 7 days.",
           "f": " The exemption no longer covers combined products."}
DELAYS = {"a": 0.0, "b": 0.2, "c": 0.4, "d": 0.6, "e": 0.8, "f": 1.0}  # outcomes arrive spread out


# --- a local SMTP server that can tell a completed session from a killed client ----------------


class Mailbox:
    """aiosmtpd handler: keeps each message with its session, and which sessions said QUIT.

    MAIL FROM is answered slowly, which widens the "claimed but not yet sent" window.
    """

    def __init__(self, mail_delay: float = 0.0) -> None:
        self.mail_delay = mail_delay
        self.messages: list[tuple[int, bytes]] = []  # (session number, message)
        self.quit: set[int] = set()
        self._numbers = itertools.count(1)
        self.kill_on: str | None = None  # "MAIL", "DATA" or "QUIT": SIGKILL `victim` there, once
        self.victim: int | None = None

    def _maybe_kill(self, hook: str) -> None:
        if self.kill_on == hook and self.victim:
            self.kill_on = None
            os.kill(self.victim, signal.SIGKILL)

    def _session(self, session: Any) -> int:
        if not hasattr(session, "gw_number"):
            session.gw_number = next(self._numbers)
        return int(session.gw_number)

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        self._session(session)
        await asyncio.sleep(self.mail_delay)
        self._maybe_kill("MAIL")  # claimed, connected, nothing sent yet
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((self._session(session), envelope.content))
        self._maybe_kill("DATA")  # the server has the message; the client never hears 250
        return "250 OK"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quit.add(self._session(session))
        self._maybe_kill("QUIT")  # sent and acknowledged, the outbox not yet told
        return "221 Bye"

    def keys(self) -> list[tuple[str, str, bool]]:
        """(digest key header, Message-ID, session completed) for every message received."""
        out = []
        for number, raw in self.messages:
            msg = message_from_bytes(raw, policy=policy.default)
            out.append((str(msg["X-Guidewatch-Digest"]), str(msg["Message-ID"]), number in self.quit))
        return out


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


# --- the site, the workspace and the invariants --------------------------------------------------


def _site(server: FaultServer) -> dict[str, str]:
    """Six sources; in phase "fault" (the update) four change, one is deleted, one stays."""
    for name in DELAYS:
        path = f"/{name}"
        server.good(path, Respond(body=topic_page(name), delay=DELAYS[name]))
        if name in CHANGED:
            server.fault(path, Respond(body=topic_page(name, extra=CHANGED[name]), delay=DELAYS[name]))
        elif name == "d":
            server.fault(path, Respond(404, "Not Found", delay=DELAYS[name]))
    return {name: server.url(f"/{name}") for name in DELAYS}


def _workspace(tmp_path: Path, server: FaultServer, store_url: str, smtp_port: int | None = None) -> Path:
    """Config, guide and the baseline crawl; the fetch timeout leaves room for slow pages."""
    extra = ""
    if smtp_port:
        extra = f'\n[alerts]\nretry_base = 0.01\n\n[alerts.email]\nhost = "127.0.0.1"\nport = {smtp_port}\n'
    path = write_workspace(tmp_path, _site(server), store_url, extra=extra, editors=EDITORS, fetch={"timeout": 10.0})
    ws = open_workspace(load_config(path))
    try:
        crawl(ws, ws.store.sources.all())  # the reviewed baseline
    finally:
        ws.close()
    return path


def _open(config: Path) -> Workspace:
    return open_workspace(load_config(config), sync=False)


QUERIES = {
    "alert without its change": "SELECT count(*) FROM alerts a LEFT JOIN changes c ON c.id = a.change_id "
                                "WHERE c.id IS NULL",
    "impact without its change": "SELECT count(*) FROM impacts i LEFT JOIN changes c ON c.id = i.change_id "
                                 "WHERE c.id IS NULL",
    "change naming a missing snapshot": "SELECT count(*) FROM changes c WHERE (c.new_snapshot_id IS NOT NULL AND "
                                        "c.new_snapshot_id NOT IN (SELECT id FROM snapshots)) OR (c.old_snapshot_id "
                                        "IS NOT NULL AND c.old_snapshot_id NOT IN (SELECT id FROM snapshots))",
    "source naming a missing snapshot": "SELECT count(*) FROM sources s WHERE (s.current_snapshot_id IS NOT NULL "
                                        "AND s.current_snapshot_id NOT IN (SELECT id FROM snapshots)) OR "
                                        "(s.reviewed_snapshot_id IS NOT NULL AND s.reviewed_snapshot_id NOT IN "
                                        "(SELECT id FROM snapshots)) OR (s.current_snapshot_id IS NOT NULL AND "
                                        "s.reviewed_snapshot_id IS NULL)",
    "passage alerted twice": "SELECT count(*) FROM (SELECT a.guide, c.passage FROM alerts a JOIN changes c "
                             "ON c.id = a.change_id WHERE a.status = 'open' GROUP BY a.guide, c.passage "
                             "HAVING count(*) > 1) dup",
    "change recorded twice": "SELECT count(*) FROM (SELECT source_id, passage, new, new_snapshot_id FROM changes "
                             "WHERE scope = 'block' GROUP BY source_id, passage, new, new_snapshot_id "
                             "HAVING count(*) > 1) dup",
    "sent delivery without a time": "SELECT count(*) FROM deliveries WHERE status = 'sent' AND sent_at IS NULL",
}


def check_store(config: Path, *, settled: bool) -> dict[str, int]:
    """Problems found (name -> count); `settled`: a complete run followed the last kill, so the
    snapshot files must match the store and no temp file may be left."""
    ws = _open(config)
    problems: dict[str, int] = {}
    try:
        with ws.store.engine.connect() as conn:
            for name, sql in QUERIES.items():
                problems[name] = int(conn.execute(text(sql)).scalar() or 0)
            if ws.store.engine.dialect.name == "sqlite":
                problems["sqlite integrity"] = int(conn.execute(text("PRAGMA integrity_check")).scalar() != "ok")
        files = [p for p in ws.config.snapshots_dir.rglob("*.txt") if not p.name.startswith(".")]
        unreadable = 0
        for p in files:
            try:
                parse_snapshot(p.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                unreadable += 1
        problems["unreadable snapshot file"] = unreadable
        if settled:
            out_of_step = _files_out_of_step(ws)
            problems["snapshot file out of step with the store"] = len(out_of_step)
            if out_of_step:
                print("out of step:", *out_of_step, sep="\n  ")
            problems["temp file left"] = len([p for d in (ws.config.snapshots_dir, ws.config.alerts_dir)
                                              for p in d.rglob(".*tmp*")])
    finally:
        ws.close()
    return {k: v for k, v in problems.items() if v}


def _files_out_of_step(ws: Workspace) -> list[str]:
    bad = []
    for src in ws.store.sources.all():
        reviewed = ws.store.sources.snapshot(src.reviewed_snapshot_id)
        current = ws.store.sources.snapshot(src.current_snapshot_id)
        base, latest = snapshot_path(ws.config.snapshots_dir, src.url), \
            snapshot_path(ws.config.snapshots_dir, src.url, latest=True)
        if reviewed and (not base.exists() or parse_snapshot(base.read_text()).meta["content_hash"]
                         != reviewed.content_hash):
            bad.append(f"{src.url}: reviewed file")
        differs = current is not None and reviewed is not None and current.content_hash != reviewed.content_hash
        if differs and (not latest.exists() or parse_snapshot(latest.read_text()).meta["content_hash"]
                        != current.content_hash):
            bad.append(f"{src.url}: latest file missing or old")
        if not differs and latest.exists():
            bad.append(f"{src.url}: latest file left after review")
    return bad


def _expect_update_recorded_once(config: Path, urls: dict[str, str]) -> dict[str, list[str]]:
    """After the update: every changed source alerted (each passage once), the deleted one gone."""
    ws = _open(config)
    try:
        by_source = {name: sorted(a.change.change.kind for a in ws.store.alerts.find(status="open", source_url=url))
                     for name, url in urls.items()}
    finally:
        ws.close()
    for name in CHANGED:
        assert by_source[name] and set(by_source[name]) <= {"modified", "added"}, (name, by_source[name])
    assert by_source["d"] == ["gone"] and by_source["c"] == [], by_source
    return by_source


# --- processes ----------------------------------------------------------------------------------


def _spawn(args: list[str], cwd: Path, token: str) -> subprocess.Popen[str]:
    env = {**os.environ, "GW_CRASH_TOKEN": token}
    return subprocess.Popen([*CMD, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _leftovers(token: str) -> list[int]:
    """Processes still running with our token in their environment (e.g. an orphaned crawl child)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if f"GW_CRASH_TOKEN={token}".encode() in (proc / "environ").read_bytes():
                    state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
                    if state != "Z":
                        pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def _kill(args: list[str], cwd: Path, trigger: str, rng: random.Random, box: Mailbox | None = None
          ) -> tuple[str, int]:
    """Start the command and SIGKILL it: after a random time ("time"), a random moment after its
    n-th progress line ("progress"), or from inside the SMTP server ("MAIL", "DATA", "QUIT").
    Returns where it died and how many of its processes outlived it."""
    token = uuid.uuid4().hex
    proc = _spawn(args, cwd, token)
    where = trigger
    if box is not None and trigger in ("MAIL", "DATA", "QUIT"):
        box.victim, box.kill_on = proc.pid, trigger
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=60)  # the SMTP server kills it at that point of the conversation
        where = f"by the SMTP server at {trigger}"
    elif trigger == "progress":
        n, extra = rng.randint(1, len(DELAYS) - 1), rng.uniform(0.0, 0.25)
        guard = threading.Timer(60, proc.kill)  # never hang the suite
        guard.start()
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith(f"[{n}/"):
                time.sleep(extra)
                break
        guard.cancel()
        where = f"{extra:.2f} s after source {n} of {len(DELAYS)}"
    else:
        delay = rng.uniform(0.3, 2.5)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=delay)
        where = f"at {delay:.2f} s"
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    try:
        proc.communicate(timeout=60)
    finally:
        if box is not None:
            box.kill_on = box.victim = None
    died = proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while _leftovers(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    return (f"killed {where}" if died else f"finished before the kill ({where}, exit {proc.returncode})",
            len(_leftovers(token)))


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CMD, *args], cwd=cwd, capture_output=True, text=True, timeout=180)


# --- random SIGKILLs -------------------------------------------------------------------------------


def test_crawl_and_digest_killed_at_random_points_lose_nothing_and_send_once(
    tmp_path: Path, store_url: str, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    rng = random.Random(SEED)
    report: list[str] = []
    with FaultServer() as server:
        config = _workspace(tmp_path, server, store_url, smtp_port=port)
        urls = {name: server.url(f"/{name}") for name in DELAYS}
        for n, trigger in enumerate(["time", "progress"], 1):
            server.phase = "fault" if n % 2 else "baseline"  # the update, then back: always news to record
            where, orphans = _kill(["crawl", "--all"], tmp_path, trigger, rng)
            problems = check_store(config, settled=False)
            report.append(f"crawl {n}: {where}; {_recorded(config)}; orphans {orphans}; problems {problems or 0}")
            assert orphans == 0 and not problems, report[-1]
        server.phase = "fault"
        final = _run(["crawl", "--all"], tmp_path)
        assert final.returncode == 0, final.stderr
        assert check_store(config, settled=True) == {}
        _expect_update_recorded_once(config, urls)

    in_doubt: set[str] = set()  # deliveries claimed when their sender died: may arrive twice
    for n, trigger in enumerate(["MAIL", "DATA", "QUIT"], 1):
        _new_alert(config, n)  # something new to send each time
        where, orphans = _kill(["digest", "--send"], tmp_path, trigger, rng, box)
        problems = check_store(config, settled=False)
        outbox = _outbox(config)
        in_doubt |= {key for key, status in outbox if status == "sending"}
        report.append(f"digest {n}: {where}; outbox {sorted(st for _, st in outbox)}; orphans {orphans}; "
                      f"problems {problems or 0}")
        assert orphans == 0 and not problems, report[-1]
    runs = [_run(["digest", "--send"], tmp_path) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    assert check_store(config, settled=True) == {}
    ws = _open(config)
    try:
        deliveries = ws.store.outbox.find()
        open_ids = {a.id for a in ws.store.alerts.find(status="open")}
    finally:
        ws.close()
    sent = [d for d in deliveries if d.status == "sent"]
    assert {d.status for d in deliveries} <= {"sent", "cancelled"}, [(d.key, d.status) for d in deliveries]
    for editor in EDITORS:
        carried = {i for d in sent if d.recipient == editor for i in d.alert_ids}
        assert open_ids <= carried, f"{editor} never got alerts {sorted(open_ids - carried)}"
    received = box.keys()
    got = [k for k, _, _ in received]
    sent_keys = {d.key.partition(":")[2] for d in sent}
    assert sent_keys <= set(got), f"sent but never received: {sent_keys - set(got)}"
    repeats = {k for k in got if got.count(k) > 1}
    assert repeats <= in_doubt, f"received twice without a kill mid-delivery: {repeats - in_doubt}"
    assert all(len({mid for k, mid, _ in received if k == key}) == 1 for key in repeats), "repeat with a new Message-ID"
    report.append(f"open alerts {len(open_ids)}; deliveries sent {len(sent)}, cancelled "
                  f"{len(deliveries) - len(sent)}; messages received {len(received)}, of which repeats of an "
                  f"in-doubt delivery {len(received) - len(set(got))}; lost 0")
    print("\n" + "\n".join(report))


def _recorded(config: Path) -> str:
    """How far the killed crawl got: sources checked since the last kill, from the fetch log."""
    ws = _open(config)
    try:
        rows = sum(len(ws.store.sources.fetch_history(s.url, limit=1000)) for s in ws.store.sources.all())
    finally:
        ws.close()
    return f"{rows} fetches recorded in all"


def _outbox(config: Path) -> list[tuple[str, str]]:
    ws = _open(config)
    try:
        return [(d.key.partition(":")[2], d.status) for d in ws.store.outbox.find()]
    finally:
        ws.close()


def _new_alert(config: Path, n: int) -> None:
    """Source c says something new (fed in-process: no crawl needed), so a digest has news."""
    ws = _open(config)
    try:
        url = next(s.url for s in ws.store.sources.all() if s.url.endswith("/c"))
        html = topic_page("c", extra=f" Revision {n}: hospitals must keep records for {n + 10} years.")
        outcome = FetchOutcome(url=url, status="ok", http_status=200, body=html.encode(), fetched_at=utcnow(),
                               headers={"content-type": "text/html; charset=utf-8"})
        src = ws.store.sources.get(url)
        assert src is not None
        process_outcome(ws, src, outcome, CrawlSummary())
    finally:
        ws.close()


# --- the narrow windows, exactly -----------------------------------------------------------------


class Killed(BaseException):
    """Stands in for SIGKILL inside this process: nothing after the raise point runs."""


def _die(*_a: object, **_k: object) -> None:
    raise Killed


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


OFFLINE = {name: f"http://127.0.0.1:9/{name}" for name in DELAYS}  # fed in-process, never fetched


def _feed(ws: Workspace, url: str, phase: str) -> str:
    """One fetch outcome through the pipeline (what `crawl` does per source), without the network."""
    name = url.rsplit("/", 1)[1]
    src = ws.store.sources.get(url)
    assert src is not None
    if phase == "update" and name == "d":
        outcome = FetchOutcome(url=url, status="gone", http_status=404, fetched_at=utcnow())
    else:
        html = topic_page(name, extra=CHANGED.get(name, "") if phase == "update" else "")
        outcome = FetchOutcome(url=url, status="ok", http_status=200, body=html.encode(), fetched_at=utcnow(),
                               headers={"content-type": "text/html; charset=utf-8"})
    return process_outcome(ws, src, outcome, CrawlSummary())


def _offline_workspace(tmp_path: Path, store_url: str, smtp_port: int | None = None) -> Path:
    """The six sources with their baseline recorded and the update fed in (alerts open)."""
    extra = ""
    if smtp_port:
        extra = f'\n[alerts]\nretry_base = 0.01\n\n[alerts.email]\nhost = "127.0.0.1"\nport = {smtp_port}\n'
    config = write_workspace(tmp_path, OFFLINE, store_url, extra=extra, editors=EDITORS)
    ws = open_workspace(load_config(config))
    try:
        for url in OFFLINE.values():
            _feed(ws, url, "baseline")
        if smtp_port:
            for url in OFFLINE.values():
                _feed(ws, url, "update")
    finally:
        ws.close()
    return config


@pytest.mark.parametrize("window", ["after the new version, before its changes",
                                    "after the changes, before the snapshot files"])
def test_a_crawl_killed_inside_a_source_loses_no_change(window: str, tmp_path: Path, store_url: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    config = _offline_workspace(tmp_path, store_url)
    target = "guidewatch.app.decision.diff_pages" if "before its changes" in window \
        else "guidewatch.app.snapshot_files.write_snapshots"
    ws = _open(config)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(target, _die)
            with pytest.raises(Killed):
                _feed(ws, OFFLINE["a"], "update")  # the process dies inside this source
    finally:
        ws.close()
    assert check_store(config, settled=False) == {}
    ws = _open(config)
    try:
        verdicts = [_feed(ws, url, "update") for url in OFFLINE.values()]  # the next crawl
        again = [_feed(ws, url, "update") for url in OFFLINE.values()]  # and the one after
    finally:
        ws.close()
    # the source that died is diffed again (its changes were never recorded) or just re-synced
    assert verdicts[0].startswith("changed" if "before its changes" in window else "unchanged"), verdicts
    assert not any(v.startswith("changed") for v in again), again
    assert check_store(config, settled=True) == {}
    _expect_update_recorded_once(config, OFFLINE)


def test_temp_files_of_killed_writers_are_removed_and_live_ones_kept(tmp_path: Path, store_url: str) -> None:
    config = write_workspace(tmp_path, {"x": "http://127.0.0.1:9/x"}, store_url)
    snaps, alerts = tmp_path / "snapshots" / "127.0.0.1_9", tmp_path / "alerts"
    snaps.mkdir(parents=True)
    alerts.mkdir()
    dead, live = _dead_pid(), os.getppid()  # pytest's parent outlives the test
    orphans = [snaps / f".tmp-{dead}-k2j3h4.txt", alerts / f".2026-01-01T0000Z-digest-all.md.{dead}.0badf00d.tmp"]
    keep = [snaps / f".tmp-{live}-a1b2c3.txt", alerts / f".2026-01-01T0000Z-digest-all.html.{live}.c0ffee00.tmp",
            snaps / "x.txt"]
    for p in orphans + keep:
        p.write_text("half a file")
    open_workspace(load_config(config)).close()
    assert [p.exists() for p in orphans] == [False, False]
    assert all(p.exists() for p in keep)


def test_a_digest_killed_between_claim_and_send_is_sent_by_the_next_run_once(
    tmp_path: Path, store_url: str, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    ws = _open(_offline_workspace(tmp_path, store_url, smtp_port=port))
    try:
        run_digest(ws.store, ws.config, ws.guides)  # files only
        queue_deliveries(ws.store, ws.config, ws.guides)
        claimed = ws.store.outbox.claim()  # ...and the process dies here
        assert len(claimed) == len(EDITORS) and box.messages == []
        with ws.store.engine.begin() as conn:  # the claimer is a process that no longer exists
            conn.execute(text("UPDATE locks SET pid = :pid WHERE name LIKE 'delivery:%'"), {"pid": _dead_pid()})
        first = run_digest(ws.store, ws.config, ws.guides, send=True)
        again = run_digest(ws.store, ws.config, ws.guides, send=True)
        statuses = {d.status for d in ws.store.outbox.find()}
    finally:
        ws.close()
    assert len(first.sent) == len(EDITORS) and not again.sent, (first.sent, again.sent)
    assert statuses == {"sent"} and len(box.messages) == len(EDITORS)


def test_a_delivery_claimed_by_a_live_process_is_not_taken_over(tmp_path: Path, store_url: str,
                                                                  mailbox: tuple[Mailbox, int]) -> None:
    """The reverse: another worker (alive) is sending; a second run must not send it too."""
    box, port = mailbox
    ws = _open(_offline_workspace(tmp_path, store_url, smtp_port=port))
    try:
        queue_deliveries(ws.store, ws.config, ws.guides)
        assert len(ws.store.outbox.claim()) == len(EDITORS)  # we are the live claimer
        assert ws.store.outbox.claim() == []
        run = run_digest(ws.store, ws.config, ws.guides, send=True)
    finally:
        ws.close()
    assert run.sent == [] and box.messages == []


def test_a_digest_killed_after_the_smtp_server_took_it_is_resent_with_the_same_message_id(
    tmp_path: Path, store_url: str, mailbox: tuple[Mailbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one window where at-least-once shows: the message left, the outbox never heard.
    The repeat carries the same Message-ID and X-Guidewatch-Digest, so mail systems can drop it."""
    box, port = mailbox
    ws = _open(_offline_workspace(tmp_path, store_url, smtp_port=port))
    try:
        with monkeypatch.context() as patch:
            patch.setattr("guidewatch.store.outbox.Outbox.done", _die)
            with pytest.raises(Killed):
                run_digest(ws.store, ws.config, ws.guides, send=True)
        with ws.store.engine.begin() as conn:
            conn.execute(text("UPDATE locks SET pid = :pid WHERE name LIKE 'delivery:%'"), {"pid": _dead_pid()})
        run_digest(ws.store, ws.config, ws.guides, send=True)
        run_digest(ws.store, ws.config, ws.guides, send=True)
        statuses = sorted(d.status for d in ws.store.outbox.find())
    finally:
        ws.close()
    keys = box.keys()
    assert statuses == ["sent"] * len(EDITORS)
    assert len(keys) == len(EDITORS) + 1, keys  # the first message went twice, the other once
    first = [k for k in keys if k[0] == keys[0][0]]
    assert len(first) == 2 and first[0][1] == first[1][1], first


# --- concurrency --------------------------------------------------------------------------------


def test_two_crawls_racing_for_the_lock_fetch_each_source_once(tmp_path: Path, store_url: str) -> None:
    with FaultServer() as server:
        config = _workspace(tmp_path, server, store_url)
        for name in DELAYS:  # slow pages keep the winner's crawl lock held while the other starts
            server.good(f"/{name}", Respond(body=topic_page(name), delay=3.0))
        token = uuid.uuid4().hex
        procs = [_spawn(["crawl", "--all"], tmp_path, token) for _ in range(2)]
        results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
        hits = {name: server.hits(f"/{name}") for name in DELAYS}
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, _, err in results if code == 2)
    assert loser.strip().count("\n") == 0 and "lock is held" in loser and "Traceback" not in loser, loser
    assert hits == {name: 2 for name in DELAYS}, hits  # the baseline and one crawl, not two
    assert check_store(config, settled=True) == {}


def test_manual_commands_while_the_daemon_runs(tmp_path: Path, store_url: str) -> None:
    """Every command works (or refuses in one line) while the daemon crawls and digests."""
    with FaultServer() as server:
        config = _workspace(tmp_path, server, store_url)
        server.phase = "fault"
        text_ = config.read_text().replace("[check]", '[schedule]\ncrawl = "every 2s"\ndigest = "every 3s"\n\n[check]')
        config.write_text(text_)
        daemon = subprocess.Popen([*CMD, "daemon"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        try:
            time.sleep(2)
            commands = [["crawl", "--all"], ["changes", "--format", "json"], ["digest"], ["check", "--offline"],
                        ["accept", "--all", "--by", "Night Editor"], ["daemon"]]
            results: dict[str, subprocess.CompletedProcess[str]] = {}

            def run(args: list[str]) -> None:
                results[" ".join(args)] = _run(args, tmp_path)

            threads = [threading.Thread(target=run, args=(c,)) for c in commands]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=180)
            alive = daemon.poll() is None
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                out, err = daemon.communicate(timeout=60)
            except subprocess.TimeoutExpired:  # it must stop on SIGTERM; never leave it running
                daemon.kill()
                out, err = daemon.communicate()
    assert alive, err[-2000:]
    assert daemon.returncode == 0, err[-2000:]
    for name, r in results.items():
        allowed = {"check --offline": (0, 1), "crawl --all": (0, 2), "daemon": (2,)}.get(name, (0,))
        assert r.returncode in allowed, (name, r.returncode, r.stderr[-1000:])
        assert "Traceback" not in r.stderr and "database is locked" not in r.stderr, (name, r.stderr[-1000:])
        if r.returncode == 2:
            assert r.stderr.strip().count("\n") == 0 and "lock" in r.stderr, (name, r.stderr)
    assert check_store(config, settled=True) == {}

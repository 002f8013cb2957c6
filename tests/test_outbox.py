"""The delivery outbox under concurrency and failure, against a real local SMTP server.

Two `digest --send` at once never give a recipient the same alert twice (a fixed
interleaving of two runs, and two real processes); a live sender keeps its claims however
long it takes (an injected clock); a 5xx answer is permanent at once; a webhook's error body
never carries a piece of the token out.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, text

from guidewatch.app.digest import deliver_pending, queue_deliveries
from guidewatch.store import LockRow, Store, utcnow
from httpserver import LocalHTTPServer
from test_alerts import (
    ALICE,
    BOB,
    CAROL,
    GT_IMPACT,
    HE_IMPACT,
    TOKEN,
    Mailbox,
    Outbox,
    Site,
    email_alerts,
    seed_change,
    smtp_server,
)
from test_crash import CMD


@pytest.fixture
def site(tmp_path: Path, http_server: LocalHTTPServer, store_url: str) -> Site:
    return Site(tmp_path / "ws", http_server, store_url)


@pytest.fixture
def outboxes(site: Site) -> Iterator[list[Outbox]]:
    """Outbox objects the test makes (each its own store connection, like a process); closed after."""
    made: list[Outbox] = []
    yield made
    for box in made:
        box.store.close()


def open_box(site: Site, made: list[Outbox]) -> Outbox:
    made.append(Outbox(site))
    return made[-1]


def received(store: Store, mailbox: Mailbox) -> Counter[tuple[str, int]]:
    """Messages received per (recipient, alert), from each message's digest key."""
    carried = {d.key.partition(":")[2]: d.alert_ids for d in store.outbox.find()}
    out: Counter[tuple[str, int]] = Counter()
    for msg in mailbox.messages:
        for rcpt in msg["X-Envelope-To"].split(","):
            out.update((rcpt, i) for i in carried[str(msg["X-Guidewatch-Digest"])])
    return out


def owed_pairs(store: Store) -> set[tuple[str, int]]:
    """(recipient, alert) for every open alert and each editor of its guide."""
    editors = {"hospital-exemption": (ALICE, CAROL), "genomic-testing": (BOB, CAROL)}
    return {(e, a.id) for a in store.alerts.find(status="open") for e in editors[a.guide]}


def failed_then_new(box: Outbox, mailbox: Mailbox, n: int = 0) -> None:
    """An earlier delivery failed (alice's and carol's digests wait to retry); then a new
    alert for bob and carol: carol's waiting digest must be replaced by one with both."""
    site = box.site
    seed_change(box.store, site.he_url, "Hospitals may notify.", f"Hospitals must notify ({n}).", HE_IMPACT)
    mailbox.down = True
    assert len(box.run().failed) == 2
    seed_change(box.store, site.gt_url, "Results take 4 weeks.", f"Results take {12 + n} weeks.", GT_IMPACT)
    mailbox.down = False
    time.sleep(0.05)  # retry_base = 0.01: the retries are due


# --- 6. two runs queueing at once ---------------------------------------------------------------


def is_outbox_lock(statement: str) -> bool:
    """The statement a run waits in while another run settles the same recipient's outbox."""
    return statement.startswith("BEGIN IMMEDIATE") or "pg_advisory_xact_lock" in statement


def test_two_runs_queueing_at_once_never_give_a_recipient_an_alert_twice(site: Site,
                                                                        outboxes: list[Outbox]) -> None:
    """The fixed interleaving of the issue: run B reads the outbox (carol's failed digest is
    pending); run A cancels it and queues a replacement; then B goes on. B must not queue
    carol's new alert again under another key."""
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        site.configure(email_alerts(port, retry_base=0.01))
        a, b = open_box(site, outboxes), open_box(site, outboxes)
        failed_then_new(a, mailbox)

        b_has_read, a_done_or_waiting = threading.Event(), threading.Event()

        def b_pauses_after_its_first_outbox_read(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if "FROM deliveries" in statement and not b_has_read.is_set():
                b_has_read.set()
                assert a_done_or_waiting.wait(60)

        def a_waits_for_the_outbox(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if is_outbox_lock(statement):
                a_done_or_waiting.set()  # A is held at the lock B took: B may go on

        event.listen(b.store.engine, "after_cursor_execute", b_pauses_after_its_first_outbox_read)
        event.listen(a.store.engine, "before_cursor_execute", a_waits_for_the_outbox)
        queued: dict[str, list[str]] = {}

        def run(name: str, box: Outbox) -> None:
            try:
                queued[name] = queue_deliveries(box.store, box.config, box.guides)
            finally:
                a_done_or_waiting.set()

        run_b = threading.Thread(target=run, args=("B", b))
        run_b.start()
        assert b_has_read.wait(60)
        run_a = threading.Thread(target=run, args=("A", a))
        run_a.start()
        for t in (run_a, run_b):
            t.join(120)
        assert set(queued) == {"A", "B"}, "a run failed"

        report = deliver_pending(a.store, a.config)
        got = received(a.store, mailbox)
        assert sorted(report.sent) == sorted(f"email:{e}" for e in (ALICE, BOB, CAROL)), report
        assert {k: n for k, n in got.items() if n > 1} == {}
        assert set(got) == owed_pairs(a.store)
        assert mailbox.counts() == {ALICE: 1, BOB: 1, CAROL: 1}


def spawn_digest(site: Site) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "GUIDEWATCH_STORE": site.store_url}
    return subprocess.Popen([*CMD, "digest", "--send"], cwd=site.root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


RACE_TRIALS = int(os.environ.get("GUIDEWATCH_RACE_TRIALS", "8"))  # the README figure: 20


def test_two_digest_send_processes_at_once_send_each_alert_once(site: Site, outboxes: list[Outbox]) -> None:
    """Two real `guidewatch digest --send` started together after a failed delivery, over and
    over: no recipient ever receives an alert twice, and none is lost."""
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        site.configure(email_alerts(port, retry_base=0.01))
        box = open_box(site, outboxes)
        for n in range(RACE_TRIALS):
            failed_then_new(box, mailbox, n)
            procs = [spawn_digest(site), spawn_digest(site)]
            results = [p.communicate(timeout=180) for p in procs]
            assert [p.returncode for p in procs] == [0, 0], results
            assert not any("Traceback" in err for _, err in results), results
            assert owed_pairs(box.store) <= set(received(box.store, mailbox)), f"trial {n}: an alert was lost"
        got = received(box.store, mailbox)
    duplicates = {k: v for k, v in got.items() if v > 1}
    print(f"\n{RACE_TRIALS} trials on {box.store.engine.dialect.name}, {len(duplicates)} duplicates seen "
          f"({len(mailbox.messages)} messages)")
    assert duplicates == {}


# --- 7. a live sender keeps its claims ----------------------------------------------------------


class SlowMailbox(Mailbox):
    """Holds the first message in DATA until `release` (a slow relay); keeps the rest at once."""

    def __init__(self) -> None:
        super().__init__()
        self.holding, self.release = threading.Event(), threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        if not self.holding.is_set():
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
        return await super().handle_DATA(server, session, envelope)


class Clock:
    """The injected clock: moves only when the test says so."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


def claim_heartbeats(store: Store) -> list[datetime]:
    """When each delivery claim was last renewed."""
    with store.session() as s:
        return list(s.scalars(select(LockRow.heartbeat_at).where(LockRow.name.like("delivery:%"))))


def wait_for(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + 30
    while not predicate():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


def test_a_live_sender_keeps_its_claims_past_the_old_ten_minutes(site: Site, outboxes: list[Outbox]) -> None:
    """Run A is still sending (a slow relay holds alice's message) when the clock passes the
    10 minutes after its claim: run B takes nothing over, so nothing goes out twice."""
    mailbox = SlowMailbox()
    with smtp_server(mailbox) as port:
        site.configure(email_alerts(port))
        a, b = open_box(site, outboxes), open_box(site, outboxes)
        seed_change(a.store, site.he_url, "Hospitals may notify.", "Hospitals must notify.", HE_IMPACT)
        assert len(queue_deliveries(a.store, a.config, a.guides)) == 2  # alice, carol
        clock = Clock()
        sender = threading.Thread(target=deliver_pending, args=(a.store, a.config),
                                  kwargs={"clock": clock, "renew_every": 0.01})
        sender.start()
        try:
            assert mailbox.holding.wait(30)  # A has claimed both, alice's message is in DATA
            clock.now += timedelta(minutes=15)
            wait_for(lambda: claim_heartbeats(a.store) == [clock.now] * 2, "A renews its claims")
            assert b.store.outbox.claim(now=clock.now + timedelta(seconds=1)) == []
            clock.now += timedelta(minutes=15)
            wait_for(lambda: claim_heartbeats(a.store) == [clock.now] * 2, "A renews its claims again")
            assert b.store.outbox.claim(now=clock.now + timedelta(seconds=1)) == []
        finally:
            mailbox.release.set()
            sender.join(60)
        assert mailbox.counts() == {ALICE: 1, CAROL: 1}
        assert {d.status for d in a.store.outbox.find()} == {"sent"}
        assert claim_heartbeats(a.store) == []  # claims end with the delivery


def test_the_claims_of_a_sender_that_stopped_renewing_are_taken_after_the_lease(
        site: Site, outboxes: list[Outbox]) -> None:
    """A claimer on another host (its pid cannot be checked) that stopped renewing: its
    claims are free once the lease (10 minutes since the last renewal) has run out."""
    site.configure(email_alerts(25))
    a, b = open_box(site, outboxes), open_box(site, outboxes)
    seed_change(a.store, site.he_url, "Hospitals may notify.", "Hospitals must notify.", HE_IMPACT)
    queue_deliveries(a.store, a.config, a.guides)
    t0 = utcnow()
    claimed = a.store.outbox.claim(now=t0)
    assert len(claimed) == 2
    with a.store.engine.begin() as conn:
        conn.execute(text("UPDATE locks SET host = 'elsewhere.example.org', holder = 'deliver:elsewhere:1' "
                          "WHERE name LIKE 'delivery:%'"))
    assert a.store.outbox.renew([d.id for d in claimed], now=t0 + timedelta(minutes=8)) == 0  # not ours now
    assert b.store.outbox.claim(now=t0 + timedelta(minutes=9)) == []
    assert {d.id for d in b.store.outbox.claim(now=t0 + timedelta(minutes=11))} == {d.id for d in claimed}


# --- 8. a permanent refusal ---------------------------------------------------------------------


class RefusingMailbox(Mailbox):
    """bob's address does not exist (550 at RCPT); carol's mailbox is busy (451 at DATA)."""

    def __init__(self) -> None:
        super().__init__()
        self.rcpts: Counter[str] = Counter()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          options: list[str]) -> str:
        self.rcpts[address] += 1
        if address == BOB:
            return f"550 5.1.1 <{address}>: no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if CAROL in envelope.rcpt_tos:
            self.attempts[CAROL] += 1
            return "451 4.3.0 mailbox busy, try again later"
        return await super().handle_DATA(server, session, envelope)


def test_a_550_is_dead_at_once_and_a_451_is_retried(site: Site, outboxes: list[Outbox]) -> None:
    mailbox = RefusingMailbox()
    with smtp_server(mailbox) as port:
        site.configure(email_alerts(port, retry_base=0.01, max_attempts=5))
        box = open_box(site, outboxes)
        seed_change(box.store, site.gt_url, "Results take 4 weeks.", "Results take 12 weeks.", GT_IMPACT)
        first = site.gw("digest", "--send")
        # exit 3: the run completed but deliveries failed (README "Commands and exit codes")
        assert first.returncode == 3 and "Traceback" not in first.stderr, first.stderr
        refused = [ln for ln in first.stderr.splitlines() if ln.startswith("delivery refused permanently (5xx), "
                                                                           "not retried: ")]
        assert len(refused) == 1 and f"email:{BOB}" in refused[0] and "550 5.1.1" in refused[0], first.stderr
        assert any(ln.startswith("delivery failed, will retry: email:carol") for ln in first.stderr.splitlines())
        by_rcpt = {d.recipient: d for d in box.store.outbox.find()}
        assert (by_rcpt[BOB].status, by_rcpt[BOB].attempts) == ("dead", 1)
        assert "550 5.1.1" in (by_rcpt[BOB].last_error or "")
        assert (by_rcpt[CAROL].status, by_rcpt[CAROL].attempts) == ("pending", 1)
        time.sleep(0.05)
        second = site.gw("digest", "--send")
        assert any(ln.startswith(f"undelivered: email:{BOB}") for ln in second.stderr.splitlines()), second.stderr
        assert mailbox.rcpts[BOB] == 1  # never asked again
        assert mailbox.attempts[CAROL] == 2  # the busy mailbox is tried again
        by_rcpt = {d.recipient: d for d in box.store.outbox.find()}
        assert (by_rcpt[BOB].status, by_rcpt[BOB].attempts) == ("dead", 1)
        assert (by_rcpt[CAROL].status, by_rcpt[CAROL].attempts) == ("pending", 2)


# --- 9. a webhook error body that quotes the token ----------------------------------------------


class EchoingHook(BaseHTTPRequestHandler):
    """Answers 400 with a body that quotes the Authorization header so that the token
    straddles byte 300."""

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        self.rfile.read(int(self.headers.get("content-length") or 0))
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        body = ("e" * (300 - len(token) // 2) + token + " was refused").encode()
        self.send_response(400)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return


@contextmanager
def echoing_hook() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), EchoingHook)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/hook"
    finally:
        httpd.shutdown()
        httpd.server_close()


def token_pieces(text: str, secret: str = TOKEN) -> list[str]:
    """Every prefix (and suffix) of the secret, 4 characters or longer, found in `text`."""
    return [p for n in range(4, len(secret) + 1) for p in (secret[:n], secret[-n:]) if p in text]


def test_a_webhook_error_body_never_leaks_part_of_the_token(site: Site, outboxes: list[Outbox]) -> None:
    with echoing_hook() as url:
        site.configure(f'[alerts.webhook]\nurl = "{url}"\n')
        box = open_box(site, outboxes)
        seed_change(box.store, site.he_url, "Hospitals may notify.", "Hospitals must notify.", HE_IMPACT)
        run = site.gw("-vv", "digest", "--send", env={"GUIDEWATCH_WEBHOOK_TOKEN": TOKEN})
        assert run.returncode == 3 and "answered 400" in run.stderr, run.stderr  # 3: the delivery failed
        assert "eeee" in run.stderr  # the body is shown, up to the token
        (delivery,) = box.store.outbox.find()
        assert "answered 400" in (delivery.last_error or "")
        assert token_pieces(run.stdout + run.stderr) == []
        assert token_pieces(delivery.last_error or "") == []
        assert token_pieces(json.dumps([d.payload for d in box.store.outbox.find()])) == []

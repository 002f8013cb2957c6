"""Editors' digests and reliable delivery, end to end through the installed `guidewatch`.

A workspace holds two guides owned by different editors (carol edits both), citing
different pages served by a local HTTP server. The main scenario crawls, changes the
pages, crawls again and drives `guidewatch digest --send` against a real local SMTP server
(aiosmtpd). Scenarios about what happens after a crawl (webhook, dead deliveries, the
outbox rules) seed the alerts in the store directly, which is quicker and exact.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from guidewatch.app.digest import (
    deliver_pending,
    editors_of,
    queue_deliveries,
    run_digest,
    targets,
)
from guidewatch.config import load_config
from guidewatch.model import Block, Change, FetchOutcome, Impact, Page
from guidewatch.store import Store
from httpserver import LocalHTTPServer

# --- the example site and guides ----------------------------------------------------------

HE_PATH = "/guidance/hospital-exemption"
GT_PATH = "/conditions/genomic-testing"


def he_page(notify: str = "may notify the MHRA before", report_days: str = "15 days", extra: str = "") -> str:
    return f"""<!doctype html><html><head><title>Hospital exemption for ATMPs</title></head><body>
<header><nav><a href="/">Home</a></nav></header>
<main><h1>Hospital exemption for ATMPs</h1>
<h2>Notifying the regulator</h2>
<p>Hospitals {notify} they first supply an advanced therapy under the hospital exemption.</p>
<h2>Reporting adverse reactions</h2>
<p>Serious adverse reactions should be reported to the MHRA within {report_days} of the hospital learning of them.</p>
{extra}</main><footer>Contact us</footer></body></html>"""


def gt_page(weeks: str = "between 4 and 8 weeks") -> str:
    return f"""<!doctype html><html><head><title>Genomic testing</title></head><body><main>
<h1>Genomic testing</h1>
<h2>Who can have a test</h2>
<p>Genomic testing is offered on the NHS when a specialist thinks it could help diagnose a rare disease.</p>
<h2>Getting results</h2>
<p>Results of a genomic test usually take {weeks} to come back.</p>
</main></body></html>"""


HE_GUIDE = """# Hospital exemption: a guide for patients

## Notifying the MHRA
A hospital that supplies an advanced therapy under the hospital exemption may notify the MHRA
before the first supply ([MHRA: hospital exemption]({url})).

## Side effects and reporting
The hospital should report serious adverse reactions to the MHRA within 15 days.

## Travelling abroad
Plan trips carefully and take your travel insurance documents with you.
"""

GT_GUIDE = """# Genomic testing: a guide for patients

## Who is offered genomic testing
A specialist may offer genomic testing on the NHS to help diagnose a rare disease
([NHS: genomic testing]({url})).

## Waiting for results
Results of a genomic test usually take between 4 and 8 weeks.
"""

ALICE, BOB, CAROL = "alice@example.org", "bob@example.org", "carol@example.org"
HE_SECTION, GT_SECTION = "Notifying the MHRA", "Waiting for results"
TOKEN = "wh-token-5b1e0c77-do-not-print"
HOOK_SECRET = "T0001/B0002/hook-secret-path"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gw(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed `guidewatch` command in the workspace."""
    exe = shutil.which("guidewatch", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "guidewatch.cli"]
    full_env = {**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}
    return subprocess.run([*cmd, *args], cwd=root, capture_output=True, text=True, timeout=180, env=full_env,
                          check=False)


def ok(r: subprocess.CompletedProcess[str], code: int = 0) -> subprocess.CompletedProcess[str]:
    assert r.returncode == code, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert "Traceback" not in r.stderr, r.stderr
    return r


def incomplete(r: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """The run completed but a delivery failed or gave up: exit 3 (README "Commands and exit codes")."""
    return ok(r, 3)


class Site:
    """A workspace: two guides, their editors, the pages they cite on a local server."""

    def __init__(self, root: Path, server: LocalHTTPServer, store_url: str) -> None:
        self.root, self.server, self.store_url = root, server, store_url
        self.he_url, self.gt_url = server.url(HE_PATH), server.url(GT_PATH)
        (root / "guides").mkdir(parents=True, exist_ok=True)
        (root / "guides" / "he.md").write_text(HE_GUIDE.format(url=self.he_url), encoding="utf-8")
        (root / "guides" / "gt.md").write_text(GT_GUIDE.format(url=self.gt_url), encoding="utf-8")
        self.serve(he_page(), gt_page())

    def serve(self, he: str | None = None, gt: str | None = None) -> None:
        if he is not None:
            self.server.page(HE_PATH, he)
        if gt is not None:
            self.server.page(GT_PATH, gt)

    def configure(self, alerts: str = "", *, guides_extra: str = "") -> None:
        (self.root / "guidewatch.toml").write_text(f"""store = "{self.store_url}"

[[guides]]
path = "guides/he.md"
slug = "hospital-exemption"
editors = ["{ALICE}", "{CAROL}"]

[[guides]]
path = "guides/gt.md"
slug = "genomic-testing"
editors = ["{BOB}", "Carol@Example.org"]
{guides_extra}
[fetch]
allow_private = true
obey_robots = false
download_delay = 0.0
autothrottle = false
retries = 0
timeout = 10

[alerts]
formats = ["md", "html", "text", "json"]
{alerts}
""", encoding="utf-8")

    def gw(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return gw(self.root, *args, env={"GUIDEWATCH_STORE": self.store_url, **(env or {})})

    def crawl(self, *, cli: bool = False) -> str:
        """Crawl every source: with the installed command, or in this process (quicker, for
        tests about what happens after the crawl)."""
        if cli:
            return ok(self.gw("crawl", "--all")).stdout
        from guidewatch.app.crawl import crawl
        from guidewatch.app.workspace import open_workspace

        ws = open_workspace(load_config(self.root / "guidewatch.toml"))
        try:
            return crawl(ws, ws.store.sources.all()).headline()
        finally:
            ws.close()

    def baseline_then_change(self, he: str | None = None, gt: str | None = None, *, cli: bool = False) -> None:
        """Baseline crawl, the pages change, second crawl: alerts are open in the store."""
        assert "0 new alerts" in self.crawl(cli=cli)
        self.serve(he if he is not None else he_page(notify="must notify the MHRA at least 60 days before"),
                   gt if gt is not None else gt_page(weeks="up to 12 weeks"))
        out = self.crawl(cli=cli)
        assert re.search(r"; [1-9]\d* new alerts", out), out


@pytest.fixture
def site(tmp_path: Path, http_server: LocalHTTPServer, store_url: str) -> Site:
    return Site(tmp_path / "ws", http_server, store_url)


# --- a real SMTP server ---------------------------------------------------------------------


class Mailbox:
    """aiosmtpd handler: answers 451 while `down`, and to each recipient's first `refuse`
    messages; keeps the messages it accepts."""

    def __init__(self, refuse: int = 0, *, only: set[str] | None = None, down: bool = False) -> None:
        self.refuse, self.only, self.down = refuse, only, down
        self.attempts: Counter[str] = Counter()
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.attempts[rcpt] += 1
            if self.down or any(self.attempts[r] <= self.refuse and (self.only is None or r in self.only)
                                for r in envelope.rcpt_tos):
                return "451 4.3.0 mailbox busy, try again later"
            msg = message_from_bytes(envelope.content, policy=policy.default)
            msg["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
            self.messages.append(msg)  # type: ignore[arg-type]
        return "250 2.0.0 OK"

    def to(self, addr: str) -> list[EmailMessage]:
        return [m for m in self.messages if addr in m["X-Envelope-To"].split(",")]

    def counts(self) -> dict[str, int]:
        return dict(Counter(r for m in self.messages for r in m["X-Envelope-To"].split(",")))


@contextmanager
def smtp_server(mailbox: Mailbox, port: int | None = None) -> Iterator[int]:
    controller = Controller(mailbox, hostname="127.0.0.1", port=port or free_port())
    controller.start()
    try:
        yield int(controller.port)
    finally:
        controller.stop()


def email_alerts(port: int, **extra: object) -> str:
    lines = ["[alerts.email]", 'host = "127.0.0.1"', f"port = {port}", 'sender = "guidewatch@example.org"',
             "timeout = 5"]
    head = [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return "\n".join(head + [""] + lines) + "\n"


def bodies(msg: EmailMessage) -> tuple[str, str]:
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None, "multipart/alternative with a text and an HTML part"
    return text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


# --- alerts seeded in the store (for scenarios about what happens after a crawl) ----------

HE_IMPACT = Impact("hospital-exemption", "notifying-the-mhra", HE_SECTION, 0.9, ("MHRA", "hospital exemption"))
GT_IMPACT = Impact("genomic-testing", "waiting-for-results", GT_SECTION, 0.9, ("genomic test",))


def seed_change(store: Store, url: str, old: str, new: str, impact: Impact) -> list[int]:
    """Record a baseline and a changed version of one paragraph, and the change's alerts."""
    def record(text: str) -> Any:
        page = Page(url, "default", "A page", [Block(("Section",), "heading", "Section", 2),
                                               Block(("Section",), "p", text)])
        return store.sources.record_fetch(FetchOutcome(url=url, status="ok", http_status=200,
                                               fetched_at=datetime.now(UTC)), page)

    src = store.sources.get(url)
    assert src is not None
    if src.current_snapshot_id is None:
        record(old)
    now = record(new)
    change = Change("c1", "modified", "substantive", "wording changed", ("Section",), old, new)
    return store.changes.record(src.id, src.reviewed_snapshot_id, now.source.current_snapshot_id,
                                [(change, [impact])])


class Outbox:
    """The workspace's config, guides and store, for driving alerts.py in-process."""

    def __init__(self, site: Site) -> None:
        from guidewatch.app.workspace import load_guides, watched_sources
        from guidewatch.sources.profiles import load_profiles

        self.site = site
        self.config = load_config(site.root / "guidewatch.toml")
        self.guides = load_guides(self.config)
        self.store = Store(self.config.store)
        self.store.guides.sync(self.guides, watched_sources(self.guides, self.config.sources,
                                                            load_profiles()))

    def run(self) -> Any:
        """`digest --send` in-process; a pause first, so retries with a tiny retry_base are due."""
        time.sleep(0.05)
        return run_digest(self.store, self.config, self.guides, send=True)

    def statuses(self) -> Counter[str]:
        return Counter(d.status for d in self.store.outbox.find())


@pytest.fixture
def open_outbox(site: Site) -> Iterator[Any]:
    """Outbox(site) after the test's own configure(); stores are closed afterwards."""
    boxes: list[Outbox] = []

    def make() -> Outbox:
        boxes.append(Outbox(site))
        return boxes[-1]

    yield make
    for box in boxes:
        box.store.close()


# --- routing: one e-mail per editor, only their guides, never twice -------------------------


def test_digest_send_one_email_per_editor_retries_a_refusal_and_never_resends(site: Site) -> None:
    mailbox = Mailbox(refuse=1, only={BOB})  # bob's server says 451 to the first message, then accepts
    with smtp_server(mailbox) as port:
        site.configure(email_alerts(port, retry_base=0.01, max_attempts=5))
        site.baseline_then_change(cli=True)

        first = incomplete(site.gw("digest", "--send"))  # bob's delivery failed
        assert mailbox.counts() == {ALICE: 1, CAROL: 1}, first.stdout + first.stderr
        assert f"sent email:{ALICE}" in first.stdout and f"sent email:{CAROL}" in first.stdout
        refused = [ln for ln in first.stderr.splitlines() if ln.startswith("delivery failed, will retry")]
        assert len(refused) == 1 and f"email:{BOB} (attempt 1 of 5; next try" in refused[0]
        assert "451" in refused[0]

        text, html = bodies(mailbox.to(ALICE)[0])  # alice edits the hospital exemption guide only
        assert HE_SECTION in text and HE_SECTION in html and "[-may-]{+must+}" in text
        assert GT_SECTION not in text and GT_SECTION not in html and "genomic" not in text.lower()
        assert "guidewatch accept " + site.he_url in text
        carol = mailbox.to(CAROL)[0]  # owns both guides (listed in two spellings): one digest with both
        text, _ = bodies(carol)
        assert HE_SECTION in text and GT_SECTION in text
        assert carol["Subject"] == ("[guidewatch] 2 changes to review in Genomic testing: a guide for patients, "
                                    "Hospital exemption: a guide for patients")  # the guides, not the sections
        assert carol["X-Guidewatch-Digest"].startswith("gw-") and carol["X-Guidewatch-Digest"] in carol["Message-ID"]

        # the file digest: every guide, in the four formats, with dated names
        names = sorted(p.name for p in (site.root / "alerts").iterdir())
        assert len(names) == 4 and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d{6}Z-digest-all\.(md|html|txt|json)", n)
                                       for n in names), names
        data = json.loads(next((site.root / "alerts").glob("*.json")).read_text())
        assert {g["guide"] for g in data["guides"]} == {"hospital-exemption", "genomic-testing"}

        second = ok(site.gw("digest", "--send"))  # bob's retry is due (retry_base is tiny)
        assert mailbox.counts() == {ALICE: 1, BOB: 1, CAROL: 1}, second.stdout + second.stderr
        assert mailbox.attempts == Counter({ALICE: 1, BOB: 2, CAROL: 1})
        assert f"sent email:{BOB}" in second.stdout and second.stderr.strip() == ""
        text, _ = bodies(mailbox.to(BOB)[0])
        assert GT_SECTION in text and "{+up to 12+}" in text and HE_SECTION not in text

        third = ok(site.gw("digest", "--send"))
        assert "nothing new to send" in third.stdout
        assert mailbox.counts() == {ALICE: 1, BOB: 1, CAROL: 1}


def test_dead_delivery_is_reported_and_can_be_retried_by_hand(site: Site, open_outbox: Any) -> None:
    port = free_port()  # nothing listens there yet: every attempt fails
    site.configure(email_alerts(port, retry_base=0.01, max_attempts=2))
    box = open_outbox()
    seed_change(box.store, site.he_url, "Hospitals may notify.", "Hospitals must notify.", HE_IMPACT)
    first = box.run()  # alice and carol edit that guide
    assert len(first.failed) == 2 and all("attempt 1 of 2" in f for f in first.failed), first.failed
    second = box.run()
    assert len(second.dead) == 2 and not second.failed and not second.sent, second.dead

    shown = incomplete(site.gw("digest", "--send"))  # later runs keep saying what was never delivered
    undelivered = [ln for ln in shown.stderr.splitlines() if ln.startswith("undelivered: email:")]
    assert len(undelivered) == 2 and all("gave up after 2 attempt(s); 1 open alert(s)" in ln
                                         for ln in undelivered), shown.stderr
    assert "--retry-dead" in shown.stderr and "nothing new to send" not in shown.stdout

    mailbox = Mailbox()
    with smtp_server(mailbox, port):
        assert box.run().sent == []  # dead stays dead until someone says otherwise
        assert mailbox.messages == []
        retried = ok(site.gw("digest", "--send", "--retry-dead"))
        assert mailbox.counts() == {ALICE: 1, CAROL: 1}, retried.stdout + retried.stderr
        assert "undelivered" not in retried.stderr
        assert box.run().sent == []
        assert mailbox.counts() == {ALICE: 1, CAROL: 1}


def test_routing_targets_each_editor_once_and_redacts_the_webhook(site: Site, open_outbox: Any) -> None:
    site.configure(email_alerts(25) + f'\n[alerts.webhook]\nurl = "http://127.0.0.1:9/services/{HOOK_SECRET}"\n')
    box = open_outbox()
    assert editors_of(box.guides) == {ALICE: ["hospital-exemption"], CAROL: ["hospital-exemption", "genomic-testing"],
                                      BOB: ["genomic-testing"]}
    labels = {t.label: t.guides for t in targets(box.config, box.guides)}
    assert labels == {f"email:{ALICE}": ("hospital-exemption",), f"email:{BOB}": ("genomic-testing",),
                      f"email:{CAROL}": ("hospital-exemption", "genomic-testing"),
                      "webhook:http://127.0.0.1:9/…": None}


def test_an_unsent_digest_whose_alert_was_superseded_is_replaced(site: Site, open_outbox: Any) -> None:
    mailbox = Mailbox(down=True)
    with smtp_server(mailbox) as port:
        site.configure(email_alerts(port, retry_base=0.01))
        box = open_outbox()
        seed_change(box.store, site.he_url, "Hospitals may notify the MHRA.", "Hospitals must notify the MHRA.",
                    HE_IMPACT)
        first = box.run()
        assert len(first.failed) == 2 and mailbox.messages == []
        # the same passage changes again before anyone reviewed it
        newer = seed_change(box.store, site.he_url, "Hospitals may notify the MHRA.",
                            "Hospitals must register with the MHRA.", HE_IMPACT)
        assert [a.id for a in box.store.alerts.find()] == newer
        mailbox.down = False
        second = box.run()
        assert sorted(second.sent) == [f"email:{ALICE}", f"email:{CAROL}"]
        assert mailbox.counts() == {ALICE: 1, CAROL: 1}
        text, _ = bodies(mailbox.to(ALICE)[0])
        assert "register" in text and "1 change to 1 source" in text
        assert box.statuses() == Counter({"cancelled": 2, "sent": 2})


def test_a_pending_retry_and_new_alerts_go_out_as_one_digest(site: Site, open_outbox: Any) -> None:
    mailbox = Mailbox(down=True)
    with smtp_server(mailbox) as port:
        site.configure(email_alerts(port, retry_base=0.01))
        box = open_outbox()
        seed_change(box.store, site.he_url, "Hospitals may notify.", "Hospitals must notify.", HE_IMPACT)
        box.run()  # alice and carol: refused, waiting to retry
        seed_change(box.store, site.gt_url, "Results take 4 weeks.", "Results take 12 weeks.", GT_IMPACT)
        mailbox.down = False
        box.run()
        assert mailbox.counts() == {ALICE: 1, BOB: 1, CAROL: 1}  # one message each, carol's carries both
        assert bodies(mailbox.to(CAROL)[0])[0].count("guidewatch accept ") == 2
        assert mailbox.to(CAROL)[0]["Subject"] == ("[guidewatch] 2 changes to review in Genomic testing: a guide for "
                                                   "patients, Hospital exemption: a guide for patients")
        assert box.statuses() == Counter({"sent": 3, "cancelled": 1})  # carol's first digest was replaced
        assert box.run().sent == []


def test_a_replaced_digest_hands_its_alerts_on_even_outside_since(site: Site, open_outbox: Any) -> None:
    mailbox = Mailbox(down=True)
    with smtp_server(mailbox) as port:
        site.configure(email_alerts(port, retry_base=0.01))
        box = open_outbox()
        seed_change(box.store, site.he_url, "Hospitals may notify.", "Hospitals must notify.", HE_IMPACT)
        box.run()  # alice and carol: refused, waiting to retry
        since = datetime.now(UTC)
        seed_change(box.store, site.gt_url, "Results take 4 weeks.", "Results take 12 weeks.", GT_IMPACT)
        mailbox.down = False
        time.sleep(0.05)
        run_digest(box.store, box.config, box.guides, send=True, since=since)  # `digest --send --since ...`
        assert mailbox.counts() == {ALICE: 1, BOB: 1, CAROL: 1}
        assert bodies(mailbox.to(CAROL)[0])[0].count("guidewatch accept ") == 2  # the older alert too


def test_alerts_accepted_before_a_retry_are_not_sent(site: Site, open_outbox: Any) -> None:
    mailbox = Mailbox(down=True)
    with smtp_server(mailbox) as port:
        site.configure(email_alerts(port, retry_base=0.01))
        box = open_outbox()
        seed_change(box.store, site.he_url, "Hospitals may notify.", "Hospitals must notify.", HE_IMPACT)
        assert len(box.run().failed) == 2
        box.store.reviews.accept(site.he_url, by="A. Editor", note="guide updated")
        mailbox.down = False
        # delivering without queueing first (the daemon does, when no alert is open) skips them too
        time.sleep(0.05)
        report = deliver_pending(box.store, box.config)
        assert report.sent == [] and report.failed == [] and mailbox.messages == []
        assert box.statuses() == Counter({"cancelled": 2})
        run = box.run()
        assert run.sent == [] and run.waiting == [] and mailbox.messages == []
        assert "nothing new to send" in run.report()[0][-1]


def test_outbox_never_queues_the_same_alerts_twice_for_a_recipient(site: Site, open_outbox: Any) -> None:
    site.configure()
    outbox = open_outbox()
    seed_change(outbox.store, outbox.site.he_url, "Old words.", "New words.", HE_IMPACT)
    assert queue_deliveries(outbox.store, outbox.config, outbox.guides) == []  # no channel configured
    outbox.site.configure(email_alerts(free_port(), max_attempts=1))  # nothing listens there
    outbox.config = load_config(outbox.site.root / "guidewatch.toml")
    assert sorted(queue_deliveries(outbox.store, outbox.config, outbox.guides)) == [f"email:{ALICE}",
                                                                                    f"email:{CAROL}"]
    assert queue_deliveries(outbox.store, outbox.config, outbox.guides) == []  # already queued
    report = deliver_pending(outbox.store, outbox.config)
    assert len(report.dead) == 2 and report.sent == []
    # dead: the same digest is not queued again by itself
    assert queue_deliveries(outbox.store, outbox.config, outbox.guides) == []


# --- the webhook ----------------------------------------------------------------------------


class HookReceiver(BaseHTTPRequestHandler):
    """Records POSTs; answers with the next status from `statuses` (the last one repeats)."""

    received: list[tuple[str, dict[str, str], bytes]]
    statuses: list[int]

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        n = len(self.received)
        self.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        status = self.statuses[min(n, len(self.statuses) - 1)]
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return


@contextmanager
def webhook_server(*statuses: int) -> Iterator[tuple[str, list[tuple[str, dict[str, str], bytes]]]]:
    received: list[tuple[str, dict[str, str], bytes]] = []
    handler = type("Hook", (HookReceiver,), {"received": received, "statuses": list(statuses) or [200]})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/services/{HOOK_SECRET}", received
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_webhook_gets_the_digest_once_with_the_token_from_the_environment(site: Site, open_outbox: Any) -> None:
    with webhook_server(503, 200) as (url, received):
        site.configure(f'retry_base = 0.01\n\n[alerts.webhook]\nurl = "{url}"\n')
        box = open_outbox()
        seed_change(box.store, site.he_url, "Hospitals may notify.", "Hospitals must notify.", HE_IMPACT)
        seed_change(box.store, site.gt_url, "Results take 4 weeks.", "Results take 12 weeks.", GT_IMPACT)
        env = {"GUIDEWATCH_WEBHOOK_TOKEN": TOKEN}
        first = incomplete(site.gw("digest", "--send", env=env))
        assert len(received) == 1 and "will retry: webhook:http://127.0.0.1:" in first.stderr
        assert "503" in first.stderr
        second = ok(site.gw("digest", "--send", env=env))
        assert len(received) == 2 and "sent webhook:http://127.0.0.1:" in second.stdout
        third = ok(site.gw("digest", "--send", env=env))
        assert len(received) == 2 and "nothing new to send" in third.stdout

        path, headers, body = received[1]
        assert path == f"/services/{HOOK_SECRET}"
        assert headers["authorization"] == f"Bearer {TOKEN}"
        assert headers["content-type"].startswith("application/json")
        digest = json.loads(body)
        assert digest["schema"] == "guidewatch.alerts.digest/1" and digest["recipient"] is None
        assert headers["idempotency-key"] == digest["key"] == json.loads(received[0][2])["key"]
        assert {g["guide"] for g in digest["guides"]} == {"hospital-exemption", "genomic-testing"}

        # neither the token nor the URL's secret path is printed, written or stored
        shown = "".join(r.stdout + r.stderr for r in (first, second, third))
        files = "".join(p.read_text() for p in (site.root / "alerts").iterdir())
        stored = json.dumps([(d.recipient, d.last_error, d.payload) for d in box.store.outbox.find()])
        for secret in (TOKEN, HOOK_SECRET):
            assert secret not in shown and secret not in files and secret not in stored


def test_slack_style_webhook_posts_blocks_and_no_token_when_unset(site: Site, open_outbox: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GUIDEWATCH_WEBHOOK_TOKEN", raising=False)
    with webhook_server(200) as (url, received):
        site.configure(f'[alerts.webhook]\nurl = "{url}"\nstyle = "slack"\n')
        box = open_outbox()
        seed_change(box.store, site.he_url, "Hospitals may notify.", "Hospitals must notify.", HE_IMPACT)
        assert box.run().sent == ["webhook:" + url.split("/services")[0] + "/…"]
        assert len(received) == 1 and "authorization" not in received[0][1]
        payload = json.loads(received[0][2])
        assert payload["blocks"][0]["type"] == "header"
        assert HE_SECTION in json.dumps(payload)


# --- hostile page text stays inert in the HTML digest ------------------------------------


browser = pytest.importorskip("browser", reason="tests/browser.py is not importable")
needs_chromium = pytest.mark.skipif(
    browser.find_chromium() is None,
    reason="no chromium binary on PATH (apt-get install chromium, or set GUIDEWATCH_CHROMIUM)",
)

HOSTILE = """<h3>Report forms &lt;iframe src=javascript:alert(1)&gt;</h3>
<p>Serious adverse reactions must also be reported to the MHRA on the &lt;script&gt;alert('text')&lt;/script&gt; form
 or &lt;img src=x onerror=alert(2)&gt; <a href="javascript:alert(3)">javascript:alert(3)</a>
 <img src="x" onerror="alert(4)"><script>alert(5)</script>
 <a href="JaVaScRiPt:alert(6)" onclick="alert(7)">the yellow card</a>.</p>"""


class DomAudit(HTMLParser):
    """What Chromium built: script elements, event-handler attributes, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts = 0
        self.handlers: list[str] = []
        self.js_urls: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed"):
            self.scripts += 1
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"{tag}[{name}]")
            if name in ("href", "src", "action", "formaction") and \
                    re.sub(r"\s", "", value or "").lower().startswith("javascript:"):
                self.js_urls.append(f"{tag}[{name}]={value}")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.mark.chromium
@needs_chromium
def test_hostile_page_text_is_inert_in_the_html_digest(site: Site, tmp_path: Path) -> None:
    site.configure()
    site.baseline_then_change(he=he_page(extra=HOSTILE), gt=gt_page())
    ok(site.gw("digest", "--format", "html"))
    page = next((site.root / "alerts").glob("*.html"))
    raw = page.read_text()
    assert "Side effects and reporting" in raw, "the hostile change is in the digest"
    assert "<script" not in raw.lower() and "<iframe" not in raw.lower()
    dom = browser.dump_dom(page)
    audit = DomAudit()
    audit.feed(dom)
    assert audit.scripts == 0 and audit.handlers == [] and audit.js_urls == [], (audit.scripts, audit.handlers,
                                                                                  audit.js_urls)
    shown = " ".join(" ".join(audit.text).split())
    # the page's words are shown to the editor, as words
    assert "<script>alert('text')</script>" in shown
    assert "<img src=x onerror=alert(2)>" in shown
    assert "<iframe src=javascript:alert(1)>" in shown
    shot = browser.screenshot(page, tmp_path / "digest.png")
    assert shot.stat().st_size > 5_000  # it rendered

"""fetch_sources over real HTTP against the local test server (tests/httpserver.py).

Every crawl runs in a child process, exactly as in production; settings are tuned for
speed (no delay, tiny back-off) and `allow_private=True` so 127.0.0.1 may be fetched.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from guidewatch.model import FetchOutcome, FetchRequest
from guidewatch.sources.fetch import FetchSettings, decode_outcome, encode_outcome, fetch_sources
from guidewatch.sources.spider import allowed_hosts_for, host_allowed, is_private_address, retry_after_seconds
from httpserver import LocalHTTPServer, Reply

CONTACT = "https://example.org/guidewatch-contact"
FAST = FetchSettings(
    user_agent="guidewatch-test/1.0",
    contact_url=CONTACT,
    download_delay=0,
    autothrottle=False,
    retries=2,
    retry_backoff=0.01,
    max_retry_after=5,
    timeout=5,
    allow_private=True,
)
PAGE = (
    "<html><head><title>Advanced therapy medicinal products</title></head>"
    "<body><h1>ATMPs</h1><p>{}</p></body></html>"
)


def fast(**changes: object) -> FetchSettings:
    return dataclasses.replace(FAST, **changes)


def fetch_one(url: str, settings: FetchSettings = FAST, **request: object) -> FetchOutcome:
    [outcome] = fetch_sources([FetchRequest(url, "default", **request)], settings, timeout=30)
    return outcome


# --- plain fetches ----------------------------------------------------------------------------


def test_ok_page_records_body_headers_and_timing(http_server: LocalHTTPServer) -> None:
    http_server.page(
        "/guidance",
        PAGE.format("Hospital exemption"),
        etag='"v1"',
        last_modified="Wed, 01 Jan 2025 10:00:00 GMT",
    )
    url = http_server.url("/guidance")

    outcome = fetch_one(url)

    assert outcome.status == "ok"
    assert outcome.http_status == 200
    assert b"Hospital exemption" in outcome.body
    assert outcome.final_url == url and not outcome.moved and outcome.redirects == []
    assert outcome.headers["etag"] == '"v1"'
    assert outcome.headers["last-modified"] == "Wed, 01 Jan 2025 10:00:00 GMT"
    assert outcome.headers["content-type"].startswith("text/html")
    assert outcome.fetched_at is not None and outcome.fetched_at.tzinfo is not None
    assert abs((datetime.now(UTC) - outcome.fetched_at).total_seconds()) < 60
    assert outcome.elapsed_ms >= 0 and outcome.error is None
    [seen] = http_server.requests("/guidance")
    assert seen.headers["user-agent"] == f"guidewatch-test/1.0 (+{CONTACT})"
    assert seen.headers["accept"].startswith("text/html") and seen.headers["accept-language"] == "en-GB,en;q=0.8"
    assert "if-none-match" not in seen.headers and "referer" not in seen.headers


def test_same_page_twice_in_one_crawl_gives_identical_bodies(http_server: LocalHTTPServer) -> None:
    http_server.page("/p", PAGE.format("same"))
    request = FetchRequest(http_server.url("/p"), "default")

    first, second = fetch_sources([request, request], FAST, timeout=30)

    assert first.status == second.status == "ok"
    assert first.body == second.body != b""
    assert http_server.hits("/p") == 2  # duplicates are not filtered away


def test_conditional_refetch_gives_not_modified(http_server: LocalHTTPServer) -> None:
    lm = "Wed, 01 Jan 2025 10:00:00 GMT"
    http_server.page("/etag", PAGE.format("e"), etag='"v7"')
    http_server.page("/lm", PAGE.format("l"), last_modified=lm)
    http_server.page("/changed", PAGE.format("c"), etag='"v8"')

    by_etag, by_date, changed = fetch_sources(
        [
            FetchRequest(http_server.url("/etag"), "default", etag='"v7"'),
            FetchRequest(http_server.url("/lm"), "default", last_modified=lm),
            FetchRequest(http_server.url("/changed"), "default", etag='"v7"'),
        ],
        FAST,
        timeout=30,
    )

    assert by_etag.status == "not_modified" and by_etag.http_status == 304 and by_etag.body == b""
    assert http_server.requests("/etag")[0].headers["if-none-match"] == '"v7"'
    assert by_date.status == "not_modified"
    assert http_server.requests("/lm")[0].headers["if-modified-since"] == lm
    assert changed.status == "ok" and changed.headers["etag"] == '"v8"'


def test_404_and_410_are_gone(http_server: LocalHTTPServer) -> None:
    http_server.route("/removed", Reply(status=410, body="Gone"))
    missing, removed = fetch_sources(
        [
            FetchRequest(http_server.url("/missing"), "default"),
            FetchRequest(http_server.url("/removed"), "default"),
        ],
        FAST,
        timeout=30,
    )
    assert (missing.status, missing.http_status) == ("gone", 404)
    assert (removed.status, removed.http_status) == ("gone", 410)
    assert not missing.transient and not removed.transient


def test_other_4xx_fails_permanently(http_server: LocalHTTPServer) -> None:
    http_server.route("/forbidden", Reply(status=403, body="no"))
    outcome = fetch_one(http_server.url("/forbidden"))
    assert outcome.status == "failed" and not outcome.transient
    assert outcome.error == "HTTP 403 Forbidden"
    assert http_server.hits("/forbidden") == 1  # not retried


def test_soft_404_page(http_server: LocalHTTPServer) -> None:
    http_server.page("/soft", "<html><title>Page not found - GOV.UK</title><h1>Page not found</h1></html>")
    http_server.page("/nhs", "<html><title>NHS</title><h1>Sorry, we could not find that page</h1></html>")
    http_server.page(
        "/fine", "<html><title>Tests</title><h1>Genetic tests</h1><p>Page not found? Call us.</p>"
    )
    soft, nhs, fine = fetch_sources(
        [FetchRequest(http_server.url(p), "default") for p in ("/soft", "/nhs", "/fine")], FAST, timeout=30
    )
    assert soft.status == "soft_404" and soft.http_status == 200 and "Page not found" in (soft.error or "")
    assert nhs.status == "soft_404"
    assert fine.status == "ok"  # only the title and first heading count


def test_soft_404_check_frees_the_page_without_the_garbage_collector() -> None:
    """The parsed page goes when the response does: held in a reference cycle, every answer's body,
    text and lxml tree waited for a collection (~30 MB of the crawl child's peak at 10,000 pages)."""
    import gc
    import weakref

    from scrapy.http import HtmlResponse

    from guidewatch.sources.outcomes import _soft_404_text

    body = b"<html><title>Page not found - GOV.UK</title><h1>Page not found</h1></html>"
    gc.disable()
    try:
        response = HtmlResponse("http://127.0.0.1/soft", body=body, encoding="utf-8")
        assert _soft_404_text(response) == "Page not found - GOV.UK"
        gone = weakref.ref(response)
        del response
        assert gone() is None
    finally:
        gc.enable()


# --- redirects ---------------------------------------------------------------------------------


def test_redirect_chain_records_final_url(http_server: LocalHTTPServer) -> None:
    http_server.redirect("/old", "/older")
    http_server.redirect("/older", http_server.url("/new"), status=308)
    http_server.page("/new", PAGE.format("moved here"))
    url = http_server.url("/old")

    outcome = fetch_one(url)

    assert outcome.status == "ok" and b"moved here" in outcome.body
    assert outcome.final_url == http_server.url("/new")
    assert outcome.redirects == [url, http_server.url("/older")]
    assert outcome.moved
    # each hop names the page that sent it there, as Scrapy's Referer middleware did
    assert "referer" not in http_server.requests("/old")[0].headers
    assert http_server.requests("/older")[0].headers["referer"] == url
    assert http_server.requests("/new")[0].headers["referer"] == http_server.url("/older")


def test_redirect_loop_fails(http_server: LocalHTTPServer) -> None:
    http_server.redirect("/a", "/b")
    http_server.redirect("/b", "/a")
    outcome = fetch_one(http_server.url("/a"))
    assert outcome.status == "failed"
    assert (outcome.error or "").startswith("redirect loop:")
    assert http_server.hits("/a") == 1 and http_server.hits("/b") == 1


def test_redirect_to_outside_host_is_not_followed(http_server: LocalHTTPServer) -> None:
    http_server.redirect("/to-private", "http://10.0.0.1/secret")
    http_server.redirect("/to-invalid", "http://example.invalid/page", status=302)
    http_server.redirect("/to-ftp", "ftp://127.0.0.1/file")

    start = time.monotonic()
    private, invalid, ftp = fetch_sources(
        [FetchRequest(http_server.url(p), "default") for p in ("/to-private", "/to-invalid", "/to-ftp")],
        FAST,
        timeout=30,
    )

    assert private.status == "blocked" and "10.0.0.1" in (private.error or "")
    assert private.final_url == "http://10.0.0.1/secret" and private.moved and private.http_status == 301
    assert invalid.status == "blocked" and "example.invalid" in (invalid.error or "")
    assert ftp.status == "blocked" and "ftp://" in (ftp.error or "")
    # Not connected: an attempt on 10.0.0.1 would hang until the timeout (5 s), and retry.
    assert time.monotonic() - start < 5
    assert not private.transient


def test_redirect_to_explicitly_allowed_host_is_followed(http_server: LocalHTTPServer) -> None:
    http_server.redirect("/hop", f"http://localhost:{http_server.port}/landing")
    http_server.page("/landing", PAGE.format("landed"))
    outcome = fetch_one(http_server.url("/hop"), allowed_hosts=("localhost",))
    assert outcome.status == "ok" and outcome.final_url == f"http://localhost:{http_server.port}/landing"


# --- retries, timeouts, size ----------------------------------------------------------------


def test_503_once_then_ok(http_server: LocalHTTPServer) -> None:
    http_server.route("/flaky", Reply(status=503, body="busy"), Reply(body=PAGE.format("back")))
    outcome = fetch_one(http_server.url("/flaky"))
    assert outcome.status == "ok" and b"back" in outcome.body
    assert http_server.hits("/flaky") == 2


def test_429_retry_after_is_honoured(http_server: LocalHTTPServer) -> None:
    http_server.route("/limited", Reply(status=429, headers={"Retry-After": "1"}), Reply(body="ok"))
    outcome = fetch_one(http_server.url("/limited"))
    assert outcome.status == "ok"
    first, second = http_server.requests("/limited")
    assert second.at - first.at >= 0.95
    assert outcome.elapsed_ms >= 950


def test_retry_after_beyond_cap_gives_up_at_once(http_server: LocalHTTPServer) -> None:
    http_server.route("/later", Reply(status=503, headers={"Retry-After": "3600"}))
    outcome = fetch_one(http_server.url("/later"))
    assert outcome.status == "failed" and outcome.transient
    assert "Retry-After 3600 s exceeds" in (outcome.error or "")
    assert outcome.headers["retry-after"] == "3600"
    assert http_server.hits("/later") == 1


def test_persistent_503_fails_transient(http_server: LocalHTTPServer) -> None:
    http_server.route("/down", Reply(status=503, body="down"))
    outcome = fetch_one(http_server.url("/down"))
    assert outcome.status == "failed" and outcome.transient and outcome.http_status == 503
    assert outcome.error == "HTTP 503 Service Unavailable after 2 retries"
    assert http_server.hits("/down") == 3  # first try + FAST.retries


def test_slow_response_times_out_transient(http_server: LocalHTTPServer) -> None:
    http_server.route("/slow", Reply(body="late", delay=5))
    outcome = fetch_one(http_server.url("/slow"), fast(timeout=0.5, retries=1))
    assert outcome.status == "failed" and outcome.transient
    assert outcome.error == "timed out after 0.5 s (after 1 retry)"
    assert http_server.hits("/slow") == 2


def test_body_over_max_bytes_fails(http_server: LocalHTTPServer) -> None:
    http_server.route("/big", Reply(body=b"x" * 50_000))
    http_server.route("/big-chunked", Reply(body=b"x" * 50_000, chunked=True))
    http_server.route("/small", Reply(body=b"x" * 500))
    big, chunked, small = fetch_sources(
        [FetchRequest(http_server.url(p), "default") for p in ("/big", "/big-chunked", "/small")],
        fast(max_bytes=10_000),
        timeout=30,
    )
    for outcome in (big, chunked):
        assert outcome.status == "failed" and not outcome.transient
        assert (outcome.error or "").startswith("too large")
    assert small.status == "ok"
    assert http_server.hits("/big") == 1  # a size cap is not worth retrying


def test_reset_refused_and_invalid_urls_fail_readably(http_server: LocalHTTPServer) -> None:
    http_server.route("/reset", Reply(body="x" * 1000, drop_after=10))
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    reset, refused, file_url, broken = fetch_sources(
        [
            FetchRequest(http_server.url("/reset"), "default"),
            FetchRequest(f"http://127.0.0.1:{closed_port}/", "default"),
            FetchRequest("file:///etc/passwd", "default"),
            FetchRequest("http://[::1/", "default"),
        ],
        FAST,
        timeout=30,
    )
    assert reset.status == "failed" and reset.transient
    assert (reset.error or "").startswith("connection reset or lost")
    assert (reset.error or "").endswith("(after 2 retries)")
    assert http_server.hits("/reset") == 3
    assert refused.status == "failed" and refused.transient
    assert refused.error == f"connection refused by 127.0.0.1:{closed_port} (after 2 retries)"
    for outcome in (file_url, broken):
        assert outcome.status == "failed" and not outcome.transient
        assert (outcome.error or "").startswith("not an http(s) URL")


# --- policy: robots.txt and private addresses ---------------------------------------------------


def test_robots_txt_disallow_is_blocked(http_server: LocalHTTPServer) -> None:
    http_server.robots("User-agent: *\nDisallow: /private/\n")
    http_server.page("/private/page", "secret")
    http_server.page("/public", PAGE.format("public"))
    private, public = fetch_sources(
        [
            FetchRequest(http_server.url("/private/page"), "default"),
            FetchRequest(http_server.url("/public"), "default"),
        ],
        FAST,
        timeout=30,
    )
    assert private.status == "blocked" and not private.transient
    assert private.error == f"disallowed by {http_server.base_url}/robots.txt"
    assert http_server.hits("/private/page") == 0
    assert public.status == "ok"
    robots = http_server.requests("/robots.txt")[0].headers
    assert robots["user-agent"].startswith("guidewatch-test/1.0") and robots["accept-language"] == "en-GB,en;q=0.8"


def test_private_addresses_blocked_unless_allowed(http_server: LocalHTTPServer) -> None:
    http_server.page("/p", PAGE.format("p"))
    literal, named = fetch_sources(
        [
            FetchRequest(http_server.url("/p"), "default"),
            FetchRequest(f"http://localhost:{http_server.port}/p", "default"),
        ],
        fast(allow_private=False),
        timeout=30,
    )
    assert literal.status == "blocked" and "127.0.0.1" in (literal.error or "")
    assert named.status == "blocked" and "localhost" in (named.error or "")
    assert http_server.requests() == []  # not even robots.txt was asked for


# --- GOV.UK Content API --------------------------------------------------------------------------


def test_api_json_is_preferred(http_server: LocalHTTPServer) -> None:
    doc = {"title": "ATMPs", "details": {"body": "<p>Hospital exemption</p>"}}
    http_server.route("/api/content/atmps", Reply(body=json.dumps(doc), content_type="application/json"))
    http_server.page("/atmps", PAGE.format("html"))
    url = http_server.url("/atmps")

    outcome = fetch_one(url, api_url=http_server.url("/api/content/atmps"))

    assert outcome.status == "ok" and outcome.via_api
    assert json.loads(outcome.body) == doc
    assert outcome.url == url and not outcome.moved
    assert http_server.hits("/atmps") == 0


def test_api_failure_falls_back_to_html(http_server: LocalHTTPServer) -> None:
    http_server.route("/api/content/notjson", Reply(body="<html>oops</html>"))
    http_server.route("/api/content/down", Reply(status=503))
    for path in ("/missing", "/notjson", "/down"):
        http_server.page(path, PAGE.format(path))
    outcomes = fetch_sources(
        [
            FetchRequest(http_server.url(p), "govuk", api_url=http_server.url("/api/content" + p))
            for p in ("/missing", "/notjson", "/down")
        ],
        FAST,
        timeout=30,
    )
    for path, outcome in zip(("/missing", "/notjson", "/down"), outcomes, strict=True):
        assert outcome.status == "ok" and not outcome.via_api, path
        assert path.encode() in outcome.body
    assert http_server.hits("/api/content/down") == 1  # the API gets one try, then the HTML page


# --- the child process ---------------------------------------------------------------------------


def test_empty_request_list() -> None:
    assert fetch_sources([], FAST) == []


def test_two_calls_in_one_process_both_work(http_server: LocalHTTPServer) -> None:
    """A fresh reactor each time; the second call runs from a worker thread, as in the daemon."""
    http_server.page("/p", PAGE.format("again"))
    first = fetch_one(http_server.url("/p"))
    from_thread: list[FetchOutcome] = []
    worker = threading.Thread(target=lambda: from_thread.append(fetch_one(http_server.url("/p"))))
    worker.start()
    worker.join(timeout=30)
    [second] = from_thread
    assert first.status == second.status == "ok"
    assert first.body == second.body


def test_timeout_kills_child_but_keeps_streamed_outcomes(http_server: LocalHTTPServer) -> None:
    http_server.page("/fast", PAGE.format("fast"))
    http_server.route("/stuck", Reply(body="never", delay=60))
    seen: list[FetchOutcome] = []
    start = time.monotonic()

    fast_outcome, stuck = fetch_sources(
        [
            FetchRequest(http_server.url("/fast"), "default"),
            FetchRequest(http_server.url("/stuck"), "default"),
        ],
        fast(timeout=60),
        on_outcome=seen.append,
        timeout=4,
    )

    assert time.monotonic() - start < 10
    assert fast_outcome.status == "ok"
    assert stuck.status == "failed" and stuck.transient
    assert (stuck.error or "").startswith("crawl aborted: timed out after 4 s")
    assert [o.url for o in seen] == [fast_outcome.url, stuck.url]  # streamed, then made up


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the child through /proc")
def test_child_killed_mid_crawl_still_gives_one_outcome_each(http_server: LocalHTTPServer) -> None:
    http_server.page("/fast", PAGE.format("fast"))
    http_server.route("/stuck", Reply(body="never", delay=60))
    killed: list[int] = []

    def kill_child(outcome: FetchOutcome) -> None:
        if not killed:
            pid = _crawl_child_pid()
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    outcomes = fetch_sources(
        [
            FetchRequest(http_server.url("/fast"), "default"),
            FetchRequest(http_server.url("/stuck"), "default"),
        ],
        fast(timeout=60),
        on_outcome=kill_child,
        timeout=30,
    )

    assert killed
    assert [o.status for o in outcomes] == ["ok", "failed"]
    assert outcomes[1].transient
    assert outcomes[1].error == "crawl aborted: crawl process killed by signal 9"


def _crawl_child_pid() -> int:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"guidewatch.sources.child" in cmdline:
            return int(stat.parent.name)
    raise AssertionError("crawl child not found")


# --- small pure helpers ----------------------------------------------------------------------------


def test_default_allowed_hosts_pair_www_and_bare() -> None:
    assert allowed_hosts_for(FetchRequest("https://www.nhs.uk/tests", "nhsuk")) == {"www.nhs.uk", "nhs.uk"}
    assert allowed_hosts_for(FetchRequest("https://nhs.uk/tests", "nhsuk")) == {"nhs.uk", "www.nhs.uk"}
    explicit = allowed_hosts_for(FetchRequest("https://www.gov.uk/x", "govuk", allowed_hosts=("*.gov.uk",)))
    assert host_allowed("assets.publishing.service.gov.uk", explicit)
    assert host_allowed("www.gov.uk", explicit) and not host_allowed("evilgov.uk", explicit)
    assert is_private_address("169.254.169.254") and is_private_address("::ffff:10.0.0.1")
    assert not is_private_address("151.101.0.144")


def test_retry_after_parsing() -> None:
    now = datetime(2025, 1, 1, 10, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds("Wed, 01 Jan 2025 10:00:30 GMT", now) == 30
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None) is None


def test_outcome_wire_round_trip() -> None:
    outcome = FetchOutcome(
        url="https://x/",
        status="ok",
        body=b"\x00\xffbody",
        redirects=["a"],
        headers={"etag": '"1"'},
        fetched_at=datetime.now(UTC),
    )
    assert decode_outcome(json.loads(json.dumps(encode_outcome(outcome)))) == outcome


def test_a_child_started_early_is_used_and_an_unused_one_is_reaped(http_server: LocalHTTPServer) -> None:
    """`crawl` starts the crawl process before opening its workspace (Scrapy's import overlaps it)."""
    from guidewatch.sources.fetch import discard_child, spawn_child

    http_server.page("/early", "<html><body><main><p>Early.</p></main></body></html>")
    child = spawn_child()
    try:
        [outcome] = fetch_sources([FetchRequest(http_server.url("/early"), "default")], FAST, timeout=30, child=child)
    finally:
        discard_child(child)
    assert outcome.status == "ok" and b"Early." in outcome.body
    assert child.returncode == 0, "the early child did the crawl and exited by itself"

    unused = spawn_child()
    discard_child(unused)
    assert unused.returncode is not None and unused.stdin.closed
    with pytest.raises(ProcessLookupError):
        os.kill(unused.pid, 0)  # reaped: no zombie left behind

    dead = spawn_child()
    dead.kill()
    dead.wait()
    [again] = fetch_sources([FetchRequest(http_server.url("/early"), "default")], FAST, timeout=30, child=dead)
    assert again.status == "ok", "a child that died before its job is replaced"
    discard_child(dead)


def test_keep_false_hands_every_outcome_over_once_and_holds_none(http_server: LocalHTTPServer) -> None:
    """What a crawl uses at scale: outcomes go to the callback and are not held to the end."""
    for i in range(5):
        http_server.page(f"/k{i}", PAGE.format(f"Page {i}"))
    seen: list[FetchOutcome] = []
    requests = [FetchRequest(http_server.url(f"/k{i}"), "default") for i in range(5)]
    requests.append(FetchRequest("ftp://example.org/x", "default"))  # answered by the child at once
    assert fetch_sources(requests, FAST, on_outcome=seen.append, timeout=30, keep=False) == []
    assert sorted(o.url for o in seen) == sorted(r.url for r in requests)
    assert [o.status for o in seen if o.url.startswith("ftp")] == ["failed"]


# A stand-in crawl child: takes the job, then writes its outcome lines cut at odd places (a
# line split over two writes, several lines in one write, one unreadable line, the last one
# without its newline), with pauses so the parent reads them piece by piece.
_CHOPPY_CHILD = """
import os, sys, time
os.read(0, 1 << 20)  # the job
data = "".join(sys.argv[1:]).encode()
first, second = (len(line.encode()) for line in sys.argv[1:3])
sent = 0
for cut in (5, 40, first + second + 3, len(data) - 2, len(data)):
    sys.stdout.buffer.write(data[sent:cut])
    sys.stdout.buffer.flush()
    sent = cut
    time.sleep(0.05)
"""


def test_outcome_lines_cut_anywhere_by_the_pipe_all_arrive(caplog: pytest.LogCaptureFixture) -> None:
    requests = [FetchRequest(f"https://example.org/{i}", "default") for i in range(4)]
    outcomes = [FetchOutcome(url=r.url, status="not_modified", http_status=304, headers={"etag": f'"{i}"'},
                             fetched_at=datetime.now(UTC)) for i, r in enumerate(requests)]
    lines = [json.dumps({"i": i, "outcome": encode_outcome(o)}) + "\n" for i, o in enumerate(outcomes)]
    lines.insert(2, "not json\n")
    lines[-1] = lines[-1].rstrip("\n")
    child = subprocess.Popen([sys.executable, "-c", _CHOPPY_CHILD, *lines], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    got = fetch_sources(requests, FAST, timeout=30, child=child)
    assert got == outcomes
    assert "unreadable message from the crawl process" in caplog.text


def test_the_crawled_line_is_logged_at_debug_only(http_server: LocalHTTPServer,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    http_server.page("/logged", PAGE.format("logged"))
    caplog.set_level("DEBUG", logger="guidewatch.sources.spider")
    assert fetch_one(http_server.url("/logged"), fast(log_level="DEBUG")).status == "ok"
    assert f"Crawled (200) <GET {http_server.url('/logged')}>" in caplog.text
    caplog.clear()
    assert fetch_one(http_server.url("/logged"), fast(log_level="INFO")).status == "ok"
    assert "Crawled (" not in caplog.text

"""Network faults against the real pipeline: no false change, no lost snapshot, the right event.

One fault server (tests/faultserver.py) plays a site with one path per fault. Every source
is crawled as a baseline, then twice while its fault is on ([check] unreachable_after = 2),
then once more after the server has recovered -- all through `pipeline.crawl`, i.e. the
Scrapy child process, retries, normalisation, the store and the snapshot files. All faults
share each crawl, so the whole matrix costs four crawls.

For every fault the test asserts: the fetch is recorded with the expected status; the
stored snapshot and the snapshot file are untouched; no content change is ever recorded;
the event after persistence is the right one (unreachable, gone, or none); the source
recovers cleanly (and its gone/unreachable alert is closed). Run with `-s` to see the table.
"""

from __future__ import annotations

import gzip
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from faultserver import (
    Action,
    Close,
    CloseDelimited,
    Drip,
    FaultServer,
    Garbage,
    Hang,
    Request,
    Reset,
    Respond,
    Truncated,
    TruncatedChunked,
    topic_page,
    write_workspace,
)
from guidewatch.app.check import evaluate
from guidewatch.app.crawl import crawl
from guidewatch.app.recorder import process_outcome
from guidewatch.app.recording import CrawlSummary
from guidewatch.app.workspace import Workspace, open_workspace
from guidewatch.config import load_config
from guidewatch.model import FetchOutcome
from guidewatch.pages.snapshots import snapshot_path

ACCENTS = " Caf\u00e9 na\u00efve \u2013 \u2018quoted\u2019 \u00b5g doses."  # non-ASCII, so charset faults matter
HTML = "text/html; charset=utf-8"

MAINTENANCE = """<!doctype html><html><head><title>Service unavailable - Example Health</title></head><body>
<main><h1>Sorry, the service is unavailable</h1><p>We're carrying out planned maintenance.
Please try again later.</p></main></body></html>"""
COOKIE_WALL = """<!doctype html><html><head><title>Example Health</title></head><body><main>
<h1>Before you continue</h1><p>We use cookies to make this site work and to collect information about how
you use it.</p><form method="post" action="/consent"><button name="c" value="yes">Accept all cookies</button>
<button name="c" value="no">Reject additional cookies</button></form></main></body></html>"""
BOT_CHECK = """<!doctype html><html><head><title>Just a moment...</title></head><body><main>
<h1>Checking your browser before accessing the site</h1><p>This process is automatic.</p></main></body></html>"""
GOVUK_ERROR = """<!doctype html><html><head><title>Sorry, we're experiencing technical difficulties - GOV.UK</title>
</head><body><main id="content"><h1>Sorry, we\u2019re experiencing technical difficulties</h1>
<p>Please try again in a few moments.</p></main></body></html>"""
SOFT_404 = """<!doctype html><html><head><title>Page not found - Example Health</title></head><body><main>
<h1>Page not found</h1><p>If you entered a web address, check it is correct.</p></main></body></html>"""
# Error pages in other wording (issue 15): curly apostrophes, a CDN's block page, GOV.UK's own error page.
COULDNT_FIND = """<!doctype html><html><head><title>Example Health</title></head><body><main>
<h1>Sorry, we couldn\u2019t find that page</h1><p>Try the search box or go back to the home page.</p>
</main></body></html>"""
DOESNT_EXIST = """<!doctype html><html><head><title>Example Health</title></head><body><main>
<h1>This page doesn\u2019t exist</h1><p>It may have been moved or deleted.</p></main></body></html>"""
BACK_SOON = """<!doctype html><html><head><title>Example Health</title></head><body><main>
<h1>We\u2019ll be back soon</h1><p>We\u2019re making some improvements to the site. Thank you for your
patience.</p></main></body></html>"""
ACCESS_DENIED = """<!doctype html><html><head><title>Access Denied</title></head><body><h1>Access Denied</h1>
You don\u2019t have permission to access \u201chttp://www.example.org/page\u201d on this server.<p>
Reference #18.7d3f1002.1764152340.2a9e</p></body></html>"""
GOVUK_PROBLEM = """<!doctype html><html><head><title>Sorry, there is a problem with the service - GOV.UK</title>
</head><body><main id="content"><h1>Sorry, there is a problem with the service</h1><p>Try again later.</p>
</main></body></html>"""
# Wording no list knows: caught by the structural guard (main content collapsed, error-like title);
# its support id differs on every request, so it is never the same suspect page twice.
WAF_REJECTED = """<html><head><title>Request Rejected</title></head><body>The requested URL was rejected.
Please consult with your administrator.<br><br>Your support ID is: {id}<br><br>
<a href='javascript:history.back();'>[Go Back]</a></body></html>"""
_SUPPORT_IDS = itertools.count(18_446_744_073_709_551_000)

Make = Callable[[str, str], list[Action]]  # (good page html, path) -> the fault's responders


@dataclass(frozen=True)
class Fault:
    name: str
    make: Make
    status: str  # fetch status recorded while the fault is on
    transient: bool | None  # the recorded transient flag (None: not a failure)
    state: str  # source state after two faulted crawls
    event: str | None  # kind of the one alert opened (None: no alert at all)
    per_crawl: int | None = None  # requests the fault path receives per crawl (None: not asserted)
    profile: str | None = None  # [[sources]] profile override
    paragraphs: int = 0  # filler paragraphs on the good page
    error_has: str | None = None  # words the recorded error must contain (which guard caught it)


def _alternate(first: Action, then: Action) -> Callable[[Request], Action]:
    """First request of each pair gets `first`, the retry gets `then` (one pair per crawl)."""
    seen = [0]

    def respond(_req: Request) -> Action:
        seen[0] += 1
        return first if seen[0] % 2 else then

    return respond


def _utf16_label(html: str, _p: str) -> list[Action]:
    return [Respond(body=html, content_type="text/html; charset=utf-16")]


def _cp1252_as_utf8(html: str, _p: str) -> list[Action]:
    return [Respond(body=html.encode("cp1252"), content_type=HTML)]


def _partial_206(html: str, _p: str) -> list[Action]:
    part = html.encode()[: len(html.encode()) // 2]
    return [Respond(206, part, headers={"Content-Range": f"bytes 0-{len(part) - 1}/{len(html.encode())}"})]


def _gzip_cut_short(html: str, _p: str) -> list[Action]:
    return [CloseDelimited(gzip.compress(html.encode()), 0.5, headers={"Content-Encoding": "gzip"})]


def _stray_byte_in_footer(html: str, _p: str) -> list[Action]:
    return [Respond(body=html.encode().replace(b"footer", b"footer \xa9 2026"))]


def _waf_rejected(html: str, _p: str) -> list[Action]:
    return [lambda _req: Respond(body=WAF_REJECTED.format(id=next(_SUPPORT_IDS)))]


def _loop(html: str, path: str) -> list[Action]:
    return [Respond(302, "", headers={"Location": path + "-b"})]


FAILED = ("failed", True, "unreachable", "unreachable")
FAULTS: list[Fault] = [
    Fault("timeout", lambda h, p: [Hang(30)], *FAILED, per_crawl=2),
    Fault("connection_reset", lambda h, p: [Reset()], *FAILED, per_crawl=2),
    Fault("reset_mid_body", lambda h, p: [Reset(after=300, body=h)], *FAILED, per_crawl=2),
    Fault("closed_without_reply", lambda h, p: [Close()], *FAILED, per_crawl=2),
    Fault("truncated_body", lambda h, p: [Truncated(h)], *FAILED, per_crawl=2),
    Fault("truncated_chunked", lambda h, p: [TruncatedChunked(h)], *FAILED, per_crawl=2),
    Fault("slow_drip", lambda h, p: [Drip(h, interval=0.3, size=64)], *FAILED, per_crawl=2),
    Fault("not_http", lambda h, p: [Garbage()], *FAILED, per_crawl=2),
    Fault("http_500", lambda h, p: [Respond(500, "Internal error")], *FAILED, per_crawl=2),
    Fault("http_502", lambda h, p: [Respond(502, "Bad gateway")], *FAILED, per_crawl=2),
    Fault("http_503_maintenance", lambda h, p: [Respond(503, MAINTENANCE)], *FAILED, per_crawl=2),
    Fault("http_429", lambda h, p: [Respond(429, "Slow down")], *FAILED, per_crawl=2),
    Fault("http_429_retry_after_3600", lambda h, p: [Respond(429, "Later", headers={"Retry-After": "3600"})],
          *FAILED, per_crawl=1),
    Fault("http_429_retry_after_1_then_ok",
          lambda h, p: [_alternate(Respond(429, "Wait", headers={"Retry-After": "1"}), Respond(body=h))],
          "ok", None, "ok", None, per_crawl=2),
    Fault("redirect_loop", _loop, "failed", False, "unreachable", "unreachable", per_crawl=1),
    Fault("too_large", lambda h, p: [Respond(body=h.replace("</main>", "<p>" + "x" * 1_500_000 + "</p></main>"))],
          "failed", False, "unreachable", "unreachable"),
    Fault("large_page_under_cap", lambda h, p: [Respond(body=h)], "ok", None, "ok", None, paragraphs=2500),
    Fault("charset_latin1_label_on_utf8", lambda h, p: [Respond(body=h, content_type="text/html; charset=iso-8859-1")],
          "ok", None, "ok", None),
    Fault("charset_utf16_label_on_utf8", _utf16_label, "ok", None, "ok", None),
    Fault("charset_utf8_label_on_cp1252", _cp1252_as_utf8, "ok", None, "ok", None),
    Fault("charset_missing", lambda h, p: [Respond(body=h, content_type="text/html")], "ok", None, "ok", None),
    Fault("content_type_missing", lambda h, p: [Respond(body=h, content_type=None)], "ok", None, "ok", None),
    Fault("pdf_cut_off", lambda h, p: [Respond(body=b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
                                               content_type="application/pdf")],
          *FAILED, error_has="truncated PDF"),
    Fault("pdf_that_is_not_one", lambda h, p: [Respond(body=b"%PDF-1.7\nService unavailable\n%%EOF\n",
                                                       content_type="application/pdf")],
          "failed", False, "unreachable", "unreachable", error_has="not a readable PDF"),
    Fault("image_instead_of_page", lambda h, p: [Respond(body=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
                                                         content_type="image/png")],
          "failed", False, "unreachable", "unreachable", error_has="not a web page"),
    Fault("json_instead_of_page", lambda h, p: [Respond(body='{"error": "maintenance"}',
                                                        content_type="application/json")],
          "failed", False, "unreachable", "unreachable"),
    Fault("plain_text_error_200", lambda h, p: [Respond(body="Service Unavailable", content_type="text/plain")],
          *FAILED),
    Fault("empty_200", lambda h, p: [Respond(body="")], *FAILED),
    Fault("maintenance_200", lambda h, p: [Respond(body=MAINTENANCE)], *FAILED),
    Fault("cookie_wall_200", lambda h, p: [Respond(body=COOKIE_WALL)], *FAILED),
    Fault("bot_check_200", lambda h, p: [Respond(body=BOT_CHECK)], *FAILED),
    Fault("govuk_technical_difficulties_200", lambda h, p: [Respond(body=GOVUK_ERROR)], *FAILED, profile="govuk"),
    Fault("soft_404", lambda h, p: [Respond(body=SOFT_404)], "soft_404", False, "gone", "gone"),
    Fault("http_404", lambda h, p: [Respond(404, "Not found")], "gone", False, "gone", "gone", per_crawl=1),
    Fault("http_410", lambda h, p: [Respond(410, "Gone")], "gone", False, "gone", "gone", per_crawl=1),
    # issue 15, item 1: one stray non-UTF-8 byte outside the main content changes nothing
    Fault("stray_byte_in_footer", _stray_byte_in_footer, "ok", None, "ok", None),
    # issue 15, item 2: error pages served with 200 in other wording
    Fault("soft_404_curly_couldnt_find", lambda h, p: [Respond(body=COULDNT_FIND)], "soft_404", False, "gone", "gone"),
    Fault("soft_404_curly_doesnt_exist", lambda h, p: [Respond(body=DOESNT_EXIST)], "soft_404", False, "gone", "gone"),
    Fault("back_soon_curly_200", lambda h, p: [Respond(body=BACK_SOON)], *FAILED),
    Fault("cdn_access_denied_200", lambda h, p: [Respond(body=ACCESS_DENIED)], *FAILED),
    Fault("govuk_problem_with_the_service_200", lambda h, p: [Respond(body=GOVUK_PROBLEM)], *FAILED,
          profile="govuk"),
    Fault("waf_rejected_new_wording_200", _waf_rejected, *FAILED, per_crawl=1, paragraphs=8,
          error_has="suspect page held back"),
    # issue 15, item 3: partial bodies
    Fault("partial_content_206", _partial_206, *FAILED, per_crawl=2, error_has="HTTP 206 Partial Content"),
    Fault("content_length_longer_than_body", lambda h, p: [Truncated(h, 1.0, announce=len(h.encode()) + 512)],
          *FAILED, per_crawl=2),
    Fault("gzip_cut_short_without_length", _gzip_cut_short, *FAILED, per_crawl=2, error_has="gzip stream stops"),
]
BLOCK_KINDS = {"modified", "added", "removed", "moved"}


@dataclass
class Observed:
    """What happened to one faulted source, for the assertions and the figures table."""

    fault: Fault
    url: str
    statuses: list[str]
    transients: list[bool]
    requests: list[int]  # per faulted crawl
    errors: list[str] | None = None
    state: str = ""
    alert_kinds: list[str] | None = None
    snapshot_kept: bool = True
    recovered: bool = False
    problems: list[str] | None = None


def _build(server: FaultServer) -> tuple[dict[str, str], str]:
    urls: dict[str, str] = {}
    overrides = ""
    for i, fault in enumerate(FAULTS):
        path = f"/{fault.name}"
        html = topic_page(i, extra=ACCENTS, paragraphs=fault.paragraphs)
        server.good(path, Respond(body=html))
        server.fault(path, *fault.make(html, path))
        if fault.name == "redirect_loop":
            server.good(path + "-b", Respond(302, "", headers={"Location": path}))
        urls[fault.name] = server.url(path)
        if fault.profile:
            overrides += f'\n[[sources]]\nurl = "{server.url(path)}"\nprofile = "{fault.profile}"\n'
    return urls, overrides


def _files(ws: Workspace, urls: dict[str, str]) -> dict[str, bytes | None]:
    root = ws.config.snapshots_dir
    out: dict[str, bytes | None] = {}
    for name, url in urls.items():
        path = snapshot_path(root, url)
        out[name] = path.read_bytes() if path.exists() else None
        out[name + ".latest"] = snapshot_path(root, url, latest=True).read_bytes() \
            if snapshot_path(root, url, latest=True).exists() else None
    return out


def _timed_crawl(ws: Workspace, n: int, label: str, durations: dict[str, float]) -> CrawlSummary:
    start = time.monotonic()
    summary = crawl(ws, ws.store.sources.all())
    durations[label] = time.monotonic() - start
    assert len(summary.lines) == n, f"{label}: {len(summary.lines)} outcomes for {n} sources (one lost?)"
    return summary


def test_every_fault_keeps_snapshots_raises_no_false_change_and_ends_in_the_right_event(
    tmp_path: Path, store_url: str
) -> None:
    durations: dict[str, float] = {}
    with FaultServer() as server:
        urls, overrides = _build(server)
        ws = open_workspace(load_config(write_workspace(tmp_path, urls, store_url, extra=overrides)))
        try:
            observed = _run_matrix(ws, server, urls, durations)
            changes = ws.store.changes.find()
        finally:
            ws.close()
    _print_table(observed, durations)
    problems = [f"{o.fault.name}: {p}" for o in observed for p in (o.problems or [])]
    block = [f"{c.source_url}: {c.change.kind} {c.change.reason}" for c in changes if c.change.kind in BLOCK_KINDS]
    assert not block, "content changes recorded for faults:\n" + "\n".join(block)
    assert not problems, "\n".join(problems)
    assert durations["fault 1"] < 30 and durations["fault 2"] < 30, durations  # every crawl finishes


def _run_matrix(ws: Workspace, server: FaultServer, urls: dict[str, str],
                durations: dict[str, float]) -> list[Observed]:
    n = len(urls)
    baseline = _timed_crawl(ws, n, "baseline", durations)
    assert baseline.fetched == baseline.counts["new"] == n and not baseline.new_alerts, baseline.lines
    before_src = {s.url: s for s in ws.store.sources.all()}
    before_files = _files(ws, urls)
    assert all(before_files[name] for name in urls), "every baseline has its snapshot file"

    server.phase = "fault"
    before_fault = server.hits("/http_429_retry_after_1_then_ok")
    obs = {name: Observed(f, urls[name], [], [], []) for name, f in zip(urls, FAULTS, strict=True)}
    for label in ("fault 1", "fault 2"):
        hits = {name: server.hits(f"/{name}") for name in urls}
        _timed_crawl(ws, n, label, durations)
        for name, o in obs.items():
            [row] = ws.store.sources.fetch_history(o.url, limit=1)
            o.statuses.append(row["status"])
            o.transients.append(bool(row["transient"]))
            o.errors = [*(o.errors or []), str(row["error"])]
            o.requests.append(server.hits(f"/{name}") - hits[name])
    faulted_files = _files(ws, urls)
    after_src = {s.url: s for s in ws.store.sources.all()}
    alerts = ws.store.alerts.find(status=None)
    retry_gaps = _retry_gaps(server.requests("/http_429_retry_after_1_then_ok")[before_fault:])

    server.phase = "recovered"
    recovery = _timed_crawl(ws, n, "recovery", durations)
    recovered_src = {s.url: s for s in ws.store.sources.all()}
    recovered_files = _files(ws, urls)
    open_after = ws.store.alerts.find(status="open")

    for name, o in obs.items():
        f, p = o.fault, []
        o.state = after_src[o.url].state
        o.alert_kinds = sorted(a.change.change.kind for a in alerts if a.change.source_url == o.url)
        b, a, r = before_src[o.url], after_src[o.url], recovered_src[o.url]
        o.snapshot_kept = (b.current_snapshot_id == a.current_snapshot_id == r.current_snapshot_id
                           and b.reviewed_snapshot_id == a.reviewed_snapshot_id == r.reviewed_snapshot_id
                           and before_files[name] == faulted_files[name] == recovered_files[name]
                           and faulted_files[name + ".latest"] is None and recovered_files[name + ".latest"] is None)
        o.recovered = r.state == "ok" and r.consecutive_failures == 0 and \
            not [x for x in open_after if x.change.source_url == o.url]
        if o.statuses != [f.status] * 2:
            p.append(f"fetch statuses {o.statuses}, expected {f.status} twice ({o.errors})")
        if f.transient is not None and o.transients != [f.transient] * 2:
            p.append(f"transient flags {o.transients}, expected {f.transient}")
        if f.per_crawl is not None and o.requests != [f.per_crawl] * 2:
            p.append(f"requests per faulted crawl {o.requests}, expected {f.per_crawl} ({o.errors})")
        if f.error_has and not all(f.error_has in e for e in o.errors or []):
            p.append(f"errors {o.errors}, expected each to say {f.error_has!r}")
        if o.state != f.state:
            p.append(f"state {o.state!r} after two faulted crawls, expected {f.state!r}")
        if o.alert_kinds != ([f.event] if f.event else []):
            p.append(f"alerts {o.alert_kinds}, expected {[f.event] if f.event else 'none'}")
        if not o.snapshot_kept:
            p.append("the stored snapshot or its file changed")
        if not o.recovered:
            p.append(f"did not recover cleanly: state {r.state!r}, open alerts "
                     f"{[x.change.change.kind for x in open_after if x.change.source_url == o.url]}")
        o.problems = p
    assert recovery.counts["changed"] == 0 and not recovery.new_alerts, recovery.lines
    assert retry_gaps and min(retry_gaps) >= 1.0, f"Retry-After: 1 not honoured, gaps {retry_gaps}"
    return list(obs.values())


def _retry_gaps(requests: list[Request]) -> list[float]:
    """Seconds between each 429 (odd request while faulted) and its retry."""
    return [round(requests[i + 1].at - requests[i].at, 2) for i in range(0, len(requests) - 1, 2)]


def _print_table(observed: list[Observed], durations: dict[str, float]) -> None:
    print("\n\nfault | requests/crawl | fetch status | after 2 crawls | alert | snapshot kept | "
          "false change alerts | lost | recovered")
    print("--- | --- | --- | --- | --- | --- | --- | --- | ---")
    for o in observed:
        false_alerts = len([k for k in o.alert_kinds or [] if k in BLOCK_KINDS])
        lost = 0 if o.snapshot_kept else 1
        print(f"{o.fault.name} | {'/'.join(map(str, o.requests))} | {o.statuses[0]}"
              f"{' (transient)' if o.transients and o.transients[0] else ''} | {o.state} | "
              f"{', '.join(o.alert_kinds or []) or '-'} | {'yes' if o.snapshot_kept else 'NO'} | {false_alerts} | "
              f"{lost} | {'yes' if o.recovered else 'NO'}")
    survived = sum(1 for o in observed if not o.problems)
    print(f"\n{len(observed)} faults tried, {survived} survived; crawl durations (s): "
          + ", ".join(f"{k} {v:.1f}" for k, v in durations.items()))


# --- persistence and recovery, without the network ---------------------------------------------


def _outcome(url: str, status: str, **kw: object) -> FetchOutcome:
    return FetchOutcome(url=url, status=status, fetched_at=datetime.now(UTC), **kw)  # type: ignore[arg-type]


def test_a_second_outage_after_recovery_is_news_again(tmp_path: Path, store_url: str) -> None:
    """gone/unreachable alerts close when the page answers again, and the next outage alerts again
    (an accepted or recovered event must not mute the following one)."""
    url = "http://127.0.0.1:9/never-fetched"
    ws = open_workspace(load_config(write_workspace(tmp_path, {"x": url}, store_url)))
    try:
        [src] = ws.store.sources.all()

        def feed(status: str, **kw: object) -> str:
            s = ws.store.sources.get(url)
            assert s is not None
            return process_outcome(ws, s, _outcome(url, status, **kw), CrawlSummary())

        page = {"http_status": 200, "body": topic_page(1).encode(), "headers": {"content-type": HTML}}
        feed("ok", **page)

        def kinds(status: str | None = "open") -> list[str]:
            return [a.change.change.kind for a in ws.store.alerts.find(status=status)]

        def verdict() -> str:
            [v] = evaluate(ws, max_age=timedelta(days=30), offline=True).sources
            return v.verdict

        for episode in (1, 2):
            feed("failed", error="timed out after 30 s", transient=True)
            assert kinds() == [] and ws.store.sources.get(url).state == "ok"  # one failure is only a warning
            feed("failed", error="timed out after 30 s", transient=True)
            assert kinds() == ["unreachable"], f"outage {episode}: {kinds(None)}"
            assert verdict() == "stale"
            assert "answers again" in feed("ok", **page)
            assert kinds() == [] and ws.store.sources.get(url).state == "ok"
            assert verdict() == "fresh", "the CI gate passes again once the source answers"
        for episode in (1, 2):
            feed("gone", http_status=404, error="HTTP 404 Not Found")
            assert kinds() == ["gone"], f"gone {episode}: {kinds(None)}"
            ws.store.reviews.accept(url, by="An Editor")
            feed("gone", http_status=404, error="HTTP 404 Not Found")
            assert kinds() == [], "an accepted, ongoing 404 is not news again"
            feed("ok", **page)
        assert sorted(kinds("superseded")) == ["unreachable", "unreachable"]
        assert sorted(kinds("accepted")) == ["gone", "gone"]
        assert [c.change.kind for c in ws.store.changes.find()] == ["unreachable", "unreachable", "gone", "gone"]
        assert src.current_snapshot_id is None and ws.store.sources.get(url).current_snapshot_id is not None
    finally:
        ws.close()


def test_a_page_replaced_by_a_non_page_never_moves_the_snapshot(tmp_path: Path, store_url: str) -> None:
    """Direct check of the screening, including bodies the spider cannot produce on its own."""
    url = "http://127.0.0.1:9/screened"
    ws = open_workspace(load_config(write_workspace(tmp_path, {"x": url}, store_url)))
    try:
        def feed(body: bytes | str, ctype: str | None = HTML) -> str:
            s = ws.store.sources.get(url)
            assert s is not None
            data = body.encode() if isinstance(body, str) else body
            headers = {"content-type": ctype} if ctype else {}
            return process_outcome(ws, s, _outcome(url, "ok", http_status=200, body=data, headers=headers),
                                   CrawlSummary())

        feed(topic_page(7))
        first = ws.store.sources.get(url)
        verdicts = {
            "maintenance": feed(MAINTENANCE), "cookie wall": feed(COOKIE_WALL), "bot check": feed(BOT_CHECK),
            "empty": feed(""), "whitespace": feed("  \n\t "), "image": feed(b"\x89PNG\r\n\x1a\n" + bytes(64), None),
            "zip labelled html": feed(b"PK\x03\x04" + bytes(64)), "nul bytes": feed(b"\x00" * 100, None),
            "csv": feed("a,b\n1,2\n", "text/csv"),
        }
        for what, verdict in verdicts.items():
            assert verdict.startswith("failed"), f"{what}: {verdict}"
        after = ws.store.sources.get(url)
        assert after.current_snapshot_id == first.current_snapshot_id
        assert [c.change.kind for c in ws.store.changes.find()] == ["unreachable"] and after.state == "unreachable"
    finally:
        ws.close()

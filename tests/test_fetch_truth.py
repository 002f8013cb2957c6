"""Issue 15 end to end: a stray byte, an error page served with 200 or a suspect page is never a content change.

Every test crawls over real HTTP from the fault server on 127.0.0.1 (tests/faultserver.py) through
`pipeline.crawl`: the Scrapy child process, normalisation, the structural guard, the store and the
snapshot files. The partial-body faults (206, short bodies) are in the matrix of tests/test_faults.py.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from faultserver import FaultServer, Respond, topic_page, write_workspace
from guidewatch.app.crawl import crawl
from guidewatch.app.recording import CrawlSummary
from guidewatch.app.workspace import Workspace, open_workspace
from guidewatch.config import load_config
from guidewatch.pages.snapshots import snapshot_path
from guidewatch.sources.partial import partial_body

ACCENTS = " Caf\u00e9 na\u00efve \u2013 \u2018quoted\u2019 \u00b5g doses."
BLOCK_KINDS = {"modified", "added", "removed", "moved"}

# Block pages of a CDN or firewall, as whole sites answer them (200, every path).
CLOUDFLARE = """<!doctype html><html><head><title>Access denied | www.example.org used Cloudflare to restrict
access</title></head><body><div id="cf-wrapper"><h1><span>Error</span> <span>1020</span></h1>
<h2>Access denied</h2><h2>What happened?</h2><p>This website is using a security service to protect itself
from online attacks.</p><p>Cloudflare Ray ID: 8e5c2d1a7b3f4c21</p></div></body></html>"""
AKAMAI = """<html><head><title>Access Denied</title></head><body><h1>Access Denied</h1>
You don\u2019t have permission to access \u201chttp://www.example.org/page\u201d on this server.<p>
Reference #18.7d3f1002.1764152340.2a9e</p></body></html>"""
FORBIDDEN = """<html><head><title>403 Forbidden</title></head><body><center><h1>403 Forbidden</h1></center>
<hr><center>nginx</center></body></html>"""

# An error page in wording no profile lists: only the structural guard can tell.
ERROR_PAGE = """<!doctype html><html><head><title>Error - Example Health</title></head><body><main>
<h1>Error</h1><p>An error occurred while processing your request. Reference 42.</p></main></body></html>"""


def _open(tmp_path: Path, server: FaultServer, names: list[str], store_url: str, *,
          unreachable_after: int = 2) -> tuple[Workspace, dict[str, str]]:
    urls = {name: server.url(f"/{name}") for name in names}
    config = write_workspace(tmp_path, urls, store_url, unreachable_after=unreachable_after)
    return open_workspace(load_config(config)), urls


def _crawl(ws: Workspace) -> CrawlSummary:
    summary = crawl(ws, ws.store.sources.all())
    assert len(summary.lines) == len(ws.store.sources.all()), summary.lines
    return summary


def _files(ws: Workspace, url: str) -> tuple[bytes, bool]:
    root = ws.config.snapshots_dir
    return snapshot_path(root, url).read_bytes(), snapshot_path(root, url, latest=True).exists()


# --- item 1: a stray non-UTF-8 byte -----------------------------------------------------------


def test_a_stray_byte_changes_nothing_outside_the_main_content_and_one_character_inside(
    tmp_path: Path, store_url: str
) -> None:
    html = topic_page(1, extra=ACCENTS).encode()
    with FaultServer() as server:
        server.good("/page", Respond(body=html))
        ws, urls = _open(tmp_path, server, ["page"], store_url)
        url = urls["page"]
        try:
            _crawl(ws)
            baseline = ws.store.sources.get(url)
            files = _files(ws, url)

            # \xa9 (a Latin-1 copyright sign) in the footer, which is never diffed
            server.good("/page", Respond(body=html.replace(b"footer", b"footer \xa9 2026")))
            summary = _crawl(ws)
            assert summary.counts["unchanged"] == 1 and not summary.new_alerts, summary.lines
            assert ws.store.changes.find() == [] and ws.store.alerts.find(status=None) == []
            assert ws.store.sources.get(url).current_snapshot_id == baseline.current_snapshot_id
            assert _files(ws, url) == files

            # inside the main content: "µ" (c2 b5) loses its lead byte, the stray b5 is one bad byte
            assert html.count("\u00b5g".encode()) == 1
            server.good("/page", Respond(body=html.replace("\u00b5g".encode(), b"\xb5g")))
            summary = _crawl(ws)
            assert summary.counts["changed"] == 1, summary.lines
            reviewed = ws.store.sources.snapshot(baseline.reviewed_snapshot_id)
            current = ws.store.sources.snapshot(ws.store.sources.get(url).current_snapshot_id)
            assert reviewed is not None and current is not None and current.id != reviewed.id
            differ = [(a, b) for a, b in zip(reviewed.text, current.text, strict=True) if a != b]
            assert differ == [("\u00b5", "\ufffd")], "exactly one character replaced, the rest read as UTF-8"
            [change] = [c.change for c in ws.store.changes.find()]
            assert change.kind == "modified"
            assert change.new == change.old.replace("\u00b5", "\ufffd") and "Caf\u00e9 na\u00efve" in change.new
        finally:
            ws.close()


# --- item 2: error pages served with 200 -------------------------------------------------------


def test_a_whole_site_answering_access_denied_opens_no_alert(tmp_path: Path, store_url: str) -> None:
    names = [f"page{i}" for i in range(6)]
    blocks = [CLOUDFLARE, AKAMAI, FORBIDDEN]
    with FaultServer() as server:
        for i, name in enumerate(names):
            server.good(f"/{name}", Respond(body=topic_page(i, extra=ACCENTS, paragraphs=4)))
            server.fault(f"/{name}", Respond(body=blocks[i % len(blocks)]))
        ws, urls = _open(tmp_path, server, names, store_url, unreachable_after=3)
        try:
            _crawl(ws)
            before = {s.url: (s.current_snapshot_id, s.reviewed_snapshot_id) for s in ws.store.sources.all()}
            files = {url: _files(ws, url) for url in urls.values()}

            server.phase = "fault"
            for attempt in (1, 2):
                summary = _crawl(ws)
                assert summary.counts["failed"] == len(names), summary.lines
                assert not summary.new_alerts, f"crawl {attempt}: {summary.lines}"
                for url in urls.values():
                    [row] = ws.store.sources.fetch_history(url, limit=1)
                    assert row["status"] == "failed" and row["transient"], (url, row)
                    # known wording: never confirmed by a second sighting, unlike a suspect page
                    assert "page says it is unavailable" in row["error"], (url, row)
            assert ws.store.changes.find() == [] and ws.store.alerts.find(status=None) == []
            assert {s.url: (s.current_snapshot_id, s.reviewed_snapshot_id) for s in ws.store.sources.all()} == before
            assert {url: _files(ws, url) for url in urls.values()} == files

            server.phase = "recovered"
            summary = _crawl(ws)
            assert summary.counts["unchanged"] == len(names) and not summary.new_alerts, summary.lines
            assert all(s.consecutive_failures == 0 and s.state == "ok" for s in ws.store.sources.all())
        finally:
            ws.close()


def test_a_collapsed_error_like_page_is_held_back_until_a_later_crawl_sees_it_again(
    tmp_path: Path, store_url: str
) -> None:
    good = topic_page(1, extra=ACCENTS, paragraphs=4)
    with FaultServer() as server:
        server.good("/page", Respond(body=good))
        ws, urls = _open(tmp_path, server, ["page"], store_url, unreachable_after=3)
        url = urls["page"]
        try:
            _crawl(ws)
            baseline = ws.store.sources.get(url)
            files = _files(ws, url)

            # once: held back (a transient failed check), nothing recorded as a version, no alert
            server.good("/page", Respond(body=ERROR_PAGE))
            summary = _crawl(ws)
            [row] = ws.store.sources.fetch_history(url, limit=1)
            assert row["status"] == "failed" and row["transient"] and "suspect" in row["error"], row
            assert not summary.new_alerts and ws.store.changes.find() == [], summary.lines
            assert ws.store.sources.get(url).current_snapshot_id == baseline.current_snapshot_id
            assert _files(ws, url) == files

            # the real page again: nothing happened
            server.good("/page", Respond(body=good))
            summary = _crawl(ws)
            assert summary.counts["unchanged"] == 1 and not summary.new_alerts, summary.lines
            assert ws.store.sources.get(url).consecutive_failures == 0

            # held back again (a suspect, then a good answer, do not confirm each other) ...
            server.good("/page", Respond(body=ERROR_PAGE))
            summary = _crawl(ws)
            assert not summary.new_alerts and ws.store.changes.find() == [], summary.lines
            # ... and the same page on the next crawl is confirmed: it flows as a normal change
            summary = _crawl(ws)
            assert summary.counts["changed"] == 1 and summary.new_alerts, summary.lines
            assert "confirmed" in summary.lines[0], summary.lines
            after = ws.store.sources.get(url)
            current = ws.store.sources.snapshot(after.current_snapshot_id)
            assert current is not None and "An error occurred" in current.text
            assert after.reviewed_snapshot_id == baseline.reviewed_snapshot_id
            kinds = {c.change.kind for c in ws.store.changes.find()}
            assert kinds & BLOCK_KINDS and "removed" in kinds, kinds
            assert _files(ws, url)[1], "the confirmed version is the latest snapshot file"
        finally:
            ws.close()


# --- item 3: partial bodies (over real HTTP in tests/test_faults.py; here the decision alone) ----


def test_partial_bodies_are_recognised_from_the_raw_answer() -> None:
    page = topic_page(1, paragraphs=40).encode()
    packed = gzip.compress(page)
    assert partial_body(206, {"content-length": "100"}, page[:100]) is not None
    assert partial_body(200, {"content-length": str(len(page))}, page[:-1]) == \
        f"body cut short: {len(page) - 1} of {len(page)} bytes received"
    assert partial_body(200, {}, page, ["dataloss"]) is not None
    assert partial_body(200, {"content-length": str(len(page))}, page) is None
    assert partial_body(304, {"content-length": str(len(page))}, b"") is None  # a 304 may announce the length
    gz = {"content-encoding": "gzip"}
    assert partial_body(200, gz, packed, ["partial"]) is None  # ends where the connection closed, complete
    assert "gzip stream stops" in (partial_body(200, gz, packed[: len(packed) // 2], ["partial"]) or "")
    assert partial_body(200, gz, packed[: len(packed) // 2]) is None  # framed: the transport checks it
    assert partial_body(200, gz, b"not gzip at all", ["partial"]) is None  # corrupt, not short: Scrapy says so


def test_checking_a_cut_short_compressed_bomb_stops_at_the_size_cap() -> None:
    bomb = zlib.compress(bytes(64 * 1024 * 1024), 9)[:-64]  # 64 MiB of zeros, its end cut off
    assert partial_body(200, {"content-encoding": "deflate"}, bomb, ["partial"], max_bytes=1 << 20) is None
    assert partial_body(200, {"content-encoding": "deflate"}, bomb, ["partial"]) is not None

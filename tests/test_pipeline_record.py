"""Recording one crawl outcome through the real store and files: its input is never changed.

The crawl's decision about an answer (a failed check, a soft 404, a suspect version) is a new
value; the `FetchOutcome` the fetcher handed over stays what the server said, so a caller that
keeps it (a retry loop, a progress line) sees the same thing before and after.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path

from faultserver import topic_page, write_workspace
from guidewatch.app.recorder import process_outcome
from guidewatch.app.recording import CrawlSummary, Recording
from guidewatch.app.workspace import open_workspace
from guidewatch.config import load_config
from guidewatch.model import FetchOutcome

URL = "http://127.0.0.1:9/topic"
HTML = "text/html; charset=utf-8"
MAINTENANCE = """<!doctype html><html><head><title>Service unavailable - Example Health</title></head><body>
<main><h1>Sorry, the service is unavailable</h1><p>We are carrying out planned maintenance.
Please try again later.</p></main></body></html>"""
SOFT_404 = """<!doctype html><html><head><title>Page not found - Example Health</title></head><body><main>
<h1>Page not found</h1><p>If you entered a web address, check it is correct.</p></main></body></html>"""
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"  # cut off: a PDF source's check fails, nothing is diffed
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


def _outcome(body: bytes, ctype: str = HTML) -> FetchOutcome:
    return FetchOutcome(url=URL, status="ok", http_status=200, body=body, headers={"content-type": ctype},
                        fetched_at=datetime.now(UTC))


def test_processing_an_answer_that_is_not_the_page_leaves_the_outcome_unchanged(tmp_path: Path,
                                                                                 store_url: str) -> None:
    ws = open_workspace(load_config(write_workspace(tmp_path, {"x": URL}, store_url)))
    try:
        first = process_outcome(ws, ws.store.sources.get(URL), _outcome(topic_page(1).encode()), CrawlSummary())
        assert first == "baseline recorded"
        cases = {"unavailable": (_outcome(MAINTENANCE.encode()), "failed (page says it is unavailable"),
                 "empty": (_outcome(b""), "failed (page had no main content)"),
                 "pdf": (_outcome(PDF, "application/pdf"), "failed (truncated PDF: no %%EOF at the end)"),
                 "image": (_outcome(PNG, "image/png"), "failed (not a web page: the server sent image/png)"),
                 "soft 404": (_outcome(SOFT_404.encode()), "gone (page says it was not found)")}
        for name, (outcome, expected) in cases.items():
            before = copy.deepcopy(outcome)
            summary = CrawlSummary()
            verdict = process_outcome(ws, ws.store.sources.get(URL), outcome, summary)
            assert verdict.startswith(expected), (name, verdict)
            assert outcome == before, f"{name}: the outcome passed in was changed"
            assert outcome.status == "ok" and outcome.body == before.body and outcome.error is None
            recorded = ws.store.sources.fetch_history(URL, limit=1)[0]
            assert recorded["status"] == ("soft_404" if name == "soft 404" else "failed"), (name, recorded)
            assert summary.checked == 1
    finally:
        ws.close()


def test_progress_sees_the_screened_answer_without_its_body_and_the_input_keeps_its_own(tmp_path: Path,
                                                                                        store_url: str) -> None:
    """`check` retries on what progress reports (a transient failure), so progress gets the
    verdict's outcome; it holds no page body, and the fetcher's own outcome is left alone."""
    ws = open_workspace(load_config(write_workspace(tmp_path, {"x": URL}, store_url, fetch={"parse_workers": 0})))
    try:
        seen: list[tuple[FetchOutcome, str]] = []
        src = ws.store.sources.get(URL)
        recording = Recording(ws, CrawlSummary(), [src], progress=lambda o, v: seen.append((o, v)))
        good, bad = _outcome(topic_page(1).encode()), _outcome(MAINTENANCE.encode())
        recording.add(src, good)
        recording.add(ws.store.sources.get(URL), bad)
        recording.close()
        assert [v for _, v in seen][0] == "baseline recorded"
        reported = seen[1][0]
        assert reported.status == "failed" and reported.transient and reported.body == b""
        assert reported.error is not None and reported.error.startswith("page says it is unavailable")
        assert bad.status == "ok" and bad.body == MAINTENANCE.encode() and bad.error is None
        assert good.body == topic_page(1).encode(), "the recorded outcome itself is not emptied"
        assert seen[0][0].body == b""
    finally:
        ws.close()

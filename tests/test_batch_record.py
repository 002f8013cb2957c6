"""New versions recorded in batches (`app.recording._PageBatch`, `Sources.record_pages`).

Pages that arrive together are stored in one transaction, then decided source by source. The
guarantees of one-at-a-time recording hold for a batch: a failed batch write loses nothing
already stored and records its pages one at a time instead; a crawl SIGKILLed inside a
batch's transaction, after it, or between its sources' changes and files leaves a consistent
store, and the next crawl records every change once (tests/test_crash.py's invariants).
Runs on PostgreSQL too (GUIDEWATCH_TEST_STORE=postgres).
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from faultserver import topic_page, write_workspace
from guidewatch.app.recording import CrawlSummary, Recording, _PageBatch
from guidewatch.app.workspace import Workspace, open_workspace
from guidewatch.config import load_config
from guidewatch.model import FetchOutcome
from guidewatch.store import utcnow
from guidewatch.store.sources import Sources
from test_crash import CHANGED, EDITORS, OFFLINE, _expect_update_recorded_once, check_store

HTML = "text/html; charset=utf-8"
TESTS = Path(__file__).resolve().parent


def _answer(url: str, phase: str) -> FetchOutcome:
    """What a crawl child hands over for `url`: the baseline page, or in the update four changed and d gone."""
    name = url.rsplit("/", 1)[1]
    if phase == "update" and name == "d":
        return FetchOutcome(url=url, status="gone", http_status=404, fetched_at=utcnow())
    html = topic_page(name, extra=CHANGED.get(name, "") if phase == "update" else "")
    return FetchOutcome(url=url, status="ok", http_status=200, body=html.encode(), fetched_at=utcnow(),
                        headers={"content-type": HTML})


def _crawl(ws: Workspace, phase: str) -> tuple[CrawlSummary, list[str]]:
    """One crawl of the six sources, in-process, through `Recording` as `crawl` records them."""
    summary, verdicts = CrawlSummary(), []
    sources = ws.store.sources.all()
    recording = Recording(ws, summary, sources, progress=lambda o, v: verdicts.append(f"{o.url[-1]}: {v}"))
    for src in sources:
        recording.add(src, _answer(src.url, phase))
    recording.close()
    return summary, verdicts


@pytest.fixture
def config(tmp_path: Path, store_url: str) -> Path:
    return write_workspace(tmp_path, OFFLINE, store_url, editors=EDITORS)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """How often the store wrote a batch of pages and a single fetch."""
    counted = {"record_pages": 0, "record_fetch": 0}
    for name in counted:
        real = getattr(Sources, name)

        def spy(self: Sources, *a: object, _real=real, _name=name, **k: object) -> object:
            counted[_name] += 1
            return _real(self, *a, **k)

        monkeypatch.setattr(Sources, name, spy)
    yield counted


def test_pages_that_arrive_together_are_stored_in_one_transaction_per_batch(
        config: Path, calls: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_PageBatch, "size", 4)
    ws = open_workspace(load_config(config))
    try:
        first, verdicts = _crawl(ws, "baseline")
        assert (calls["record_pages"], calls["record_fetch"]) == (2, 0)  # 6 new pages: a batch of 4, then 2
        assert first.counts["new"] == 6 and sorted(verdicts) == [f"{n}: baseline recorded" for n in "abcdef"]
        assert all(s.current_snapshot_id == s.reviewed_snapshot_id is not None for s in ws.store.sources.all())
        update, verdicts = _crawl(ws, "update")
        assert calls["record_fetch"] == 1  # the gone page alone; the five pages in batches
        assert (update.counts["changed"], update.counts["unchanged"], update.counts["gone"]) == (4, 1, 1), verdicts
        assert len(update.new_alerts) >= 5
    finally:
        ws.close()
    assert check_store(config, settled=True) == {}
    _expect_update_recorded_once(config, OFFLINE)


@pytest.mark.parametrize("broken", ["the batch write", "every write of the second batch"])
def test_a_failed_batch_write_loses_nothing_already_stored(config: Path, broken: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The second batch's transaction fails: the first batch stays; its pages are recorded one at
    a time, or, when the store refuses those too, counted failed and recorded by the next crawl."""
    monkeypatch.setattr(_PageBatch, "size", 3)
    real_pages, real_fetch = Sources.record_pages, Sources.record_fetch
    seen = {"batches": 0}

    def record_pages(self: Sources, items: list) -> list:  # type: ignore[type-arg]
        seen["batches"] += 1
        if seen["batches"] == 2:
            raise RuntimeError("database is locked")
        return real_pages(self, items)

    def record_fetch(self: Sources, outcome: FetchOutcome, *a: object, **k: object) -> object:
        if broken.startswith("every") and outcome.url.rsplit("/", 1)[1] in "def":
            raise RuntimeError("database is locked")
        return real_fetch(self, outcome, *a, **k)  # type: ignore[arg-type]

    ws = open_workspace(load_config(config))
    try:
        with monkeypatch.context() as patch:
            patch.setattr(Sources, "record_pages", record_pages)
            patch.setattr(Sources, "record_fetch", record_fetch)
            first, verdicts = _crawl(ws, "baseline")
        stored = {s.url[-1] for s in ws.store.sources.all() if s.current_snapshot_id is not None}
        if broken == "the batch write":
            assert first.counts["new"] == 6 and stored == set("abcdef"), verdicts
        else:
            assert first.counts["new"] == 3 and first.counts["failed"] == 3 and stored == set("abc"), verdicts
            assert sorted(v for v in verdicts if "internal error" in v) == [
                f"{n}: failed: internal error while processing (RuntimeError: database is locked)" for n in "def"]
        again, verdicts = _crawl(ws, "baseline")  # the next crawl: the first batch is never recorded twice
        assert again.counts["new"] == 6 - first.counts["new"] and again.counts["failed"] == 0, verdicts
        assert all(len(ws.store.sources.versions(s.id)) == 1 for s in ws.store.sources.all())
        _crawl(ws, "update")
    finally:
        ws.close()
    assert check_store(config, settled=True) == {}
    _expect_update_recorded_once(config, OFFLINE)


class Stop(Exception):
    """What the daemon's progress callback raises when it is asked to stop (`daemon.CrawlStopped`)."""


def test_a_progress_report_that_stops_the_crawl_leaves_no_stored_version_without_its_changes(
        config: Path, calls: dict[str, int]) -> None:
    """A stop raised from the first report (the gone page d, recorded alone) ends the crawl as
    `crawl` does: the pages waiting in the batch are recorded whole, changes and files included."""
    ws = open_workspace(load_config(config))
    try:
        _crawl(ws, "baseline")
        sources = ws.store.sources.all()
        reports: list[str] = []

        def progress(outcome: FetchOutcome, verdict: str) -> None:
            reports.append(outcome.url[-1])
            raise Stop

        recording = Recording(ws, CrawlSummary(), sources, progress=progress)
        with pytest.raises(Stop):
            try:
                for src in sources:
                    recording.add(src, _answer(src.url, "update"))
            finally:
                recording.close()
        changed = {s.url[-1] for s in ws.store.sources.all() if s.current_snapshot_id != s.reviewed_snapshot_id}
        alerted = {a.change.source_url[-1] for a in ws.store.alerts.find(status="open")}
    finally:
        ws.close()
    assert reports == ["d", "a"] and calls["record_pages"] == 2  # the baseline's batch, then a b c
    assert changed == {"a", "b"} and alerted == {"a", "b", "d"}
    assert check_store(config, settled=True) == {}


def test_a_stop_from_the_report_of_a_full_batch_reaches_the_caller(config: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The second page fills the batch; the stop raised from its first report is not taken for
    a failed page, and both pages are recorded whole."""
    monkeypatch.setattr(_PageBatch, "size", 2)
    ws = open_workspace(load_config(config))
    try:
        sources, summary = ws.store.sources.all(), CrawlSummary()

        def progress(outcome: FetchOutcome, verdict: str) -> None:
            raise Stop

        recording = Recording(ws, summary, sources, progress=progress)
        with pytest.raises(Stop):
            try:
                for src in sources:
                    recording.add(src, _answer(src.url, "baseline"))
            finally:
                recording.close()
        stored = {s.url[-1] for s in ws.store.sources.all() if s.current_snapshot_id is not None}
    finally:
        ws.close()
    assert (summary.counts["new"], summary.counts["failed"]) == (2, 0) and stored == {"a", "b"}
    assert check_store(config, settled=True) == {}


# --- SIGKILL inside a batch ------------------------------------------------------------------------

CHILD = """
import os, signal, sys
from pathlib import Path
sys.path[:0] = [{tests!r}]
from guidewatch.app import recording
from guidewatch.app.workspace import open_workspace
from guidewatch.config import load_config
import test_batch_record as t

target, nth = {target!r}, {nth!r}
module, _, name = target.rpartition(".")
owner = __import__(module, fromlist=[name])
real, count = getattr(owner, name), [0]

def killer(*a, **k):
    count[0] += 1
    if count[0] == nth:
        os.kill(os.getpid(), signal.SIGKILL)  # a real kill -9, at this exact point
    return real(*a, **k)

setattr(owner, name, killer)
recording._PageBatch.size = 2  # update answers a b | c e | f (d is gone: alone)
ws = open_workspace(load_config(Path({config!r})), sync=False)
t._crawl(ws, "update")
"""

WINDOWS = {  # where the kill lands (a function, its n-th call) and the sources the next crawl diffs
    "inside the second batch's transaction": ("guidewatch.store.sources._version_row", 4, {"e", "f"}),
    "after the second batch, before e's changes": ("guidewatch.app.decision.diff_pages", 3, {"e", "f"}),
    "after e's changes, before e's snapshot files": ("guidewatch.app.snapshot_files.write_snapshots", 4, {"f"}),
}


@pytest.mark.parametrize("window", list(WINDOWS))
def test_a_crawl_killed_inside_a_batch_loses_nothing_and_alerts_once(config: Path, window: str) -> None:
    ws = open_workspace(load_config(config))
    try:
        _crawl(ws, "baseline")
        baseline = {s.url[-1]: s.current_snapshot_id for s in ws.store.sources.all()}
    finally:
        ws.close()
    target, nth, diffed_next = WINDOWS[window]
    code = textwrap.dedent(CHILD).format(tests=str(TESTS), target=target, nth=nth, config=str(config))
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert check_store(config, settled=False) == {}
    ws = open_workspace(load_config(config), sync=False)
    try:
        current = {s.url[-1]: s.current_snapshot_id for s in ws.store.sources.all()}
        assert current["a"] != baseline["a"] and current["b"] != baseline["b"]  # the first batch was kept
        assert (current["e"] == baseline["e"]) == window.startswith("inside")  # the second: all or nothing
        assert current["f"] == baseline["f"]  # never reached
        after_kill, verdicts = _crawl(ws, "update")  # the next crawl
        again, more = _crawl(ws, "update")  # and the one after
    finally:
        ws.close()
    assert {v[0] for v in verdicts if ": changed" in v} == diffed_next, verdicts
    assert after_kill.counts["failed"] == 0
    assert again.counts["changed"] == 0 and not again.new_alerts, more
    assert check_store(config, settled=True) == {}
    _expect_update_recorded_once(config, OFFLINE)


def test_parse_workers_is_accepted_and_ignored_with_a_warning(tmp_path: Path, store_url: str,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """Older files that set `[fetch] parse_workers` still load; a crawl says the key does nothing."""
    config = write_workspace(tmp_path, OFFLINE, store_url, fetch={"parse_workers": 2})
    ws = open_workspace(load_config(config))
    try:
        with caplog.at_level(logging.WARNING, logger="guidewatch.crawl"):
            summary, _ = _crawl(ws, "baseline")
    finally:
        ws.close()
    assert summary.counts["new"] == 6
    assert [r.getMessage() for r in caplog.records if "parse_workers" in r.getMessage()] == [
        "[fetch] parse_workers is deprecated and ignored: pages are parsed in the crawl process"]

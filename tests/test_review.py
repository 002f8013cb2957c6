"""The review workflow: supersede, `accept` (one source or all), the moved baseline in
snapshots/, and the audit trail from `history`, driven through the installed command."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from guidewatch.app.digest import accept_sources, awaiting_review
from guidewatch.model import Block, FetchOutcome, Page
from guidewatch.store import Store, StoreError
from httpserver import LocalHTTPServer
from test_alerts import GT_IMPACT, HE_IMPACT, Outbox, Site, he_page, ok, seed_change


@pytest.fixture
def site(tmp_path: Path, http_server: LocalHTTPServer, store_url: str) -> Site:
    """The two-guide workspace of test_alerts, configured without delivery channels."""
    ws = Site(tmp_path / "ws", http_server, store_url)
    ws.configure()
    return ws


@pytest.fixture
def store(site: Site) -> Iterator[Store]:
    box = Outbox(site)
    yield box.store
    box.store.close()


def snapshot_files(site: Site, path: str) -> tuple[Path, Path]:
    """snapshots/<host>/<path>.txt (the reviewed version) and .latest.txt (awaiting review)."""
    base = site.root / "snapshots" / f"127.0.0.1_{site.server.port}" / (path.strip("/") + ".txt")
    return base, base.with_name(base.name.replace(".txt", ".latest.txt"))


def header(text: str, key: str) -> str:
    found = re.search(rf"^{key}: (.*)$", text.partition("\n---\n")[0], re.MULTILINE)
    assert found, f"no {key} in the snapshot header"
    return found.group(1)


def test_supersede_accept_history_and_accept_all(site: Site, store: Store) -> None:
    site.baseline_then_change()  # both pages change: one alert per guide
    # the same hospital exemption passage changes again before anyone reviewed it
    site.serve(he_page(notify="must notify the MHRA at least 90 days before"))
    assert "; 1 new alerts" in site.crawl()
    he = store.alerts.find(status=None, source_url=site.he_url)
    assert [a.status for a in he] == ["superseded", "open"]

    # the digest shows only the newest alert, and it shows everything since the last review
    r = ok(site.gw("digest", "--format", "json"))
    assert "2 changes to 2 sources" in r.stdout
    digest = json.loads(next((site.root / "alerts").glob("*.json")).read_text())
    he_items = [i for g in digest["guides"] for s in g["sections"] for i in s["items"]
                if i["source"]["url"] == site.he_url]
    assert {i["alert_id"] for i in he_items} == {he[1].id}
    change = he_items[0]["change"]
    assert "may notify" in change["old"] and "90 days" in change["new"]
    assert "60 days" not in json.dumps(digest)

    base, latest = snapshot_files(site, "/guidance/hospital-exemption")
    assert "may notify" in base.read_text() and "90 days" in latest.read_text()

    r = ok(site.gw("accept", site.he_url, "--by", "A. Editor", "--note", "notification FAQ updated"))
    reviewed = base.read_text()
    version = header(reviewed, "content_hash")
    assert f"accepted {site.he_url} (version {version[:12]} fetched " in r.stdout
    assert "by A. Editor; 1 alert(s) closed" in r.stdout and f"baseline: {base}" in r.stdout
    assert not latest.exists(), "the reviewed version is now the baseline"
    assert "90 days" in reviewed and header(reviewed, "reviewed_by") == "A. Editor"
    assert header(reviewed, "status") == "reviewed"
    closed = {a.id: a for a in store.alerts.find(status=None, source_url=site.he_url)}
    assert closed[he[1].id].status == "accepted" and closed[he[1].id].closed_by == "A. Editor"
    assert closed[he[1].id].note == "notification FAQ updated" and closed[he[0].id].status == "superseded"
    assert [a.change.source_url for a in store.alerts.find()] == [site.gt_url]  # the other source still waits

    r = ok(site.gw("history"))
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3 and all("guidewatch (baseline)" in ln for ln in lines[:2])
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\d \d\d:\d\d A\. Editor: {re.escape(site.he_url)} version "
                        rf"{version[:12]}; 1 alert\(s\) closed; note: notification FAQ updated", lines[2]), lines[2]

    r = ok(site.gw("accept", "--all", "--by", "B. Editor"))
    assert f"accepted {site.gt_url}" in r.stdout and site.he_url not in r.stdout
    gt_base, gt_latest = snapshot_files(site, "/conditions/genomic-testing")
    assert not gt_latest.exists() and "up to 12 weeks" in gt_base.read_text()
    assert store.alerts.find() == [] and awaiting_review(store) == []
    trail = store.reviews.find()
    assert [(t.reviewed_by, t.source_url) for t in trail[-2:]] == [("A. Editor", site.he_url),
                                                                   ("B. Editor", site.gt_url)]
    assert trail[-1].content_hash == header(gt_base.read_text(), "content_hash")

    # the pages stay as reviewed: the next crawl has nothing new to say
    assert "0 new alerts" in site.crawl()
    assert store.alerts.find() == []


def test_accept_all_covers_changes_that_opened_no_alert(site: Site, store: Store) -> None:
    """A version that differs without an alert (below min_severity) still awaits review."""
    for text in ("Results take 4 weeks.", "Results take 5 weeks."):
        page = Page(site.gt_url, "default", "Genomic testing", [Block((), "p", text)])
        store.sources.record_fetch(FetchOutcome(url=site.gt_url, status="ok", http_status=200,
                                        fetched_at=datetime.now(UTC)), page)
    seed_change(store, site.he_url, "Hospitals may notify.", "Hospitals must notify.", HE_IMPACT)
    assert store.alerts.find(source_url=site.gt_url) == []
    assert awaiting_review(store) == sorted([site.he_url, site.gt_url])
    reviews = accept_sources(store, awaiting_review(store), by="  C. Editor ")
    assert [(r.source_url, r.reviewed_by, r.alerts_closed) for r, _ in reviews] == [
        (u, "C. Editor", 1 if u == site.he_url else 0) for u in sorted([site.he_url, site.gt_url])]
    assert awaiting_review(store) == []


def test_accept_checks_every_url_before_recording_anything(site: Site, store: Store) -> None:
    seed_change(store, site.gt_url, "Results take 4 weeks.", "Results take 12 weeks.", GT_IMPACT)
    before = len(store.reviews.find())
    with pytest.raises(StoreError, match="https://nowhere.example/: not a watched source"):
        accept_sources(store, [site.gt_url, "https://nowhere.example/"], by="D. Editor")
    with pytest.raises(ValueError, match="--by must name the reviewer"):
        accept_sources(store, [site.gt_url], by="  ")
    assert len(store.reviews.find()) == before and len(store.alerts.find()) == 1

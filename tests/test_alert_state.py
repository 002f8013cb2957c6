"""Alert state that matches reality: a re-reviewed NHS page, `accept` on gone and moved pages,
sources no guide cites any more, digest file names, and a crawl summary that adds up.

The end-to-end tests build a guide repository whose cited pages are served by LocalHTTPServer
on 127.0.0.1 and drive the installed `guidewatch` command in it, with the store under test
(SQLite, or PostgreSQL with GUIDEWATCH_TEST_STORE=postgres). The rules themselves are pure
functions, tested directly first.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from guidewatch.alerts.channels import write_files
from guidewatch.alerts.digest import Digest, DigestItem, render
from guidewatch.alerts.lifecycle import (
    accept_refusal,
    blocking_state,
    review_due_closure,
    state_action,
    uncited_closure,
)
from guidewatch.app.decision import crawl_category
from guidewatch.model import Change, Impact
from guidewatch.pages.snapshots import parse as parse_snapshot
from guidewatch.pages.snapshots import snapshot_path
from guidewatch.store import Store
from httpserver import LocalHTTPServer, Reply

TODAY = date.today()


def shown(day: date) -> str:
    """The NHS display format: "1 June 2026"."""
    return f"{day.day} {day:%B %Y}"


OVERDUE, LATER = TODAY - timedelta(days=183), TODAY + timedelta(days=3 * 365)

# --- the pure rules -----------------------------------------------------------------------


def test_review_due_closes_only_when_the_page_shows_a_date_not_yet_passed() -> None:
    closure = review_due_closure({"next_review_due": LATER.isoformat()}, today=TODAY)
    assert closure is not None and closure.kinds == ("review_due",) and closure.status == "superseded"
    assert closure.note == f"the page's next review is now due {shown(LATER)}: no longer overdue"
    assert review_due_closure({"next_review_due": TODAY.isoformat()}, today=TODAY) is not None  # due today
    assert review_due_closure({"next_review_due": OVERDUE.isoformat()}, today=TODAY) is None
    # a page that stops showing its date (a layout change) keeps the alert: it could flap otherwise
    assert review_due_closure({}, today=TODAY) is None
    assert review_due_closure({"next_review_due": "soon"}, today=TODAY) is None


def test_uncited_closure_closes_every_alert_of_the_source() -> None:
    closure = uncited_closure()
    assert closure.kinds is None and closure.status == "closed" and closure.note == "no longer cited by any guide"


URL, NEW = "https://www.nhs.uk/conditions/genetic-testing/", "https://www.nhs.uk/tests/genetic-testing/"


@pytest.mark.parametrize(("state", "final", "blocked"), [
    ("ok", None, None), ("new", None, None), ("gone", None, "gone"), ("withdrawn", None, "withdrawn"),
    ("unreachable", None, "unreachable"), ("moved", NEW, "moved"),
    ("moved", URL.replace("https://www.", "http://"), None),  # an equivalent address: nothing to fix
])
def test_blocking_states_are_those_accepting_cannot_clear(state: str, final: str | None, blocked: str | None) -> None:
    assert blocking_state(URL, state, final) == blocked
    refusal = accept_refusal(URL, state, final)
    assert (refusal is None) == (blocked is None)
    if refusal:
        assert refusal.startswith(f"{URL}: ") and "\n" not in refusal and "accepting does not clear" in refusal


def test_refusals_say_what_will_clear_the_state() -> None:
    assert "change the guide's link to " + NEW in (accept_refusal(URL, "moved", NEW) or "")
    assert "replace or remove the guide's link" in (accept_refusal(URL, "gone", None) or "")
    assert "answers again" in (accept_refusal(URL, "unreachable", None) or "")
    assert state_action("moved", NEW) == f"update the guide's link to {NEW} (the cited address redirects there)"
    assert state_action("gone", None).startswith("replace or remove the citation")


@pytest.mark.parametrize(("status", "flags", "category"), [
    ("ok", {"baseline": True}, "new"), ("ok", {}, "unchanged"), ("not_modified", {}, "unchanged"),
    ("ok", {"changed": True}, "changed"), ("not_modified", {"changed": True}, "changed"),
    ("ok", {"moved": True}, "moved"), ("ok", {"moved": True, "changed": True}, "moved"),
    ("ok", {"moved": True, "baseline": True}, "moved"), ("gone", {}, "gone"), ("soft_404", {}, "gone"),
    ("failed", {}, "failed"), ("blocked", {}, "failed"),
])
def test_every_outcome_falls_in_exactly_one_crawl_category(status: str, flags: dict[str, bool],
                                                           category: str) -> None:
    assert crawl_category(status, **flags) == category


def test_the_store_closes_what_it_is_told_once_and_it_is_not_a_review(store_url: str) -> None:
    """`close_alerts` persists a domain decision: only the kinds named, once (a second, concurrent
    caller closes and records nothing), in the audit trail but never as the last review."""
    from guidewatch.app.workspace import watched_sources
    from guidewatch.sources.guides import load_guide
    from guidewatch.sources.profiles import load_profiles
    from test_store import GUIDE, IMPACT, URL, change, ok, page

    s = Store(store_url)
    try:
        guides = [load_guide(GUIDE)]
        s.guides.sync(guides, watched_sources(guides, (), load_profiles()))
        first = s.sources.record_fetch(ok(), page("Old text.")).source
        now = s.sources.record_fetch(ok(), page("New text.")).source
        due = Change("c2", "review_due", "minor", "next review was due", (), "", OVERDUE.isoformat(), scope="page")
        s.changes.record(first.id, first.reviewed_snapshot_id, now.current_snapshot_id,
                         [(change("Old text.", "New text."), [IMPACT]), (due, [IMPACT])])
        closure = review_due_closure({"next_review_due": LATER.isoformat()}, today=TODAY)
        assert closure is not None
        args = {"kinds": closure.kinds, "status": closure.status, "note": closure.note, "by": "guidewatch"}
        assert s.alerts.close(first.id, **args) == 1
        assert s.alerts.close(first.id, **args) == 0, "nothing left to close: nothing recorded"
        assert [a.change.change.kind for a in s.alerts.find(source_url=URL)] == ["modified"]
        trail = s.reviews.find(URL)
        assert [(r.reviewed_by, r.automatic, r.alerts_closed) for r in trail] == [
            ("guidewatch (baseline)", False, 0), ("guidewatch (automatic)", True, 1)]
        last = s.reviews.last(first.id)
        assert last is not None and last.id == trail[0].id, "a closure is not a review of the version"
        assert trail[1].content_hash == s.sources.snapshot(now.current_snapshot_id).content_hash  # type: ignore[union-attr]
    finally:
        s.close()


# --- a guide repository on a local server ----------------------------------------------------

NHS_PAGE = """<!DOCTYPE html><html lang="en"><head><title>Genetic testing - NHS</title></head><body>
<main class="nhsuk-main-wrapper" id="maincontent"><h1>Genetic and genomic testing</h1>
<p>Genetic testing can find changes in genes that cause health problems.</p>
<div class="nhsuk-review-date"><p class="nhsuk-body-s">Page last reviewed: {reviewed}<br>
Next review due: {due}</p></div></main></body></html>"""

PAGE = """<!DOCTYPE html><html lang="en"><head><title>{title}</title></head><body><main>
<h1>{title}</h1><h2>Guidance</h2><p>{text}</p></main></body></html>"""

ATMP = PAGE.format(title="ATMP regulation", text="Unlicensed ATMPs may be used under hospital exemption for one "
                                                 "patient if the hospital holds a manufacturing licence.")
TRIALS = PAGE.format(title="Clinical trials", text="Clinical trials of ATMPs need authorisation from the MHRA and "
                                                   "a favourable ethics opinion.")
PATHS = {"nhs": "/conditions/genetic-testing/", "atmp": "/guidance/atmp", "trials": "/guidance/trials"}
MOVED_TO = "/guidance/clinical-trials-of-atmps"

GUIDE = """# Gene therapy: a guide for patients

## Genetic testing

Genetic testing can find gene changes that cause health problems ([NHS: genetic testing]({nhs})).

## Hospital exemption

Unlicensed ATMPs may be used under hospital exemption for one patient ([MHRA guidance]({atmp})).

## Clinical trials

Clinical trials of ATMPs need MHRA authorisation and an ethics opinion ([MHRA: clinical trials]({trials})).
"""

CONFIG = """store = "sqlite:///not-used.db"   # GUIDEWATCH_STORE overrides it

[[guides]]
path = "guides/gene-therapy.md"
slug = "gene-therapy"
editors = ["editor@example.org"]

[[sources]]
url = "{nhs}"
profile = "nhsuk"

[fetch]
allow_private = true
obey_robots = false
download_delay = 0.0
autothrottle = false
retries = 0
timeout = 5.0
"""


class Repo:
    """The repository on disk, its pages on the local server, and `guidewatch` run in it."""

    def __init__(self, root: Path, server: LocalHTTPServer, store_url: str) -> None:
        self.root, self.server, self.store_url = root, server, store_url
        exe = shutil.which("guidewatch", path=str(Path(sys.executable).parent))
        self.cmd = [exe] if exe else [sys.executable, "-m", "guidewatch.cli"]

    def url(self, key: str) -> str:
        return self.server.url(PATHS.get(key, key))

    def write(self, **cite: str) -> None:
        """The guide citing every page, or (by key) another URL, or nothing ("" drops the link)."""
        links = {k: self.url(k) for k in PATHS} | cite
        text = GUIDE.format(**{k: v or "no link any more" for k, v in links.items()})
        (self.root / "guides").mkdir(parents=True, exist_ok=True)
        (self.root / "guides" / "gene-therapy.md").write_text(text.replace("(no link any more)", ""),
                                                               encoding="utf-8")
        (self.root / "guidewatch.toml").write_text(CONFIG.format(nhs=self.url("nhs")), encoding="utf-8")

    def nhs(self, due: date) -> None:
        self.server.page(PATHS["nhs"], NHS_PAGE.format(reviewed=shown(due - timedelta(days=3 * 365)), due=shown(due)))

    def gw(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, GUIDEWATCH_STORE=self.store_url)
        return subprocess.run([*self.cmd, *args], cwd=self.root, env=env, capture_output=True, text=True, timeout=180)

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        r = self.gw(*args)
        assert r.returncode == 0, f"{args}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        assert "Traceback" not in r.stderr, r.stderr
        return r

    def snapshots(self, key: str) -> tuple[Path, Path]:
        root = self.root / "snapshots"
        return snapshot_path(root, self.url(key)), snapshot_path(root, self.url(key), latest=True)


@pytest.fixture
def repo(tmp_path: Path, http_server: LocalHTTPServer, store_url: str) -> Repo:
    r = Repo(tmp_path / "repo", http_server, store_url)
    r.write()
    r.nhs(LATER)
    http_server.page(PATHS["atmp"], ATMP)
    http_server.page(PATHS["trials"], TRIALS)
    return r


@pytest.fixture
def store(repo: Repo, store_url: str) -> Iterator[Store]:
    s = Store(store_url)
    yield s
    s.close()


def alerts_of(store: Store, url: str, status: str | None = "open") -> list[tuple[str, str]]:
    return [(a.change.change.kind, a.status) for a in store.alerts.find(status=status, source_url=url)]


def digest_items(repo: Repo) -> dict[str, list[dict[str, object]]]:
    """The newest JSON digest's items by source URL."""
    newest = max((repo.root / "alerts").glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    data = json.loads(newest.read_text(encoding="utf-8"))
    out: dict[str, list[dict[str, object]]] = {}
    for g in data["guides"]:
        for s in g["sections"]:
            for i in s["items"]:
                out.setdefault(i["source"]["url"], []).append(i)
    return out


def one_line_error(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


# --- 1. a re-reviewed NHS page ------------------------------------------------------------


def test_a_re_reviewed_nhs_page_closes_its_review_due_alert(repo: Repo, store: Store) -> None:
    repo.nhs(OVERDUE)
    repo.ok("crawl")
    nhs = repo.url("nhs")
    [alert] = store.alerts.find(source_url=nhs)
    assert alert.change.change.kind == "review_due" and "overdue" in alert.change.change.reason
    before = store.sources.get(nhs)
    assert before is not None
    base, _ = repo.snapshots("nhs")
    assert parse_snapshot(base.read_text()).meta["meta.next_review_due"] == OVERDUE.isoformat()

    repo.nhs(LATER)  # the NHS re-reviewed the page: only its review dates changed
    crawled = repo.ok("crawl", "--all")
    line = next(ln for ln in crawled.stderr.splitlines() if f"{nhs}: " in ln)
    assert "review-due alert closed" in line and shown(LATER) in line, line
    assert store.alerts.find(source_url=nhs) == []
    [closed] = store.alerts.find(status=None, source_url=nhs)
    assert (closed.status, closed.closed_by) == ("superseded", "guidewatch")
    assert closed.note == f"the page's next review is now due {shown(LATER)}: no longer overdue"
    after = store.sources.get(nhs)
    assert after is not None and after.current_snapshot_id == after.reviewed_snapshot_id == before.current_snapshot_id
    stored = store.sources.snapshot(after.current_snapshot_id)
    assert stored is not None and stored.meta["next_review_due"] == LATER.isoformat(), "the stored metadata"
    assert parse_snapshot(base.read_text()).meta["meta.next_review_due"] == LATER.isoformat(), "and its file"

    trail = repo.ok("history", nhs).stdout.strip().splitlines()
    assert len(trail) == 2 and "guidewatch (baseline)" in trail[0]
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\d \d\d:\d\d guidewatch \(automatic\): {re.escape(nhs)} version "
                        rf"{stored.content_hash[:12]}; 1 alert\(s\) closed; note: the page's next review is now "
                        rf"due {shown(LATER)}: no longer overdue", trail[1]), trail[1]
    report = json.loads(repo.gw("check", "--offline", "--format", "json").stdout)
    assert [s["warnings"] for s in report["sources"] if s["url"] == nhs] == [[]]
    assert "Nothing to review" in repo.ok("digest", "--stdout", "--format", "text").stdout
    assert "0 new alerts" in repo.ok("crawl", "--all").stdout and store.alerts.find() == []


# --- 2. accept on a gone or moved page; the digest and check agree ----------------------------


def gone_and_moved(repo: Repo) -> None:
    """Baseline, then the ATMP page answers 404 and the trials page redirects to a new address."""
    repo.ok("crawl")
    repo.server.route(PATHS["atmp"], Reply(status=404, body="Not Found", content_type="text/plain"))
    repo.server.redirect(PATHS["trials"], MOVED_TO)
    repo.server.page(MOVED_TO, TRIALS)
    repo.ok("crawl", "--all")


def test_accept_refuses_gone_and_moved_pages_and_digest_and_check_say_the_same(repo: Repo, store: Store) -> None:
    gone_and_moved(repo)
    atmp, trials, new = repo.url("atmp"), repo.url("trials"), repo.url(MOVED_TO)
    assert alerts_of(store, atmp) == [("gone", "open")] and alerts_of(store, trials) == [("moved", "open")]

    repo.ok("digest", "--format", "json", "--format", "md")
    items = digest_items(repo)
    check = {s["url"]: s for s in json.loads(repo.gw("check", "--offline", "--format", "json").stdout)["sources"]}
    for url in (atmp, trials):
        [item] = items[url]
        assert item["accept_command"] is None, item
        assert check[url]["accept_command"] is None and check[url]["actions"] == [item["action"]]
    assert items[trials][0]["action"] == f"update the guide's link to {new} (the cited address redirects there)"
    assert items[atmp][0]["action"].startswith("replace or remove the citation")
    md = max((repo.root / "alerts").glob("*.md"), key=lambda p: p.stat().st_mtime_ns).read_text()
    assert "guidewatch accept" not in md and "update the guide's link to" in md

    reviews = len(store.reviews.find())
    gone = one_line_error(repo.gw("accept", atmp, "--by", "A. Editor"))
    assert gone.startswith(f"guidewatch: error: {atmp}: ") and "replace or remove the guide's link" in gone
    moved = one_line_error(repo.gw("accept", trials, "--by", "A. Editor"))
    assert f"change the guide's link to {new}" in moved
    everything = repo.ok("accept", "--all", "--by", "A. Editor")
    assert "nothing accepted" in everything.stdout
    refused = [ln for ln in everything.stderr.splitlines() if ln.startswith("not accepted: ")]
    assert sorted(refused) == sorted([f"not accepted: {gone.removeprefix('guidewatch: error: ')}",
                                      f"not accepted: {moved.removeprefix('guidewatch: error: ')}"])
    assert len(store.reviews.find()) == reviews, "nothing was recorded"
    assert alerts_of(store, atmp) == [("gone", "open")] and alerts_of(store, trials) == [("moved", "open")]
    assert repo.gw("check", "--offline").returncode == 1  # still stale, as the digest still says


def test_a_moved_page_with_changed_text_offers_no_accept_command_either(repo: Repo, store: Store) -> None:
    repo.ok("crawl")
    repo.server.redirect(PATHS["trials"], MOVED_TO)
    repo.server.page(MOVED_TO, TRIALS.replace("a favourable ethics opinion", "no ethics opinion at all"))
    repo.ok("crawl", "--all")
    trials, new = repo.url("trials"), repo.url(MOVED_TO)
    assert sorted(k for k, _ in alerts_of(store, trials)) == ["modified", "moved"]
    repo.ok("digest", "--format", "json")
    link = f"update the guide's link to {new} (the cited address redirects there)"
    items = digest_items(repo)[trials]
    assert {i["change"]["kind"] for i in items} == {"modified", "moved"}  # type: ignore[index]
    assert {(i["accept_command"], i["action"]) for i in items} == {(None, link)}
    [src] = [s for s in json.loads(repo.gw("check", "--offline", "--format", "json").stdout)["sources"]
             if s["url"] == trials]
    assert src["accept_command"] is None and link in src["actions"]
    assert not any("guidewatch accept" in a for a in src["actions"]), src["actions"]


# --- 3. sources no guide cites any more --------------------------------------------------------


def test_alerts_and_files_of_sources_no_guide_cites_go_on_the_next_sync(repo: Repo, store: Store) -> None:
    gone_and_moved(repo)
    atmp, trials, new = repo.url("atmp"), repo.url("trials"), repo.url(MOVED_TO)
    files = [*repo.snapshots("atmp"), *repo.snapshots("trials")]
    assert files[0].exists() and files[2].exists()

    repo.write(trials=new, atmp="")  # the editor fixes the guide: the new address, the gone link dropped
    crawled = repo.ok("crawl")  # the new address is a new source, due now
    assert f"{new}: baseline recorded" in crawled.stderr
    for url, kind in ((atmp, "gone"), (trials, "moved")):
        [alert] = store.alerts.find(status=None, source_url=url)
        assert (alert.change.change.kind, alert.status, alert.closed_by, alert.note) == (
            kind, "closed", "guidewatch", "no longer cited by any guide")
    assert [p for p in files if p.exists()] == []
    assert snapshot_path(repo.root / "snapshots", new).exists()
    trail = repo.ok("history").stdout
    for url in (atmp, trials):
        assert re.search(rf"guidewatch \(automatic\): {re.escape(url)} version [0-9a-f]{{12}}; 1 alert\(s\) "
                         rf"closed; note: no longer cited by any guide", trail), trail
    assert "OK: 2 cited source(s) fresh" in repo.ok("check", "--offline").stdout
    assert "nothing awaits review" in repo.ok("accept", "--all", "--by", "A. Editor").stdout
    assert [p for p in files if p.exists()] == [], "accept rewrites cited sources' files only"
    assert len(store.alerts.find(status="closed")) == 2, "closed once, whichever command synced first"


# --- 4. digest files never overwrite one another ------------------------------------------------

WHEN = datetime(2026, 11, 26, 9, 30, 15, 250_000, tzinfo=UTC)
CHANGE = Change("c1", "modified", "substantive", "'may' became 'must'", ("Guidance",), "may", "must")


def a_digest(alert_ids: list[int]) -> Digest:
    items = [DigestItem(alert_id=i, guide="g", guide_title="Guide", section_id="s", section_heading="S",
                        source_url="https://www.gov.uk/x", source_title="X", change=CHANGE,
                        impact=Impact("g", "s", "S", 0.5, ("x",)), detected_at=WHEN) for i in alert_ids]
    return Digest(None, WHEN, None, items)


def test_digests_in_the_same_second_get_their_own_files(tmp_path: Path) -> None:
    with_alert, empty = a_digest([7]), a_digest([])
    first = write_files(with_alert, tmp_path, ["md", "json"])
    second = write_files(empty, tmp_path, ["md", "json"])
    assert [p.name for p in first] == ["2026-11-26T093015Z-digest-all.md", "2026-11-26T093015Z-digest-all.json"]
    assert [p.name for p in second] == ["2026-11-26T093015Z-digest-all-2.md", "2026-11-26T093015Z-digest-all-2.json"]
    assert first[0].read_text() == render(with_alert, "md") and "alert #7" in first[0].read_text()
    assert "Nothing to review" in second[0].read_text()
    assert write_files(with_alert, tmp_path, ["md"]) == first[:1], "the same digest again is the same file"


def test_concurrent_writers_in_the_same_second_never_share_a_name(tmp_path: Path) -> None:
    digests = [a_digest([n]) for n in range(1, 9)]
    written: dict[int, list[Path]] = {}
    threads = [threading.Thread(target=lambda d=d: written.__setitem__(d.items[0].alert_id,
                                                                       write_files(d, tmp_path, ["md", "json"])))
               for d in digests]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    names = [p.name for paths in written.values() for p in paths]
    assert len(names) == len(set(names)) == 16 and len(list(tmp_path.iterdir())) == 16
    for alert_id, paths in written.items():
        assert f"alert #{alert_id}" in paths[0].read_text() and paths[0].stem == paths[1].stem


def test_manual_digest_writes_an_empty_file_only_when_asked(repo: Repo) -> None:
    repo.ok("crawl")
    quiet = repo.ok("digest")
    assert "Nothing to review" in quiet.stdout and "no digest file written" in quiet.stdout
    assert not (repo.root / "alerts").exists() or list((repo.root / "alerts").iterdir()) == []
    asked = repo.ok("digest", "--write-empty", "--format", "md")
    [path] = (repo.root / "alerts").iterdir()
    assert f"wrote {path.relative_to(repo.root)}" in asked.stdout or f"wrote {path}" in asked.stdout
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d{6}Z-digest-all\.md", path.name)
    assert "Nothing to review" in path.read_text()


# --- 5. the crawl summary adds up ----------------------------------------------------------------


def test_crawl_summary_partitions_the_sources(repo: Repo) -> None:
    repo.server.redirect(PATHS["trials"], MOVED_TO)
    repo.server.page(MOVED_TO, TRIALS)
    first = repo.ok("crawl").stdout
    assert first.startswith("3 checked: 2 new, 0 unchanged, 0 changed, 1 moved, 0 gone, 0 failed; "), first
    repo.server.page(PATHS["atmp"], ATMP.replace("may be used", "must not be used"))
    second = repo.ok("crawl", "--all").stdout
    assert second.startswith("3 checked: 0 new, 1 unchanged, 1 changed, 1 moved, 0 gone, 0 failed; "), second
    repo.server.route(PATHS["atmp"], Reply(status=404, body="Not Found", content_type="text/plain"))
    repo.server.route(PATHS["nhs"], Reply(status=503, body="busy", content_type="text/plain"))
    crawled = repo.gw("crawl", "--all")
    assert crawled.returncode == 3, crawled.stderr  # completed, but a source could not be checked
    third = crawled.stdout
    assert third.startswith("3 checked: 0 new, 0 unchanged, 0 changed, 1 moved, 1 gone, 1 failed; "), third
    for line in (first, second, third):
        total, counts = re.match(r"(\d+) checked: (.*);", line).groups()  # type: ignore[union-attr]
        assert sum(int(n) for n in re.findall(r"(\d+) \w+", counts)) == int(total)

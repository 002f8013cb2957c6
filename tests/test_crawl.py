"""`guidewatch crawl` and `guidewatch changes` end to end over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from guidewatch.pages.snapshots import parse as parse_snapshot
from guidewatch.pages.snapshots import snapshot_path
from httpserver import LocalHTTPServer, Reply

GOV = """<!DOCTYPE html><html lang="en"><head><title>{title} - GOV.UK</title></head><body>
<div id="global-cookie-message" class="gem-c-cookie-banner"><p>{cookie}</p></div>
<main id="content" class="govuk-main-wrapper">
<h1 class="gem-c-heading__text">{title}</h1>
<div class="gem-c-govspeak govuk-govspeak"><div class="govspeak">
<h2 id="hospital-exemption">Hospital exemption</h2>
<p>{he}</p>
<h2 id="share">Share</h2><p>Share this page on social media</p>
</div></div></main></body></html>"""

NHS = """<!DOCTYPE html><html lang="en"><head><title>Genetic testing - NHS</title></head><body>
<div id="nhsuk-cookie-banner"><p>{cookie}</p></div>
<main class="nhsuk-main-wrapper" id="maincontent"><h1>Genetic and genomic testing</h1>
<p>Genetic testing can find changes in genes that cause health problems.</p>
<div class="nhsuk-review-date"><p class="nhsuk-body-s">Page last reviewed: {reviewed}<br>
Next review due: 01 March 2030</p></div></main></body></html>"""

HE_V1 = "Unlicensed ATMPs may be used under hospital exemption for an individual patient."
HE_V2 = "Unlicensed ATMPs must not be used under hospital exemption without notifying the MHRA."


def guide(base: str) -> str:
    return f"""# Test guide

## Approved treatment, hospital exemption or clinical trial?

Some unlicensed ATMPs may be used under hospital exemption for a specific patient under strict conditions.
See the [MHRA guidance]({base}/guidance/atmp).

## Genetic testing

Genetic testing can find gene changes that cause health problems. [NHS]({base}/conditions/genetic-testing/)

## Red flags

Be careful with clinics abroad. [Old page]({base}/old-page) and [gone page]({base}/gone-page).
"""


def gw(ws: Path, *args: str, store_url: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("guidewatch", path=str(Path(sys.executable).parent)) or "guidewatch"
    env = dict(os.environ, GUIDEWATCH_STORE=store_url)
    return subprocess.run([exe, *args], cwd=ws, capture_output=True, text=True, timeout=180, env=env)


@pytest.fixture
def site(http_server: LocalHTTPServer, tmp_path: Path) -> tuple[LocalHTTPServer, Path]:
    s = http_server
    s.robots("User-agent: *\nAllow: /\n")
    s.page("/guidance/atmp", GOV.format(title="ATMPs", cookie="Cookies on GOV.UK", he=HE_V1), etag='"v1"')
    s.page("/conditions/genetic-testing/", NHS.format(cookie="Cookies on the NHS website", reviewed="1 May 2025"))
    s.redirect("/old-page", "/new-page")
    s.page("/new-page", GOV.format(title="New", cookie="c", he="Some text about trials."))
    s.route("/gone-page", Reply(body="<h1>Here</h1><main id='content'><p>Still here.</p></main>"))
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "guide.md").write_text(guide(s.base_url))
    (ws / "guidewatch.toml").write_text(f"""
[[guides]]
path = "guide.md"
editors = ["ed@example.org"]

[[sources]]
url = "{s.base_url}/guidance/atmp"
profile = "govuk"
ignore = ["Share this page.*"]

[[sources]]
url = "{s.base_url}/conditions/genetic-testing/"
profile = "nhsuk"

[fetch]
allow_private = true
download_delay = 0.0
autothrottle = false
retries = 0
timeout = 5.0
""")
    return s, ws


def test_crawl_change_detection_end_to_end(site: tuple[LocalHTTPServer, Path], store_url: str) -> None:
    s, ws = site
    first = gw(ws, "crawl", store_url=store_url)
    assert first.returncode == 0, first.stderr
    assert "crawling 4 source(s)" in first.stderr
    assert first.stdout.startswith("4 checked: 3 new, 0 unchanged, 0 changed, 1 moved, 0 gone, 0 failed; 1 new alerts")
    assert "[4/4]" in first.stderr
    atmp = s.url("/guidance/atmp")
    base = snapshot_path(ws / "snapshots", atmp)
    snap = parse_snapshot(base.read_text())
    assert snap.meta["status"] == "reviewed" and "Hospital exemption" in snap.text
    assert "Share this page" not in snap.text, "per-source ignore rule from the config"
    assert "Cookies" not in snap.text

    # nothing due now: the schedule moved every source's next check into the future
    assert "no sources are due" in gw(ws, "crawl", store_url=store_url).stdout

    # cosmetic only (cookie banner, review date) + a real change + a page now gone
    s.page("/conditions/genetic-testing/", NHS.format(cookie="We use cookies", reviewed="2 June 2026"))
    s.page("/guidance/atmp", GOV.format(title="ATMPs", cookie="Cookies!", he=HE_V2), etag='"v2"')
    s.route("/gone-page", Reply(status=404, body="nope"))
    second = gw(ws, "crawl", "--all", store_url=store_url)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("4 checked: 0 new, 1 unchanged, 1 changed, 1 moved, 1 gone, 0 failed; ")
    assert f"{s.url('/conditions/genetic-testing/')}: unchanged" in second.stderr
    assert s.requests("/guidance/atmp")[-1].headers.get("if-none-match") == '"v1"', "conditional request"
    assert snapshot_path(ws / "snapshots", atmp, latest=True).exists()
    assert parse_snapshot(base.read_text()).text == snap.text, "the reviewed baseline does not move by itself"

    out = json.loads(gw(ws, "changes", "--format", "json", store_url=store_url).stdout)
    by_kind = {c["kind"]: c for c in out}
    mod = by_kind["modified"]
    assert mod["source"] == atmp and mod["severity"] == "substantive"
    assert mod["source_section"][-1] == "Hospital exemption"
    assert mod["affects"][0]["section"] == "approved-treatment-hospital-exemption-or-clinical-trial"
    assert by_kind["gone"]["affects"][0]["section"] == "red-flags"
    assert by_kind["moved"]["new"].endswith("/new-page")
    text = gw(ws, "changes", store_url=store_url).stdout
    assert "SUBSTANTIVE modified" in text and "-> guide#approved-treatment" in text

    # unchanged re-crawl answers 304 and costs no new snapshot
    third = gw(ws, "crawl", "--source", atmp, store_url=store_url)
    assert third.returncode == 0 and "1 unchanged" in third.stdout
    assert s.requests("/guidance/atmp")[-1].headers.get("if-none-match") == '"v2"'


def test_crawl_one_source_and_unknown_source(site: tuple[LocalHTTPServer, Path], store_url: str) -> None:
    s, ws = site
    r = gw(ws, "crawl", "--source", s.url("/guidance/atmp"), "--quiet", store_url=store_url)
    assert r.returncode == 0 and r.stdout.startswith("1 checked: 1 new")
    assert s.hits("/conditions/genetic-testing/") == 0
    bad = gw(ws, "crawl", "--source", "https://elsewhere.example/x", store_url=store_url)
    assert bad.returncode == 2 and "not a watched source" in bad.stderr
    both = gw(ws, "crawl", "--all", "--source", "x", store_url=store_url)
    assert both.returncode == 2


def pages_workspace(ws: Path, s: LocalHTTPServer, n: int, he: str, fetch_extra: str = "") -> None:
    """n GOV.UK-like pages on the server, each with an ETag, cited by one guide in `ws`."""
    s.robots("User-agent: *\nAllow: /\n")
    for i in range(n):
        s.page(f"/guidance/page-{i}", GOV.format(title=f"Page {i}", cookie="c", he=he.format(i=i)), etag=f'"p{i}"')
    ws.mkdir()
    links = "\n".join(f"- [Page {i}]({s.base_url}/guidance/page-{i})" for i in range(n))
    (ws / "guide.md").write_text(f"# Guide\n\n## Hospital exemption\n\nSee these.\n\n{links}\n")
    (ws / "guidewatch.toml").write_text(f"""
[[guides]]
path = "guide.md"

[fetch]
allow_private = true
download_delay = 0.0
autothrottle = false
retries = 0
{fetch_extra}
""")


def test_an_unchanged_recrawl_records_every_304_and_repairs_missing_files(http_server: LocalHTTPServer,
                                                                          tmp_path: Path, store_url: str) -> None:
    """Quiet 304s are written in batches; one whose files are missing still gets them back."""
    from guidewatch.store import Store

    s = http_server
    n = 12
    ws = tmp_path / "ws"
    pages_workspace(ws, s, n, "Rule {i}.")
    assert gw(ws, "crawl", store_url=store_url).returncode == 0
    store = Store(store_url)
    try:
        checked = {src.url: src.last_checked_at for src in store.sources.all()}
        lost = snapshot_path(ws / "snapshots", s.url("/guidance/page-3"))
        kept = snapshot_path(ws / "snapshots", s.url("/guidance/page-4"))
        lost.unlink()
        kept_mtime = kept.stat().st_mtime_ns
        again = gw(ws, "crawl", "--all", store_url=store_url)
        assert again.returncode == 0, again.stderr
        assert again.stdout.startswith(f"{n} checked: 0 new, {n} unchanged, 0 changed, 0 moved, 0 gone, 0 failed")
        assert all(r.headers.get("if-none-match") for r in s.requests("/guidance/page-5")[1:])
        for src in store.sources.all():
            assert store.sources.fetch_history(src.url, limit=1)[0]["status"] == "not_modified", src.url
            assert src.last_checked_at > checked[src.url] and src.state == "ok"
            assert src.next_due_at > src.last_checked_at
        assert lost.exists(), "the full path re-wrote the missing file"
        assert kept.stat().st_mtime_ns == kept_mtime, "a quiet 304 does not touch its files"
    finally:
        store.close()

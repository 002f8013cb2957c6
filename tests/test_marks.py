"""Editors teach the linker: `guidewatch dismiss` marks an impact "not relevant", the mark is kept
in the audit trail (`history`), and later changes to that source passage do not flag the section
again unless they are about something the section asserts. Driven through the installed command
against pages on a local HTTP server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from guidewatch.changes.link import link_change
from guidewatch.sources.guides import load_guide
from guidewatch.store import Store
from httpserver import LocalHTTPServer
from test_alerts import Site, he_page, ok

SECTION = "notifying-the-mhra"
WELSH = "must, using the form in Welsh or English, notify the MHRA at least 60 days before"
HRA = "must notify the Health Research Authority at least 60 days before"


@pytest.fixture
def site(tmp_path: Path, http_server: LocalHTTPServer, store_url: str) -> Site:
    ws = Site(tmp_path / "ws", http_server, store_url)
    ws.configure()
    return ws


def he_changes(site: Site) -> list[dict]:
    out = json.loads(ok(site.gw("changes", "--format", "json", "--source", site.he_url)).stdout)
    return [c for c in out if c["source_section"] and c["source_section"][-1] == "Notifying the regulator"]


def test_a_dismissed_pair_is_not_flagged_again_unless_the_change_is_about_what_it_asserts(site: Site) -> None:
    site.baseline_then_change()
    [first] = he_changes(site)
    assert [(a["section"], a["tier"]) for a in first["affects"]] == [(SECTION, "reread")]
    assert first["affects"][0]["claim"].startswith("Hospitals must notify the MHRA at least 60 days")

    r = ok(site.gw("dismiss", first["id"], "--section", f"hospital-exemption#{SECTION}", "--by", "A. Editor",
                   "--note", "the guide only says a hospital may notify"))
    assert f"marked hospital-exemption#{SECTION} not relevant to {site.he_url} › " in r.stdout
    assert "(by A. Editor)" in r.stdout
    history = ok(site.gw("history", site.he_url)).stdout
    assert re.search(rf"\d{{4}}-\d\d-\d\d \d\d:\d\d A\. Editor: marked hospital-exemption#{SECTION} not relevant "
                     rf"to {re.escape(site.he_url)} › .*Notifying the regulator \(on {first['id']}: the guide only "
                     r"says a hospital may notify\)", history), history

    # a later change to the passage that is not about what the section asserts: not flagged again
    site.serve(he_page(notify=WELSH))
    site.crawl()
    welsh = he_changes(site)[-1]
    assert "Welsh" in welsh["new"] and welsh["affects"] == []
    store = Store(site.store_url)
    try:
        marks = store.changes.dismissals(site.he_url)
        [rec] = [c for c in store.changes.find(source_url=site.he_url) if f"c{c.id}" == welsh["id"]]
    finally:
        store.close()
    judged = first["affects"][0]["evidence"][-1]  # the guide sentence the editor read: the mark names it
    assert [(m.guide, m.section, m.by, m.sentence) for m in marks] == [("hospital-exemption", SECTION, "A. Editor",
                                                                          judged)]
    guide = load_guide(site.root / "guides" / "he.md", slug="hospital-exemption")
    unmarked = link_change(rec.change, site.he_url, [guide])
    assert [i.section for i in unmarked] == [SECTION], "without the mark the section would be flagged"

    # a change about something the section asserts (the MHRA it names) is flagged despite the mark
    site.serve(he_page(notify=HRA))
    site.crawl()
    hra = he_changes(site)[-1]
    assert "Health Research Authority" in hra["new"]
    assert [a["section"] for a in hra["affects"]] == [SECTION]


def test_dismiss_rejects_unknown_changes_and_sections_with_one_line_exit_2(site: Site) -> None:
    site.baseline_then_change()
    [first] = he_changes(site)
    r = site.gw("dismiss", "c999", "--section", SECTION, "--by", "A. Editor")
    assert r.returncode == 2
    assert r.stderr.strip() == "guidewatch: error: c999: no such change (see `guidewatch changes`)"
    r = site.gw("dismiss", first["id"], "--section", "travelling-abroad", "--by", "A. Editor")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert f"section travelling-abroad is not linked to it (linked: hospital-exemption#{SECTION})" in r.stderr
    r = site.gw("dismiss", "twelve", "--section", SECTION, "--by", "A. Editor")
    assert r.returncode == 2 and "not a change id" in r.stderr
    assert "marked" not in ok(site.gw("history")).stdout, "nothing was recorded"

"""`guidewatch test URL`, `versions URL` and `diff URL`, through the installed command against
pages on a local server and versions recorded by real crawls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guidewatch.store import Store
from httpserver import LocalHTTPServer
from test_alerts import Site, he_page, ok

EXTRA = """<div class="promo"><p>Sign up to our newsletter for updates</p></div>
<p>Share this page with your care team.</p>
<p>Page last reviewed: 3 March 2026</p>
"""


@pytest.fixture
def site(tmp_path: Path, http_server: LocalHTTPServer, store_url: str) -> Site:
    ws = Site(tmp_path / "ws", http_server, store_url)
    ws.configure(guides_extra=f"""
[[sources]]
url = "{ws.he_url}"
ignore = ["css:.promo", "Share this page ", "css:.nothing-here"]

[[sources]]
url = "{ws.gt_url}"
profile = "govuk"
""")
    ws.serve(he_page(extra=EXTRA))
    return ws


def section(out: str, title: str) -> str:
    """The lines of one part of the `test` report, up to the next blank line."""
    return out.split(title, 1)[1].split("\n\n", 1)[0]


def test_test_shows_profile_diffed_tree_dates_and_what_each_configured_rule_removes(site: Site) -> None:
    out = ok(site.gw("test", site.he_url)).stdout
    assert f"{site.he_url}: HTTP 200" in out
    assert "profile: default (no profile names this host)" in out
    assert "title: Hospital exemption for ATMPs" in out
    assert "a crawl would record: a version to diff" in out
    assert "last_reviewed: 2026-03-03" in section(out, "page dates and metadata (never diffed):")
    tree = section(out, "text that is diffed:")
    # headings at their level, their paragraphs indented beneath them
    assert "\n  ## Notifying the regulator\n    Hospitals may notify the MHRA before" in tree
    assert "\n  ## Reporting adverse reactions\n    Serious adverse reactions" in tree
    assert "newsletter" not in tree and "Share this page" not in tree, "the configured rules apply"
    assert "with your care team." in tree
    assert "Page last reviewed" not in tree, "the profile's dates are metadata, not text"
    rules = out.split("ignore rules (config):", 1)[1]
    assert "css:.promo: drops 1 block(s), trims 0\n    - Sign up to our newsletter for updates" in rules
    assert "Share this page : drops 0 block(s), trims 1\n    ~ Share this page with your care team." in rules
    assert "(removes: Share this page)" in rules
    assert "css:.nothing-here: removes nothing" in rules
    assert site.server.hits("/guidance/hospital-exemption") == 1
    store = Store(site.store_url)
    try:
        assert store.sources.all() == [], "test stores nothing"
    finally:
        store.close()


def test_test_tries_command_line_rules_as_json_and_reports_bad_input_in_one_line(site: Site) -> None:
    r = ok(site.gw("test", site.he_url, "--ignore", "css:main p", "--format", "json"))
    data = json.loads(r.stdout)
    assert data["profile"] == "default" and data["ignore_from"] == "command line"
    govuk = json.loads(ok(site.gw("test", site.gt_url, "--format", "json")).stdout)  # [[sources]] names govuk
    assert (govuk["profile"], govuk["profile_chosen_by"]) == ("govuk", "named by its [[sources]] entry")
    assert [b["text"] for b in data["blocks"]] == ["Notifying the regulator", "Reporting adverse reactions"]
    assert data["blocks"][0] == {"kind": "heading", "level": 2, "path": ["Notifying the regulator"],
                                 "text": "Notifying the regulator"}
    [rule] = data["ignore"]
    assert rule["rule"] == "css:main p" and rule["trims"] == []
    assert "Sign up to our newsletter for updates" in rule["drops"]
    assert any(d.startswith("Hospitals may notify") for d in rule["drops"])
    assert data["metadata"]["last_reviewed"] == "2026-03-03"

    bad = ok(site.gw("test", site.he_url, "--ignore", "css:p[["), 2)
    assert bad.stderr.count("\n") == 1 and "--ignore: ignore rule 'css:p[[': invalid CSS selector" in bad.stderr
    bad = ok(site.gw("test", site.he_url, "--ignore", "(unclosed"), 2)
    assert "bad regular expression" in bad.stderr and bad.stderr.count("\n") == 1
    site.server.page("/leaflet.pdf", "%PDF-1.4 ...", content_type="application/pdf")  # cut off: no %%EOF
    pdf = json.loads(ok(site.gw("test", site.server.url("/leaflet.pdf"), "--format", "json")).stdout)
    assert pdf["blocks"] == [] and pdf["metadata"]["content_type"] == "application/pdf"
    assert pdf["crawl_would_record"] == "failed: truncated PDF: no %%EOF at the end"
    site.server.page("/chart.png", "\x89PNG not text", content_type="image/png")
    png = json.loads(ok(site.gw("test", site.server.url("/chart.png"), "--format", "json")).stdout)
    assert png["crawl_would_record"] == "failed: not a web page: the server sent image/png"
    missing = ok(site.gw("test", site.server.url("/no/such/page")), 3)  # a crawl's "could not check"
    [error] = [line for line in missing.stderr.splitlines() if "contact_url" not in line]  # the usual warning
    assert error == f"guidewatch: error: {site.server.url('/no/such/page')}: gone: HTTP 404 Not Found"


def test_versions_lists_each_recorded_version_and_diff_shows_any_two(site: Site) -> None:
    site.crawl(cli=True)  # version 1: the baseline (reviewed)
    site.serve(he_page(notify="must notify the MHRA at least 60 days before", extra=EXTRA))
    site.crawl(cli=True)  # version 2: a substantive change
    site.serve(he_page(notify="must notify the MHRA at least 60 days before",
                       extra=EXTRA.replace("your care team", "Your Care Team")))
    site.crawl(cli=True)  # version 3: the same words in other case

    out = ok(site.gw("versions", site.he_url)).stdout.splitlines()
    assert out[0] == f"{site.he_url}: 3 version(s)"
    assert "baseline: first version recorded  [reviewed]" in out[1]
    assert "changed: 1 change(s) (1 substantive)" in out[2] and "[" not in out[2].split("substantive)")[1]
    assert "cosmetic only: 1 cosmetic change(s)  [current]" in out[3]
    data = json.loads(ok(site.gw("versions", site.he_url, "--format", "json")).stdout)
    assert [v["kind"] for v in data["versions"]] == ["baseline", "changed", "cosmetic only"]
    assert [(v["reviewed"], v["current"]) for v in data["versions"]] == [(True, False), (False, False), (False, True)]
    hashes = [v["content_hash"] for v in data["versions"]]
    assert len(set(hashes)) == 3 and f"  {hashes[1][:12]}  " in out[2]

    # default: reviewed -> current, in the digest's text rendering
    diff = ok(site.gw("diff", site.he_url)).stdout
    assert f"version 1 ({hashes[0][:12]}," in diff and f"-> version 3 ({hashes[2][:12]}," in diff
    assert "SUBSTANTIVE" in diff and "Notifying the regulator" in diff
    assert "diff: Hospitals [-may-]{+must+} notify the MHRA {+at least 60 days +}before they first" in diff
    assert "capitalisation only" in diff and "[-your care team-]{+Your Care Team+}" in diff
    cosmetic = json.loads(ok(site.gw("diff", site.he_url, "--from", "2", "--to", hashes[2][:8],
                                     "--format", "json")).stdout)
    assert cosmetic["from"]["version"] == 2 and cosmetic["to"]["version"] == 3
    assert [c["severity"] for c in cosmetic["changes"]] == ["cosmetic"]
    assert "your care team" in cosmetic["changes"][0]["old"] and "Your Care Team" in cosmetic["changes"][0]["new"]
    same = ok(site.gw("diff", site.he_url, "--from", "current", "--to", "3")).stdout
    assert same.rstrip().endswith("no difference")


def test_versions_and_diff_refuse_unknown_urls_and_versions_in_one_line(site: Site) -> None:
    site.crawl(cli=True)
    for args, says in [(("versions", site.server.url("/not/watched")), "not a watched source"),
                       (("diff", site.server.url("/not/watched")), "not a watched source"),
                       (("diff", site.he_url, "--from", "7"), "has versions 1 to 1"),
                       (("diff", site.he_url, "--to", "zzzz"), "is not a version number, hash prefix"),
                       (("diff", site.he_url, "--to", "ab"), "is not a version number, hash prefix")]:
        r = ok(site.gw(*args), 2)
        assert r.stderr.startswith("guidewatch: error: ") and says in r.stderr, (args, r.stderr)
        assert r.stderr.count("\n") == 1 and r.stdout == ""
    assert ok(site.gw("diff", site.he_url)).stdout.rstrip().endswith("no difference")


def govuk_page(note: str, when: str) -> str:
    return f"""<!doctype html><html><head><title>Genomic testing</title></head><body><main>
<h1>Genomic testing</h1><h2>Getting results</h2><p>Results usually take between 4 and 8 weeks.</p></main>
<ol><li class="gem-c-published-dates__change-item"><time datetime="{when}">{when}</time>
<p class="gem-c-published-dates__change-note">{note}</p></li></ol></body></html>"""


def test_a_new_change_note_on_the_same_text_is_a_metadata_only_version(site: Site) -> None:
    site.serve(gt=govuk_page("First published.", "2026-01-05T09:00:00Z"))
    site.crawl(cli=True)
    site.serve(gt=govuk_page("Checked the waiting times.", "2026-11-20T09:00:00Z"))
    site.crawl(cli=True)

    out = ok(site.gw("versions", site.gt_url)).stdout.splitlines()
    assert "metadata only: change_note, change_note_at  [current]" in out[2], out
    diff = ok(site.gw("diff", site.gt_url, "--from", "1", "--to", "2")).stdout
    assert "  same text\n  page dates and metadata:\n" in diff
    assert "    change_note: First published. -> Checked the waiting times.\n" in diff
    data = json.loads(ok(site.gw("diff", site.gt_url, "--format", "json")).stdout)
    assert data["changes"] == [] and data["metadata"]["change_note_at"] == {"from": "2026-01-05", "to": "2026-11-20"}

"""Which profile and rules a source gets: the same answer for the guide sync, the crawl and `compare`.

Issue 15: an invalid ignore rule must stop the config at load (not fail every crawl of the
source, a false "unreachable"); profile hosts match exactly or by an explicit `*.` wildcard
(`hta.gov.uk` is not GOV.UK); a `profiles_dir` profile is used for the sources guides cite;
and `compare --url` resolves the profile as the crawl does. The end-to-end tests run the
installed `guidewatch` command against pages served over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from guidewatch.app.workspace import open_workspace
from guidewatch.config import ConfigError, load_config
from guidewatch.pages.snapshots import parse as parse_snapshot
from guidewatch.pages.snapshots import snapshot_path
from guidewatch.sources.profiles import ProfileError, load_profiles, profile_for_url
from httpserver import LocalHTTPServer

FIXTURES = Path(__file__).parent / "fixtures" / "normalise"

FETCH = """
[fetch]
allow_private = true
download_delay = 0.0
autothrottle = false
retries = 0
timeout = 5.0
"""


def gw(ws: Path, *args: str, store_url: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("guidewatch", path=str(Path(sys.executable).parent)) or "guidewatch"
    env = dict(os.environ, GUIDEWATCH_STORE=store_url)
    return subprocess.run([exe, *args], cwd=ws, capture_output=True, text=True, timeout=180, env=env)


def workspace(tmp_path: Path, guide: str, config: str) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "guide.md").write_text(guide)
    (ws / "guidewatch.toml").write_text(config)
    return ws


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


# --- item 5: ignore rules are validated when the config is loaded ---------------------------


BAD_IGNORE = """[[guides]]
path = "guide.md"

[[sources]]
url = "https://www.gov.uk/guidance/a"
ignore = ["Share this page"]

[[sources]]
url = "https://www.gov.uk/guidance/b"
profile = "govuk"
ignore = ["css:.banner", {rule}]
"""


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ('"css:div[[["', "invalid CSS selector"),
        ('"css:"', "empty CSS selector"),
        ('"css:p:unknown-pseudo"', "invalid CSS selector"),
        ('"(unclosed"', "bad regular expression"),
    ],
)
def test_a_bad_ignore_rule_is_a_config_error_naming_its_own_line(tmp_path: Path, rule: str, problem: str) -> None:
    text = BAD_IGNORE.format(rule=rule)
    path = tmp_path / "guidewatch.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}:{line_of(text, 'css:.banner')}: sources[1].ignore: "), message
    assert problem in message and rule.replace('"', "'") in message and "\n" not in message


def test_crawl_and_check_refuse_a_bad_ignore_rule_before_fetching(http_server: LocalHTTPServer, tmp_path: Path,
                                                                  store_url: str) -> None:
    s = http_server
    s.robots("User-agent: *\nAllow: /\n")
    s.page("/page", "<html><body><main><h1>Page</h1><p>Some guidance text for patients.</p></main></body></html>")
    config = (f'[[guides]]\npath = "guide.md"\n\n[[sources]]\nurl = "{s.url("/page")}"\n'
              'ignore = ["css:div[[["]\n' + FETCH)
    ws = workspace(tmp_path, f"# Guide\n\n## Part\n\nSee [the page]({s.url('/page')}).\n", config)
    for command in (["crawl"], ["check"]):
        run = gw(ws, *command, store_url=store_url)
        assert run.returncode == 2, (command, run.stdout, run.stderr)
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
        assert f"guidewatch.toml:{line_of(config, 'ignore')}: sources[0].ignore: " in lines[0]
        assert "invalid CSS selector" in lines[0]
    assert s.hits("/page") == 0, "a config that cannot be applied fetches nothing (no false 'unreachable')"


# --- item 6: profile hosts match exactly, or by an explicit *. wildcard ----------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.gov.uk/guidance/x", "govuk"),
        ("https://gov.uk/guidance/x", "govuk"),
        ("https://www.hta.gov.uk/guidance/codes-of-practice", "default"),  # the Human Tissue Authority
        ("https://hta.gov.uk/guidance", "default"),
        ("https://assets.publishing.service.gov.uk/media/x.pdf", "default"),
        ("https://www.nhs.uk/conditions/x/", "nhsuk"),
        ("https://nhs.uk/conditions/x/", "nhsuk"),
        ("https://digital.nhs.uk/data", "default"),
        ("https://www.england.nhs.uk/x", "default"),
    ],
)
def test_builtin_profiles_match_their_exact_hosts_only(url: str, expected: str) -> None:
    assert profile_for_url(url, load_profiles()).name == expected


def test_an_explicit_wildcard_matches_the_domain_and_every_name_under_it(tmp_path: Path) -> None:
    (tmp_path / "site.toml").write_text('name = "site"\nhosts = ["*.example.org"]\n')
    (tmp_path / "shop.toml").write_text('name = "shop"\nhosts = ["*.shop.example.org", "exact.example.org"]\n')
    (tmp_path / "one.toml").write_text('name = "one"\nhosts = ["www.example.net"]\n')
    profiles = load_profiles([tmp_path])
    found = {u: profile_for_url(u, profiles).name for u in (
        "https://example.org/", "https://www.example.org/", "https://a.b.example.org/",
        "https://shop.example.org/", "https://x.shop.example.org/", "https://exact.example.org/",
        "https://badexample.org/", "https://example.org.evil.com/",
        "https://www.example.net/", "https://example.net/", "https://a.www.example.net/")}
    assert found == {
        "https://example.org/": "site", "https://www.example.org/": "site", "https://a.b.example.org/": "site",
        "https://shop.example.org/": "shop", "https://x.shop.example.org/": "shop",  # the longer wildcard wins
        "https://exact.example.org/": "shop",  # an exact host beats a wildcard
        "https://badexample.org/": "default", "https://example.org.evil.com/": "default",
        "https://www.example.net/": "one", "https://example.net/": "default", "https://a.www.example.net/": "default",
    }


@pytest.mark.parametrize(
    ("hosts", "problem"),
    [
        ('[".example.org"]', "write '*.example.org'"),
        ('["*example.org"]', "not a host name"),
        ('["www.*.org"]', "not a host name"),
        ('["https://www.example.org/"]', "not a host name"),
        ('["www.example.org/guidance"]', "not a host name"),
        ('[""]', "not a host name"),
        ('["*."]', "not a host name"),
        ('["exa mple.org"]', "not a host name"),
    ],
)
def test_a_bad_host_pattern_is_a_profile_error(tmp_path: Path, hosts: str, problem: str) -> None:
    (tmp_path / "bad.toml").write_text(f'name = "bad"\nhosts = {hosts}\n')
    with pytest.raises(ProfileError, match=r"bad\.toml: key 'hosts\[0\]': ") as err:
        load_profiles([tmp_path])
    assert problem in str(err.value)


def test_the_guide_sync_gives_a_look_alike_host_the_default_profile(tmp_path: Path, store_url: str) -> None:
    guide = ("# Guide\n\n## Tissue\n\n[HTA codes](https://www.hta.gov.uk/guidance/codes-of-practice) and "
             "[MHRA](https://www.gov.uk/guidance/atmp).\n")
    ws = workspace(tmp_path, guide, f'store = "{store_url}"\n[[guides]]\npath = "guide.md"\n')
    workspace_ = open_workspace(load_config(ws / "guidewatch.toml"))
    try:
        assert {s.url: s.profile for s in workspace_.store.sources.all()} == {
            "https://www.hta.gov.uk/guidance/codes-of-practice": "default",
            "https://www.gov.uk/guidance/atmp": "govuk",
        }
    finally:
        workspace_.close()


# --- item 7: a profiles_dir profile is used for the sources guides cite ----------------------

LOCAL_PAGE = """<!DOCTYPE html><html lang="en"><head><title>Gene therapy guidance | Local</title></head><body>
<main id="main">
<div class="local-promo"><p>{promo}</p></div>
<div class="local-body">
<h1>Gene therapy guidance</h1>
<p>Gene therapies are assessed before they can be offered to patients on the NHS.</p>
<h2>Hospital exemption</h2>
<p>{he}</p>
</div>
<p class="local-stamp">Page generated {stamp}</p>
</main></body></html>"""

LOCAL_PROFILE = """name = "localsite"
description = "The local test site: content in .local-body; promotions dropped"
hosts = ["127.0.0.1"]
main = [".local-body"]
drop = [".local-promo"]
"""


def test_a_profiles_dir_profile_is_used_for_a_page_only_a_guide_cites(
    http_server: LocalHTTPServer, tmp_path: Path, store_url: str
) -> None:
    s = http_server
    s.robots("User-agent: *\nAllow: /\n")
    he = "Unlicensed gene therapies may be supplied under hospital exemption to one patient."
    s.page("/guidance/gene-therapy", LOCAL_PAGE.format(promo="Join our webinar on 3 May", he=he, stamp="10:01"))
    url = s.url("/guidance/gene-therapy")
    guide = f"# Guide\n\n## Hospital exemption\n\nSee [the guidance]({url}) on hospital exemption.\n"
    ws = workspace(tmp_path, guide, 'profiles_dir = "profiles"\n[[guides]]\npath = "guide.md"\n' + FETCH)
    (ws / "profiles").mkdir()
    (ws / "profiles" / "localsite.toml").write_text(LOCAL_PROFILE)

    first = gw(ws, "crawl", store_url=store_url)
    assert first.returncode == 0, first.stderr
    assert "1 checked: 1 new" in first.stdout and "0 failed" in first.stdout
    snap = parse_snapshot(snapshot_path(ws / "snapshots", url).read_text())
    assert snap.meta["profile"] == "localsite"
    assert "Hospital exemption" in snap.text and he in snap.text
    assert "webinar" not in snap.text, "the profile's drop rule"
    assert "Page generated" not in snap.text, "the profile's main selector"

    # The promotion and the stamp change: with the profile's rules that is no change at all.
    s.page("/guidance/gene-therapy", LOCAL_PAGE.format(promo="Join our webinar on 9 June", he=he, stamp="11:42"))
    second = gw(ws, "crawl", "--all", store_url=store_url)
    assert second.returncode == 0, second.stderr
    assert f"{url}: unchanged" in second.stderr, second.stderr
    assert not snapshot_path(ws / "snapshots", url, latest=True).exists()

    # A real edit inside the profile's main content is still found.
    s.page("/guidance/gene-therapy", LOCAL_PAGE.format(promo="x", he=he.replace("may", "must not"), stamp="12"))
    third = gw(ws, "crawl", "--all", store_url=store_url)
    assert "1 changed" in third.stdout, third.stdout + third.stderr


# --- item 8: compare --url resolves the profile as the crawl does ----------------------------


def test_compare_url_uses_the_sources_profile_and_agrees_with_the_crawl(
    http_server: LocalHTTPServer, tmp_path: Path, store_url: str
) -> None:
    s = http_server
    s.robots("User-agent: *\nAllow: /\n")
    v1 = (FIXTURES / "govuk_detailed_guide.html").read_text()
    v2 = v1.replace("18 February 2016", "3 June 2026")  # GOV.UK's own "Last updated" date only
    s.page("/guidance/salary-sacrifice", v1)
    url = s.url("/guidance/salary-sacrifice")
    guide = f"# Guide\n\n## Salary sacrifice\n\nRead [HMRC's guidance]({url}) on salary sacrifice.\n"
    config = (f'[[guides]]\npath = "guide.md"\nslug = "pay"\n\n[[sources]]\nurl = "{url}"\nprofile = "govuk"\n'
              + FETCH)
    ws = workspace(tmp_path, guide, config)
    (ws / "old.html").write_text(v1)
    (ws / "new.html").write_text(v2)

    assert gw(ws, "crawl", store_url=store_url).returncode == 0
    s.page("/guidance/salary-sacrifice", v2)
    crawled = gw(ws, "crawl", "--all", store_url=store_url)
    assert crawled.returncode == 0, crawled.stderr
    changes = json.loads(gw(ws, "changes", "--all", "--format", "json", store_url=store_url).stdout)
    block_changes = [c for c in changes if c["scope"] == "block"]

    for guide_ref in ("pay", "guide.md"):  # the configured guide, or the file itself beside the config
        run = gw(ws, "compare", "old.html", "new.html", "--guide", guide_ref, "--url", url, "--format", "json",
                 store_url=store_url)
        assert run.returncode == 0, run.stderr
        result = json.loads(run.stdout)
        assert result["profile"] == "govuk"
        assert [(c["kind"], c["severity"], c["old"], c["new"]) for c in result["changes"]] == [
            (c["kind"], c["severity"], c["old"], c["new"]) for c in block_changes]
        assert not [c for c in result["changes"] if c["severity"] != "cosmetic"], result["changes"]


def test_an_unknown_sources_profile_is_a_config_error(tmp_path: Path, store_url: str) -> None:
    a, b = "http://127.0.0.1:9/a", "http://127.0.0.1:9/b"  # never fetched: the config is refused first
    config = (f'store = "{store_url}"\n[[guides]]\npath = "guide.md"\n\n'
              f'[[sources]]\nurl = "{a}"\n\n[[sources]]\nurl = "{b}"\nprofile = "gouvk"\n')
    ws = workspace(tmp_path, f"# Guide\n\n## A\n\n[a]({a})\n", config)
    run = gw(ws, "crawl", store_url=store_url)
    assert run.returncode == 2
    assert (f"guidewatch.toml:{line_of(config, 'gouvk')}: sources[1].profile: unknown profile 'gouvk' "
            "(known: default, govuk, nhsuk)") in run.stderr, run.stderr
    page = str(FIXTURES / "govuk_detailed_guide.html")
    compare = gw(ws, "compare", page, page, "--guide", "guide.md", "--url", b, store_url=store_url)
    assert compare.returncode == 2 and "unknown profile 'gouvk'" in compare.stderr, compare.stderr

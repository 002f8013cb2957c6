"""Citations are checked when guides load (issue 16, item 11): a bad link is one warning naming
file:line and what is wrong, it is never cited, and it never breaks another command."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from guidewatch.sources.guides import load_guide
from httpserver import LocalHTTPServer

GUIDES = Path(__file__).parent / "fixtures" / "guides"

BAD_MD = """\
# Guide

## Regulation

Good: [MHRA](https://www.gov.uk/mhra).
Typo: [MHRA](htps://www.gov.uk/typo).
No host: [empty](https://) and [slashes](https:///path).
Port: https://www.gov.uk:99999/port
Broken IPv6: [local](http://[::1) and http://[zz]/page
Missing slashes: [x](https:www.gov.uk/a) and [y](http;//www.gov.uk/b).
Upper case: [shout](HTTPS://WWW.GOV.UK/Guidance/Loud).
"""
# (line, text that the warning must contain) for every bad link above, in order
BAD_MD_WARNINGS = [
    (6, "htps://www.gov.uk/typo: unknown scheme 'htps' (did you mean https?)"),
    (7, "https://: no host"),
    (7, "https:///path: no host"),
    (8, "https://www.gov.uk:99999/port: port 99999 is out of range"),
    (9, "http://[::1: bad IPv6 address"),
    (9, "http://[zz]/page: bad IPv6 address"),
    (10, "https:www.gov.uk/a: no host"),
    (10, "http;//www.gov.uk/b: unknown scheme"),
]


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "guidewatch.sources.guides" and r.levelno == logging.WARNING]


def test_bad_links_are_warned_once_each_with_file_and_line(tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "guide.md"
    path.write_text(BAD_MD, encoding="utf-8")
    g = load_guide(path)
    assert [c.url for c in g.citations] == ["https://www.gov.uk/mhra", "https://www.gov.uk/Guidance/Loud"]
    got = warnings_of(caplog)
    assert len(got) == len(BAD_MD_WARNINGS), got
    for message, (line, what) in zip(got, BAD_MD_WARNINGS, strict=True):
        assert message.startswith(f"{path}:{line}: "), message
        assert what in message, message
        assert "\n" not in message


def test_warnings_are_not_repeated_when_the_guide_is_read_again(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """The daemon reads its guides at every job: a bad link is reported once per process."""
    path = tmp_path / "guide.md"
    path.write_text("# G\n\n## A\n\n[x](htps://www.gov.uk/a)\n", encoding="utf-8")
    load_guide(path)
    load_guide(path)
    assert len(warnings_of(caplog)) == 1
    path.write_text("# G\n\n## A\n\ntext\n\n[x](htps://www.gov.uk/a)\n", encoding="utf-8")
    load_guide(path)
    assert [m.split(": ")[0] for m in warnings_of(caplog)] == [f"{path}:5", f"{path}:7"]


def test_upper_case_scheme_and_host_are_normalised(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text("# G\n\n## A\n\n<HTTPS://WWW.NHS.UK/Conditions/X/> and HTTP://Example.ORG:8080/P\n",
                    encoding="utf-8")
    assert [c.url for c in load_guide(path).citations] == ["https://www.nhs.uk/Conditions/X/",
                                                           "http://example.org:8080/P"]


def test_international_host_names_are_kept(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Percent-encoding a link's path must not turn its host into `b%C3%BCcher` (not a host)."""
    path = tmp_path / "guide.md"
    path.write_text("# G\n\n## A\n\n[x](https://bücher.example/é) and https://bücher.example/b\n", encoding="utf-8")
    assert [c.url for c in load_guide(path).citations] == ["https://bücher.example/%C3%A9",
                                                           "https://bücher.example/b"]
    assert warnings_of(caplog) == []


def test_bad_links_in_html_and_text_guides(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    html = tmp_path / "guide.html"
    html.write_text('<html><body>\n<h1>G</h1>\n<h2>A</h2>\n<p><a href="https://www.gov.uk/ok">ok</a>\n'
                    '<a href="htps://www.gov.uk/x">typo</a></p>\n<p><a href="http://[::1">v6</a></p>\n'
                    "</body></html>\n", encoding="utf-8")
    txt = tmp_path / "guide.txt"
    txt.write_text("Guide\n\nSome text.\n\nSee https://www.gov.uk:0/zero and https://www.nhs.uk/ok\n",
                   encoding="utf-8")
    assert [c.url for c in load_guide(html).citations] == ["https://www.gov.uk/ok"]
    assert [c.url for c in load_guide(txt).citations] == ["https://www.nhs.uk/ok"]
    got = warnings_of(caplog)
    assert [m.split(": ", 1)[0] for m in got] == [f"{html}:5", f"{html}:6", f"{txt}:5"]
    assert "port 0 is out of range" in got[2]


def test_relative_and_ignored_links(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "guide.md"
    path.write_text("# G\n\n## A\n\n[a](/guides/x) [b](#top) [c](mailto:ed@example.org) [d](tel:+441234)\n"
                    "[e](//www.nhs.uk/p) [f](www.gov.uk/q) [g](ftp://files.example.org/r)\n", encoding="utf-8")
    g = load_guide(path, base_url="https://www.allhealthandcare.co.uk")
    assert [(c.url, c.internal) for c in g.citations] == [
        ("https://www.allhealthandcare.co.uk/guides/x", True), ("https://www.nhs.uk/p", False)]
    got = warnings_of(caplog)
    assert [m.split(": ", 1)[0] for m in got] == [f"{path}:6", f"{path}:6"]
    assert "www.gov.uk/q: no scheme" in got[0]
    assert "ftp://files.example.org/r: unsupported scheme 'ftp'" in got[1]


@pytest.mark.parametrize("ext", ["md", "html", "txt"])
def test_fixture_guides_load_without_warnings(ext: str, caplog: pytest.LogCaptureFixture) -> None:
    load_guide(GUIDES / f"gene-therapy-atmps-uk.{ext}", base_url="https://www.allhealthandcare.co.uk")
    assert warnings_of(caplog) == []


def gw(ws: Path, *args: str, store_url: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("guidewatch", path=str(Path(sys.executable).parent)) or "guidewatch"
    env = dict(os.environ, GUIDEWATCH_STORE=store_url)
    return subprocess.run([exe, *args], cwd=ws, capture_output=True, text=True, timeout=180, env=env)


def test_bad_links_never_break_commands_and_upper_case_is_fetched(http_server: LocalHTTPServer, tmp_path: Path,
                                                                  store_url: str) -> None:
    s = http_server
    s.robots("User-agent: *\nAllow: /\n")
    s.page("/guidance/atmp", "<html><body><main><h1>ATMPs</h1><p>Hospital exemption.</p></main></body></html>")
    loud = s.base_url.replace("http://", "HTTP://") + "/guidance/atmp"
    (tmp_path / "guide.md").write_text(f"# Guide\n\n## Rules\n\nSee [the rules]({loud}).\n"
                                       "Broken: [local](http://[::1) and [typo](htps://www.gov.uk/x).\n",
                                       encoding="utf-8")
    (tmp_path / "guidewatch.toml").write_text(
        '[[guides]]\npath = "guide.md"\n\n[fetch]\nallow_private = true\ndownload_delay = 0.0\n'
        "autothrottle = false\nretries = 0\ntimeout = 5.0\n", encoding="utf-8")
    listed = gw(tmp_path, "guides", "--format", "json", store_url=store_url)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)[0]["sections"][0]["cites"] == [s.url("/guidance/atmp")]
    crawled = gw(tmp_path, "crawl", store_url=store_url)
    assert crawled.returncode == 0, crawled.stderr
    assert crawled.stdout.startswith("1 checked: 1 new, 0 unchanged, 0 changed"), crawled.stdout
    assert s.hits("/guidance/atmp") == 1
    for run in (listed, crawled):
        warned = [ln for ln in run.stderr.splitlines() if "guide.md:" in ln]
        assert len(warned) == 2, run.stderr
        assert "guide.md:6: link http://[::1: bad IPv6 address" in warned[0]
        assert "guide.md:6: link htps://www.gov.uk/x: unknown scheme 'htps'" in warned[1]
    offline = gw(tmp_path, "check", "--offline", store_url=store_url)
    assert offline.returncode in (0, 1), offline.stderr
    assert "Invalid IPv6" not in offline.stderr + offline.stdout

"""No guard can be walked round: robots.txt under concurrency, the private-address guard when
its own lookup fails, guides fetched by URL, redirect targets parsed as the downloader parses
them, and one quiet line per unreachable source.

Everything runs against servers on 127.0.0.0/8. Host names go through a stub resolver
(tests/stubdns, loaded into the child processes only via PYTHONPATH + GW_TEST_STUB_DNS) that
answers every name but localhost itself, so no lookup leaves the machine; addresses outside
loopback are only ever judged (`is_private_address`), never connected to.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from faultserver import Drip, FaultServer, Respond, topic_page, write_workspace
from guidewatch.app.crawl import crawl
from guidewatch.app.workspace import open_workspace
from guidewatch.cli import main
from guidewatch.config import load_config
from guidewatch.pages.snapshots import snapshot_path
from guidewatch.sources.spider import is_private_address

STUB_DIR = Path(__file__).parent / "stubdns"

StubDNS = Callable[[dict[str, list[str]]], Path]


@pytest.fixture
def stub_dns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StubDNS]:
    """Turn the stub resolver on for every child process started from now on; returns a setter
    taking {name: answers} and giving the lookup log's path. Checks that the stub really loads
    before any test name is looked up, so a broken stub never sends a query to a real resolver."""
    spec, log = tmp_path / "stub-dns.json", tmp_path / "stub-dns.log"

    def configure(names: dict[str, list[str]]) -> Path:
        spec.write_text(json.dumps({"names": names, "log": str(log)}), encoding="utf-8")
        probe = subprocess.run([sys.executable, "-c", "import socket; print(socket.gethostbyname('probe.invalid'))"],
                               env={**os.environ}, capture_output=True, text=True, timeout=30)
        assert "stub resolver" in probe.stderr, f"the stub resolver is not active: {probe.stderr[-300:]}"
        log.write_text("", encoding="utf-8")
        return log

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(STUB_DIR), os.environ.get("PYTHONPATH")) if p))
    monkeypatch.setenv("GW_TEST_STUB_DNS", str(spec))
    yield configure


def gw(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed command line, as an operator runs it."""
    exe = shutil.which("guidewatch", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "guidewatch.cli"]
    return subprocess.run([*cmd, *args], cwd=cwd, capture_output=True, text=True, timeout=180)


def _closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- 4: robots.txt holds for every request waiting for it ----------------------------------------

ALLOW_ALL = "User-agent: *\nDisallow:\n"
DISALLOW_PRIVATE = "User-agent: *\nDisallow: /private/\n"


def test_robots_txt_is_obeyed_by_every_request_waiting_for_it(tmp_path: Path, store_url: str) -> None:
    """8 disallowed pages in flight at once while robots.txt is slow: none is requested, each is
    recorded as blocked, and its reviewed snapshot, file and changes stay as they were."""
    with FaultServer() as server:
        server.good("/robots.txt", Respond(body=ALLOW_ALL, content_type="text/plain"))
        server.fault("/robots.txt", Respond(body=DISALLOW_PRIVATE, content_type="text/plain", delay=1.0))
        private = {f"private{i}": server.url(f"/private/p{i}") for i in range(8)}
        public = {f"public{i}": server.url(f"/public/p{i}") for i in range(2)}
        for url in [*private.values(), *public.values()]:
            path = url.removeprefix(server.origin)
            server.good(path, topic_page(path))
            server.fault(path, Respond(body=topic_page(path, extra=" Hospitals must now also register.")))
        fetch = {"obey_robots": True, "concurrency": 8, "per_host": 8, "timeout": 5.0}
        cfg = load_config(write_workspace(tmp_path, private | public, store_url, fetch=fetch))
        ws = open_workspace(cfg)
        try:
            crawl(ws, ws.store.sources.all())  # baseline: robots.txt allows everything
            files = {u: snapshot_path(cfg.snapshots_dir, u).read_text() for u in private.values()}
            before = len(server.requests())
            server.phase = "fault"
            crawl(ws, ws.store.sources.all())
            rows = {u: ws.store.sources.fetch_history(u, limit=1)[0] for u in [*private.values(), *public.values()]}
            changes = {u: ws.store.changes.find(source_url=u) for u in private.values()}
        finally:
            ws.close()
        second = server.requests()[before:]
    fetched = sorted(r.path for r in second if r.path.startswith("/private/"))
    assert fetched == [], f"{len(fetched)} of 8 disallowed pages were fetched: {fetched}"
    assert [r.path for r in second].count("/robots.txt") == 1
    for url in private.values():
        assert rows[url]["status"] == "blocked" and "robots.txt" in rows[url]["error"], rows[url]
        assert changes[url] == [], url
        assert snapshot_path(cfg.snapshots_dir, url).read_text() == files[url]
        assert not snapshot_path(cfg.snapshots_dir, url).with_suffix(".latest.txt").exists()
    for url in public.values():
        assert rows[url]["status"] == "ok", rows[url]


# --- 9: private addresses -------------------------------------------------------------------------


def test_the_guard_fails_closed_when_its_own_lookup_fails(tmp_path: Path, store_url: str, stub_dns: StubDNS) -> None:
    """The guard's lookup fails, the next one answers 127.0.0.1: nothing connects to loopback."""
    log = stub_dns({"rebind.test": ["fail", "127.0.0.1"], "gone.test": ["fail"]})
    with FaultServer() as server:
        server.good("/page", topic_page(1))
        port = server.origin.rsplit(":", 1)[1]
        urls = {"rebind": f"http://rebind.test:{port}/page", "unresolvable": f"http://gone.test:{port}/page"}
        fetch = {"allow_private": False, "obey_robots": False, "retries": 1}
        ws = open_workspace(load_config(write_workspace(tmp_path, urls, store_url, fetch=fetch)))
        try:
            crawl(ws, ws.store.sources.all())
            rows = {name: ws.store.sources.fetch_history(url, limit=1)[0] for name, url in urls.items()}
        finally:
            ws.close()
        assert server.requests() == [], "a loopback address was connected to in production mode"
    lookups = [line for line in log.read_text().splitlines() if line.startswith("rebind.test")]
    assert lookups[:2] == ["rebind.test fail", "rebind.test 127.0.0.1"], lookups
    assert rows["rebind"]["status"] == "blocked" and "private or loopback" in rows["rebind"]["error"], rows
    assert rows["unresolvable"]["status"] == "failed" and rows["unresolvable"]["transient"], rows
    assert "DNS lookup failed for gone.test" in rows["unresolvable"]["error"], rows


@pytest.mark.parametrize("address", [
    "100.64.0.1", "100.100.100.200",  # shared address space (RFC 6598): a cloud metadata address lives here
    "127.0.0.2", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0", "198.18.0.1",
    "240.0.0.1", "255.255.255.255", "224.0.0.1", "::1", "::", "fe80::1", "fc00::1", "ff02::1",
    "::ffff:100.64.0.1", "::ffff:127.0.0.1",  # IPv4-mapped
    "64:ff9b::7f00:1", "64:ff9b::a00:1",  # NAT64 of 127.0.0.1 and 10.0.0.1
    "2002:7f00:1::", "2002:a9fe:a9fe::1",  # 6to4 of 127.0.0.1 and 169.254.169.254
    "::127.0.0.1",  # IPv4-compatible
])
def test_every_non_global_address_is_private(address: str) -> None:
    """The verdict only: nothing here is connected to."""
    assert is_private_address(address)


@pytest.mark.parametrize("address", ["151.101.0.144", "8.8.8.8", "2606:4700::1111", "64:ff9b::9765:90"])
def test_global_addresses_are_not_private(address: str) -> None:
    assert not is_private_address(address)


GUIDE = "# Remote guide\n\n## Licensing\n\nProducts must be licensed ([source](https://www.gov.uk/guidance/x)).\n"


def _remote_guide_config(tmp_path: Path, store_url: str, url: str, allow_private: bool) -> Path:
    extra = f'\n[[guides]]\npath = "{url}"\nslug = "remote"\n'
    return write_workspace(tmp_path, {}, store_url, fetch={"allow_private": allow_private}, extra=extra)


@pytest.mark.parametrize("case", ["loads", "private address", "redirect to another host", "slow drip"])
def test_guides_by_url_are_fetched_through_the_guarded_crawl(case: str, tmp_path: Path, store_url: str) -> None:
    """Same host guard, redirect rule and time limit as a cited source; a refusal is one line, exit 2."""
    with FaultServer() as server:
        port = server.origin.rsplit(":", 1)[1]
        server.good("/guide.md", Respond(body=GUIDE, content_type="text/markdown"))
        server.good("/moved.md", Respond(302, "", headers={"Location": f"http://localhost:{port}/guide.md"}))
        server.good("/slow.md", Drip(GUIDE, interval=0.25, size=8))  # ~3 s in all, every read well within 1.5 s
        path = {"loads": "/guide.md", "private address": "/guide.md", "redirect to another host": "/moved.md",
                "slow drip": "/slow.md"}[case]
        config = _remote_guide_config(tmp_path, store_url, server.url(path), allow_private=case != "private address")
        result = CliRunner().invoke(main, ["--config", str(config), "guides", "--format", "json"])
        requests = server.requests()
    if case == "loads":
        assert result.exit_code == 0, result.output
        assert "licensing" in result.stdout
        assert requests[0].headers["user-agent"].endswith("(+https://example.org/guidewatch-tests)"), requests
        return
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, (result.exit_code, result.output)
    assert lines[0].startswith("guidewatch: error: ") and server.url(path) in lines[0], lines[0]
    expected = {"private address": "private or loopback", "redirect to another host": "not followed",
                "slow drip": "timed out"}[case]
    assert expected in lines[0], lines[0]
    if case == "private address":
        assert requests == []
    if case == "redirect to another host":
        assert [r.path for r in requests if r.path != "/robots.txt"] == ["/moved.md"]


# --- 10: redirect targets are judged as the downloader parses them ----------------------------------


def test_redirect_hosts_are_judged_as_the_downloader_parses_them(
    tmp_path: Path, store_url: str, stub_dns: StubDNS
) -> None:
    """`http://127.0.0.2:Q\\@127.0.0.1:P/moved` is 127.0.0.1 to urlsplit but 127.0.0.2 to the
    downloader (and to a browser); user-info in a redirect target is refused outright."""
    stub_dns({})
    with FaultServer() as cited, FaultServer(host="127.0.0.2") as other:
        p, q = cited.origin.rsplit(":", 1)[1], other.origin.rsplit(":", 1)[1]
        cited.good("/moved", topic_page("moved"))
        other.good(f"/@127.0.0.1:{p}/moved", topic_page("other"))
        targets = {
            "backslash": f"http://127.0.0.2:{q}\\@127.0.0.1:{p}/moved",
            "user-info": f"http://localhost@127.0.0.1:{p}/moved",
            "tab in host": f"http://127.0.0.2:{q}\t\\@127.0.0.1:{p}/moved",
        }
        for name, location in targets.items():
            cited.good(f"/{name.replace(' ', '-')}", Respond(302, "", headers={"Location": location}))
        urls = {name: cited.url(f"/{name.replace(' ', '-')}") for name in targets}
        ws = open_workspace(load_config(write_workspace(tmp_path, urls, store_url)))
        try:
            crawl(ws, ws.store.sources.all())
            rows = {name: ws.store.sources.fetch_history(url, limit=1)[0] for name, url in urls.items()}
        finally:
            ws.close()
        assert other.requests() == [], [r.path for r in other.requests()]
        assert cited.hits("/moved") == 0
    for name, row in rows.items():
        assert row["status"] == "blocked" and "not followed" in row["error"], (name, row)


# --- 12: an unreachable host is one line per source; the trace only with -vv ---------------------------


def test_an_unreachable_host_is_one_line_per_source(tmp_path: Path, store_url: str, stub_dns: StubDNS) -> None:
    stub_dns({"nowhere.test": ["fail"]})
    port = _closed_port()
    urls = {"a": f"http://127.0.0.1:{port}/a", "b": f"http://127.0.0.1:{port}/b", "c": f"http://nowhere.test:{port}/c"}
    write_workspace(tmp_path, urls, store_url, fetch={"retries": 0, "obey_robots": True})
    quiet = gw("crawl", "--all", cwd=tmp_path)
    loud = gw("-vv", "crawl", "--all", cwd=tmp_path)
    # exit 3: the crawl completed but no source could be checked (README "Commands and exit codes")
    assert quiet.returncode == 3 and loud.returncode == 3, (quiet.stderr[-500:], loud.stderr[-500:])
    lines = quiet.stderr.strip().splitlines()
    assert "Traceback" not in quiet.stderr, quiet.stderr
    assert lines[0] == "crawling 3 source(s)..." and len(lines) == 4, quiet.stderr
    for url in urls.values():
        assert sum(url in line for line in lines) == 1, (url, quiet.stderr)
    assert "connection refused" in quiet.stderr and "DNS lookup failed for nowhere.test" in quiet.stderr
    assert "Traceback" in loud.stderr and "robots.txt" in loud.stderr, loud.stderr[-2000:]


def test_a_missing_contact_url_is_one_warning_naming_the_setting(tmp_path: Path, store_url: str) -> None:
    """`check` crawls twice here (a transient failure is tried again): still one warning."""
    port = _closed_port()
    config = write_workspace(tmp_path, {"a": f"http://127.0.0.1:{port}/a"}, store_url, fetch={"retries": 0})
    config.write_text(config.read_text().replace('contact_url = "https://example.org/guidewatch-tests"\n', ""))
    r = gw("check", "--retry-pause", "0s", cwd=tmp_path)
    assert r.returncode == 1, r.stderr[-500:]
    warnings = [line for line in r.stderr.splitlines() if "contact_url" in line]
    assert len(warnings) == 1, r.stderr
    assert "[fetch] contact_url" in warnings[0] and "FetchSettings" not in warnings[0], warnings[0]

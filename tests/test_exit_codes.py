"""Exit codes and error lines of the installed `guidewatch` command, run as a real process.

The table (README "Commands and exit codes", `guidewatch --help`): 0 done; 1 `check` found
stale sources; 2 usage or configuration; 3 the run completed but some sources could not be
checked or some deliveries failed; 4 the store could not be reached; 70 an internal error
(a bug). Pages come from a local HTTP server on 127.0.0.1, e-mail goes to a closed local
port, and the store is the one under test (SQLite, or PostgreSQL with GUIDEWATCH_TEST_STORE).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from httpserver import LocalHTTPServer, Reply

EXE = shutil.which("guidewatch", path=str(Path(sys.executable).parent))
CMD = [EXE] if EXE else [sys.executable, "-m", "guidewatch.cli"]

PAGE = ("<html><head><title>ATMP regulation</title></head><body><main><h1>ATMP regulation</h1>"
        "<h2>Hospital exemption</h2><p>{text}</p></main></body></html>")
V1 = "A hospital may supply an unlicensed ATMP to one patient under the hospital exemption."
V2 = "A hospital must notify the MHRA before it supplies an unlicensed ATMP under the hospital exemption."

GUIDE = """# Gene therapy

## Hospital exemption

A hospital can make an unlicensed ATMP for one patient ([MHRA guidance]({url})).
"""

CONFIG = """store = "sqlite:///not-used.db"

[[guides]]
path = "guide.md"
slug = "gene-therapy"
editors = ["editor@example.org"]

[fetch]
"""
#: [fetch] keys, lines 9 to 13 of the config; the table's extra keys and tables follow from line 14
FETCH = {"allow_private": "true", "download_delay": "0.0", "autothrottle": "false", "retries": "0", "timeout": "5.0"}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once the probe socket is closed


class Workspace:
    """A guide citing one page, its config, and the command run in it."""

    def __init__(self, root: Path, store_url: str, page_url: str) -> None:
        self.root, self.store_url = root, store_url
        (root / "guide.md").write_text(GUIDE.format(url=page_url), encoding="utf-8")
        self.write()

    def write(self, extra: str = "", **fetch: str) -> None:
        """The config; `fetch` replaces [fetch] values in place or adds keys, `extra` follows."""
        keys = "".join(f"{k} = {v}\n" for k, v in (FETCH | fetch).items())
        (self.root / "guidewatch.toml").write_text(CONFIG + keys + extra, encoding="utf-8")

    def gw(self, *args: str, store: str | None = None) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, GUIDEWATCH_STORE=store or self.store_url, PYTHONWARNINGS="ignore")
        return subprocess.run([*CMD, *args], cwd=self.root, env=env, capture_output=True, text=True, timeout=180)


@pytest.fixture
def page(http_server: LocalHTTPServer) -> LocalHTTPServer:
    http_server.robots("User-agent: *\nAllow: /\n")
    http_server.route("/guidance/atmp", Reply(body=PAGE.format(text=V1)))
    return http_server


@pytest.fixture
def ws(tmp_path: Path, store_url: str, page: LocalHTTPServer) -> Workspace:
    return Workspace(tmp_path, store_url, page.url("/guidance/atmp"))


def error_line(r: subprocess.CompletedProcess[str], code: int) -> str:
    """The command exited `code` with exactly one line on stderr and no traceback."""
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


def store_rows(url: str) -> dict[str, list[str]]:
    """Every row of every table, to show a command changed nothing."""
    from sqlalchemy import MetaData, create_engine, select

    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            return {t.name: sorted(map(repr, conn.execute(select(t)))) for t in meta.sorted_tables}
    finally:
        engine.dispose()


def files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# --- 2: bad values that used to pass validation --------------------------------------------

# (what goes into the config, the message the line must hold, the command that reads the config)
BAD_VALUES: list[tuple[dict[str, str], str, list[str]]] = [
    ({"extra": '[check]\nmax_age = "9999999999d"\n'}, ":15: check.max_age: must be between 1s and 3650d", ["check"]),
    ({"extra": '[schedule]\ncrawl = "every 9999999999d"\n'}, ":15: schedule.crawl: bad interval", ["guides"]),
    ({"crawl_timeout": "inf"}, ":14: fetch.crawl_timeout: must be a finite number, got inf", ["crawl", "--all"]),
    ({"extra": "[alerts]\nretry_base = 1e308\n"}, ":15: alerts.retry_base: must be greater than 0",
     ["digest", "--send"]),
    ({"timeout": "nan"}, ":13: fetch.timeout: must be a finite number, got nan", ["crawl", "--all"]),
    ({"extra": '[alerts.webhook]\nurl = "https://hooks.example.org:99999/T0/B0/s3cr3t-path"\n'},
     ":15: alerts.webhook.url: port 99999 is out of range", ["digest", "--send"]),
    ({"extra": '[[guides]]\npath = "/dev/zero"\n'}, ":15: guides[1].path: /dev/zero: cannot read guide: not a regular",
     ["crawl", "--all"]),
    ({"retries": "-1"}, ":12: fetch.retries: must be between 0 and 10, got -1", ["run"]),
    ({"concurrency": "0"}, ":14: fetch.concurrency: must be between 1 and 256, got 0", ["daemon", "--once"]),
    ({"extra": '[alerts.email]\nhost = "127.0.0.1"\nport = 0\n'}, ":16: alerts.email.port: must be between 1",
     ["digest", "--send"]),
    ({"extra": "[alerts]\nmax_attempts = 1000000\n"}, ":15: alerts.max_attempts: must be between 1 and 20",
     ["accept", "--all", "--by", "A. Editor"]),
    ({"extra": "[check]\nunreachable_after = 0\n"}, ":15: check.unreachable_after: must be between 1", ["check"]),
    ({"extra": "[schedule]\nmisfire_grace = -5\n"}, ":15: schedule.misfire_grace: must be between 1", ["daemon"]),
    ({"max_bytes": "1" + "0" * 30}, ":14: fetch.max_bytes: must be between 1 and 1073741824 bytes", ["changes"]),
    ({"download_delay": "-inf"}, ":10: fetch.download_delay: must be a finite number", ["crawl"]),
    ({"extra": "timeout = 1\n"}, ":14: invalid TOML: key 'timeout' in [fetch] is set twice (first on line 13)",
     ["history"]),
]


def test_bad_values_exit_2_with_one_line_naming_file_and_line_and_leave_the_store_alone(ws: Workspace) -> None:
    assert ws.gw("crawl").returncode == 0
    before, snapshots = store_rows(ws.store_url), files(ws.root / "snapshots")
    tracebacks = 0
    for change, needle, command in BAD_VALUES:
        ws.write(**change)
        r = ws.gw(*command)
        tracebacks += "Traceback" in r.stderr
        line = error_line(r, 2)
        assert line.startswith(f"guidewatch: error: {ws.root / 'guidewatch.toml'}:"), line
        assert f"guidewatch.toml{needle}" in line, (needle, line)
        assert "s3cr3t" not in line and r.stdout == "", (line, r.stdout)
    assert tracebacks == 0
    assert store_rows(ws.store_url) == before
    assert files(ws.root / "snapshots") == snapshots


def test_a_missing_guide_names_the_config_line_that_points_to_it(ws: Workspace) -> None:
    ws.write(extra='[[guides]]\nslug = "second"\npath = "guides/second.md"\n')
    line = error_line(ws.gw("guides"), 2)
    assert line == (f"guidewatch: error: {ws.root / 'guidewatch.toml'}:16: guides[1].path: "
                    f"{ws.root / 'guides' / 'second.md'}: cannot read guide: No such file or directory")


# --- 2: usage errors, in the project's style ------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["changes", "--since", "yesterday"], "--since: expected a date (2026-11-01), date-time or duration (7d), "
                                              "got 'yesterday'"),
        (["changes", "--since", "9999999999d"], "--since: expected a date"),
        (["digest", "--format", "yaml"], "Invalid value for '--format': 'yaml' is not one of 'md', 'html', 'text', "
                                         "'json' (see `guidewatch digest --help`)"),
        (["accept", "https://www.gov.uk/x"], "Missing option '--by' (see `guidewatch accept --help`)"),
        (["crawl", "--bogus"], "No such option '--bogus' (see `guidewatch crawl --help`)"),
        (["nonsense"], "No such command 'nonsense' (see `guidewatch --help`)"),
        (["check", "--max-age", "9999999999d"], "--max-age: must be between 1s and 3650d, got '9999999999d'"),
        (["check", "--retry-pause", "36500d"], "--retry-pause: must be between 0s and 1h, got '36500d'"),
        (["--config", "/dev/zero", "guides"], "/dev/zero: cannot read config: not a regular file"),
    ],
)
def test_usage_errors_are_one_line_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    Workspace(tmp_path, f"sqlite:///{tmp_path / 'gw.db'}", "https://www.gov.uk/guidance/atmp")
    r = subprocess.run([*CMD, *args], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    line = error_line(r, 2)
    assert line.startswith("guidewatch: error: ") and needle in line, line
    assert "Usage:" not in r.stderr and "Try '" not in r.stderr


def test_history_of_an_unknown_source_exits_2_like_accept(ws: Workspace, page: LocalHTTPServer) -> None:
    assert ws.gw("crawl").returncode == 0
    unknown = "https://www.gov.uk/not-cited"
    for args in (["accept", unknown, "--by", "A. Editor"], ["history", unknown]):
        assert "not a watched source" in error_line(ws.gw(*args), 2)
    known = ws.gw("history", page.url("/guidance/atmp"))
    assert known.returncode == 0, known.stderr


# --- 3: the run completed, but not everything could be done ---------------------------------


def test_crawl_where_sources_fail_exits_3(ws: Workspace, page: LocalHTTPServer) -> None:
    ok = ws.gw("crawl")
    assert ok.returncode == 0 and ok.stdout.startswith("1 checked: 1 new"), ok.stderr
    dead = f"http://127.0.0.1:{closed_port()}/guidance/gone-away"
    (ws.root / "guide.md").write_text(GUIDE.format(url=page.url("/guidance/atmp")) + f"\nSee [this]({dead}).\n",
                                      encoding="utf-8")
    some = ws.gw("crawl", "--all")
    assert some.returncode == 3, (some.stdout, some.stderr)
    assert some.stdout.startswith("2 checked: 0 new, 1 unchanged, 0 changed, 0 moved, 0 gone, 1 failed")
    assert "gone-away: failed (connection refused" in some.stderr and "Traceback" not in some.stderr
    (ws.root / "guide.md").write_text(GUIDE.format(url=dead), encoding="utf-8")
    every = ws.gw("crawl", "--all", "-q")
    assert every.returncode == 3, (every.stdout, every.stderr)
    assert every.stdout.startswith("1 checked: 0 new, 0 unchanged, 0 changed, 0 moved, 0 gone, 1 failed")
    assert "Traceback" not in every.stderr


def test_digest_send_where_every_delivery_fails_exits_3(ws: Workspace, page: LocalHTTPServer) -> None:
    ws.write(extra=f'[alerts]\nmax_attempts = 2\nretry_base = 0.01\n'
                   f'[alerts.email]\nhost = "127.0.0.1"\nport = {closed_port()}\n')
    assert ws.gw("crawl").returncode == 0
    page.route("/guidance/atmp", Reply(body=PAGE.format(text=V2)))
    assert ws.gw("crawl", "--all").returncode == 0
    written = ws.gw("digest")
    assert written.returncode == 0, written.stderr  # no --send: nothing can fail
    first = ws.gw("digest", "--send")
    assert first.returncode == 3, (first.stdout, first.stderr)
    assert "delivery failed, will retry: email:editor@example.org (attempt 1 of 2" in first.stderr
    second = ws.gw("digest", "--send")  # the retry is due: it fails again and gives up
    assert second.returncode == 3 and "giving up" in second.stderr, second.stderr
    third = ws.gw("digest", "--send")  # nothing attempted, but an open alert was never delivered
    assert third.returncode == 3 and "undelivered: email:editor@example.org" in third.stderr, third.stderr
    assert "Traceback" not in first.stderr + second.stderr + third.stderr


# --- 1, 4, 70 ---------------------------------------------------------------------------------


def test_a_stale_source_fails_check_with_1(ws: Workspace, page: LocalHTTPServer) -> None:
    assert ws.gw("crawl").returncode == 0
    assert ws.gw("check", "--offline").returncode == 0
    page.route("/guidance/atmp", Reply(body=PAGE.format(text=V2)))
    assert ws.gw("crawl", "--all").returncode == 0
    stale = ws.gw("check", "--offline")
    assert stale.returncode == 1 and "Traceback" not in stale.stderr, (stale.stdout, stale.stderr)


def test_an_unreachable_store_exits_4_in_one_line_without_its_password(ws: Workspace) -> None:
    url = f"postgresql://guidewatch:pw-s3cret-42@127.0.0.1:{closed_port()}/guidewatch"
    for args in (["changes"], ["crawl"], ["digest", "--send"], ["check", "--offline"]):
        r = ws.gw(*args, store=url)
        line = error_line(r, 4)
        assert line.startswith("guidewatch: error: could not reach the store postgresql://guidewatch:***@127.0.0.1:")
        assert "Connection refused" in line and "pw-s3cret-42" not in r.stdout + r.stderr, line


def test_an_unreachable_redis_exits_4_without_its_password(tmp_path: Path) -> None:
    Workspace(tmp_path, f"sqlite:///{tmp_path / 'gw.db'}", "https://www.gov.uk/guidance/atmp")
    url = f"redis://:rd-s3cret-7@127.0.0.1:{closed_port()}/7"
    for args in (["worker", "--redis", url], ["crawl", "--distributed", "--redis", url]):
        r = subprocess.run([*CMD, *args], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        line = error_line(r, 4)
        assert "cannot reach Redis" in line and "rd-s3cret-7" not in r.stdout + r.stderr, line


BUGGY = """import sys
import guidewatch.app.workspace

def load_guides(config):
    raise KeyError("the bug")

guidewatch.app.workspace.load_guides = load_guides
from guidewatch.cli import main
main(prog_name="guidewatch")
"""


def test_a_bug_exits_70_with_one_line_and_the_traceback_only_with_v(ws: Workspace) -> None:
    """An unexpected exception (here a KeyError put into the guide loader) is not a usage error."""
    run = [sys.executable, "-c", BUGGY]
    quiet = subprocess.run([*run, "guides"], cwd=ws.root, capture_output=True, text=True, timeout=120)
    assert error_line(quiet, 70) == ("guidewatch: internal error: KeyError: 'the bug' "
                                     "(run with -v for the traceback; please report it)")
    loud = subprocess.run([*run, "-v", "guides"], cwd=ws.root, capture_output=True, text=True, timeout=120)
    assert loud.returncode == 70
    assert "Traceback (most recent call last)" in loud.stderr and ", in load_guides" in loud.stderr
    assert loud.stderr.splitlines()[-1].startswith("guidewatch: internal error: KeyError: 'the bug'")


# --- cron and the daemon log the same outcomes ------------------------------------------------


def test_run_exits_3_and_logs_each_jobs_outcome_in_the_same_terms(ws: Workspace) -> None:
    (ws.root / "guide.md").write_text(GUIDE.format(url=f"http://127.0.0.1:{closed_port()}/gone"), encoding="utf-8")
    r = ws.gw("run")
    assert r.returncode == 3, (r.stdout, r.stderr)
    logged = [json.loads(line) for line in r.stderr.splitlines() if line.startswith("{")]
    done = {e["job"]: e for e in logged if e["event"] == "job-done"}
    assert (done["crawl"]["exit_code"], done["crawl"]["outcome"]) == (3, "incomplete")
    assert (done["digest"]["exit_code"], done["digest"]["outcome"]) == (0, "done")
    (ws.root / "guide.md").unlink()
    broken = ws.gw("run")
    assert broken.returncode == 2
    failed = [json.loads(line) for line in broken.stderr.splitlines() if line.startswith("{")]
    outcomes = {(e["job"], e["exit_code"], e["outcome"]) for e in failed if e["event"] == "job-failed"}
    assert outcomes == {("crawl", 2, "usage"), ("digest", 2, "usage")}


def test_help_states_the_exit_code_table() -> None:
    r = subprocess.run([*CMD, "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    for code, words in ((0, "all done"), (1, "check found stale sources"), (2, "usage or configuration error"),
                        (3, "the run completed, but some sources could not be checked or some deliveries failed"),
                        (4, "could not reach the store"), (70, "internal error")):
        assert f"{code} {words}" in text, (code, r.stdout)

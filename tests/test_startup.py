"""Start-up (issue 20, item 3): a command imports only what it uses, and `guidewatch crawl`
starts its crawl child before anything else.

Each command runs in a fresh interpreter (a subprocess) whose `sys.modules` is read where it
matters: at exit, at the moment the crawl child is started, and at the moment the child is
given its job (through `fetch_sources`'s own `on_sent`). The crawl child's imports are read
with `python -X importtime`. How fast it all is is measured by bench/startup.py, not here.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

import guidewatch.config as config
from guidewatch.children import child_env
from guidewatch.cli.early import crawls_here
from guidewatch.model import FetchRequest
from guidewatch.sources.childproc import CHILD_MODULE
from guidewatch.sources.fetch import FetchSettings, decode_outcome
from httpserver import LocalHTTPServer

#: Never in the command line's own process: Scrapy and Twisted belong to the crawl child.
CRAWLER = {"scrapy", "twisted"}
#: Used by one command each (`serve`, an [alerts.apprise] channel): no other command loads them.
ELSEWHERE = {"flask", "werkzeug", "apprise"}
#: Everything heavy; `--help` needs none of it.
HEAVY = CRAWLER | ELSEWHERE | {"sqlalchemy", "alembic", "bs4", "soupsieve", "lxml", "markdown_it", "jinja2",
                               "pdfminer", "diff_match_patch", "snowballstemmer", "apscheduler"}
#: Not needed to work out a crawl's job (what records and reports outcomes is loaded after it):
#: the page parsers and selector compilers too (Markdown guides, built-in profiles).
NOT_BEFORE_THE_JOB = CRAWLER | ELSEWHERE | {"jinja2", "pdfminer", "diff_match_patch", "snowballstemmer",
                                            "apscheduler", "lxml", "cssselect", "bs4", "soupsieve"}
#: Our modules the job does not need either: the change classifier (its patterns compile on
#: import), the config template, the recording.
NOT_OURS_BEFORE_THE_JOB = {"guidewatch.changes.severity", "guidewatch.changes.cosmetic", "guidewatch.config.docs",
                           "guidewatch.app.recording"}

# Runs `guidewatch ARGS...` as the installed command does (argv[0] "guidewatch"), noting which
# modules are loaded when the crawl child is started, when it gets its job, and at exit.
PROBE = """
import atexit, importlib.util, json, sys
out, args = sys.argv[1], sys.argv[2:]
sys.argv = ["guidewatch", *args]
seen = {"spawned": []}
atexit.register(lambda: json.dump({**seen, "exit": sorted(sys.modules)}, open(out, "w")))

import guidewatch.sources.childproc as childproc

real_spawn = childproc.spawn_child

def spawn_child():
    seen["spawned"].append(sorted(sys.modules))
    return real_spawn()

childproc.spawn_child = spawn_child

def spy_on(fetch):  # fetch_sources, once the command imports it
    real_fetch = fetch.fetch_sources

    def fetch_sources(*a, on_sent=None, **kw):
        def sent():
            seen["job"] = sorted(sys.modules)
            if on_sent:
                on_sent()
        return real_fetch(*a, on_sent=sent, **kw)

    fetch.fetch_sources = fetch_sources

class Spy:
    def find_spec(self, name, path=None, target=None):
        if name != "guidewatch.sources.fetch":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run_module = spec.loader.exec_module
        spec.loader.exec_module = lambda module: (run_module(module), spy_on(module))
        return spec

sys.meta_path.insert(0, Spy())
from guidewatch.cli import main
main(prog_name="guidewatch")
"""


def run(tmp_path: Path, cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, list]]:
    out = tmp_path / "modules.json"
    out.unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, "-c", PROBE, str(out), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=180, env=child_env())
    return proc, json.loads(out.read_text())


def tops(modules: list[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@pytest.fixture
def workspace(http_server: LocalHTTPServer, tmp_path: Path) -> Path:
    """A Markdown guide citing three pages that answer 304 once recorded."""
    http_server.robots("User-agent: *\nAllow: /\n")
    links = []
    for i in range(3):
        http_server.page(f"/page/{i}", f"<html><head><title>Page {i}</title></head><body><main><h1>Page {i}</h1>"
                         f"<p>Applicants must contact the MHRA about item {i}.</p></main></body></html>",
                         etag=f'"v{i}"')
        links.append(f"- [Page {i}]({http_server.url(f'/page/{i}')})")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "guide.md").write_text("# Guide\n\n## Applying\n\nContact the MHRA first.\n\n" + "\n".join(links) + "\n")
    (ws / "guidewatch.toml").write_text(f"""store = "sqlite:///{ws / 'gw.db'}"

[[guides]]
path = "guide.md"
editors = ["ed@example.org"]

[fetch]
allow_private = true
download_delay = 0.0
autothrottle = false
retries = 0
timeout = 5.0
""")
    return ws


@pytest.mark.parametrize("args", [["--help"], ["crawl", "--help"], ["check", "--help"]])
def test_help_imports_nothing_heavy_and_starts_no_crawl(args: list[str], tmp_path: Path) -> None:
    proc, seen = run(tmp_path, tmp_path, *args)
    assert proc.returncode == 0, proc.stderr
    assert "Example" in proc.stdout
    assert tops(seen["exit"]) & HEAVY == set()
    assert seen["spawned"] == []


def test_a_crawl_starts_its_child_first_and_sends_the_job_before_loading_the_recording(
        workspace: Path, tmp_path: Path, http_server: LocalHTTPServer) -> None:
    first, _ = run(tmp_path, workspace, "crawl", "--all", "-q")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("3 checked: 3 new"), first.stdout
    proc, seen = run(tmp_path, workspace, "crawl", "--all", "-q")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("3 checked: 0 new, 3 unchanged"), proc.stdout
    assert [r.headers.get("if-none-match") for r in http_server.requests("/page/0")] == [None, '"v0"']
    assert len(seen["spawned"]) == 1, "one crawl child: the one started first thing is the one used"
    at_spawn = set(seen["spawned"][0])
    assert {"click", "guidewatch.config", "guidewatch.store"} & at_spawn == set()
    assert tops(seen["job"]) & NOT_BEFORE_THE_JOB == set()
    assert NOT_OURS_BEFORE_THE_JOB & set(seen["job"]) == set()
    assert tops(seen["exit"]) & (CRAWLER | ELSEWHERE) == set()
    # no PDF among the pages: pdfminer and the cryptography it loads (~11 MB) stay out
    assert tops(seen["exit"]) & {"pdfminer", "cryptography"} == set()
    # every answer a 304: nothing to normalise or link, so neither is loaded (recorder.parse)
    assert {"guidewatch.pages.normalise", "guidewatch.changes.link"} & set(seen["exit"]) == set()


def test_an_offline_check_loads_no_crawler_and_starts_no_child(workspace: Path, tmp_path: Path) -> None:
    run(tmp_path, workspace, "crawl", "--all", "-q")
    proc, seen = run(tmp_path, workspace, "check", "--offline")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert seen["spawned"] == []
    assert tops(seen["exit"]) & (CRAWLER | ELSEWHERE | {"pdfminer", "apscheduler"}) == set()


def test_the_crawl_child_loads_no_component_its_settings_switch_off(http_server: LocalHTTPServer) -> None:
    http_server.robots("User-agent: *\nAllow: /\n")
    http_server.page("/page", "<html><head><title>Page</title></head><body><main><p>Text.</p></main></body></html>")
    request = FetchRequest(http_server.url("/page"), "default", allowed_hosts=("127.0.0.1",))
    job = {"settings": dataclasses.asdict(FetchSettings(allow_private=True, download_delay=0.0, autothrottle=False)),
           "requests": [dataclasses.asdict(request)]}
    proc = subprocess.Popen([sys.executable, "-X", "importtime", "-m", CHILD_MODULE], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env())
    assert proc.stdin and proc.stdout and proc.stderr
    proc.stdin.write(json.dumps(job).encode() + b"\n")
    proc.stdin.flush()
    outcome = decode_outcome(json.loads(proc.stdout.readline())["outcome"])
    assert proc.wait(timeout=60) == 0
    proc.stdin.close()
    imported = {line.split("|")[-1].strip() for line in proc.stderr.read().decode().splitlines()
                if line.startswith("import time:")}
    proc.stdout.close()
    proc.stderr.close()
    assert outcome.status == "ok" and b"Text." in outcome.body
    # (-X importtime logs `import` statements, not Scrapy's importlib loads of components: what
    # a component's module imports is what shows)
    assert "scrapy.core.downloader.contextfactory" in imported, "the HTTP handler's, so the test reads them"
    # what the components switched off import: the cookies middleware (tldextract, requests,
    # scrapy.http.cookies), remote control (aiohttp), telnet (twisted.conch), feed exports, ftp
    assert tops(imported) & {"tldextract", "requests", "aiohttp"} == set()
    assert {"scrapy.http.cookies", "scrapy.utils._remote_control", "twisted.conch", "scrapy.extensions.postprocessing",
            "scrapy.utils.ftp"} & imported == set()
    assert {m for m in imported if m.startswith(("guidewatch.store", "guidewatch.app", "guidewatch.pages"))} == set()
    # its [fetch] table only (config.fetch): not the loader, the other tables or the template
    assert {"guidewatch.config.load", "guidewatch.config.schema", "guidewatch.config.docs"} & imported == set()


def test_the_config_package_gives_every_name_it_lists() -> None:
    """`guidewatch.config` loads its names on first use (for the crawl child): each one resolves."""
    for name in config.__all__:
        assert getattr(config, name) is not None, name


@pytest.mark.parametrize(("argv", "here"), [
    (["/venv/bin/guidewatch", "crawl"], True),
    (["guidewatch", "-vv", "--config", "x.toml", "crawl", "--all", "-q"], True),
    (["guidewatch", "--config=x.toml", "crawl", "--source", "https://example.org/"], True),
    (["guidewatch", "crawl", "--help"], False),
    (["guidewatch", "crawl", "--distributed", "--redis", "redis://q"], False),
    (["guidewatch", "--config", "crawl", "guides"], False),  # "crawl" is the config file's name here
    (["guidewatch", "check"], False),
    (["guidewatch", "--version"], False),
    (["guidewatch"], False),
    (["/usr/bin/pytest", "crawl"], False),  # only the guidewatch command itself
])
def test_which_command_lines_start_the_crawl_child_early(argv: list[str], here: bool) -> None:
    assert crawls_here(argv) is here

"""Let nothing in: no fetches off the allowed hosts, no active content in digests, no secrets
in output, and bad input files give one clear line.

Network tests use only 127.0.0.1 and names that resolve to it (localhost); the hosts a
redirect points at are refused before anything connects, which is what the tests prove.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from bs4 import BeautifulSoup

from faultserver import FaultServer, Request, Respond, topic_page, write_workspace
from guidewatch.app.crawl import crawl
from guidewatch.app.workspace import open_workspace
from guidewatch.config import load_config

# --- fetching: only the allowed hosts, never private addresses in production ------------------


def test_production_mode_fetches_no_private_or_loopback_address(tmp_path: Path, store_url: str) -> None:
    """[fetch] allow_private = false (the default): not even robots.txt is requested."""
    with FaultServer() as server:
        server.good("/page", topic_page(1))
        port = server.origin.rsplit(":", 1)[1]
        hosts = ["127.0.0.1", "localhost", "127.0.0.2", "0.0.0.0", "[::1]", "[::ffff:127.0.0.1]"]
        urls = {h: f"http://{h}:{port}/page" for h in hosts}
        cfg = load_config(write_workspace(tmp_path, urls, store_url, fetch={"allow_private": False}))
        ws = open_workspace(cfg)
        try:
            summary = crawl(ws, ws.store.sources.all())
            rows = {url: ws.store.sources.fetch_history(url, limit=1)[0] for url in urls.values()}
        finally:
            ws.close()
        assert server.requests() == [], "a private address was contacted in production mode"
    assert summary.counts["failed"] == len(urls)
    for url, row in rows.items():
        assert row["status"] == "blocked", (url, row)
        assert "private or loopback" in row["error"], (url, row["error"])


def test_redirects_off_the_allowed_hosts_are_not_followed(tmp_path: Path, store_url: str) -> None:
    """Tests opt in to loopback (allow_private); a redirect may still only go to the cited host."""
    with FaultServer() as server:
        port = server.origin.rsplit(":", 1)[1]
        server.good("/secret", "<html><body><main><h1>Internal</h1><p>secret</p></main></body></html>")
        server.good("/moved", topic_page("moved"))
        targets = {
            "to-localhost": f"http://localhost:{port}/secret",
            "to-other-loopback": f"http://127.0.0.2:{port}/secret",
            "to-userinfo-trick": f"http://127.0.0.1@localhost:{port}/secret",
            "to-scheme-relative": f"//localhost:{port}/secret",
            "to-ipv6-loopback": f"http://[::1]:{port}/secret",
            "to-file": "file:///etc/passwd",
            "to-ftp": "ftp://127.0.0.1/secret",
            "to-javascript": "javascript:alert(1)",
            "to-same-host": "/moved",  # the control: allowed, followed
        }
        for name, location in targets.items():
            server.good(f"/{name}", Respond(302, "", headers={"Location": location}))
        refresh = f'<meta http-equiv="refresh" content="0; url=http://localhost:{port}/secret">'
        server.good("/meta-refresh", topic_page("refresh").replace("<title>", refresh + "<title>"))
        urls = {name: server.url(f"/{name}") for name in [*targets, "meta-refresh"]}
        ws = open_workspace(load_config(write_workspace(tmp_path, urls, store_url)))
        try:
            crawl(ws, ws.store.sources.all())
            rows = {name: ws.store.sources.fetch_history(url, limit=1)[0] for name, url in urls.items()}
            moved = ws.store.sources.get(urls["to-same-host"])
        finally:
            ws.close()
        assert server.hits("/secret") == 0, [r.headers.get("host") for r in server.requests("/secret")]
        assert server.hits("/moved") == 1
    for name, row in rows.items():
        if name in ("to-same-host", "meta-refresh"):
            assert row["status"] == "ok", (name, row)
        else:
            assert row["status"] == "blocked", (name, row)
            assert "not followed" in row["error"], (name, row["error"])
    assert moved is not None and moved.final_url and moved.final_url.endswith("/moved")


# --- digests: page text is data, never markup; secrets never leave the environment -----------

HOSTILE = """<p>New rule: &lt;script&gt;alert("xss-text")&lt;/script&gt; hospitals must notify the regulator
<a href="javascript:alert('href')">here</a> <img src=x onerror="alert('img')"> [click](javascript:alert('md'))
&lt;img src=x onerror=alert('escaped-img')&gt; <!channel> @here ![pixel](http://127.0.0.1:9/p.gif)</p>
<script>alert('script-tag')</script><style>body{display:none}</style><iframe src="http://127.0.0.1:9/"></iframe>"""
PASSWORD = "pw-Secret-93f1c7e0"
TOKEN = "tok-Secret-5e2d88a4"
HOOK_PATH = "/hook/path-Secret-77aa01"  # a Slack webhook URL's path is itself the secret
SECRETS = (PASSWORD, TOKEN, HOOK_PATH.rsplit("/", 1)[1])


class _Smtp:
    """aiosmtpd handler + authenticator: refuses logins (echoing the password) until `accept`."""

    def __init__(self) -> None:
        self.accept = False
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd hook name
        self.messages.append(envelope.content)
        return "250 OK"

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        if self.accept and data.password == PASSWORD.encode():
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False,
                          message=f"535 5.7.8 bad credentials {data.password.decode(errors='replace')}")


@pytest.fixture
def smtp() -> Iterator[tuple[_Smtp, int]]:
    handler = _Smtp()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(handler, hostname="127.0.0.1", port=port, authenticator=handler,
                            auth_require_tls=False)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def gw(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed command line, as an operator runs it."""
    exe = shutil.which("guidewatch", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "guidewatch.cli"]
    return subprocess.run([*cmd, *args], cwd=cwd, capture_output=True, text=True, timeout=180,
                          env={**os.environ, **(env or {})})


def _leaks(text: str | bytes) -> list[str]:
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    forms = {f for s in SECRETS for f in (s, base64.b64encode(s.encode()).decode(),
                                          base64.b64encode(f"\0guidewatch\0{s}".encode()).decode())}
    return [f for f in forms if f.encode() in data]


def _active_content(html: str) -> list[str]:
    """Script, event handlers, javascript: URLs or embedded objects anywhere in an HTML document."""
    soup = BeautifulSoup(html, "lxml")
    found = [f"<{t.name}>" for t in soup.find_all(["script", "iframe", "object", "embed", "img", "form", "base"])]
    for tag in soup.find_all(True):
        for attr, value in tag.attrs.items():
            values = value if isinstance(value, list) else [value]
            if attr.lower().startswith("on"):
                found.append(f"{tag.name}[{attr}]")
            if any(re.sub(r"[\s\x00-\x1f]", "", str(v)).lower().startswith(("javascript:", "data:", "vbscript:"))
                   for v in values):
                found.append(f"{tag.name}[{attr}={values[0]!r}]")
    return found


def test_hostile_page_text_is_inert_in_every_digest_and_secrets_never_leak(
    tmp_path: Path, store_url: str, smtp: tuple[_Smtp, int]
) -> None:
    handler, smtp_port = smtp
    env = {"GW_TEST_SMTP_PASSWORD": PASSWORD, "GW_TEST_WEBHOOK_TOKEN": TOKEN}
    with FaultServer() as server:
        hook_ok = [False]

        def hook(req: Request) -> Respond:  # refuses the first delivery, echoing what it was sent
            if hook_ok[0]:
                return Respond(200, "ok", content_type="text/plain")
            return Respond(500, f"denied: {req.headers.get('authorization')} {req.path}", content_type="text/plain")

        server.good(HOOK_PATH, hook)
        server.good("/guidance", topic_page("X"))
        server.fault("/guidance", Respond(body=topic_page("X", extra=HOSTILE).replace(
            "<h1>Topic X", "<h1>Topic X &lt;!channel&gt; &lt;script&gt;alert('h1')&lt;/script&gt;")))
        extra = f"""
[alerts]
formats = ["md", "html", "text", "json"]
retry_base = 0.01

[alerts.email]
host = "127.0.0.1"
port = {smtp_port}
sender = "guidewatch@example.org"
username = "guidewatch"
password_env = "GW_TEST_SMTP_PASSWORD"

[alerts.webhook]
url = "{server.url(HOOK_PATH)}"
style = "slack"
token_env = "GW_TEST_WEBHOOK_TOKEN"
"""
        ws = open_workspace(load_config(write_workspace(tmp_path, {"guidance": server.url("/guidance")}, store_url,
                                                        extra=extra)))
        try:
            crawl(ws, ws.store.sources.all())  # the baseline
        finally:
            ws.close()
        server.phase = "fault"
        runs = [gw("-vv", "crawl", "--all", cwd=tmp_path, env=env),
                gw("-vv", "digest", "--send", cwd=tmp_path, env=env)]  # both deliveries refused
        handler.accept, hook_ok[0] = True, True
        runs.append(gw("-vv", "digest", "--send", cwd=tmp_path, env=env))  # retried and delivered
        hooks = [r.body for r in server.requests(HOOK_PATH)]
    codes = [r.returncode for r in runs]
    # the refused deliveries make the second run exit 3 (completed, deliveries failed)
    assert codes == [0, 3, 0], [(r.args[1:], r.returncode, r.stderr[-400:]) for r in runs]
    assert "535" in runs[1].stderr and "500" in runs[1].stderr, runs[1].stderr  # the refusals were reported
    assert len(handler.messages) == 1 and len(hooks) == 2, (len(handler.messages), len(hooks))

    # secrets: not in any output, file, message, webhook body, or the store
    outputs = {f"run {i} {' '.join(map(str, r.args[1:]))} (out)": r.stdout for i, r in enumerate(runs)}
    outputs |= {f"run {i} {' '.join(map(str, r.args[1:]))} (err)": r.stderr for i, r in enumerate(runs)}
    files = [p for d in ("alerts", "snapshots") for p in (tmp_path / d).rglob("*") if p.is_file()]
    files += [p for p in tmp_path.glob("guidewatch.db*")]  # SQLite and its WAL: nothing persisted
    leaks = {name: _leaks(text) for name, text in outputs.items()}
    leaks |= {str(p): _leaks(p.read_bytes()) for p in files}
    leaks |= {f"smtp message {i}": _leaks(m) for i, m in enumerate(handler.messages)}
    leaks |= {f"webhook body {i}": _leaks(b) for i, b in enumerate(hooks)}
    ws = open_workspace(load_config(tmp_path / "guidewatch.toml"), sync=False)
    try:
        errors = [d.last_error or "" for d in ws.store.outbox.find()]
    finally:
        ws.close()
    leaks |= {f"delivery error {i}": _leaks(e) for i, e in enumerate(errors)}
    assert not {k: v for k, v in leaks.items() if v}, "secrets leaked"

    # hostile page text: shown (so editors see it), never active
    html_files = sorted((tmp_path / "alerts").glob("*.html"))
    md_files = sorted((tmp_path / "alerts").glob("*.md"))
    assert html_files and md_files
    mail = message_from_bytes(handler.messages[0], policy=policy.default)
    mail_html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for name, doc in [*((p.name, p.read_text()) for p in html_files), ("e-mail html part", mail_html)]:
        assert _active_content(doc) == [], name
        assert 'alert("xss-text")' in BeautifulSoup(doc, "lxml").get_text(), f"{name}: the change is not shown"
    for p in md_files:
        md = p.read_text()
        assert 'alert\\(\\"xss-text\\"\\)' in md or 'alert\\("xss-text"\\)' in md or "xss-text" in md
        assert not re.search(r"(?<!\\)<\s*(script|img|iframe)", md), p.name
        assert not re.search(r"(?<!\\)\]\((?:javascript|data):", md), p.name
    slack = hooks[-1].decode()  # the page title (with its <!channel>) is in the Slack message, escaped
    assert "<!channel>" not in slack and "<script" not in slack and "&lt;!channel&gt;" in slack, slack


# --- bad input files: one clear line, exit 2, never a traceback --------------------------------

GUIDE_OK = "# Guide\n\n## Section\n\nText [source](https://www.gov.uk/guidance/x).\n"
BAD_INPUTS: dict[str, tuple[dict[str, bytes | str], str]] = {
    # name: (files to write, text the one-line message must contain); guidewatch.toml is the config
    "config wrong type": ({"guidewatch.toml": "store = 42\n"}, "store: expected a string"),
    "config wrong nested type": ({"guidewatch.toml": '[fetch]\nconcurrency = "eight"\n'}, "fetch.concurrency"),
    "config negative number": ({"guidewatch.toml": "[fetch]\ntimeout = -1\n"}, "fetch.timeout"),
    "config list of the wrong things": ({"guidewatch.toml": "[[guides]]\npath = 'g.md'\neditors = [1, 2]\n",
                                         "g.md": GUIDE_OK}, "editors"),
    "config unknown key": ({"guidewatch.toml": 'stroe = "sqlite:///x.db"\n'}, "stroe: unknown key"),
    "config unknown nested key": ({"guidewatch.toml": "[fetch]\ntimeuot = 3\n"}, "fetch.timeuot: unknown key"),
    "config binary": ({"guidewatch.toml": bytes(range(256)) * 8}, "binary"),
    "config not UTF-8": ({"guidewatch.toml": b'store = "caf\xe9"\n'}, "not valid UTF-8"),
    "config enormous": ({"guidewatch.toml": "# padding\n" * 200_000}, "larger than"),
    "config invalid TOML": ({"guidewatch.toml": "[fetch\nretries = 1\n"}, "invalid TOML"),
    "config nested too deeply": ({"guidewatch.toml": "x = " + "[" * 5000 + "]" * 5000 + "\n"}, "nested too deeply"),
    "config with a secret in it": ({"guidewatch.toml": '[alerts.email]\nhost = "h"\npassword = "hunter2-Secret"\n'},
                                   "secrets do not belong in the file"),
    "guide missing": ({"guidewatch.toml": "[[guides]]\npath = 'nope.md'\n"}, "cannot read guide"),
    "guide binary": ({"guidewatch.toml": "[[guides]]\npath = 'g.md'\n", "g.md": b"\x89PNG\r\n\x1a\n\x00\x00"},
                     "binary"),
    "guide not UTF-8": ({"guidewatch.toml": "[[guides]]\npath = 'g.md'\n", "g.md": b"# Caf\xe9\n"},
                        "not valid UTF-8"),
    "guide enormous": ({"guidewatch.toml": "[[guides]]\npath = 'g.md'\n", "g.md": "word " * 1_100_000},
                       "larger than"),
    "guide unsupported format": ({"guidewatch.toml": "[[guides]]\npath = 'g.pdf'\n", "g.pdf": "%PDF-1.7"},
                                 "unsupported guide format"),
    "guide HTML nested too deeply": ({"guidewatch.toml": "[[guides]]\npath = 'g.html'\n",
                                      "g.html": "<div>" * 20000 + "<a href='https://x.org/'>x</a>"},
                                     "nested too deeply"),
    "profile unknown key": ({"guidewatch.toml": "profiles_dir = 'p'\n", "p/site.toml": 'name = "site"\nmian = []\n'},
                            "mian"),
    "profile binary": ({"guidewatch.toml": "profiles_dir = 'p'\n", "p/site.toml": b"\xff\xfe\x00\x01" * 100},
                       "site.toml"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_files_give_one_clear_line(case: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from guidewatch.cli import main

    files, expected = BAD_INPUTS[case]
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    command = "changes" if case.startswith("profile") else "guides"
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "guidewatch.toml"), command])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert len(lines) == 1 and lines[0].startswith("guidewatch: error: "), result.stderr
    assert expected in lines[0], lines[0]
    named = {"config": "guidewatch.toml", "profile": "site.toml"}.get(case.split()[0]) or \
        ("nope.md" if case == "guide missing" else "/g.")
    assert named in lines[0], f"the message does not name the file: {lines[0]}"
    assert "Traceback" not in result.output and "hunter2" not in result.output


def test_bad_config_from_the_installed_command_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "guidewatch.toml").write_bytes(b"\x00\x01binary\x02" * 100)
    r = gw("crawl", cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "guidewatch.toml" in r.stderr and "binary" in r.stderr, r.stderr

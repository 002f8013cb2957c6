"""`guidewatch demo`: the whole pipeline, end to end, on bundled example pages.

A local HTTP server on 127.0.0.1 plays www.gov.uk and www.nhs.uk (one port each) from
`demo_data/site/v1`, then `v2`. The bundled ATMP guide is copied into a workspace unchanged, and `[fetch.mirror]`
maps its real origins to that server: nothing leaves the machine, yet the digest and the
alerts name the real www.gov.uk and www.nhs.uk addresses.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from guidewatch.exitcodes import UsageProblem
from guidewatch.shorten import shorten

DEMO_MARKER = ".guidewatch-demo"
GUIDE_NAME = "gene-therapy-atmps-uk.md"
HOSTS = {"www.gov.uk": "govuk", "www.nhs.uk": "nhsuk"}


def demo_data() -> Path:
    return Path(str(resources.files("guidewatch") / "demo_data"))


class SiteServer:
    """Serves one host's pages from `site/<version>/<host>/`, with ETags and redirects."""

    def __init__(self, site: Path, host: str) -> None:
        self.site, self.host, self.version = site, host, "v1"
        self.hits = 0
        handler = self._handler()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=f"demo-{host}", daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> SiteServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def redirects(self) -> dict[str, str]:
        path = self.site / self.version / "redirects.json"
        if not path.exists():
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
        table = data.get(self.host, data) if isinstance(data, dict) else {}
        return {k: v for k, v in table.items() if isinstance(v, str) and k.startswith("/")}

    def resolve(self, path: str) -> Path | None:
        root = (self.site / self.version / self.host).resolve()
        rel = path.split("?")[0].strip("/")
        for candidate in (root / rel / "index.html", root / rel, root / (rel + ".json")):
            c = candidate.resolve()
            if c.is_file() and root in c.parents:
                return c
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "guidewatch-demo"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def do_GET(self) -> None:  # noqa: N802
                server.hits += 1
                path = urlparse(self.path).path
                if path == "/robots.txt":
                    return self._send(200, b"User-agent: *\nAllow: /\n", "text/plain")
                target = server.redirects().get(path) or server.redirects().get(path.rstrip("/") + "/")
                if target:
                    self.send_response(301)
                    self.send_header("Location", target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                file = server.resolve(path)
                if file is None:
                    body = (b"<html><head><title>Page not found</title></head>"
                            b"<body><h1>Page not found</h1></body></html>")
                    return self._send(404, body, "text/html; charset=utf-8")
                data = file.read_bytes()
                etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return None
                ctype = "application/json" if file.suffix == ".json" else "text/html; charset=utf-8"
                return self._send(200, data, ctype, etag)

            def _send(self, status: int, body: bytes, ctype: str, etag: str | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Date", formatdate(usegmt=True))
                if etag:
                    self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

        return Handler


def _prepare(directory: Path | None) -> Path:
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="guidewatch-demo-"))
    directory = directory.resolve()
    if directory.exists() and any(directory.iterdir()):
        if not (directory / DEMO_MARKER).exists():
            raise UsageProblem(f"{directory}: not empty and not a previous demo workspace; choose another --dir")
        for child in directory.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _write_workspace(root: Path, servers: dict[str, SiteServer]) -> None:
    (root / DEMO_MARKER).write_text("made by `guidewatch demo`; safe to delete\n", encoding="utf-8")
    guide = (demo_data() / "guides" / GUIDE_NAME).read_text(encoding="utf-8")
    (root / "guides").mkdir()
    (root / "guides" / GUIDE_NAME).write_text(guide, encoding="utf-8")
    from guidewatch.sources.guides import parse_guide

    cited = parse_guide(guide, slug="demo", fmt="md").external_citations
    sources = "".join(
        f'[[sources]]\nurl = "{c.url}"\nprofile = "{HOSTS[host]}"\n\n'
        for c in cited for host in servers if c.url.startswith(f"https://{host}/"))
    mirror = "".join(f'"https://{host}" = "{srv.origin}"\n' for host, srv in servers.items())
    config = f"""\
# Demo workspace written by `guidewatch demo`. The guide cites the real pages; [fetch.mirror]
# fetches them from the demo's local copies of {", ".join(HOSTS)} on 127.0.0.1.
store = "sqlite:///guidewatch.db"

[[guides]]
path = "guides/{GUIDE_NAME}"
slug = "gene-therapy-atmps-uk"
editors = ["editor@example.org"]
base_url = "https://www.example.org"

[fetch]
user_agent = "guidewatch-demo/0.1"
contact_url = "https://www.example.org/contact"
download_delay = 0.0
autothrottle = false
timeout = 10.0
retries = 1
allow_private = true
crawl_timeout = 120.0

[fetch.mirror]
{mirror}
[alerts]
formats = ["md", "html", "json"]

{sources}"""
    (root / "guidewatch.toml").write_text(config, encoding="utf-8")


def run_demo(directory: Path | None = None, *, keep: bool = True, echo: Callable[[str], None] = print) -> int:
    from guidewatch.app.check import evaluate
    from guidewatch.app.crawl import crawl
    from guidewatch.app.digest import run_digest
    from guidewatch.app.workspace import open_workspace
    from guidewatch.config import load_config

    site = demo_data() / "site"
    root = _prepare(directory)
    servers = {host: SiteServer(site, host).start() for host in HOSTS}
    try:
        _write_workspace(root, servers)
        config = load_config(root / "guidewatch.toml")
        ws = open_workspace(config)
        try:
            sources = ws.store.sources.all()
            echo(f"demo workspace: {root}")
            for h, srv in servers.items():
                echo(f"serving example https://{h} pages at {srv.origin} ([fetch.mirror])")
            echo(f"\n1. baseline crawl of {len(sources)} cited sources")
            s1 = crawl(ws, sources, progress=lambda o, v: echo(f"   {o.url}: {v}"))
            echo(f"   {s1.headline()}")

            for srv in servers.values():
                srv.version = "v2"
            echo("\n2. the pages change (MHRA guidance edited, cookie banners and NHS review dates updated, "
                 "NHS page moved)")
            s2 = crawl(ws, ws.store.sources.all(), progress=lambda o, v: echo(f"   {o.url}: {v}"))
            echo(f"   {s2.headline()}")

            run = run_digest(ws.store, config, ws.guides)
            echo("\n3. what the editors must re-read")
            _print_summary(ws, run, echo)
            report = evaluate(ws, max_age=config.check.max_age, offline=True)
            echo(f"\n`guidewatch check` now fails (exit 1): {len(report.stale)} of {len(report.sources)} cited "
                 "sources are stale (changed since their last review, or moved).")
            gw = own_command()
            echo("Next, see what changed (runnable as printed):")
            echo(f"   cd {shlex.quote(str(root))} && {gw} changes --open")
            echo(f"then, once the guide is right, `{gw} accept URL --by 'Your Name'` for a changed page; "
                 "for a moved page, update the guide's link to the new address.")
        finally:
            ws.close()
    finally:
        for srv in servers.values():
            srv.stop()
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0


def own_command() -> str:
    """How to run guidewatch again, as this process was run: `guidewatch` is not on PATH after
    the README's venv install, so name the script itself (or `python -m guidewatch.cli`)."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "guidewatch" and script.is_file():
        return shlex.quote(str(script.absolute()))  # the hint starts with a cd: a relative path would break
    return f"{shlex.quote(sys.executable)} -m guidewatch.cli"


def _print_summary(ws: Any, run: Any, echo: Callable[[str], None]) -> None:
    items = run.digest.items
    if not items:
        echo("   nothing to review")
    by_change: dict[int, list[Any]] = {}
    for it in items:
        by_change.setdefault(it.alert_id, []).append(it)
    for group in by_change.values():
        c = group[0].change
        where = " > ".join(c.source_section) or "whole page"
        echo(f"   {c.severity.upper()} {c.kind} — {group[0].source_title or group[0].source_url}: {where}")
        echo(f"     why: {c.reason}")
        for it in sorted(group, key=lambda i: -i.impact.score):
            ev = "; ".join(it.impact.evidence[:2])
            echo(f"     re-read: {it.section_heading} (#{it.section_id}, score {it.impact.score:.2f})"
                 + (f" — {shorten(ev, 140)}" if ev else ""))
    echo("\ndigest written to:")
    for p in run.files:
        echo(f"   {p}")

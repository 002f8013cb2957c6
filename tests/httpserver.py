"""A small, configurable HTTP server on 127.0.0.1 for tests that need real HTTP.

Every test that fetches something talks to this server instead of the internet. It runs
in a background thread on a free port, and each test sets the routes it needs::

    server = LocalHTTPServer().start()
    server.route("/page", Reply(body="<h1>Hello</h1>", etag='"v1"'))
    server.route("/flaky", Reply(status=503), Reply(body="ok"))   # 503 once, then 200
    server.redirect("/old", "/page")                               # 301 -> /page
    server.route("/echo", lambda req: Reply(body=req.headers.get("user-agent", "")))
    server.route("/reset", Reply(body="x" * 1000, drop_after=10))  # hangs up mid-body
    url = server.url("/page")
    ...
    assert server.hits("/page") == 1
    assert server.requests("/page")[0].headers["if-none-match"] == '"v1"'
    server.close()

Replies given to `route` are served in order, the last one repeating. A reply can also be
a callable taking the `RecordedRequest` and returning a `Reply`. Unknown paths (including
`/robots.txt`, unless routed) get a plain 404. Conditional requests are answered the way
a real server would: a reply with `etag` returns 304 to a matching `If-None-Match`, and a
reply with `last_modified` returns 304 to an `If-Modified-Since` at or after it.

The pytest fixture `http_server` (tests/conftest.py) gives each test a fresh server.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["LocalHTTPServer", "RecordedRequest", "Reply"]


@dataclass
class Reply:
    """One canned response."""

    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "text/html; charset=utf-8"
    delay: float = 0.0  # seconds to wait before sending anything (simulates a slow server)
    etag: str | None = None  # sent as ETag; a matching If-None-Match gets 304
    last_modified: str | None = None  # sent as Last-Modified; If-Modified-Since >= it gets 304
    location: str | None = None  # sent as Location (use with a 3xx status)
    chunked: bool = False  # send without Content-Length, as Transfer-Encoding: chunked
    drop_after: int | None = None  # close the connection after this many body bytes (a reset)

    @property
    def body_bytes(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


@dataclass(frozen=True)
class RecordedRequest:
    """What the server received; header names are lower-cased."""

    method: str
    path: str  # as sent, including any query string
    headers: dict[str, str]
    at: float  # time.monotonic() when received


Responder = Reply | Callable[[RecordedRequest], Reply]


class _Route:
    def __init__(self, responders: list[Responder]):
        self.responders = responders
        self.served = 0

    def next(self) -> Responder:
        responder = self.responders[min(self.served, len(self.responders) - 1)]
        self.served += 1
        return responder


class LocalHTTPServer:
    """Threaded HTTP/1.1 server on 127.0.0.1 with per-test routes and request records."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._lock = threading.Lock()
        self._routes: dict[str, _Route] = {}
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> LocalHTTPServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="test-http", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving; wakes any reply still sleeping in its delay."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> LocalHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- configuration ------------------------------------------------------------------

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def route(self, path: str, *responders: Responder) -> None:
        """Serve `responders` in order at `path` (exact match, query included); the last repeats."""
        if not responders:
            raise ValueError("route() needs at least one Reply or callable")
        with self._lock:
            self._routes[path] = _Route(list(responders))

    def page(self, path: str, html: str, **reply: Any) -> None:
        """Shorthand for a 200 HTML page."""
        self.route(path, Reply(body=html, **reply))

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        """`path` answers `status` with Location `to` (relative or absolute)."""
        self.route(path, Reply(status=status, location=to, body=b""))

    def robots(self, text: str) -> None:
        self.route("/robots.txt", Reply(body=text, content_type="text/plain"))

    # --- inspection ---------------------------------------------------------------------

    def requests(self, path: str | None = None) -> list[RecordedRequest]:
        """Requests received (for `path`, if given), oldest first."""
        with self._lock:
            return [r for r in self._requests if path is None or r.path == path]

    def hits(self, path: str) -> int:
        return len(self.requests(path))

    def reset(self) -> None:
        """Forget routes and recorded requests."""
        with self._lock:
            self._routes.clear()
            self._requests.clear()

    # --- used by the handler ------------------------------------------------------------

    def _respond_to(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            route = self._routes.get(request.path) or self._routes.get(request.path.split("?", 1)[0])
            responder = route.next() if route else None
        if responder is None:
            return Reply(status=404, body="Not Found", content_type="text/plain")
        return responder(request) if callable(responder) else responder


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: LocalHTTPServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-response (timeouts, size caps) are expected in tests."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Keep test output quiet."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._serve(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(send_body=False)

    def _serve(self, *, send_body: bool) -> None:
        owner = self.server.owner
        recorded = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            at=time.monotonic(),
        )
        reply = owner._respond_to(recorded)
        if reply.delay and owner._stopping.wait(reply.delay):
            self.close_connection = True
            return
        if _not_modified(reply, recorded.headers):
            self._send_head(304, reply, length=None, chunked=False)
            return
        body = reply.body_bytes
        self._send_head(
            reply.status, reply, length=None if reply.chunked else len(body), chunked=reply.chunked
        )
        if not send_body:
            return
        if reply.drop_after is not None:
            self.wfile.write(body[: reply.drop_after])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if reply.chunked:
            for i in range(0, len(body), 4096):
                chunk = body[i : i + 4096]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(body)

    def _send_head(self, status: int, reply: Reply, *, length: int | None, chunked: bool) -> None:
        self.send_response(status)
        if reply.content_type and status != 304:
            self.send_header("Content-Type", reply.content_type)
        if reply.etag:
            self.send_header("ETag", reply.etag)
        if reply.last_modified:
            self.send_header("Last-Modified", reply.last_modified)
        if reply.location:
            self.send_header("Location", reply.location)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif status != 304:
            self.send_header("Content-Length", str(length or 0))
        self.end_headers()


def _not_modified(reply: Reply, headers: dict[str, str]) -> bool:
    """RFC 9110 order: If-None-Match decides when present, else If-Modified-Since."""
    if reply.status != 200:
        return False
    inm = headers.get("if-none-match")
    if inm is not None:
        tags = [t.strip() for t in inm.split(",")]
        return reply.etag is not None and ("*" in tags or reply.etag in tags)
    ims = headers.get("if-modified-since")
    if ims and reply.last_modified:
        try:
            return parsedate_to_datetime(ims) >= parsedate_to_datetime(reply.last_modified)
        except (TypeError, ValueError):
            return False
    return False

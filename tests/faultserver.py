"""A fault-injecting HTTP server on 127.0.0.1 for the reliability tests.

Unlike tests/httpserver.py (well-behaved HTTP with canned replies), this server speaks
HTTP/1.1 by hand on raw sockets, so it can misbehave the way real servers and networks
do: hang, reset the connection (TCP RST), close without answering, announce a longer body
than it sends, stop a chunked body half-way, drip a body a byte at a time, send a status
line that is not HTTP, and so on.

Every path has a *good* answer and, optionally, a *fault*; `phase` picks which is served,
so one server (one port, many paths) plays a whole site that breaks and recovers::

    server = FaultServer().start()
    server.good("/a", html_page)                    # served in every phase without a fault
    server.fault("/a", Hang(10))                    # served while phase == "fault"
    server.phase = "fault"
    ...
    server.hits("/a"); server.requests("/a")[0].headers
    server.close()

A fault can be a sequence (served in order, the last one repeating per phase), e.g.
`[Respond(429, headers={"Retry-After": "1"}), Respond(200, body)]`. Each connection
carries one exchange (`Connection: close`), which keeps the faults independent.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Close", "CloseDelimited", "Drip", "FaultServer", "Garbage", "Hang", "Request", "Reset", "Respond", "Truncated",
    "TruncatedChunked", "guide_markdown", "topic_page", "write_workspace",
]


@dataclass(frozen=True)
class Request:
    """What the server received; header names lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    at: float  # time.monotonic()
    body: bytes = b""  # for POST (webhook deliveries)


@dataclass(frozen=True)
class Respond:
    """A complete, well-formed response (the baseline behaviour, and the HTTP error faults)."""

    status: int = 200
    body: bytes | str = b""
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # before the status line

    @property
    def data(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


@dataclass(frozen=True)
class Hang:
    """Read the request, then say nothing for `seconds` (a timeout), then close."""

    seconds: float = 30.0


@dataclass(frozen=True)
class Reset:
    """Read the request, then reset the connection (TCP RST) after `after` bytes of a 200."""

    after: int = 0  # 0: before any byte of the response
    body: bytes | str = b""


@dataclass(frozen=True)
class Close:
    """Read the request, then close cleanly without a single byte of response."""


@dataclass(frozen=True)
class Truncated:
    """Content-Length announces the whole body, only `fraction` of it is sent, then close."""

    body: bytes | str
    fraction: float = 0.5
    announce: int | None = None  # the Content-Length sent, when not the body's own length


@dataclass(frozen=True)
class CloseDelimited:
    """A 200 with neither Content-Length nor chunking (the body ends where the connection closes),
    cut after `fraction` of it: only a body that carries its own end (gzip) can show it is short."""

    body: bytes | str
    fraction: float = 0.5
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TruncatedChunked:
    """Chunked body that stops after `fraction` of it, without the terminating 0-chunk."""

    body: bytes | str
    fraction: float = 0.5


@dataclass(frozen=True)
class Drip:
    """Headers at once, then the body `size` bytes every `interval` seconds (a slow drip)."""

    body: bytes | str
    interval: float = 0.2
    size: int = 16


@dataclass(frozen=True)
class Garbage:
    """Raw bytes that are not an HTTP response at all, then close."""

    data: bytes = b"SSH-2.0-OpenSSH_9.6\r\n"


Action = Respond | Hang | Reset | Close | Truncated | TruncatedChunked | CloseDelimited | Drip | Garbage
Responder = Action | Callable[[Request], Action]

REASONS = {200: "OK", 206: "Partial Content", 301: "Moved Permanently", 302: "Found", 304: "Not Modified",
           404: "Not Found", 410: "Gone", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}


def _bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


class _Script:
    """Responders for one path and phase, served in order; the last one repeats."""

    def __init__(self, responders: Sequence[Responder]):
        self.responders, self.served = list(responders), 0

    def next(self) -> Responder:
        r = self.responders[min(self.served, len(self.responders) - 1)]
        self.served += 1
        return r


class FaultServer:
    """Threaded raw-socket HTTP server; see the module docstring."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.phase = "baseline"
        self._good: dict[str, _Script] = {}
        self._faults: dict[tuple[str, str], _Script] = {}
        self._log: list[Request] = []
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._srv = _TCPServer((host, 0), _Handler)
        self._srv.owner = self
        self._thread = threading.Thread(target=self._srv.serve_forever, name="faultserver", daemon=True)

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.stopping.set()  # wakes hanging and dripping handlers
        self._srv.shutdown()
        self._srv.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def origin(self) -> str:
        host, port = self._srv.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.origin + path

    # --- configuration --------------------------------------------------------------------

    def good(self, path: str, *responders: Responder | str) -> None:
        """The normal answer at `path` (a str is a 200 HTML page)."""
        items = [Respond(body=r) if isinstance(r, str) else r for r in responders]
        with self._lock:
            self._good[path] = _Script(items)

    def fault(self, path: str, *responders: Responder, phase: str = "fault") -> None:
        """What `path` answers while `self.phase == phase`."""
        with self._lock:
            self._faults[(phase, path)] = _Script(list(responders))

    def requests(self, path: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self._log if path is None or r.path == path]

    def hits(self, path: str) -> int:
        return len(self.requests(path))

    def _choose(self, req: Request) -> Action:
        with self._lock:
            self._log.append(req)
            script = self._faults.get((self.phase, req.path)) or self._good.get(req.path)
            chosen = script.next() if script else None
        if chosen is None:
            return Respond(404, "Not Found", content_type="text/plain")
        return chosen(req) if callable(chosen) else chosen


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    request_queue_size = 256  # the default backlog (5) drops SYNs when a crawl opens 30+ connections at once
    owner: FaultServer

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that give up (timeouts, size caps) are the point of these tests."""


class _Handler(socketserver.StreamRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        req = self._read_request()
        if req is None:
            return
        owner = self.server.owner
        action = owner._choose(req)
        getattr(self, "_do_" + type(action).__name__.lower())(action)

    def _read_request(self) -> Request | None:
        line = self.rfile.readline(65537).decode("latin-1").strip()
        if not line:
            return None
        method, path, *_ = line.split(" ") + ["", ""]
        headers: dict[str, str] = {}
        while True:
            raw = self.rfile.readline(65537).decode("latin-1")
            if raw in ("\r\n", "\n", ""):
                break
            name, _, value = raw.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        body = self.rfile.read(min(length, 10 * 1024 * 1024)) if length > 0 else b""
        return Request(method, path, headers, time.monotonic(), body)

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the server is closing; True when it is closing."""
        return self.server.owner.stopping.wait(seconds)

    def _head(self, status: int, content_type: str | None, headers: dict[str, str],
              length: int | None) -> bytes:
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", "Connection: close"]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        if length is not None:
            lines.append(f"Content-Length: {length}")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    def _rst(self) -> None:
        """Close with SO_LINGER 0: the kernel sends RST instead of FIN."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    # --- actions --------------------------------------------------------------------------

    def _do_respond(self, a: Respond) -> None:
        if a.delay and self._wait(a.delay):
            return
        self._send(self._head(a.status, a.content_type, a.headers, len(a.data)) + a.data)

    def _do_hang(self, a: Hang) -> None:
        self._wait(a.seconds)

    def _do_reset(self, a: Reset) -> None:
        if a.after:
            body = _bytes(a.body)
            self._send(self._head(200, "text/html; charset=utf-8", {}, len(body)) + body[: a.after])
        self._rst()

    def _do_close(self, a: Close) -> None:
        self.connection.shutdown(socket.SHUT_RDWR)

    def _do_truncated(self, a: Truncated) -> None:
        body = _bytes(a.body)
        length = len(body) if a.announce is None else a.announce
        self._send(self._head(200, "text/html; charset=utf-8", {}, length) + body[: int(len(body) * a.fraction)])
        self.connection.shutdown(socket.SHUT_RDWR)

    def _do_closedelimited(self, a: CloseDelimited) -> None:
        body = _bytes(a.body)
        self._send(self._head(200, "text/html; charset=utf-8", a.headers, None) + body[: int(len(body) * a.fraction)])
        self.connection.shutdown(socket.SHUT_RDWR)

    def _do_truncatedchunked(self, a: TruncatedChunked) -> None:
        body = _bytes(a.body)[: int(len(_bytes(a.body)) * a.fraction)]
        head = self._head(200, "text/html; charset=utf-8", {"Transfer-Encoding": "chunked"}, None)
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 512]), body[i:i + 512])
                          for i in range(0, len(body), 512))
        self._send(head + chunks)
        self.connection.shutdown(socket.SHUT_RDWR)

    def _do_drip(self, a: Drip) -> None:
        body = _bytes(a.body)
        self._send(self._head(200, "text/html; charset=utf-8", {}, len(body)))
        for i in range(0, len(body), a.size):
            if self._wait(a.interval):
                return
            try:
                self._send(body[i:i + a.size])
            except OSError:  # the client gave up: that is the expected end
                return

    def _do_garbage(self, a: Garbage) -> None:
        self._send(a.data)
        self.connection.shutdown(socket.SHUT_RDWR)


# --- workspaces for the reliability tests ---------------------------------------------------


def topic_page(n: int | str, extra: str = "", paragraphs: int = 0) -> str:
    """A plain page (default profile) with two sections the guide's text shares words with."""
    filler = "".join(f"<p>Background paragraph {i} about licensing product {n}.</p>" for i in range(paragraphs))
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Topic {n} - Example Health</title>
</head><body><header><a href="/">Example Health</a></header><main><h1>Topic {n}</h1>
<h2>Licensing of product {n}</h2><p>Gene therapy product {n} must be licensed by the regulator before use.</p>
<h2>Hospital exemption for product {n}</h2><p>Hospitals may supply product {n} under the hospital exemption
after notifying the regulator.{extra}</p><ul><li>First condition for {n}</li><li>Second condition for {n}</li></ul>
{filler}</main><footer>Example Health footer</footer></body></html>"""


def guide_markdown(urls: dict[str, str]) -> str:
    """One section per source; each cites its URL and shares wording with the page."""
    lines = ["# Reliability test guide", "", "Text before the first section.", ""]
    for name, url in urls.items():
        lines += [f"## About {name}", "",
                  f"Gene therapy product {name} must be licensed; the hospital exemption applies "
                  f"([source]({url})).", ""]
    return "\n".join(lines)


def write_workspace(root: Path, urls: dict[str, str], store_url: str, *, fetch: dict[str, object] | None = None,
                    extra: str = "", editors: Sequence[str] = ("editor@example.org",),
                    unreachable_after: int = 2) -> Path:
    """guidewatch.toml + guide.md citing `urls`; fetch settings fit for 127.0.0.1. Returns the config path."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "guide.md").write_text(guide_markdown(urls), encoding="utf-8")
    settings: dict[str, object] = {
        "allow_private": True, "download_delay": 0.0, "autothrottle": False, "retries": 1, "timeout": 1.5,
        "max_bytes": 1024 * 1024, "concurrency": 64, "per_host": 64, "crawl_timeout": 120.0,
        "contact_url": "https://example.org/guidewatch-tests", **(fetch or {}),
    }
    fetch_toml = "\n".join(f"{k} = {_toml(v)}" for k, v in settings.items())
    config = f"""store = {_toml(store_url)}
snapshots_dir = "snapshots"
alerts_dir = "alerts"

[[guides]]
path = "guide.md"
slug = "reliability"
editors = {_toml(list(editors))}

[fetch]
{fetch_toml}

[check]
unreachable_after = {unreachable_after}
{extra}"""
    path = root / "guidewatch.toml"
    path.write_text(config, encoding="utf-8")
    return path


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)

"""Serving the review app on a local port (behind a reverse proxy for https), with a request
log that never holds a sign-in token."""

from __future__ import annotations

import re
import socket
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from guidewatch.app.workspace import Workspace

_TOKEN_PATH = re.compile(r"(/sign-in/)[^\s?/\"]+")


def redact(line: str) -> str:
    """A request log line without the sign-in token in its path: logs hold no secret."""
    return _TOKEN_PATH.sub(r"\1***", line)


def _request_handler() -> Any:
    from werkzeug.serving import WSGIRequestHandler

    class Handler(WSGIRequestHandler):
        def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's signature
            super().log(type, redact(message % args if args else message).replace("%", "%%"))

    return Handler


def listen(host: str, port: int) -> socket.socket:
    """Bind first, so a taken port is one line and exit 2 (werkzeug would print three, exit 1)."""
    return socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)


def serve_forever(ws: Workspace, sock: socket.socket, host: str, port: int, base_url: str) -> None:
    """Run the app on the bound socket until Ctrl+C."""
    from werkzeug.serving import make_server

    from guidewatch.web.app import create_app

    with sock:
        server = make_server(host, port, create_app(ws, base_url=base_url), threaded=True,
                             request_handler=_request_handler(), fd=sock.fileno())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

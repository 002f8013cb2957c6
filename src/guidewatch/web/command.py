"""`guidewatch serve`: the review app on a local port (behind a reverse proxy for https)."""

from __future__ import annotations

import re
from typing import Any

import click

from guidewatch.exitcodes import USAGE

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


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="Port to listen on.")
@click.option("--print-login", "print_login", metavar="EMAIL",
              help="Print a one-time sign-in link for this editor or operator, then exit.")
@click.pass_obj
def serve(ctx: object, host: str, port: int, print_login: str | None) -> None:
    """Run the editors' review app: sign-in by e-mailed link, the review queue, audit trail."""
    from guidewatch.cli import _failure
    from guidewatch.web.app import create_app
    from guidewatch.web.auth import login_link

    try:
        ws = ctx.workspace()  # type: ignore[attr-defined]
    except Exception as exc:  # a bad config or guide: one line, as every command says it
        raise _failure(exc) from None
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    try:
        if print_login:
            link = login_link(ws, print_login, ws.config.serve.public_url or base)
            if link is None:
                click.echo(f"guidewatch: error: {print_login}: not an editor of any guide, nor in [serve] "
                           "operators", err=True)
                raise SystemExit(USAGE)
            click.echo(link)
            return
        import socket

        from werkzeug.serving import make_server

        try:  # bound here, so a taken port is one line and exit 2 (werkzeug would print three, exit 1)
            sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
        except OSError as exc:
            click.echo(f"guidewatch: error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
            raise SystemExit(USAGE) from None
        with sock:
            server = make_server(host, port, create_app(ws, base_url=base), threaded=True,
                                 request_handler=_request_handler(), fd=sock.fileno())
        click.echo(f"guidewatch review app on {ws.config.serve.public_url or base} (Ctrl+C stops it)", err=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    finally:
        ws.close()

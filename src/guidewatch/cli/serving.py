"""The review app's command: `guidewatch serve` (Flask is imported only when it runs)."""

from __future__ import annotations

import click

from guidewatch.cli.base import Ctx, UserError, pass_ctx, user_errors


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="Port to listen on.")
@click.option("--print-login", "print_login", metavar="EMAIL",
              help="Print a one-time sign-in link for this editor or operator, then exit.")
@pass_ctx
@user_errors
def serve(ctx: Ctx, host: str, port: int, print_login: str | None) -> None:
    """Run the editors' review app: sign-in by e-mailed link, the review queue, audit trail.

    \b
    Example:
      guidewatch serve --port 8080 --print-login lead@example.org
    """
    from guidewatch.web.auth import login_link
    from guidewatch.web.server import listen, serve_forever

    ws = ctx.workspace()
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    try:
        if print_login:
            link = login_link(ws, print_login, ws.config.serve.public_url or base)
            if link is None:
                raise UserError(f"{print_login}: not an editor of any guide, nor in [serve] operators")
            click.echo(link)
            return
        try:
            sock = listen(host, port)
        except OSError as exc:
            raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        click.echo(f"guidewatch review app on {ws.config.serve.public_url or base} (Ctrl+C stops it)", err=True)
        serve_forever(ws, sock, host, port, base)
    finally:
        ws.close()


COMMANDS = [serve]

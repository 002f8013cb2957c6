"""Looking closely at one source: how a crawl reads it now (`test`), the versions recorded
(`versions`), and the difference between any two of them (`diff`)."""

from __future__ import annotations

import json

import click

from guidewatch import exitcodes as ec
from guidewatch.cli.base import Ctx, UserError, echo_lines, pass_ctx, user_errors

FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)


@click.command("test")
@click.argument("url")
@click.option("--ignore", "ignore", multiple=True, metavar="RULE",
              help="An ignore rule to try (css:<selector> or a regex; repeatable) instead of the configured ones.")
@FORMAT
@pass_ctx
@user_errors
def test_url(ctx: Ctx, url: str, ignore: tuple[str, ...], fmt: str) -> None:
    """Fetch one page now, as a crawl would, and show how it is read: the profile, the text
    that is diffed (under its headings), the page's own dates, and what each ignore rule
    removes. Nothing is stored: the quickest way to write a profile or an ignore rule.

    \b
    Example:
      guidewatch test https://www.gov.uk/guidance/x --ignore "css:.gem-c-related-navigation"
    """
    from guidewatch.app.probe import ProbeFailed, probe, probe_json, probe_text

    try:
        result = probe(ctx.config, url, ignore=ignore or None)
    except ProbeFailed as exc:
        raise UserError(str(exc), ec.INCOMPLETE) from None
    if fmt == "json":
        click.echo(json.dumps(probe_json(result), indent=2))
    else:
        echo_lines(probe_text(result))


@click.command()
@click.argument("url")
@FORMAT
@pass_ctx
@user_errors
def versions(ctx: Ctx, url: str, fmt: str) -> None:
    """List every recorded version of a source: when, its content hash, what kind of change
    it was (baseline, changed, cosmetic only, metadata only), and which is reviewed and current.

    \b
    Example:
      guidewatch versions https://www.gov.uk/guidance/x --format json
    """
    from guidewatch.app.versions import history, versions_json, versions_text

    ws = ctx.workspace(sync=False)
    try:
        h = history(ws.store, url)
    finally:
        ws.close()
    if fmt == "json":
        click.echo(json.dumps(versions_json(h), indent=2))
    else:
        echo_lines(versions_text(h))


@click.command()
@click.argument("url")
@click.option("--from", "old", metavar="V", help="Version: number, hash prefix, reviewed or current [reviewed].")
@click.option("--to", "new", metavar="V", help="Version: number, hash prefix, reviewed or current [current].")
@FORMAT
@pass_ctx
@user_errors
def diff(ctx: Ctx, url: str, old: str | None, new: str | None, fmt: str) -> None:
    """Show the difference between two recorded versions of a source (default: the reviewed
    one to the current one), change by change with a word diff, as the digest shows it.

    \b
    Example:
      guidewatch diff https://www.gov.uk/guidance/x --from 1 --to current
    """
    from guidewatch.app.versions import diff_json, diff_text, diff_versions

    ws = ctx.workspace(sync=False)
    try:
        d = diff_versions(ws.store, url, old=old, new=new)
    finally:
        ws.close()
    if fmt == "json":
        click.echo(json.dumps(diff_json(d), indent=2))
    else:
        echo_lines(diff_text(d))


COMMANDS = [test_url, versions, diff]

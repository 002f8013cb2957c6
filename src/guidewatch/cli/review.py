"""What editors do with changes: see them, get the digest, accept a review, read the audit
trail, mark an impact not relevant."""

from __future__ import annotations

import sys

import click

from guidewatch import exitcodes as ec
from guidewatch.cli.base import (
    Ctx,
    UserError,
    echo_json,
    echo_lines,
    format_option,
    parse_since,
    pass_ctx,
    user_errors,
)


@click.command()
@click.option("--since", help="Only changes detected since this date (2026-11-01) or duration (7d).")
@format_option()
@click.option("--source", "source", metavar="URL", help="Only this source's changes.")
@click.option("--all", "show_all", is_flag=True, help="Include cosmetic changes.")
@click.option("--open", "still_open", is_flag=True, help="Only changes still to review (an alert open: not accepted).")
@pass_ctx
@user_errors
def changes(ctx: Ctx, since: str | None, fmt: str, source: str | None, show_all: bool, still_open: bool) -> None:
    """Show detected changes and the guide sections they affect.

    \b
    Example:
      guidewatch changes --open --since 7d --format json
    """
    from guidewatch.app.views import change_json, changes_text, open_changes, recorded_changes

    ws = ctx.workspace(sync=False)
    try:
        recs = recorded_changes(ws.store, since=parse_since(since), source=source, cosmetic=show_all)
        if still_open:
            recs = open_changes(ws.store, recs, source)
    finally:
        ws.close()
    if fmt == "json":
        echo_json([change_json(r) for r in recs])
    else:
        echo_lines(changes_text(recs, since=since))


@click.command()
@click.option("--since", help="Only alerts opened since this date (2026-11-01) or duration (7d).")
@format_option("md", "html", "text", "json", default=None, multiple=True,
               help="Formats to write (repeatable; default: [alerts] formats in the config).")
@click.option("--send", is_flag=True, help="Also deliver: e-mail to editors, the webhook, apprise URLs.")
@click.option("--retry-dead", is_flag=True, help="With --send: try deliveries that gave up (dead) again.")
@click.option("--stdout", "to_stdout", is_flag=True, help="Print the digest (first format) as well.")
@click.option("--write-empty", is_flag=True, help="Write the digest files even when nothing is open.")
@pass_ctx
@user_errors
def digest(ctx: Ctx, since: str | None, fmt: tuple[str, ...], send: bool, retry_dead: bool, to_stdout: bool,
           write_empty: bool) -> None:
    """Build the editors' digest of open alerts into alerts/ and, with --send, deliver it.

    \b
    Example:
      guidewatch digest --since 7d --format md --format html --send
    """
    from guidewatch.app.digest import render_digest, run_digest

    if retry_dead and not send:
        raise UserError("--retry-dead only makes sense with --send")
    ws = ctx.workspace()
    try:
        run = run_digest(ws.store, ws.config, ws.guides, since=parse_since(since), formats=fmt or None, send=send,
                         retry_dead_first=retry_dead, write_empty=write_empty)
    finally:
        ws.close()
    out, err = run.report()
    echo_lines(out)
    echo_lines(err, err=True)
    if to_stdout:
        click.echo(render_digest(run.digest, (fmt or ws.config.alerts.formats)[0]))
    if run.send and (run.failed or run.dead or run.undelivered):
        sys.exit(ec.INCOMPLETE)  # a delivery failed now, or gave up with its alerts still open


@click.command()
@click.argument("source_url", required=False)
@click.option("--all", "all_sources", is_flag=True, help="Accept every source awaiting review.")
@click.option("--by", "by", required=True, help="Who reviewed it (recorded in the audit trail).")
@click.option("--note", help="What was checked or changed in the guide.")
@format_option()
@pass_ctx
@user_errors
def accept(ctx: Ctx, source_url: str | None, all_sources: bool, by: str, note: str | None, fmt: str) -> None:
    """Record that the guide was reviewed against a source's current version.

    \b
    Example:
      guidewatch accept https://www.gov.uk/guidance/x --by "A. Editor" --note "updated the FAQ"
    """
    from guidewatch.app.actions import accept_reviews

    if bool(source_url) == bool(all_sources):
        raise UserError("give a SOURCE_URL or --all (one of the two)")
    if not by.strip():
        raise UserError("--by must name the reviewer")
    ws = ctx.workspace()
    try:
        done = accept_reviews(ws, source_url, all_sources=all_sources, by=by, note=note)
    finally:
        ws.close()
    echo_lines(done.refused, err=True)
    if fmt == "json":
        from guidewatch.app.views import review_json

        echo_json({"accepted": [review_json(r) | {"baseline": b} for r, b in done.reviews],
                   "refused": list(done.refused)})
    else:
        echo_lines(done.lines)


@click.command()
@click.argument("source_url", required=False)
@format_option()
@pass_ctx
@user_errors
def history(ctx: Ctx, source_url: str | None, fmt: str) -> None:
    """Show the review audit trail: who reviewed which version of which source, and when.

    \b
    Example:
      guidewatch history https://www.gov.uk/guidance/x
    """
    from guidewatch.app.views import history_json, history_text

    ws = ctx.workspace(sync=False)
    try:
        if fmt == "json":
            return echo_json(history_json(ws.store, source_url))
        lines = history_text(ws.store, source_url)
    finally:
        ws.close()
    echo_lines(lines)


@click.command()
@click.argument("change_id", metavar="CHANGE")
@click.option("--section", required=True, metavar="[GUIDE#]SECTION", help="The guide section the change was linked to.")
@click.option("--by", "by", required=True, help="Who marked it (recorded in the audit trail).")
@click.option("--note", help="Why the section is not relevant.")
@pass_ctx
@user_errors
def dismiss(ctx: Ctx, change_id: str, section: str, by: str, note: str | None) -> None:
    """Mark an impact "not relevant": later changes to that source passage do not flag the section
    again, unless they are about something the section asserts or meet another of its sentences than
    the one in the evidence you judged. CHANGE is an id from `changes` (c12).

    \b
    Example:
      guidewatch dismiss c12 --section atmp#costs --by "A. Editor" --note "about fees, not care"
    """
    from guidewatch.app.actions import dismiss_impact
    from guidewatch.app.views import dismissal_text

    ws = ctx.workspace(sync=False)
    try:
        mark = dismiss_impact(ws, change_id, section, by=by, note=note)
    finally:
        ws.close()
    click.echo(dismissal_text(mark))


COMMANDS = [changes, digest, accept, history, dismiss]

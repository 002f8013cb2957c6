"""Fetching the cited sources: crawl now, crawl workers, one cycle for cron, the daemon."""

from __future__ import annotations

import sys
from typing import Any

import click

from guidewatch.cli.base import Ctx, UserError, echo_json, exit_if_failed, format_option, pass_ctx, user_errors


@click.command()
@click.option("--all", "all_sources", is_flag=True, help="Crawl every source now, not only those due.")
@click.option("--source", "source", metavar="URL", help="Crawl just this source.")
@click.option("--quiet", "-q", is_flag=True, help="Only the summary line.")
@click.option("--distributed", is_flag=True, help="Queue the sources on Redis for `guidewatch worker`s instead.")
@click.option("--redis", "redis_url", metavar="URL", envvar="GUIDEWATCH_REDIS_URL",
              help="Redis for --distributed (env GUIDEWATCH_REDIS_URL).")
@click.option("--queue", "queue_name", default="guidewatch", show_default=True, help="Queue name (Redis key prefix).")
@click.option("--wait", is_flag=True, help="With --distributed: wait until the workers have recorded every source.")
@format_option()
@pass_ctx
@user_errors
def crawl(ctx: Ctx, all_sources: bool, source: str | None, quiet: bool, distributed: bool, redis_url: str | None,
          queue_name: str, wait: bool, fmt: str) -> None:
    """Fetch due (or all) cited sources now, detect changes and open alerts.

    \b
    Example:
      guidewatch crawl --source https://www.gov.uk/guidance/advanced-therapy-medicinal-products
    """
    from guidewatch.app.actions import crawl_now
    from guidewatch.cli import early
    from guidewatch.sources.childproc import discard_child, spawn_child

    if all_sources and source:
        raise UserError("--all and --source cannot be used together")
    if distributed or wait:
        from guidewatch.app.distributed import push_command

        if not (distributed and redis_url):
            raise UserError("--distributed needs --redis URL (or GUIDEWATCH_REDIS_URL); --wait needs --distributed")
        if fmt == "json":
            raise UserError("--format json reports a crawl made here; with --distributed, use `worker --format json`")
        return push_command(ctx.workspace(), redis_url, queue_name, all_sources=all_sources, source=source,
                            wait=wait, echo=click.echo)
    child = early.take() or spawn_child()  # Scrapy's import overlaps opening the workspace
    try:
        ws = ctx.workspace()
        for change in ws.guide_changes:  # guides a publisher's sitemap added or dropped since the last run
            click.echo(change.line())
        try:
            summary = crawl_now(ws, child, all_sources=all_sources, source=source,
                                say=None if quiet else lambda line: click.echo(line, err=True))
        finally:
            ws.close()
    finally:
        discard_child(child)
    if fmt == "json":
        from guidewatch.app.views import summary_json

        echo_json(summary_json(summary))
    elif summary is None:
        click.echo("no sources are due (use --all to crawl every source now)")
    else:
        click.echo(summary.headline())
    exit_if_failed(summary.counts["failed"] if summary else 0)


@click.command()
@click.option("--redis", "redis_url", metavar="URL", envvar="GUIDEWATCH_REDIS_URL", required=True,
              help="Redis holding the shared queue, e.g. redis://queue.internal:6379/0 (env GUIDEWATCH_REDIS_URL).")
@click.option("--queue", "queue_name", default="guidewatch", show_default=True, help="Queue name (Redis key prefix).")
@click.option("--idle-exit", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Exit once the queue has been empty this many seconds (0: run until stopped).")
@click.option("--quiet", "-q", is_flag=True, help="Only the summary line.")
@format_option()
@pass_ctx
@user_errors
def worker(ctx: Ctx, redis_url: str, queue_name: str, idle_exit: float, quiet: bool, fmt: str) -> None:
    """Crawl worker: fetch sources queued by `crawl --distributed`, record them in the shared store.

    \b
    Example:
      guidewatch worker --redis redis://queue.internal:6379/0 --idle-exit 60
    """
    from guidewatch.app.distributed import run_worker

    def progress(outcome: Any, verdict: str) -> None:
        click.echo(f"{outcome.url}: {verdict}", err=True)

    summary = run_worker(ctx.config, redis_url, queue_name, idle_exit=idle_exit, progress=None if quiet else progress)
    if fmt == "json":
        from guidewatch.app.views import summary_json

        echo_json(summary_json(summary))
    else:
        click.echo(summary.headline())
    exit_if_failed(summary.counts["failed"])


@click.command("run")
@format_option()
@pass_ctx
@user_errors
def run_once(ctx: Ctx, fmt: str) -> None:
    """One full cycle for cron: crawl due sources, detect, link, alert, deliver.

    \b
    Example (crontab):
      0 6 * * *  cd /srv/guides && guidewatch run
    """
    from guidewatch.app.daemon import run_cycle

    result, code = run_cycle(ctx.config)
    if fmt == "json":
        from guidewatch.app.views import cycle_json

        echo_json(cycle_json(result, code))
    else:
        click.echo(result)
    sys.exit(code)


@click.command()
@click.option("--once", is_flag=True, help="Run one crawl and one digest, then exit.")
@pass_ctx
@user_errors
def daemon(ctx: Ctx, once: bool) -> None:
    """Run crawls and digests on their cron schedules (APScheduler) until stopped.

    \b
    Example:
      guidewatch --config /srv/guides/guidewatch.toml daemon
    """
    from guidewatch.app.daemon import run_daemon

    sys.exit(run_daemon(ctx.config, once=once))


COMMANDS = [crawl, worker, run_once, daemon]

"""The CI gate: `guidewatch check`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from guidewatch.cli.base import (
    EXIT_OK,
    EXIT_STALE,
    Ctx,
    format_option,
    parse_duration_option,
    pass_ctx,
    user_errors,
)
from guidewatch.config import CheckConfig, Range

RETRY_PAUSE = Range(0, 3600, unit="duration")  # check --retry-pause


@click.command()
@click.option("--max-age", default=None, help="Stale when not checked successfully for this long (30d).")
@click.option("--offline", is_flag=True, help="Use what is stored; fetch nothing.")
@format_option("text", "json", "junit", "github",
               help="text for people, json for scripts, junit XML, github: annotations for GitHub Actions.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Write the report here too.")
@click.option("--junit", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write a JUnit XML report here (one test case per cited source).")
@click.option("--retry-pause", default="10s", show_default=True,
              help="Wait before fetching a transiently failed source again (up to [check] unreachable_after tries).")
@pass_ctx
@user_errors
def check(ctx: Ctx, max_age: str | None, offline: bool, fmt: str, output: Path | None, junit: Path | None,
          retry_pause: str) -> None:
    """CI gate: exit 1 when a cited source is stale (changed since review, gone, moved, ...).

    \b
    Example:
      guidewatch check --format github --junit guidewatch-junit.xml
    """
    from guidewatch.app.check import run_check
    from guidewatch.app.check_report import write_reports

    max_age_bounds = CheckConfig.__dataclass_fields__["max_age"].metadata["range"]
    age = parse_duration_option("--max-age", max_age, max_age_bounds) if max_age else ctx.config.check.max_age
    pause = parse_duration_option("--retry-pause", retry_pause, RETRY_PAUSE)
    ws = ctx.workspace()
    try:
        report = run_check(ws, max_age=age, offline=offline, retry_pause=pause,
                           say=lambda msg: click.echo(msg, err=True))
    finally:
        ws.close()
    text = write_reports(report, fmt, output=output, junit=junit)
    click.echo(text, nl=not text.endswith("\n"))
    sys.exit(EXIT_STALE if report.stale else EXIT_OK)


COMMANDS = [check]

"""The `guidewatch` command line: a thin layer over the services in `guidewatch.app`.

Commands are grouped by job: `workspace` (init, guides, compare, demo), `crawling` (crawl,
worker, run, daemon), `review` (changes, digest, accept, history, dismiss), `gate` (check) and
`inspecting` (test, versions, diff).
Each parses its options, calls one service and prints; every `--help` ends with an example.

Exit codes are a contract other tools rely on: see `exitcodes.TABLE` (README "Commands and
exit codes", the `--help` epilog). Every error is one line; an internal error's traceback
is shown only with -v.
"""

from __future__ import annotations

import sys

from guidewatch.cli import early

early.start(sys.argv)  # `guidewatch crawl`: the crawl child starts before click and the rest are imported

import logging  # noqa: E402
from pathlib import Path  # noqa: E402

import click  # noqa: E402

from guidewatch import __version__  # noqa: E402
from guidewatch import exitcodes as ec  # noqa: E402
from guidewatch.cli import crawling, gate, inspecting, review, serving, workspace  # noqa: E402
from guidewatch.cli.base import Ctx, Group, UserError  # noqa: E402
from guidewatch.config import CONFIG_NAME  # noqa: E402

__all__ = ["main", "UserError"]


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog=ec.help_epilog())
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              help=f"Config file (default: ./{CONFIG_NAME}).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(__version__, prog_name="guidewatch")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, verbose: int) -> None:
    """Watch the official pages your patient guides cite, and tell editors what to re-read.

    \b
    Example:
      guidewatch init && guidewatch crawl && guidewatch digest
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.obj = Ctx(config_path, verbose)


for _module in (workspace, crawling, review, gate, serving, inspecting):
    for _command in _module.COMMANDS:
        main.add_command(_command)

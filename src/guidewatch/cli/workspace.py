"""Setting up and looking at a workspace: init, guides, compare, demo."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from guidewatch.cli.base import Ctx, echo_lines, format_option, pass_ctx, user_errors
from guidewatch.config import CONFIG_NAME


@click.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False), default=".")
@click.option("--force", is_flag=True, help="Overwrite an existing guidewatch.toml.")
@user_errors
def init(directory: Path, force: bool) -> None:
    """Write a commented guidewatch.toml and the snapshots/, alerts/ and guides/ directories.

    \b
    Example:
      guidewatch init my-guides
    """
    from guidewatch.app.actions import init_workspace

    target = init_workspace(directory, force=force)
    click.echo(f"wrote {target}")
    click.echo("next: add your guides under [[guides]], then run `guidewatch guides` and `guidewatch crawl`")


@click.command()
@format_option()
@click.option("--sections/--no-sections", default=True, help="List every section, not only those citing sources.")
@pass_ctx
@user_errors
def guides(ctx: Ctx, fmt: str, sections: bool) -> None:
    """List guides, their sections and the sources each section cites.

    \b
    Example:
      guidewatch guides --no-sections
    """
    from guidewatch.app.views import guides_json, guides_text
    from guidewatch.app.workspace import load_guides

    loaded = load_guides(ctx.config)
    if fmt == "json":
        click.echo(json.dumps(guides_json(loaded), indent=2))
    else:
        echo_lines(guides_text(loaded, sections=sections, config_path=ctx.config.path))


@click.command()
@click.argument("old", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("new", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--guide", "guide_ref", required=True, help="Guide file (.md/.html/.txt) or configured guide slug.")
@click.option("--url", help="Which cited source these files are (picks the profile, as the crawl does, and citation).")
@format_option()
@pass_ctx
@user_errors
def compare(ctx: Ctx, old: Path, new: Path, guide_ref: str, url: str | None, fmt: str) -> None:
    """Offline: diff two saved versions of a source page and say which guide sections it affects.

    \b
    Example:
      guidewatch compare old.html new.html --guide guides/atmp.md --url https://www.gov.uk/guidance/x
    """
    from guidewatch.app.actions import compare_with_guide
    from guidewatch.app.compare import render_text

    result = compare_with_guide(old, new, guide_ref, url=url, config=lambda: ctx.config,
                                has_config=bool(ctx.config_path) or Path(CONFIG_NAME).exists())
    click.echo(json.dumps(result, indent=2, ensure_ascii=False) if fmt == "json" else render_text(result))


@click.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path, file_okay=False),
              help="Workspace to build the demo in (default: a new temporary directory).")
@click.option("--keep/--no-keep", default=True, help="Keep the workspace afterwards.")
@user_errors
def demo(directory: Path | None, keep: bool) -> None:
    """The whole pipeline on the bundled ATMP guide and example pages, served locally.

    \b
    Example:
      guidewatch demo --dir /tmp/gw-demo
    """
    from guidewatch.app.demo import run_demo

    sys.exit(run_demo(directory, keep=keep, echo=click.echo))


COMMANDS = [init, guides, compare, demo]

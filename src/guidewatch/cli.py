"""The `guidewatch` command line.

Exit codes are a contract other tools rely on: see `exitcodes.TABLE` (README "Commands and
exit codes", the `--help` epilog). Every error is one line; an internal error's traceback
is shown only with -v.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from guidewatch import __version__
from guidewatch import exitcodes as ec
from guidewatch.config import (
    CONFIG_NAME,
    CONFIG_TEMPLATE,
    CheckConfig,
    Config,
    DurationTooLong,
    Range,
    load_config,
    parse_duration,
)

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_STALE, EXIT_USAGE = ec.OK, ec.STALE, ec.USAGE
RETRY_PAUSE = Range(0, 3600, unit="duration")  # check --retry-pause


class UserError(click.ClickException):
    """A problem reported as one line (`guidewatch: error: …`); exit 2 unless told otherwise."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, code: int = EXIT_USAGE, prefix: str = "error") -> None:
        super().__init__(message)
        self.exit_code, self.prefix = code, prefix

    def show(self, file: Any = None) -> None:
        click.echo(f"guidewatch: {self.prefix}: {self.format_message()}", err=True)


def _user_errors(fn: F) -> F:
    """Turn any exception into one line and the exit code of its kind (exitcodes.classify)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            raise _failure(exc) from None

    return wrapper  # type: ignore[return-value]


def _failure(exc: Exception) -> UserError:
    obj = click.get_current_context(silent=True)
    ctx = obj.find_object(Ctx) if obj else None
    store = ctx._config.store if ctx is not None and ctx._config is not None else None
    failure = ec.classify(exc, store_url=store)
    if failure.code != ec.INTERNAL:
        return UserError(failure.message, failure.code)
    if ctx is not None and ctx.verbose:
        traceback.print_exception(exc, file=sys.stderr)
    return UserError(f"{failure.message} (run with -v for the traceback; please report it)", ec.INTERNAL,
                     prefix="internal error")


#: click >= 8.2 raises this (a UsageError) for a bare `guidewatch`: it prints the help, keep it
_NO_ARGS: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


class _Group(click.Group):
    """click's own usage errors (a bad option value, a missing option, an unknown command)
    printed as one line in the project's style, exit 2, instead of click's three lines."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except _NO_ARGS:
            raise
        except click.UsageError as exc:
            raise _usage(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _NO_ARGS:
            raise
        except click.UsageError as exc:
            raise _usage(exc) from None


def _usage(exc: click.UsageError) -> UserError:
    where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
    return UserError(exc.format_message().rstrip(".") + where)


class Ctx:
    def __init__(self, config_path: Path | None, verbose: int) -> None:
        self.config_path = config_path
        self.verbose = verbose
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def workspace(self, *, sync: bool = True) -> Any:
        from guidewatch.app.crawl import open_workspace

        return open_workspace(self.config, sync=sync)


pass_ctx = click.make_pass_decorator(Ctx)


def _since(value: str | None) -> datetime | None:
    """--since takes a date (2026-11-01), a date-time, or a duration back from now (7d)."""
    if not value:
        return None
    try:
        return datetime.now(UTC) - parse_duration(value)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise UserError(f"--since: expected a date (2026-11-01), date-time or duration (7d), got {value!r}") \
            from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog=ec.help_epilog())
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              help=f"Config file (default: ./{CONFIG_NAME}).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(__version__, prog_name="guidewatch")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, verbose: int) -> None:
    """Watch the official pages your patient guides cite, and tell editors what to re-read."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.obj = Ctx(config_path, verbose)


# --- init and guides ----------------------------------------------------------------------


@main.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False), default=".")
@click.option("--force", is_flag=True, help="Overwrite an existing guidewatch.toml.")
@_user_errors
def init(directory: Path, force: bool) -> None:
    """Write a commented guidewatch.toml and the snapshots/, alerts/ and guides/ directories."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / CONFIG_NAME
    if target.exists() and not force:
        raise UserError(f"{target}: already exists (use --force to overwrite)")
    target.write_text(CONFIG_TEMPLATE, encoding="utf-8")
    for sub in ("snapshots", "alerts", "guides"):
        (directory / sub).mkdir(exist_ok=True)
    click.echo(f"wrote {target}")
    click.echo("next: add your guides under [[guides]], then run `guidewatch guides` and `guidewatch crawl`")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--sections/--no-sections", default=True, help="List every section, not only those citing sources.")
@pass_ctx
@_user_errors
def guides(ctx: Ctx, fmt: str, sections: bool) -> None:
    """List guides, their sections and the sources each section cites."""
    from guidewatch.app.crawl import load_guides

    loaded = load_guides(ctx.config)
    if fmt == "json":
        out = [{"guide": g.slug, "title": g.title, "source": g.source, "format": g.format,
                "editors": list(g.editors),
                "sections": [{"id": s.id, "heading": s.heading, "level": s.level,
                              "cites": [c.url for c in g.citations if c.section == s.id and not c.internal],
                              "internal_links": [c.url for c in g.citations if c.section == s.id and c.internal],
                              "mentions": [m.body for m in g.mentions if m.section == s.id]}
                             for s in g.sections]} for g in loaded]
        click.echo(json.dumps(out, indent=2))
        return
    if not loaded:
        click.echo(f"no guides configured: add [[guides]] entries to {ctx.config.path}")
        return
    for g in loaded:
        mains = [s for s in g.sections if s.level == 1]
        subs = [s for s in g.sections if s.level >= 2]
        ext = g.external_citations
        click.echo(f"{g.slug}  {g.title}")
        click.echo(f"  {g.source} ({g.format}); {len(mains)} sections, {len(subs)} sub-sections, "
                   f"{len({c.url for c in ext})} cited sources; editors: {', '.join(g.editors) or '(none)'}")
        for s in g.sections:
            cites = [c for c in g.citations if c.section == s.id]
            if not sections and not any(not c.internal for c in cites):
                continue
            indent = "    " + "  " * max(0, s.level - 1)
            click.echo(f"{indent}#{s.id}  {s.heading}")
            for c in cites:
                mark = "internal" if c.internal else "cites"
                click.echo(f"{indent}    {mark}: {c.url}")
        click.echo("")


# --- crawl and changes --------------------------------------------------------------------


@main.command()
@click.option("--all", "all_sources", is_flag=True, help="Crawl every source now, not only those due.")
@click.option("--source", "source", metavar="URL", help="Crawl just this source.")
@click.option("--quiet", "-q", is_flag=True, help="Only the summary line.")
@click.option("--distributed", is_flag=True, help="Queue the sources on Redis for `guidewatch worker`s instead.")
@click.option("--redis", "redis_url", metavar="URL", envvar="GUIDEWATCH_REDIS_URL",
              help="Redis for --distributed (env GUIDEWATCH_REDIS_URL).")
@click.option("--queue", "queue_name", default="guidewatch", show_default=True, help="Queue name (Redis key prefix).")
@click.option("--wait", is_flag=True, help="With --distributed: wait until the workers have recorded every source.")
@pass_ctx
@_user_errors
def crawl(ctx: Ctx, all_sources: bool, source: str | None, quiet: bool, distributed: bool, redis_url: str | None,
          queue_name: str, wait: bool) -> None:
    """Fetch due (or all) cited sources now, detect changes and open alerts."""
    from guidewatch.sources.fetch import discard_child, spawn_child

    if all_sources and source:
        raise UserError("--all and --source cannot be used together")
    if distributed or wait:
        from guidewatch.app.distributed import push_command

        if not (distributed and redis_url):
            raise UserError("--distributed needs --redis URL (or GUIDEWATCH_REDIS_URL); --wait needs --distributed")
        return push_command(ctx.workspace(), redis_url, queue_name, all_sources=all_sources, source=source,
                            wait=wait, echo=click.echo)
    child = spawn_child()  # Scrapy's import overlaps opening the workspace
    try:
        _crawl_now(ctx, child, all_sources, source, quiet)
    finally:
        discard_child(child)


def _crawl_now(ctx: Ctx, child: subprocess.Popen[bytes], all_sources: bool, source: str | None, quiet: bool) -> None:
    from guidewatch.app.crawl import crawl as run_crawl
    from guidewatch.app.crawl import select_sources
    from guidewatch.app.daemon import single_instance

    ws = ctx.workspace()
    try:
        with single_instance(ws.store, "crawl"):
            chosen = select_sources(ws, all_sources=all_sources, source=source)
            if not chosen:
                click.echo("no sources are due (use --all to crawl every source now)")
                return
            total, done = len(chosen), [0]

            def progress(outcome: Any, verdict: str) -> None:
                done[0] += 1
                if not quiet:
                    click.echo(f"[{done[0]}/{total}] {outcome.url}: {verdict}", err=True)

            if not quiet:
                click.echo(f"crawling {total} source(s)...", err=True)
            summary = run_crawl(ws, chosen, progress=progress, child=child)
            click.echo(summary.headline())
    finally:
        ws.close()
    _exit_if_failed(summary.counts["failed"])


def _exit_if_failed(failed: int) -> None:
    """Exit 3 when some sources could not be checked (the summary line counts them): the run
    completed, not everything in it."""
    if failed:
        sys.exit(ec.INCOMPLETE)


def _change_json(rec: Any) -> dict[str, Any]:
    c = rec.change
    return {"id": c.id, "source": rec.source_url, "detected_at": rec.detected_at.isoformat(timespec="seconds"),
            "kind": c.kind, "severity": c.severity, "reason": c.reason, "scope": c.scope,
            "source_section": list(c.source_section), "old": c.old, "new": c.new,
            "affects": [{"guide": i.guide, "section": i.section, "heading": i.heading, "score": round(i.score, 3),
                         "tier": i.tier, "claim": i.claim, "evidence": list(i.evidence)} for i in rec.impacts]}


@main.command()
@click.option("--since", help="Only changes detected since this date (2026-11-01) or duration (7d).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--source", "source", metavar="URL", help="Only this source's changes.")
@click.option("--all", "show_all", is_flag=True, help="Include cosmetic changes.")
@pass_ctx
@_user_errors
def changes(ctx: Ctx, since: str | None, fmt: str, source: str | None, show_all: bool) -> None:
    """Show detected changes and the guide sections they affect."""
    from guidewatch.alerts.digest import text_ops

    ws = ctx.workspace(sync=False)
    try:
        recs = ws.store.changes.find(since=_since(since), source_url=source)
    finally:
        ws.close()
    if not show_all:
        recs = [r for r in recs if r.change.severity != "cosmetic"]
    if fmt == "json":
        click.echo(json.dumps([_change_json(r) for r in recs], indent=2))
        return
    if not recs:
        click.echo("no changes detected" + (f" since {since}" if since else ""))
        return
    for r in recs:
        c = r.change
        where = " > ".join(c.source_section) or "(whole page)"
        click.echo(f"{c.id} {r.detected_at:%Y-%m-%d %H:%M} {c.severity.upper()} {c.kind}: {r.source_url}")
        click.echo(f"   section: {where}")
        click.echo(f"   why: {c.reason}")
        if c.ops:
            click.echo("   diff: " + text_ops(c.ops)[:600])
        for i in r.impacts:
            tier = "re-read" if i.tier == "reread" else "related"
            click.echo(f"   -> {i.guide}#{i.section} ({i.score:.2f}, {tier}) {i.heading}")
            if i.evidence:
                click.echo(f"      evidence: {'; '.join(i.evidence[:3])[:300]}")
        click.echo("")


# --- digest and accept --------------------------------------------------------------------


@main.command()
@click.option("--since", help="Only alerts opened since this date (2026-11-01) or duration (7d).")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "text", "json"]), multiple=True,
              help="Formats to write (repeatable; default: [alerts] formats in the config).")
@click.option("--send", is_flag=True, help="Also deliver to editors (e-mail) and the webhook.")
@click.option("--retry-dead", is_flag=True, help="With --send: try deliveries that gave up (dead) again.")
@click.option("--stdout", "to_stdout", is_flag=True, help="Print the digest (first format) as well.")
@click.option("--write-empty", is_flag=True, help="Write the digest files even when nothing is open.")
@pass_ctx
@_user_errors
def digest(ctx: Ctx, since: str | None, fmt: tuple[str, ...], send: bool, retry_dead: bool, to_stdout: bool,
           write_empty: bool) -> None:
    """Build the editors' digest of open alerts into alerts/ and, with --send, deliver it."""
    from guidewatch.app.digest import render_digest, run_digest

    if retry_dead and not send:
        raise UserError("--retry-dead only makes sense with --send")
    ws = ctx.workspace()
    try:
        run = run_digest(ws.store, ws.config, ws.guides, since=_since(since), formats=fmt or None, send=send,
                         retry_dead_first=retry_dead, write_empty=write_empty)
    finally:
        ws.close()
    out, err = run.report()
    for line in out:
        click.echo(line)
    for line in err:
        click.echo(line, err=True)
    if to_stdout:
        click.echo(render_digest(run.digest, (fmt or ws.config.alerts.formats)[0]))
    if run.send and (run.failed or run.dead or run.undelivered):
        sys.exit(ec.INCOMPLETE)  # a delivery failed now, or gave up with its alerts still open


@main.command()
@click.argument("source_url", required=False)
@click.option("--all", "all_sources", is_flag=True, help="Accept every source awaiting review.")
@click.option("--by", "by", required=True, help="Who reviewed it (recorded in the audit trail).")
@click.option("--note", help="What was checked or changed in the guide.")
@pass_ctx
@_user_errors
def accept(ctx: Ctx, source_url: str | None, all_sources: bool, by: str, note: str | None) -> None:
    """Record that the guide was reviewed against a source's current version."""
    from guidewatch.app.crawl import sync_snapshot_files
    from guidewatch.app.digest import accept_sources, awaiting_review, describe_review, refusals
    from guidewatch.pages.snapshots import snapshot_path

    if bool(source_url) == bool(all_sources):
        raise UserError("give a SOURCE_URL or --all (one of the two)")
    if not by.strip():
        raise UserError("--by must name the reviewer")
    ws = ctx.workspace()
    try:
        urls = awaiting_review(ws.store) if all_sources else [source_url or ""]
        if not urls:
            click.echo("nothing awaits review: nothing to accept")
            return
        if all_sources:  # every source accepting can clear; say what the others need
            refused = refusals(ws.store, urls)
            for why in refused.values():
                click.echo(f"not accepted: {why}", err=True)
            urls = [u for u in urls if u not in refused]
            if not urls:
                click.echo("nothing accepted: what awaits review needs the guide's links changed (see above)")
                return
        reviews = accept_sources(ws.store, urls, by=by, note=note)
        sync_snapshot_files(ws)
        for review, snap in reviews:
            click.echo(describe_review(review, snap))
            click.echo(f"  baseline: {snapshot_path(ws.config.snapshots_dir, review.source_url)}")
    finally:
        ws.close()


@main.command()
@click.argument("source_url", required=False)
@pass_ctx
@_user_errors
def history(ctx: Ctx, source_url: str | None) -> None:
    """Show the review audit trail: who reviewed which version of which source, and when."""
    ws = ctx.workspace(sync=False)
    try:
        if source_url and ws.store.sources.get(source_url) is None:
            raise UserError(f"{source_url}: not a watched source (see `guidewatch guides`)")
        reviews = ws.store.reviews.find(source_url)
        marks = ws.store.changes.dismissals(source_url)
    finally:
        ws.close()
    if not reviews:
        click.echo("no reviews recorded")
    for r in reviews:
        h = (r.content_hash or "-")[:12]
        click.echo(f"{r.reviewed_at:%Y-%m-%d %H:%M} {r.reviewed_by}: {r.source_url} version {h}; "
                   f"{r.alerts_closed} alert(s) closed" + (f"; note: {r.note}" if r.note else ""))
    for m in marks:
        click.echo(f"{m.at:%Y-%m-%d %H:%M} {m.by}: marked {m.guide}#{m.section} not relevant to {m.source_url} "
                   f"› {' › '.join(m.source_section) or '(whole page)'} ({m.note})")


@main.command()
@click.argument("change_id", metavar="CHANGE")
@click.option("--section", required=True, metavar="[GUIDE#]SECTION", help="The guide section the change was linked to.")
@click.option("--by", "by", required=True, help="Who marked it (recorded in the audit trail).")
@click.option("--note", help="Why the section is not relevant.")
@pass_ctx
@_user_errors
def dismiss(ctx: Ctx, change_id: str, section: str, by: str, note: str | None) -> None:
    """Mark an impact "not relevant": later changes to that source passage do not flag the section
    again, unless they are about something the section asserts. CHANGE is an id from `changes` (c12)."""
    number = change_id.strip().removeprefix("c")
    if not number.isdigit():
        raise UserError(f"{change_id}: not a change id (such as c12; see `guidewatch changes`)")
    ws = ctx.workspace(sync=False)
    try:
        mark = ws.store.changes.dismiss(int(number), section, by=by, note=note)
    finally:
        ws.close()
    where = " › ".join(mark.source_section) or "(whole page)"
    click.echo(f"marked {mark.guide}#{mark.section} not relevant to {mark.source_url} › {where} (by {mark.by})")


@main.command()
@click.option("--redis", "redis_url", metavar="URL", envvar="GUIDEWATCH_REDIS_URL", required=True,
              help="Redis holding the shared queue, e.g. redis://queue.internal:6379/0 (env GUIDEWATCH_REDIS_URL).")
@click.option("--queue", "queue_name", default="guidewatch", show_default=True, help="Queue name (Redis key prefix).")
@click.option("--idle-exit", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Exit once the queue has been empty this many seconds (0: run until stopped).")
@click.option("--quiet", "-q", is_flag=True, help="Only the summary line.")
@pass_ctx
@_user_errors
def worker(ctx: Ctx, redis_url: str, queue_name: str, idle_exit: float, quiet: bool) -> None:
    """Crawl worker: fetch sources queued by `crawl --distributed`, record them in the shared store."""
    from guidewatch.app.distributed import run_worker

    def progress(outcome: Any, verdict: str) -> None:
        click.echo(f"{outcome.url}: {verdict}", err=True)

    summary = run_worker(ctx.config, redis_url, queue_name, idle_exit=idle_exit, progress=None if quiet else progress)
    click.echo(summary.headline())
    _exit_if_failed(summary.counts["failed"])


# --- check, run, daemon -------------------------------------------------------------------


def _duration_option(option: str, value: str, bounds: Range) -> Any:
    try:
        duration = parse_duration(value)
    except DurationTooLong:
        duration = None
    except ValueError as exc:
        raise UserError(f"{option}: {exc}") from None
    problem = bounds.outside(repr(value)) if duration is None else bounds.problem(duration.total_seconds(),
                                                                                  repr(value))
    if problem:
        raise UserError(f"{option}: {problem}")
    return duration


@main.command()
@click.option("--max-age", default=None, help="Stale when not checked successfully for this long (30d).")
@click.option("--offline", is_flag=True, help="Use what is stored; fetch nothing.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit", "github"]), default="text",
              show_default=True)
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Write the report here too.")
@click.option("--junit", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write a JUnit XML report here (one test case per cited source).")
@click.option("--retry-pause", default="10s", show_default=True,
              help="Wait before fetching a transiently failed source again (up to [check] unreachable_after tries).")
@pass_ctx
@_user_errors
def check(ctx: Ctx, max_age: str | None, offline: bool, fmt: str, output: Path | None, junit: Path | None,
          retry_pause: str) -> None:
    """CI gate: exit 1 when a cited source is stale (changed since review, gone, moved, ...)."""
    from guidewatch.app.check import run_check, write_reports

    max_age_bounds = CheckConfig.__dataclass_fields__["max_age"].metadata["range"]
    age = _duration_option("--max-age", max_age, max_age_bounds) if max_age else ctx.config.check.max_age
    pause = _duration_option("--retry-pause", retry_pause, RETRY_PAUSE)
    ws = ctx.workspace()
    try:
        report = run_check(ws, max_age=age, offline=offline, retry_pause=pause,
                           say=lambda msg: click.echo(msg, err=True))
    finally:
        ws.close()
    text = write_reports(report, fmt, output=output, junit=junit)
    click.echo(text, nl=not text.endswith("\n"))
    sys.exit(EXIT_STALE if report.stale else EXIT_OK)


@main.command("run")
@pass_ctx
@_user_errors
def run_once(ctx: Ctx) -> None:
    """One full cycle for cron: crawl due sources, detect, link, alert, deliver."""
    from guidewatch.app.daemon import run_cycle

    result, code = run_cycle(ctx.config)
    click.echo(result)
    sys.exit(code)


@main.command()
@click.option("--once", is_flag=True, help="Run one crawl and one digest, then exit.")
@pass_ctx
@_user_errors
def daemon(ctx: Ctx, once: bool) -> None:
    """Run crawls and digests on their cron schedules (APScheduler) until stopped."""
    from guidewatch.app.daemon import run_daemon

    sys.exit(run_daemon(ctx.config, once=once))


# --- compare and demo ---------------------------------------------------------------------


@main.command()
@click.argument("old", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("new", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--guide", "guide_ref", required=True, help="Guide file (.md/.html/.txt) or configured guide slug.")
@click.option("--url", help="Which cited source these files are (picks the profile, as the crawl does, and citation).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
@_user_errors
def compare(click_ctx: click.Context, old: Path, new: Path, guide_ref: str, url: str | None, fmt: str) -> None:
    """Offline: diff two saved versions of a source page and say which guide sections it affects."""
    from guidewatch.app.compare import compare_files, render_text
    from guidewatch.sources.guides import load_guide
    from guidewatch.sources.profiles import load_profiles

    ctx: Ctx = click_ctx.obj
    # With a config (--config or ./guidewatch.toml) the page is read as the crawl reads it:
    # its profiles_dir, and the URL's [[sources]] profile and ignore rules.
    config = ctx.config if ctx.config_path or Path(CONFIG_NAME).exists() else None
    path = Path(guide_ref)
    if path.exists():
        guide = load_guide(path)
    else:
        from guidewatch.app.crawl import load_guides

        config = ctx.config  # a slug needs the config (its absence is the usual one-line error)
        found = [g for g in load_guides(config) if g.slug == guide_ref]
        if not found:
            raise UserError(f"{guide_ref}: no such guide file or configured guide slug")
        guide = found[0]
    profiles = load_profiles([config.profiles_dir] if config and config.profiles_dir else [])
    configured = config.source(url) if config and url else None
    result = compare_files(old, new, guide, url=url, profiles=profiles, configured=configured)
    if fmt == "json":
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        click.echo(render_text(result))


@main.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path, file_okay=False),
              help="Workspace to build the demo in (default: a new temporary directory).")
@click.option("--keep/--no-keep", default=True, help="Keep the workspace afterwards.")
@_user_errors
def demo(directory: Path | None, keep: bool) -> None:
    """The whole pipeline on the bundled ATMP guide and example pages, served locally."""
    from guidewatch.app.demo import run_demo

    sys.exit(run_demo(directory, keep=keep, echo=click.echo))



if __name__ == "__main__":  # pragma: no cover
    main()

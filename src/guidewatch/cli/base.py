"""What every command shares: one-line errors with the exit code of their kind, the
workspace context, and the parsing of dates and durations given as options."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from guidewatch import exitcodes as ec
from guidewatch.config import Config, DurationTooLong, Range, load_config, parse_duration

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_STALE, EXIT_USAGE = ec.OK, ec.STALE, ec.USAGE


class UserError(click.ClickException):
    """A problem reported as one line (`guidewatch: error: …`); exit 2 unless told otherwise."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, code: int = EXIT_USAGE, prefix: str = "error") -> None:
        super().__init__(message)
        self.exit_code, self.prefix = code, prefix

    def show(self, file: Any = None) -> None:
        click.echo(f"guidewatch: {self.prefix}: {self.format_message()}", err=True)


def user_errors(fn: F) -> F:
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


class Group(click.Group):
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
        from guidewatch.app.workspace import open_workspace

        return open_workspace(self.config, sync=sync)


pass_ctx = click.make_pass_decorator(Ctx)


def format_option(*choices: str, default: str | None = "text", help: str | None = None,
                  multiple: bool = False) -> Callable[[F], F]:
    """`--format`, declared once for every command that reports: text for people, json for scripts."""
    return click.option("--format", "fmt", type=click.Choice(list(choices) or ["text", "json"]), default=default,
                        show_default=default is not None, multiple=multiple,
                        help=help or "text for people, json for scripts (fields: README).")


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def echo_lines(lines: list[str] | tuple[str, ...], *, err: bool = False) -> None:
    for line in lines:
        click.echo(line, err=err)


def parse_since(value: str | None) -> datetime | None:
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


def parse_duration_option(option: str, value: str, bounds: Range) -> timedelta:
    try:
        duration = parse_duration(value)
    except DurationTooLong:
        duration = None
    except ValueError as exc:
        raise UserError(f"{option}: {exc}") from None
    problem = bounds.outside(repr(value)) if duration is None else bounds.problem(duration.total_seconds(),
                                                                                  repr(value))
    if problem or duration is None:
        raise UserError(f"{option}: {problem}")
    return duration


def exit_if_failed(failed: int) -> None:
    """Exit 3 when some sources could not be checked (the summary line counts them): the run
    completed, not everything in it."""
    if failed:
        sys.exit(ec.INCOMPLETE)

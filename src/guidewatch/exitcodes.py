"""Exit codes: the contract cron jobs and CI read, and the terms the daemon logs outcomes in.

One table (README "Commands and exit codes", `guidewatch --help`). An error is sorted by
its type, so a bug (a KeyError, a ValueError nobody meant to raise) is never reported as a
usage error, and an unreachable database is told apart from a bad config.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

OK, STALE, USAGE, INCOMPLETE, UNAVAILABLE, INTERNAL = 0, 1, 2, 3, 4, 70

#: (code, outcome as logged by the daemon, what it means)
TABLE = (
    (OK, "done", "all done"),
    (STALE, "stale", "check found stale sources"),
    (USAGE, "usage", "usage or configuration error (bad option or file, source not watched, lock held)"),
    (INCOMPLETE, "incomplete", "the run completed, but some sources could not be checked or some deliveries failed"),
    (UNAVAILABLE, "unavailable", "could not reach the store (database down, disk full, permission denied)"),
    (INTERNAL, "internal", "internal error (a bug): one line; -v shows the traceback"),
)
OUTCOMES = {code: outcome for code, outcome, _ in TABLE}

#: OSErrors that say the machine, not the command, is at fault
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO,
                       errno.ECONNREFUSED, errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH}


def help_epilog() -> str:
    """The table for `guidewatch --help` (\b keeps click from re-wrapping it)."""
    return "\b\nExit codes:\n" + "\n".join(f"  {code:<3} {meaning}" for code, _, meaning in TABLE)


@dataclass(frozen=True)
class Failure:
    """How an exception that ended a command is reported: exit code and one line."""

    code: int
    message: str

    @property
    def outcome(self) -> str:
        return OUTCOMES[self.code]


def one_line(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


def classify(exc: BaseException, *, store_url: str | None = None) -> Failure:
    """The exit code and message for `exc`; anything not known to be the user's or the
    environment's doing is an internal error.

    guidewatch's own errors carry their code (`exit_code` on the class), so this module
    imports nothing of guidewatch and every layer can raise without knowing the CLI.
    """
    from sqlalchemy import exc as sa

    code = getattr(exc, "exit_code", None)
    if isinstance(code, int) and code in OUTCOMES:
        return Failure(code, one_line(str(exc)) if code == INTERNAL else str(exc))
    if isinstance(exc, (sa.OperationalError, sa.InterfaceError, sa.DisconnectionError, sa.TimeoutError)):
        reason = one_line(str(getattr(exc, "orig", None) or exc))
        return Failure(UNAVAILABLE, f"could not reach the store {safe_store_url(store_url)}: {reason}".replace(
            "store : ", "store: "))
    if isinstance(exc, (sa.ArgumentError, sa.NoSuchModuleError)):
        return Failure(USAGE, f"store {safe_store_url(store_url)}: {one_line(str(exc))}")
    if isinstance(exc, OSError) and exc.errno in _ENVIRONMENT_ERRNOS:
        where = f"{exc.filename}: " if exc.filename else ""
        return Failure(UNAVAILABLE, f"{where}{exc.strerror or exc}")
    return Failure(INTERNAL, f"{type(exc).__name__}: {one_line(str(exc))}")


def safe_store_url(url: str | None) -> str:
    """The store URL with its password masked, for messages."""
    if not url:
        return ""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can read: show only its scheme
        return url.split("://", 1)[0] + "://…"


class UsageProblem(ValueError):
    """A request that cannot be done as asked (exit 2); raised outside the CLI, e.g. by the demo."""

    exit_code = USAGE

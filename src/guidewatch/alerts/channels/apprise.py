"""Apprise (Teams, Slack, Telegram, Matrix, ntfy, Discord, …): the digest's subject and plain
text to each apprise URL named in ``[alerts.apprise] urls_env``.

The URLs carry their services' tokens, so they live in environment variables only: the
recipient of a delivery is the variable's name (``$GUIDEWATCH_APPRISE_TEAMS``), and the URL
is read when sending. No message shows more of a URL than its scheme; apprise's own log
lines are kept from the log and quoted only with every piece of the URL replaced by ``***``.

Apprise says only whether a notification went out, never whether trying again may help, so
every failure is retried by the outbox's back-off. Its services take no idempotency key:
a crash between the send and the outbox recording it can send that digest once more.
A body over the service's limit is cut by apprise (``overflow=truncate``), never split, so
one attempt is one message and a retry cannot repeat half a digest.

``apprise`` is imported on the first send, so commands that deliver nothing never load it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, Self
from urllib.parse import unquote

from guidewatch.alerts.channels.base import Channel, Delivery, DeliveryError, Recipient, scrub
from guidewatch.model import Guide

if TYPE_CHECKING:
    from guidewatch.config import Config

log = logging.getLogger("guidewatch.alerts.channels")

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]{0,31})://")
_URL_PIECES = re.compile(r"[/:@?&=#,]+")


def url_secrets(url: str) -> list[str]:
    """Every piece of the URL after its scheme, plain and percent-decoded: for most services
    the token is in the path or the host (tgram://TOKEN/…), not only in a password."""
    rest = _SCHEME.sub("", url)
    pieces = {p for p in _URL_PIECES.split(rest) if len(p) >= 3}
    pieces |= {unquote(p) for p in pieces}
    return [url, rest, *sorted(pieces, key=len, reverse=True)]


def scheme_of(url: str) -> str:
    """`json://`: all a message ever says about where an apprise URL points."""
    m = _SCHEME.match(url)
    return f"{m.group(1).lower()}://" if m else "an unrecognised URL"


def _apprise() -> Any:
    """The apprise module, loaded on first use; its log lines stay out of guidewatch's log,
    which has no way to redact them (they are read from each result instead)."""
    try:
        import apprise
    except ImportError:
        raise DeliveryError("apprise is not installed: pip install 'guidewatch[apprise]'") from None
    logging.getLogger("apprise").propagate = False
    return apprise


@dataclass(frozen=True)
class AppriseChannel(Channel):
    """[alerts.apprise]: every digest to each URL held in the environment variables it names."""

    name = "apprise"
    unconfigured = "apprise is no longer configured ([alerts.apprise])"

    urls_env: tuple[str, ...]
    timeout: float = 10

    @classmethod
    def from_config(cls, config: Config) -> Self | None:
        a = config.alerts.apprise
        return None if a is None else cls(tuple(a.urls_env), a.timeout)

    def recipients(self, guides: Sequence[Guide]) -> list[Recipient]:
        return [Recipient(f"${var}") for var in self.urls_env]

    def send(self, delivery: Delivery) -> None:
        var = delivery.recipient.removeprefix("$")
        where = f"apprise ${var}"
        if var not in self.urls_env:
            raise DeliveryError(f"cannot deliver digest {delivery.key} via {where}: "
                                "that variable is no longer in [alerts.apprise] urls_env")
        url = os.environ.get(var, "").strip()
        if not url:
            raise DeliveryError(f"cannot deliver digest {delivery.key} via {where}: the environment variable "
                                f"{var} is not set (it holds the apprise URL)")
        notify(url, delivery, where=f"{where} ({scheme_of(url)})", timeout=self.timeout)


def notify(url: str, delivery: Delivery, *, where: str, timeout: float) -> None:
    """One apprise notification: the subject as title, the text digest as body."""
    apprise = _apprise()
    try:
        failure = _notify(apprise, url, delivery, timeout)
    except Exception as exc:  # a plugin's own exception may quote the URL: scrubbed like the rest
        failure = f"apprise raised {type(exc).__name__}: {exc}"
    if failure is not None:
        _fail(url, delivery, where, failure)
    log.info("sent digest %s via %s", delivery.key, where)


def _notify(apprise: Any, url: str, delivery: Delivery, timeout: float) -> str | None:
    """None when the service took it, else why not (unredacted)."""
    # in memory only: what some services cache (login tokens) never lands on disk
    asset = apprise.AppriseAsset(async_mode=False, storage_mode="memory")
    plugin = apprise.Apprise.instantiate(url, asset=asset)
    if not plugin:
        return "apprise does not recognise this URL (check its scheme and form)"
    plugin.socket_connect_timeout = plugin.socket_read_timeout = timeout
    plugin.overflow_mode = apprise.OverflowMode.TRUNCATE
    sender = apprise.Apprise(asset=asset)
    sender.add(plugin)
    result = sender.notify(body=delivery.text, title=delivery.subject, body_format=apprise.NotifyFormat.TEXT)
    return None if result else _reason(result)


def _reason(result: Any) -> str:
    """Apprise's last warning for this call (it has no error codes), else a plain "failed"."""
    logs = getattr(result, "logs", None)
    lines = [e.message for e in logs() if e.level in ("WARNING", "ERROR", "CRITICAL")] if logs else []
    return f"the service did not accept it ({' '.join(lines[-1].split())})" if lines else \
        "the service did not accept it"


def _fail(url: str, delivery: Delivery, where: str, reason: str) -> NoReturn:
    """Every failure is worth retrying: apprise cannot tell a refusal for good from a hiccup."""
    message = f"cannot deliver digest {delivery.key} via {where}: {scrub(reason, url_secrets(url))[:300]}"
    log.debug("%s", message)  # the caller decides how loudly to report it
    raise DeliveryError(message, transient=True) from None

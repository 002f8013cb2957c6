"""E-mail over SMTP: one multipart/alternative message per editor, with a deterministic
Message-ID and an ``X-Guidewatch-Digest`` header so a repeat is recognisably the same.

The SMTP password (and its base64 form, as AUTH sends it) never appears in exceptions,
logs or reprs.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import smtplib
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import TYPE_CHECKING, Literal, Self

from guidewatch.alerts.channels.base import Channel, Delivery, DeliveryError, Recipient, check_header, decode, scrub
from guidewatch.alerts.digest import Digest, render, subject
from guidewatch.model import Guide

if TYPE_CHECKING:
    from guidewatch.config import Config

log = logging.getLogger("guidewatch.alerts.channels")


@dataclass(frozen=True)
class SmtpSettings:
    """The relay and how to reach it; the password comes from the environment only."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # from an env var; never logged
    security: Literal["none", "starttls", "ssl"] = "none"
    timeout: float = 30
    ca_file: str | None = None  # trust this CA bundle instead of the system store (private relays)

    def _secrets(self) -> list[str | None]:
        plain = f"\0{self.username or ''}\0{self.password}" if self.password else None
        return [self.password, plain]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_MSGID_LOCAL = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")
_MSGID = re.compile(r"^<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+>$")


def _sender_domain(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2] or "guidewatch.invalid"


def make_message_id(key: str, sender: str) -> str:
    """Deterministic Message-ID from the digest key, so a repeat is recognisably the same."""
    local = _MSGID_LOCAL.sub("-", key).strip(".-") or "digest"
    return f"<{local}@{_sender_domain(sender)}>"


def _normalise_message_id(message_id: str, sender: str) -> str:
    """Accept a bare key ("email:gw-1a2b") as well as a full <id@domain>."""
    message_id = message_id.strip()
    return message_id if _MSGID.match(message_id) else make_message_id(message_id.strip("<>"), sender)


def _key_from_message_id(message_id: str) -> str:
    return message_id.strip().strip("<>").partition("@")[0]


def build_message(
    settings: SmtpSettings, to: str, subject_line: str, text: str, html: str, *, message_id: str, key: str
) -> EmailMessage:
    """multipart/alternative: the text part first, the HTML part preferred by mail readers."""
    for name, value in (("To", to), ("Subject", subject_line), ("Message-ID", message_id),
                        ("From", settings.sender), ("X-Guidewatch-Digest", key)):
        check_header(name, value)
    if "@" not in parseaddr(to)[1]:
        raise DeliveryError(f"refusing to send: {to!r} is not an e-mail address")
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = to
    msg["Subject"] = subject_line
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = _normalise_message_id(message_id, settings.sender)
    msg["X-Guidewatch-Digest"] = key
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to a robot
    # quoted-printable: 7-bit safe even through relays without 8BITMIME, and no line-length limit
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte="quoted-printable")
    return msg


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.ca_file)


def _open(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.security == "ssl":
        return smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                context=_tls_context(settings))
    smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    if settings.security == "starttls":
        smtp.ehlo()
        smtp.starttls(context=_tls_context(settings))
        smtp.ehlo()
    return smtp


def _smtp_reason(exc: BaseException) -> tuple[str, bool]:
    """A readable reason and whether retrying later may help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, resp = next(iter(exc.recipients.values()), (0, b""))
        return f"recipient refused: {code} {decode(resp)}", 400 <= code < 500
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"login refused: {exc.smtp_code} {decode(exc.smtp_error)}", False
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"server answered {exc.smtp_code} {decode(exc.smtp_error)}", 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"server does not support what was asked ({exc}); check `security`", False
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"server closed the connection ({exc})", True
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message}); set ca_file for a private CA", False
    if isinstance(exc, ssl.SSLError):
        return (f"TLS handshake failed ({exc.reason or exc}); is the port right for "
                f"security='ssl' (implicit TLS, usually 465) vs 'starttls' (usually 587)?"), False
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host ({exc.strerror})", True
    if isinstance(exc, TimeoutError):
        return "timed out", True
    if isinstance(exc, OSError):
        return f"cannot connect ({exc.strerror or exc})", True
    return f"{type(exc).__name__}: {exc}", False


def _smtp_code(exc: BaseException) -> int | None:
    """The SMTP reply code with which the server refused the message, if it did. A refused
    login (535) is left out: the credentials are fixed in the environment, and the next
    run should simply succeed."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return int(next(iter(exc.recipients.values()), (0, b""))[0])
    if isinstance(exc, smtplib.SMTPResponseException) and not isinstance(exc, smtplib.SMTPAuthenticationError):
        return int(exc.smtp_code)
    return None


def send_email(
    settings: SmtpSettings, to: str, subject: str, text: str, html: str, *, message_id: str,
    key: str | None = None,
) -> None:
    """Send one multipart/alternative message; ``key`` defaults to the Message-ID's local part."""
    key = key or _key_from_message_id(message_id)
    where = f"smtp://{settings.host}:{settings.port}"
    msg = build_message(settings, to, subject, text, html, message_id=message_id, key=key)
    if settings.password and settings.security == "none" and not _is_loopback(settings.host):
        raise DeliveryError(f"refusing to send the SMTP password unencrypted to {where}; "
                            "use security='starttls' or 'ssl'")
    try:
        with _open(settings) as smtp:
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            smtp.send_message(msg, from_addr=parseaddr(settings.sender)[1], to_addrs=[parseaddr(to)[1]])
    except (smtplib.SMTPException, OSError) as exc:
        reason, transient = _smtp_reason(exc)
        code = _smtp_code(exc)
        message = scrub(f"cannot deliver digest {key} to {to} via {where}: {reason}", settings._secrets())
        log.debug("%s", message)  # the caller decides how loudly to report it
        raise DeliveryError(message, transient=transient,  # the cause may quote secrets
                            permanent=code is not None and 500 <= code < 600) from None
    log.info("sent digest %s to %s via %s", key, to, where)


def send_digest_email(settings: SmtpSettings, digest: Digest, to: str | None = None) -> None:
    """Render and send a digest to its recipient (or ``to``)."""
    recipient = to or digest.recipient
    if not recipient:
        raise DeliveryError(f"digest {digest.key} has no recipient to e-mail")
    send_email(settings, recipient, subject(digest), render(digest, "text"), render(digest, "html"),
               message_id=make_message_id(digest.key, settings.sender), key=digest.key)



def editors_of(guides: Sequence[Guide]) -> dict[str, list[str]]:
    """Editor e-mail -> the guide slugs they own."""
    out: dict[str, list[str]] = {}
    for g in guides:
        for e in g.editors:
            if e.strip():
                out.setdefault(e.strip().lower(), []).append(g.slug)
    return out


@dataclass(frozen=True)
class EmailChannel(Channel):
    """[alerts.email]: one digest per editor, of the guides they edit."""

    name = "email"
    unconfigured = "e-mail is no longer configured ([alerts.email])"
    addressed = True

    settings: SmtpSettings

    @classmethod
    def from_config(cls, config: Config) -> Self | None:
        e = config.alerts.email
        return None if e is None else cls(SmtpSettings(
            host=e.host, port=e.port, sender=e.sender, username=e.username, password=e.password,
            security=e.security, timeout=e.timeout))  # type: ignore[arg-type]

    def recipients(self, guides: Sequence[Guide]) -> list[Recipient]:
        return [Recipient(editor, tuple(slugs)) for editor, slugs in editors_of(guides).items()]

    def send(self, delivery: Delivery) -> None:
        send_email(self.settings, delivery.recipient, delivery.subject, delivery.text, delivery.html,
                   message_id=delivery.key, key=delivery.key)

"""Delivering digests: files in ``alerts/``, e-mail over SMTP, a JSON (or Slack) webhook.

Each function does one delivery attempt and either returns or raises `DeliveryError`
with a readable, secret-free message and a ``transient`` flag (worth retrying later).
Retrying, and never sending twice, is the caller's job (the alert outbox); the
idempotency key travels with every delivery (``X-Guidewatch-Digest`` and a
deterministic Message-ID for e-mail, ``Idempotency-Key`` for webhooks) so a receiver can
also recognise a repeat.

Secrets (SMTP password, webhook token, the webhook URL's path, which for Slack *is* the
secret) never appear in exceptions, logs or reprs.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import logging
import os
import re
import secrets
import smtplib
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import Any, Literal, NoReturn
from urllib.parse import urlsplit

from guidewatch import __version__
from guidewatch.alerts.digest import FORMATS, Digest, Format, digest_filename, render, safe_url, subject, to_json_dict

log = logging.getLogger(__name__)

USER_AGENT = f"guidewatch/{__version__} (+digest delivery)"
SLACK_TEXT_LIMIT = 2900  # Slack rejects section text over 3000 characters
SLACK_MAX_BLOCKS = 48  # Slack allows 50 blocks per message


class DeliveryError(RuntimeError):
    """One delivery attempt failed; ``transient`` says whether a later retry may succeed,
    ``permanent`` that the server refused it for good (an SMTP 5xx): retrying cannot help."""

    def __init__(self, message: str, *, transient: bool = False, permanent: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
        self.permanent = permanent


def _scrub(text: str, secret_values: Iterable[str | None]) -> str:
    """Replace any secret (and its base64 forms, as SMTP AUTH sends it) with ***."""
    for value in secret_values:
        if not value:
            continue
        forms = {value, base64.b64encode(value.encode()).decode()}
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, "***")
    return text


# --- SMTP -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
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


def _check_header(name: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise DeliveryError(f"refusing to send: the {name} header contains a line break")


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
        _check_header(name, value)
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
        return f"recipient refused: {code} {_decode(resp)}", 400 <= code < 500
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"login refused: {exc.smtp_code} {_decode(exc.smtp_error)}", False
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"server answered {exc.smtp_code} {_decode(exc.smtp_error)}", 400 <= exc.smtp_code < 500
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


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


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
        message = _scrub(f"cannot deliver digest {key} to {to} via {where}: {reason}", settings._secrets())
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


# --- webhook ---------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class WebhookSettings:
    url: str  # for Slack the path is the secret: only scheme://host is ever shown
    token: str | None = None  # from an env var; sent as Authorization: Bearer
    style: Literal["json", "slack"] = "json"
    timeout: float = 10

    def __repr__(self) -> str:
        token = "***" if self.token else None
        return (f"WebhookSettings(url={redact_url(self.url)!r}, token={token!r}, "
                f"style={self.style!r}, timeout={self.timeout!r})")

    def _secrets(self) -> list[str | None]:
        parts = urlsplit(self.url)
        return [self.token, parts.path if len(parts.path) > 1 else None, parts.query or None]


def redact_url(url: str) -> str:
    """scheme://host[:port]/… — enough to say where, without the secret part."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    tail = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{port}{tail}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would carry the Authorization header elsewhere: fail instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _slack_escape(text: str) -> str:
    """Slack mrkdwn control characters; also stops page text forming <!channel> or links."""
    return " ".join(str(text).split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str, title: str) -> str:
    label = _slack_escape(title or url).replace("|", "¦")
    link = safe_url(url)
    return f"<{link}|{label}>" if link and "|" not in link and ">" not in link else label


def _slack_guide_text(guide: dict[str, Any]) -> str:
    lines = [f"*{_slack_escape(guide['title'])}*"]
    for section in guide["sections"]:
        for item in section["items"]:
            change = item["change"]
            where = " › ".join(item["source_section"])
            lines.append(
                f"• *{_slack_escape(section['heading'])}* ← "
                f"{_slack_link(item['source']['url'], item['source']['title'])}"
                f"{' › ' + _slack_escape(where) if where else ''}: "
                f"_{_slack_escape(change['severity'])}_ {_slack_escape(change['reason'])}"
            )
    text = ""
    for n, line in enumerate(lines):
        if len(text) + len(line) + 40 > SLACK_TEXT_LIMIT:
            return text + f"\n…and {len(lines) - n} more"
        text += ("\n" if text else "") + line
    return text


def slack_payload(digest_json: dict[str, Any]) -> dict[str, Any]:
    """Compact Slack message: summary as text (notifications), one section per guide."""
    summary = str(digest_json.get("summary", "guidewatch digest"))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": summary[:150]}},
    ]
    guides = digest_json.get("guides", [])
    for guide in guides[:SLACK_MAX_BLOCKS - 2]:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _slack_guide_text(guide)}})
    extra = len(guides) - (SLACK_MAX_BLOCKS - 2)
    note = f"digest {digest_json.get('key', '')} · {digest_json.get('generated_at', '')}"
    if extra > 0:
        note += f" · {extra} more guides in the full digest"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _slack_escape(note)}]})
    return {"text": _slack_escape(summary), "blocks": blocks}


def post_webhook(settings: WebhookSettings, digest_json: dict[str, Any], *, key: str) -> None:
    """POST the digest JSON (or its Slack form); any non-2xx answer is a DeliveryError."""
    where = redact_url(settings.url)
    if urlsplit(settings.url).scheme not in ("http", "https"):
        raise DeliveryError(f"webhook URL must be http or https, not {where}")
    _check_header("Idempotency-Key", key)
    payload = slack_payload(digest_json) if settings.style == "slack" else digest_json
    headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": key,
               "User-Agent": USER_AGENT}
    if settings.token:
        _check_header("Authorization", settings.token)
        headers["Authorization"] = f"Bearer {settings.token}"
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(settings.url, data=body, headers=headers, method="POST")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=settings.timeout) as response:
            response.read(65536)
    except urllib.error.HTTPError as exc:
        detail = _error_body(exc, settings) if exc.fp else ""
        reason = (f"redirected ({exc.code}); not followed so the token stays put; configure the final URL"
                  if 300 <= exc.code < 400 else f"answered {exc.code} {exc.reason}")
        _fail(settings, key, where, reason + (f": {detail}" if detail else ""),
              transient=exc.code in (408, 425, 429) or exc.code >= 500)
    except (urllib.error.URLError, OSError) as exc:
        cause = getattr(exc, "reason", exc)
        _fail(settings, key, where, f"cannot connect ({cause})", transient=True)
    log.info("posted digest %s to webhook %s", key, where)


def _error_body(exc: urllib.error.HTTPError, settings: WebhookSettings) -> str:
    """The start of an error answer, secrets redacted *before* it is cut to 300 characters
    (cut first, a token straddling the cut would leave its prefix behind)."""
    body = _scrub(_decode(exc.read(65536) or b""), settings._secrets())
    return " ".join(body[:300].split())


def _fail(settings: WebhookSettings, key: str, where: str, reason: str, *, transient: bool) -> NoReturn:
    message = _scrub(f"cannot deliver digest {key} to webhook {where}: {reason}", settings._secrets())
    log.debug("%s", message)  # the caller decides how loudly to report it
    raise DeliveryError(message, transient=transient) from None


def post_digest_webhook(settings: WebhookSettings, digest: Digest) -> None:
    post_webhook(settings, to_json_dict(digest), key=digest.key)


# --- files -----------------------------------------------------------------------------------


def _write_new(path: Path, data: bytes) -> Literal["written", "same", "taken"]:
    """Publish `data` at `path` only if no other file has that name, by hard-linking a
    complete temp file: readers never see half a digest, and no writer replaces another's
    file. "same": the name already holds these bytes; "taken": it holds another file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")  # pid: see snapshots
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return "same" if _same_bytes(path, data) else "taken"
        except OSError:  # a file system without hard links: reserve the name, then replace it
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                return "same" if _same_bytes(path, data) else "taken"
            os.replace(tmp, path)
        return "written"
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except OSError:
        return False


def write_files(digest: Digest, directory: Path, formats: Sequence[Format] = FORMATS) -> list[Path]:
    """Write the digest in each format under one name that no other digest holds: a second
    digest in the same second gets `-2`, `-3`, ... (the same digest again keeps its name).
    Everything is rendered before any file is touched."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown digest format(s) {', '.join(map(str, unknown))}; use {', '.join(FORMATS)}")
    rendered = [(f, render(digest, f).encode("utf-8")) for f in dict.fromkeys(formats)]
    directory.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        paths = [directory / digest_filename(digest, fmt, n) for fmt, _ in rendered]
        created: list[Path] = []
        for path, (_, data) in zip(paths, rendered, strict=True):
            result = _write_new(path, data)
            if result == "taken":
                break
            if result == "written":
                created.append(path)
        else:
            return paths
        for path in created:  # the name belongs to another digest: give back what this attempt took
            path.unlink(missing_ok=True)
        n += 1

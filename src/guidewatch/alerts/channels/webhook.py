"""A JSON (or Slack) webhook: the digest POSTed with an ``Idempotency-Key`` header.

The token and the URL's path and query (for Slack the path *is* the secret) never appear
in exceptions, logs or reprs: only scheme://host is ever shown.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NoReturn, Self
from urllib.parse import urlsplit

from guidewatch import __version__
from guidewatch.alerts.channels.base import Channel, Delivery, DeliveryError, Recipient, check_header, decode, scrub
from guidewatch.alerts.digest import Digest, safe_url, to_json_dict
from guidewatch.model import Guide

if TYPE_CHECKING:
    from guidewatch.config import Config

log = logging.getLogger("guidewatch.alerts.channels")

USER_AGENT = f"guidewatch/{__version__} (+digest delivery)"
SLACK_TEXT_LIMIT = 2900  # Slack rejects section text over 3000 characters
SLACK_MAX_BLOCKS = 48  # Slack allows 50 blocks per message


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
    lines += _slack_by_change(guide["sources"]) if "sources" in guide else _slack_by_section(guide)
    text = ""
    for n, line in enumerate(lines):
        if len(text) + len(line) + 40 > SLACK_TEXT_LIMIT:
            return text + f"\n…and {len(lines) - n} more"
        text += ("\n" if text else "") + line
    return text


def _slack_by_change(sources: list[dict[str, Any]]) -> list[str]:
    """Source, then each of its changes once, with the sections it bears on by tier (as the e-mail)."""
    lines = []
    for source in sources:
        lines.append(f"{_slack_link(source['url'], source['title'])}")
        for change in source["changes"]:
            tiers = [(label, [s["heading"] for s in change["sections"] if s["tier"] == tier])
                     for tier, label in (("reread", "re-read"), ("related", "related"))]
            named = "; ".join(f"{label}: " + ", ".join(f"*{_slack_escape(h)}*" for h in heads)
                              for label, heads in tiers if heads)
            lines.append(f"• _{_slack_escape(change['severity'])}_ {_slack_escape(change['reason'])}"
                         + (f" → {named}" if named else ""))
    return lines


def _slack_by_section(guide: dict[str, Any]) -> list[str]:
    """A digest frozen in the outbox before the JSON gained `sources`: one line per section and change."""
    lines = []
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
    return lines


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
    check_header("Idempotency-Key", key)
    payload = slack_payload(digest_json) if settings.style == "slack" else digest_json
    headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": key,
               "User-Agent": USER_AGENT}
    if settings.token:
        check_header("Authorization", settings.token)
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
    body = scrub(decode(exc.read(65536) or b""), settings._secrets())
    return " ".join(body[:300].split())


def _fail(settings: WebhookSettings, key: str, where: str, reason: str, *, transient: bool) -> NoReturn:
    message = scrub(f"cannot deliver digest {key} to webhook {where}: {reason}", settings._secrets())
    log.debug("%s", message)  # the caller decides how loudly to report it
    raise DeliveryError(message, transient=transient) from None


def post_digest_webhook(settings: WebhookSettings, digest: Digest) -> None:
    post_webhook(settings, to_json_dict(digest), key=digest.key)



@dataclass(frozen=True)
class WebhookChannel(Channel):
    """[alerts.webhook]: every digest to one URL; its label is the URL redacted."""

    name = "webhook"
    unconfigured = "the webhook is no longer configured ([alerts.webhook])"

    settings: WebhookSettings

    @classmethod
    def from_config(cls, config: Config) -> Self | None:
        w = config.alerts.webhook
        return None if w is None else cls(WebhookSettings(
            url=w.url, token=w.token, style=w.style, timeout=w.timeout))  # type: ignore[arg-type]

    def recipients(self, guides: Sequence[Guide]) -> list[Recipient]:
        return [Recipient(redact_url(self.settings.url))]

    def send(self, delivery: Delivery) -> None:
        post_webhook(self.settings, dict(delivery.document), key=delivery.key)

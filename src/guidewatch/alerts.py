"""From open alerts to editors: routing, digest files and the delivery outbox.

Alerts are already in the store before anything here runs. A delivery is queued in the
outbox (with its rendered bodies frozen) before it is attempted, and its key is unique per
digest, channel and recipient, so a crash or a retry can never send the same digest twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .config import Config
from .deliver import DeliveryError, SmtpSettings, WebhookSettings, post_webhook, send_email, write_files
from .digest import Digest, DigestItem, digest_key, render, subject, to_json_dict
from .model import Guide
from .store import AlertRecord, Store, utcnow

log = logging.getLogger("guidewatch.alerts")


def digest_items(alerts: Sequence[AlertRecord], guides: Sequence[Guide]) -> list[DigestItem]:
    """One item per (alert, affected section of the alert's guide)."""
    by_slug = {g.slug: g for g in guides}
    items: list[DigestItem] = []
    for a in alerts:
        guide = by_slug.get(a.guide)
        order = {s.id: s.order for s in guide.sections} if guide else {}
        for imp in a.change.impacts:
            if imp.guide != a.guide:
                continue
            items.append(DigestItem(
                alert_id=a.id, guide=a.guide, guide_title=guide.title if guide else a.guide,
                section_id=imp.section, section_heading=imp.heading, source_url=a.change.source_url,
                source_title=a.change.source_title or a.change.source_url, change=a.change.change, impact=imp,
                detected_at=a.change.detected_at, section_order=order.get(imp.section, 10_000)))
    return items


@dataclass
class DigestRun:
    """What one `digest` run produced."""

    digest: Digest  # every open alert, all guides: the file digest
    files: list[Path] = field(default_factory=list)
    queued: list[str] = field(default_factory=list)  # "email:ed@example.org" ...
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def build_digest(store: Store, guides: Sequence[Guide], *, since: datetime | None = None,
                 recipient: str | None = None, guide_slugs: Sequence[str] | None = None) -> Digest:
    alerts = store.alerts(status="open", since=since)
    if guide_slugs is not None:
        alerts = [a for a in alerts if a.guide in guide_slugs]
    return Digest(recipient=recipient, generated_at=utcnow(), since=since, items=digest_items(alerts, guides))


def write_digest(digest: Digest, directory: Path, formats: Sequence[str]) -> list[Path]:
    return write_files(digest, directory, list(formats))  # type: ignore[arg-type]


def editors_of(guides: Sequence[Guide]) -> dict[str, list[str]]:
    """Editor e-mail -> the guide slugs they own."""
    out: dict[str, list[str]] = {}
    for g in guides:
        for e in g.editors:
            out.setdefault(e.strip().lower(), []).append(g.slug)
    return out


def queue_deliveries(store: Store, config: Config, guides: Sequence[Guide], *,
                     since: datetime | None = None) -> list[str]:
    """Queue one digest per editor (their guides only) and one for the webhook, of alerts
    that channel has not been sent yet. Returns what was queued."""
    queued: list[str] = []
    already: dict[tuple[str, str], set[int]] = {}
    for d in store.deliveries():
        if d.status != "dead":
            already.setdefault((d.channel, d.recipient), set()).update(d.alert_ids)
    targets: list[tuple[str, str, list[str] | None]] = []
    if config.alerts.email is not None:
        targets += [("email", editor, slugs) for editor, slugs in editors_of(guides).items()]
    if config.alerts.webhook is not None:
        targets.append(("webhook", config.alerts.webhook.url, None))
    for channel, recipient, slugs in targets:
        digest = build_digest(store, guides, since=since, recipient=recipient if channel == "email" else None,
                              guide_slugs=slugs)
        seen = already.get((channel, recipient), set())
        digest.items = [i for i in digest.items if i.alert_id not in seen]
        if not digest.items:
            continue
        ids = sorted({i.alert_id for i in digest.items})
        digest.key = digest_key(recipient, ids)
        payload = {"text": render(digest, "text"), "html": render(digest, "html"), "json": to_json_dict(digest)}
        key = f"{channel}:{digest.key}"
        if store.enqueue_delivery(key, channel, recipient, subject(digest), payload, ids) is not None:
            queued.append(f"{channel}:{recipient}")
    return queued


def deliver_pending(store: Store, config: Config) -> tuple[list[str], list[str]]:
    """Attempt every due delivery once; failures are rescheduled with back-off."""
    sent: list[str] = []
    failed: list[str] = []
    for d in store.claim_deliveries():
        label = f"{d.channel}:{d.recipient}"
        try:
            if d.channel == "email":
                e = config.alerts.email
                if e is None:
                    raise DeliveryError("e-mail is no longer configured ([alerts.email])")
                send_email(SmtpSettings(host=e.host, port=e.port, sender=e.sender, username=e.username,
                                        password=e.password, security=e.security, timeout=e.timeout),  # type: ignore[arg-type]
                           d.recipient, d.subject, d.payload.get("text", ""), d.payload.get("html", ""),
                           message_id=d.key)
            elif d.channel == "webhook":
                w = config.alerts.webhook
                if w is None:
                    raise DeliveryError("the webhook is no longer configured ([alerts.webhook])")
                post_webhook(WebhookSettings(url=w.url, token=w.token, style=w.style, timeout=w.timeout),  # type: ignore[arg-type]
                             d.payload.get("json", {}), key=d.key)
            else:
                raise DeliveryError(f"unknown channel {d.channel!r}")
        except Exception as exc:  # every failure is retried later, none is fatal to the run
            msg = str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
            store.delivery_failed(d.id, msg, retry_base=config.alerts.retry_base,
                                  max_attempts=config.alerts.max_attempts)
            failed.append(f"{label} ({msg})")
            log.warning("delivery %s failed: %s", label, msg)
            continue
        store.delivery_done(d.id)
        sent.append(label)
    return sent, failed


def run_digest(store: Store, config: Config, guides: Sequence[Guide], *, since: datetime | None = None,
               formats: Sequence[str] | None = None, send: bool = False) -> DigestRun:
    digest = build_digest(store, guides, since=since)
    run = DigestRun(digest=digest)
    run.files = write_digest(digest, config.alerts_dir, formats or config.alerts.formats)
    if send:
        run.queued = queue_deliveries(store, config, guides, since=since)
        run.sent, run.failed = deliver_pending(store, config)
    return run


def render_digest(digest: Digest, fmt: str) -> str:
    return render(digest, fmt)  # type: ignore[arg-type]

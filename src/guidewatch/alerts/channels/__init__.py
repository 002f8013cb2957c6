"""Delivering digests: files in ``alerts/``, and the registered channels (e-mail over SMTP,
a JSON or Slack webhook, apprise's services, and any other `Channel` subclass).

Each channel makes one delivery attempt and either returns or raises `DeliveryError` with a
readable, secret-free message and a ``transient`` flag (worth retrying later). Retrying,
and never sending twice, is the caller's job (the alert outbox); the idempotency key
travels with every delivery (``X-Guidewatch-Digest`` and a deterministic Message-ID for
e-mail, ``Idempotency-Key`` for webhooks) so a receiver can also recognise a repeat.
"""

from guidewatch.alerts.channels.apprise import AppriseChannel
from guidewatch.alerts.channels.base import (
    CHANNELS,
    Channel,
    Delivery,
    DeliveryError,
    Recipient,
    channel_for,
    configured_channels,
)
from guidewatch.alerts.channels.files import write_files
from guidewatch.alerts.channels.smtp import (
    EmailChannel,
    SmtpSettings,
    build_message,
    editors_of,
    make_message_id,
    send_digest_email,
    send_email,
)
from guidewatch.alerts.channels.webhook import (
    WebhookChannel,
    WebhookSettings,
    post_digest_webhook,
    post_webhook,
    redact_url,
    slack_payload,
)

__all__ = [
    "CHANNELS",
    "AppriseChannel",
    "Channel",
    "Delivery",
    "DeliveryError",
    "EmailChannel",
    "Recipient",
    "SmtpSettings",
    "WebhookChannel",
    "WebhookSettings",
    "build_message",
    "channel_for",
    "configured_channels",
    "editors_of",
    "make_message_id",
    "post_digest_webhook",
    "post_webhook",
    "redact_url",
    "send_digest_email",
    "send_email",
    "slack_payload",
    "write_files",
]

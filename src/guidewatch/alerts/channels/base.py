"""The channel interface and its registry, after urlwatch's reporter kinds: a subclass with a
``name`` registers itself, so adding a way to deliver digests is one small class and the
outbox never branches on channel names.

A channel is built from the configuration (`from_config`, None when it is not configured),
says who receives digests through it (`recipients`), and makes one delivery attempt
(`send`), which returns or raises `DeliveryError`. Retrying, and never sending twice, is
the outbox's job; the idempotency key travels in every `Delivery`.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self

from guidewatch.model import Guide

if TYPE_CHECKING:
    from guidewatch.config import Config


class DeliveryError(RuntimeError):
    """One delivery attempt failed; ``transient`` says whether a later retry may succeed,
    ``permanent`` that the server refused it for good (an SMTP 5xx): retrying cannot help."""

    def __init__(self, message: str, *, transient: bool = False, permanent: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
        self.permanent = permanent


@dataclass(frozen=True)
class Delivery:
    """One queued digest as the outbox froze it: what a channel sends, and its key."""

    key: str  # the digest's own key (gw-…): idempotency key, Message-ID, Idempotency-Key
    recipient: str
    subject: str
    text: str = ""
    html: str = ""
    document: Mapping[str, Any] = field(default_factory=dict)  # the digest as JSON


@dataclass(frozen=True)
class Recipient:
    """Who receives digests through a channel, and of which guides (None: all of them)."""

    address: str  # an e-mail address, or a label that holds no secret (a redacted URL)
    guides: tuple[str, ...] | None = None


#: Channel name -> class, in registration order (which is also the order targets are routed).
CHANNELS: dict[str, type[Channel]] = {}


class Channel(ABC):
    """A way to deliver a digest. Subclasses set ``name`` and are registered by it."""

    name: ClassVar[str] = ""
    #: Why a queued delivery cannot go out once its channel was configured away.
    unconfigured: ClassVar[str] = ""
    #: Whether the digest names its recipient (an e-mail does; a shared webhook does not).
    addressed: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.name:
            return
        if cls.name in CHANNELS:
            raise ValueError(f"a delivery channel named {cls.name!r} is already registered")
        if len(cls.name) > 20:  # the outbox's channel column
            raise ValueError(f"channel name {cls.name!r} is longer than 20 characters")
        CHANNELS[cls.name] = cls

    @classmethod
    @abstractmethod
    def from_config(cls, config: Config) -> Self | None:
        """This channel as configured, or None when the configuration does not enable it."""

    @abstractmethod
    def recipients(self, guides: Sequence[Guide]) -> list[Recipient]:
        """Everyone this channel delivers to."""

    @abstractmethod
    def send(self, delivery: Delivery) -> None:
        """One attempt; raises `DeliveryError` with a readable, secret-free message."""


def configured_channels(config: Config) -> list[Channel]:
    """Every registered channel that the configuration enables."""
    return [c for c in (cls.from_config(config) for cls in CHANNELS.values()) if c is not None]


def channel_for(name: str, config: Config) -> Channel:
    """The named channel as configured now; a DeliveryError when it is unknown or unconfigured."""
    cls = CHANNELS.get(name)
    if cls is None:
        raise DeliveryError(f"unknown channel {name!r}")
    channel = cls.from_config(config)
    if channel is None:
        raise DeliveryError(cls.unconfigured or f"the {name} channel is no longer configured")
    return channel


def scrub(text: str, secret_values: Iterable[str | None]) -> str:
    """Replace any secret (and its base64 forms, as SMTP AUTH sends it) with ***."""
    for value in secret_values:
        if not value:
            continue
        forms = {value, base64.b64encode(value.encode()).decode()}
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, "***")
    return text


def check_header(name: str, value: str) -> None:
    """Refuse a header value that would end the header and start another (header injection)."""
    if "\r" in value or "\n" in value:
        raise DeliveryError(f"refusing to send: the {name} header contains a line break")


def decode(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

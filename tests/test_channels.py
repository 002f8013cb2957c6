"""The channel registry: a third channel, one small class registered here, is routed, queued
in the outbox and delivered exactly once beside real e-mail, through the same path."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import pytest

from guidewatch.alerts.channels import CHANNELS, Channel, Delivery, DeliveryError, Recipient
from guidewatch.config import Config
from guidewatch.model import Guide
from test_alerts import (
    ALICE,
    BOB,
    CAROL,
    GT_IMPACT,
    HE_IMPACT,
    Mailbox,
    Site,
    email_alerts,
    open_outbox,  # noqa: F401 - a fixture
    seed_change,
    site,  # noqa: F401 - a fixture
    smtp_server,
)


@dataclass
class Desk:
    """What the test channel received, and how it should answer its next attempts."""

    received: list[Delivery] = field(default_factory=list)
    answers: list[DeliveryError] = field(default_factory=list)  # raised, in order, before accepting
    enabled: bool = True


@pytest.fixture
def desk() -> Iterator[Desk]:
    """Registers the `desk` channel: the genomic-testing team's inbox, for their guide only."""
    state = Desk()

    class DeskChannel(Channel):
        name = "desk"
        unconfigured = "the desk is closed"

        @classmethod
        def from_config(cls, config: Config) -> Self | None:
            return cls() if state.enabled else None

        def recipients(self, guides: Sequence[Guide]) -> list[Recipient]:
            return [Recipient("genomics-team", ("genomic-testing",))]

        def send(self, delivery: Delivery) -> None:
            if state.answers:
                raise state.answers.pop(0)
            state.received.append(delivery)

    try:
        yield state
    finally:
        CHANNELS.pop("desk", None)


def test_a_registered_channel_is_routed_queued_and_delivered_once_beside_email(
        site: Site, open_outbox: Any, desk: Desk) -> None:  # noqa: F811 - the imported fixtures
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        site.configure(email_alerts(port))
        box = open_outbox()
        seed_change(box.store, site.he_url, "Hospitals may notify the MHRA.", "Hospitals must notify the MHRA.",
                    HE_IMPACT)
        seed_change(box.store, site.gt_url, "Results take 4 weeks.", "Results take 12 weeks.", GT_IMPACT)
        first = box.run()
        assert sorted(first.sent) == sorted([f"email:{ALICE}", f"email:{BOB}", f"email:{CAROL}",
                                             "desk:genomics-team"])
        (got,) = desk.received
        assert got.recipient == "genomics-team" and got.key.startswith("gw-")
        assert "Results take [-4-]{+12+} weeks." in got.text and "MHRA" not in got.text
        assert "Waiting for results" in got.html and "MHRA" not in got.html
        assert {g["guide"] for g in got.document["guides"]} == {"genomic-testing"}
        assert got.document["recipient"] is None  # not an addressed channel: the digest names no one
        delivered = {d.key: d for d in box.store.outbox.find()}[f"desk:{got.key}"]
        assert delivered.status == "sent" and delivered.subject == got.subject

        again = box.run()
        assert again.sent == [] and again.queued == []
        assert len(desk.received) == 1 and mailbox.counts() == {ALICE: 1, BOB: 1, CAROL: 1}


def test_a_registered_channel_fails_through_the_outbox_like_the_built_in_ones(
        site: Site, open_outbox: Any, desk: Desk) -> None:  # noqa: F811 - the imported fixtures
    site.configure("retry_base = 0.01\nmax_attempts = 5\n")
    box = open_outbox()
    seed_change(box.store, site.gt_url, "Results take 4 weeks.", "Results take 12 weeks.", GT_IMPACT)
    desk.answers = [DeliveryError("desk busy", transient=True)]
    first = box.run()
    assert first.sent == [] and len(first.failed) == 1
    assert first.failed[0].startswith("desk:genomics-team (attempt 1 of 5") and "desk busy" in first.failed[0]

    second = box.run()
    assert second.sent == ["desk:genomics-team"] and len(desk.received) == 1

    seed_change(box.store, site.gt_url, "Results take 12 weeks.", "Results take 16 weeks.", GT_IMPACT)
    desk.answers = [DeliveryError("desk refuses this digest", permanent=True)]
    third = box.run()
    assert third.sent == [] and len(third.refused) == 1 and "desk refuses" in third.refused[0]
    assert [d.status for d in box.store.outbox.find()].count("dead") == 1


def test_a_queued_delivery_whose_channel_went_away_fails_with_one_line(
        site: Site, open_outbox: Any, desk: Desk) -> None:  # noqa: F811 - the imported fixtures
    site.configure("retry_base = 0.01\n")
    box = open_outbox()
    seed_change(box.store, site.gt_url, "Results take 4 weeks.", "Results take 12 weeks.", GT_IMPACT)
    desk.enabled = False
    assert box.run().queued == []  # a channel that is not configured routes nothing

    desk.answers = [DeliveryError("desk busy", transient=True)]
    desk.enabled = True
    assert len(box.run().failed) == 1  # queued now, and waiting for a retry
    desk.enabled = False
    closed = box.run()
    assert len(closed.failed) == 1 and closed.failed[0].endswith(": the desk is closed")
    CHANNELS.pop("desk")
    gone = box.run()
    assert len(gone.failed) == 1 and gone.failed[0].endswith(": unknown channel 'desk'")
    assert desk.received == []


def test_two_channels_cannot_share_a_name(desk: Desk) -> None:
    with pytest.raises(ValueError, match="'email' is already registered"):
        class Impostor(Channel):
            name = "email"

            @classmethod
            def from_config(cls, config: Config) -> Self | None:
                return None

            def recipients(self, guides: Sequence[Guide]) -> list[Recipient]:
                return []

            def send(self, delivery: Delivery) -> None:
                raise AssertionError("never sends")
    assert CHANNELS["email"].__name__ == "EmailChannel"

"""From open alerts to editors: routing, digest files, the delivery outbox and reviews.

Alerts are already in the store before anything here runs (the crawl writes them). A
delivery is queued in the outbox, with its rendered bodies frozen, before it is attempted;
its key is unique per digest, channel and recipient, so a crash or a retry never makes a
second, different message out of the same alerts.

Per channel and recipient the outbox owes every open alert that was not delivered (or is
not being delivered) there yet. One run queues at most one digest per recipient: an unsent
digest that a newer one would overlap, or that names an alert closed since (accepted or
superseded), is cancelled and its still-open alerts are carried into the new one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from guidewatch.alerts.channels import (
    CHANNELS,
    Delivery,
    DeliveryError,
    channel_for,
    configured_channels,
    write_files,
)
from guidewatch.alerts.channels import editors_of as editors_of  # routing by editor, re-exported
from guidewatch.alerts.digest import Digest, DigestItem, digest_key, human_time, render, subject, summary, to_json_dict
from guidewatch.alerts.lifecycle import accept_refusal, blocking_state, state_action
from guidewatch.config import Config
from guidewatch.model import Guide
from guidewatch.store import (
    AlertRecord,
    DeliveryRecord,
    NewDelivery,
    OutboxPlan,
    ReviewRecord,
    SnapshotRecord,
    Store,
    StoreError,
    utcnow,
)

log = logging.getLogger("guidewatch.app.digest")

IN_FLIGHT = ("sent", "sending")  # deliveries whose alerts the recipient has (or is getting)


# --- digests ------------------------------------------------------------------------------


def digest_items(alerts: Sequence[AlertRecord], guides: Sequence[Guide],
                 blocked: Mapping[str, str] | None = None) -> list[DigestItem]:
    """One item per (alert, affected section of the alert's guide). `blocked`: source URL ->
    what to do instead of accepting, for sources whose state accepting cannot clear."""
    by_slug = {g.slug: g for g in guides}
    blocked = blocked or {}
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
                detected_at=a.change.detected_at, section_order=order.get(imp.section, 10_000),
                action=blocked.get(a.change.source_url, "")))
    return items


def blocked_actions(store: Store, urls: Collection[str]) -> dict[str, str]:
    """What to do about each of these sources that accepting cannot clear (gone, moved, ...),
    in the words `check` uses, so the digest and the gate say the same."""
    out: dict[str, str] = {}
    for url in sorted(set(urls)):
        src = store.sources.get(url)
        kind = blocking_state(url, src.state, src.final_url) if src else None
        if src is not None and kind is not None:
            out[url] = state_action(kind, src.final_url)
    return out


def build_digest(store: Store, guides: Sequence[Guide], *, since: datetime | None = None,
                 recipient: str | None = None, guide_slugs: Sequence[str] | None = None,
                 alert_ids: Sequence[int] | None = None) -> Digest:
    """The open alerts (of these guides, these ids, opened since) as one digest."""
    alerts = store.alerts.find(status="open", since=since, ids=alert_ids)
    if guide_slugs is not None:
        alerts = [a for a in alerts if a.guide in guide_slugs]
    blocked = blocked_actions(store, {a.change.source_url for a in alerts})
    return Digest(recipient=recipient, generated_at=utcnow(), since=since,
                  items=digest_items(alerts, guides, blocked))


def write_digest(digest: Digest, directory: Path, formats: Sequence[str]) -> list[Path]:
    return write_files(digest, directory, list(formats))  # type: ignore[arg-type]


def render_digest(digest: Digest, fmt: str) -> str:
    return render(digest, fmt)  # type: ignore[arg-type]


# --- routing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One recipient on one channel and the guides whose alerts it receives (None: all)."""

    channel: str  # a registered channel's name: email, webhook, ...
    recipient: str  # an e-mail address, or the webhook URL redacted (a Slack URL's path is its secret)
    guides: tuple[str, ...] | None
    app_url: str = ""  # `[serve] public_url`: the digest links each change to the review app

    @property
    def label(self) -> str:
        return f"{self.channel}:{self.recipient}"

    def wants(self, alert: AlertRecord) -> bool:
        return self.guides is None or alert.guide in self.guides


def targets(config: Config, guides: Sequence[Guide]) -> list[Target]:
    """Every recipient of every configured channel, in the registry's order."""
    return [Target(channel.name, r.address, r.guides, config.serve.public_url)
            for channel in configured_channels(config) for r in channel.recipients(guides)]


# --- the outbox ---------------------------------------------------------------------------


def _owed(target: Target, mine: Sequence[DeliveryRecord], open_alerts: Sequence[AlertRecord]) -> set[int]:
    """Open alerts for this target that no sent or in-flight delivery carried there."""
    delivered = {i for d in mine if d.status in IN_FLIGHT for i in d.alert_ids}
    return {a.id for a in open_alerts if target.wants(a)} - delivered


def plan_outbox(target: Target, guides: Sequence[Guide], mine: Sequence[DeliveryRecord],
                fresh: Sequence[AlertRecord], every_open: Sequence[AlertRecord]) -> OutboxPlan:
    """What one recipient's outbox needs, given its deliveries (`mine`, read under its lock).

    Nothing, when its unsent digests already carry everything owed (of the `fresh` alerts:
    those opened since `--since`) and nothing closed; else cancel them and queue one digest
    with what is owed plus their still-open alerts."""
    open_ids = {a.id for a in every_open}
    pending = [d for d in mine if d.status == "pending"]
    carried = {i for d in pending for i in d.alert_ids}
    owed = _owed(target, mine, fresh)
    closed = carried - open_ids
    if pending and not closed and owed <= carried:
        return OutboxPlan()
    reason = "replaced: some of its alerts were closed before it was sent" if closed else \
        "replaced by a digest that also carries newer alerts"
    owed |= carried & open_ids
    return OutboxPlan(cancel=tuple((d.id, reason) for d in pending),
                      new=_render(target, guides, [a for a in every_open if a.id in owed]) if owed else None)


def queue_deliveries(store: Store, config: Config, guides: Sequence[Guide], *,
                     since: datetime | None = None) -> list[str]:
    """Queue at most one digest per recipient: the open alerts it is owed. Returns labels.

    Each recipient's outbox is read, decided and written under its lock (`Outbox.settle`),
    so two runs at once cannot both queue the same alert for one recipient."""
    fresh = store.alerts.find(status="open", since=since)
    every_open = store.alerts.find(status="open")
    queued: list[str] = []
    for t in targets(config, guides):
        def plan(mine: list[DeliveryRecord], t: Target = t) -> OutboxPlan:
            return plan_outbox(t, guides, mine, fresh, every_open)

        if store.outbox.settle(t.channel, t.recipient, plan) is not None:
            queued.append(t.label)
    return queued


def _render(target: Target, guides: Sequence[Guide], alerts: Sequence[AlertRecord]) -> NewDelivery | None:
    """The digest of these alerts for this target, frozen; None when there is nothing to say."""
    wanted = [a for a in alerts if target.wants(a)]
    addressed = target.channel in CHANNELS and CHANNELS[target.channel].addressed
    digest = Digest(recipient=target.recipient if addressed else None, generated_at=utcnow(),
                    since=None, items=digest_items(wanted, guides), app_url=target.app_url)
    if not digest.items:
        return None
    ids = tuple(sorted({i.alert_id for i in digest.items}))
    digest.key = digest_key(target.recipient, list(ids))
    payload = {"text": render(digest, "text"), "html": render(digest, "html"), "json": to_json_dict(digest)}
    return NewDelivery(f"{target.channel}:{digest.key}", subject(digest), payload, ids)


def _attempt(config: Config, d: DeliveryRecord) -> None:
    """One delivery attempt through the delivery's channel as configured now; raises on failure."""
    key = d.key.partition(":")[2] or d.key  # the digest's own key (gw-...), as in its JSON
    delivery = Delivery(key=key, recipient=d.recipient, subject=d.subject, text=d.payload.get("text", ""),
                        html=d.payload.get("html", ""), document=d.payload.get("json", {}))
    channel_for(d.channel, config).send(delivery)


def _label(d: DeliveryRecord) -> str:
    return f"{d.channel}:{d.recipient}"


@dataclass
class DeliveryReport:
    """What one pass over the outbox did, one line per delivery."""

    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # will be retried on a later run
    dead: list[str] = field(default_factory=list)  # gave up now: max_attempts reached
    refused: list[str] = field(default_factory=list)  # gave up now: the server refused it for good (5xx)
    attempted: set[int] = field(default_factory=set)  # delivery ids


#: Seconds between renewals of a sender's claims (their lease is `DELIVERY_LEASE`, 10 minutes).
RENEW_EVERY = 60.0


@contextmanager
def _renewing(store: Store, ids: Sequence[int], clock: Callable[[], datetime], every: float) -> Iterator[None]:
    """Keep this run's claims alive while it sends, however slow the relay or long the list:
    another run takes a claim over only once its claimer stopped renewing it."""
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(every):
            try:
                store.outbox.renew(ids, now=clock())
            except Exception as exc:  # the next tick tries again; the lease outlasts many ticks
                log.warning("could not renew the delivery claims: %s", type(exc).__name__)

    thread = threading.Thread(target=renew, name="guidewatch-delivery-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def deliver_pending(store: Store, config: Config, *, clock: Callable[[], datetime] = utcnow,
                    renew_every: float = RENEW_EVERY) -> DeliveryReport:
    """Attempt every due delivery once. A failure is retried on later runs with doubling
    back-off until [alerts] max_attempts, when the delivery is 'dead'; a permanent refusal
    (an SMTP 5xx) is dead at once. A delivery whose alerts were all closed meanwhile is
    cancelled, not sent (safe without queueing first). The claims are renewed while sending."""
    report = DeliveryReport()
    errors: dict[int, tuple[str, bool]] = {}  # delivery id -> (message, permanent)
    open_ids = {a.id for a in store.alerts.find(status="open")}
    claimed = store.outbox.claim(now=clock())
    with _renewing(store, [d.id for d in claimed], clock, renew_every):
        for d in claimed:
            if d.alert_ids and not open_ids.intersection(d.alert_ids):
                # every alert in it was accepted or superseded since it was queued: old news
                store.outbox.cancel(d.id, "its alerts were all closed before it was sent", statuses=("sending",))
                continue
            report.attempted.add(d.id)
            error = _attempt_once(store, config, d)
            if error is None:
                report.sent.append(_label(d))
            else:
                errors[d.id] = error
    for d in store.outbox.find():
        if d.id not in errors:
            continue
        msg, permanent = errors[d.id]
        if permanent:
            report.refused.append(f"{_label(d)}: {msg}")
        elif d.status == "dead":
            report.dead.append(f"{_label(d)} after {d.attempts} attempt(s): {msg}")
        else:
            report.failed.append(f"{_label(d)} (attempt {d.attempts} of {config.alerts.max_attempts}; next try "
                                 f"{human_time(d.next_attempt_at)}): {msg}")
    return report


def _attempt_once(store: Store, config: Config, d: DeliveryRecord) -> tuple[str, bool] | None:
    """Attempt one claimed delivery and record the outcome: None when sent, else the error
    message and whether the refusal was permanent."""
    try:
        _attempt(config, d)
    except Exception as exc:  # every failure is recorded, none is fatal to the run
        msg = str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
        permanent = isinstance(exc, DeliveryError) and exc.permanent
        store.outbox.failed(d.id, msg, retry_base=config.alerts.retry_base,
                              max_attempts=config.alerts.max_attempts, permanent=permanent)
        if permanent:
            log.warning("delivery %s refused permanently, not retried: %s", _label(d), msg)
        else:
            log.warning("delivery %s failed (attempt %d): %s", _label(d), d.attempts + 1, msg)
        return msg, permanent
    store.outbox.done(d.id)
    return None


def retry_dead(store: Store) -> int:
    """Give dead deliveries another go: their still-open alerts are owed again."""
    return sum(store.outbox.cancel(d.id, "dead; retried by hand", statuses=("dead",))
               for d in store.outbox.find("dead"))


def outbox_status(store: Store, skip: Collection[int] = ()) -> tuple[list[str], list[str]]:
    """(waiting, undelivered): failed deliveries waiting for their next try, and dead ones
    whose alerts are still open and were not delivered to that recipient since."""
    open_ids = {a.id for a in store.alerts.find(status="open")}
    outbox = store.outbox.find()
    waiting = [f"{_label(d)}: attempt {d.attempts + 1} due {human_time(d.next_attempt_at)} "
               f"(last error: {d.last_error})"
               for d in outbox if d.status == "pending" and d.attempts and d.id not in skip]
    undelivered = []
    for d in outbox:
        if d.status != "dead":
            continue
        delivered = {i for o in outbox if _label(o) == _label(d) and o.status in IN_FLIGHT for i in o.alert_ids}
        missing = (set(d.alert_ids) & open_ids) - delivered
        if missing:
            undelivered.append(f"{_label(d)}: gave up after {d.attempts} attempt(s); {len(missing)} open "
                               f"alert(s) not delivered (last error: {d.last_error})")
    return waiting, undelivered


# --- one digest run -----------------------------------------------------------------------


@dataclass
class DigestRun:
    """What one `digest` run produced."""

    digest: Digest  # every open alert, all guides: the file digest
    files: list[Path] = field(default_factory=list)
    send: bool = False
    queued: list[str] = field(default_factory=list)  # "email:ed@example.org" ...
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    undelivered: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def report(self) -> tuple[list[str], list[str]]:
        """(stdout lines, stderr lines) for the command line; delivery problems go to stderr."""
        out = [summary(self.digest)] + [f"wrote {p}" for p in self.files]
        if not self.files:
            out.append("no digest file written: nothing to review (`--write-empty` writes one anyway)")
        err: list[str] = []
        if not self.send:
            return out, err
        out += [f"sent {s}" for s in self.sent]
        if not (self.queued or self.sent or self.failed or self.dead or self.refused or self.waiting
                or self.undelivered):
            out.append("nothing new to send (every open alert was already delivered)")
        out += self.notes
        err += [f"delivery failed, will retry: {f}" for f in self.failed]
        err += [f"delivery failed, giving up ([alerts] max_attempts reached): {d}" for d in self.dead]
        err += [f"delivery refused permanently (5xx), not retried: {r}" for r in self.refused]
        err += [f"waiting to retry: {w}" for w in self.waiting]
        err += [f"undelivered: {u}" for u in self.undelivered]
        if self.undelivered:
            err.append("undelivered: fix the cause, then run `guidewatch digest --send --retry-dead`")
        return out, err


def unrouted_notes(config: Config, guides: Sequence[Guide], digest: Digest) -> list[str]:
    """Guides with open alerts that no editor receives by e-mail."""
    if config.alerts.email is None:
        return []
    bare = {g.slug for g in guides if not any(e.strip() for e in g.editors)}
    return [f"note: guide {slug} has open alerts but no editors to e-mail ([[guides]] editors)"
            for slug in sorted({i.guide for i in digest.items}) if slug in bare]


def run_digest(store: Store, config: Config, guides: Sequence[Guide], *, since: datetime | None = None,
               formats: Sequence[str] | None = None, send: bool = False, retry_dead_first: bool = False,
               write_empty: bool = False) -> DigestRun:
    """Write the file digest of every open alert (an empty one only with `write_empty`: a
    "nothing to review" file is clutter unless asked for); with `send`, queue and deliver
    per recipient."""
    digest = build_digest(store, guides, since=since)
    digest.app_url = config.serve.public_url
    run = DigestRun(digest=digest, send=send)
    if digest.items or write_empty:
        run.files = write_digest(digest, config.alerts_dir, formats or config.alerts.formats)
    if send:
        if retry_dead_first:
            retry_dead(store)
        run.queued = queue_deliveries(store, config, guides, since=since)
        result = deliver_pending(store, config)
        run.sent, run.failed, run.dead, run.refused = result.sent, result.failed, result.dead, result.refused
        run.waiting, run.undelivered = outbox_status(store, result.attempted)
        run.notes = unrouted_notes(config, guides, digest)
    return run


# --- reviews ------------------------------------------------------------------------------


def awaiting_review(store: Store) -> list[str]:
    """Sources with open alerts, or whose current version is not the reviewed one."""
    urls = {a.change.source_url for a in store.alerts.find(status="open")}
    urls |= {s.url for s in store.sources.all() if s.current_snapshot_id != s.reviewed_snapshot_id}
    return sorted(urls)


def refusals(store: Store, urls: Sequence[str]) -> dict[str, str]:
    """URL -> why `accept` refuses it (gone, moved, withdrawn, unreachable: accepting cannot
    clear those, so it would only quieten the digest while `check` keeps failing)."""
    out: dict[str, str] = {}
    for url in urls:
        src = store.sources.get(url)
        if src is None:
            raise StoreError(f"{url}: not a watched source (see `guidewatch guides`)")
        why = accept_refusal(url, src.state, src.final_url)
        if why:
            out[url] = why
    return out


def accept_sources(store: Store, urls: Sequence[str], *, by: str,
                   note: str | None = None) -> list[tuple[ReviewRecord, SnapshotRecord | None]]:
    """Record the review of each source's current version (closing its alerts, moving the
    baseline). Every URL is checked first, so a typo or a refused source accepts nothing."""
    by = by.strip()
    if not by:
        raise ValueError("--by must name the reviewer")
    refused = refusals(store, urls)
    if refused:
        raise StoreError(next(iter(refused.values())))
    return [store.reviews.accept(url, by=by, note=note) for url in urls]


def describe_review(review: ReviewRecord, snap: SnapshotRecord | None) -> str:
    version = f"version {snap.content_hash[:12]} fetched {snap.fetched_at:%Y-%m-%d %H:%M} UTC" if snap \
        else "no stored version"
    return (f"accepted {review.source_url} ({version}) by {review.reviewed_by}; "
            f"{review.alerts_closed} alert(s) closed")

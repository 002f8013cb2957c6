"""One crawl: due sources -> fetch -> normalise -> record -> diff -> link -> alerts.

Each outcome is processed as soon as the child crawl process streams it back, so a crawl
that is killed part-way keeps everything it had already recorded.
"""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from guidewatch.alerts.lifecycle import AUTOMATIC, review_due_closure, uncited_closure
from guidewatch.changes.diff import diff_pages, number_changes
from guidewatch.changes.events import gone_event, metadata_events, moved_event, unreachable_event, withdrawn_event
from guidewatch.changes.link import citing, link_changes, url_key
from guidewatch.config import Config, GuideConfig, SourceConfig, parse_duration
from guidewatch.model import Change, FetchOutcome, FetchRequest, Guide, Page
from guidewatch.pages.parallel import ParseJob, ParsePool, parse
from guidewatch.pages.snapshots import (
    files_lock,
    remove_orphaned_temp_files,
    remove_snapshots,
    snapshot_path,
    write_snapshots,
)
from guidewatch.pages.snapshots import parse as parse_snapshot
from guidewatch.pages.suspect import Judgement, error_like, judge
from guidewatch.sources.fetch import FetchSettings, fetch_sources
from guidewatch.sources.guides import MAX_GUIDE_BYTES, GuideError, GuideFileError, guide_format, load_guide, parse_guide
from guidewatch.sources.profiles import Profile, api_url_for, load_profiles, resolve_profile
from guidewatch.store import RecordResult, SnapshotRecord, SourceState, Store, StoreError, utcnow

log = logging.getLogger("guidewatch.crawl")


@dataclass
class Workspace:
    """Everything a command needs, loaded once from the validated config."""

    config: Config
    store: Store
    guides: list[Guide]
    profiles: dict[str, Profile]
    _citing_index: dict[tuple[str, str], set[int]] | None = field(default=None, repr=False)

    def close(self) -> None:
        self.store.close()

    def profile(self, source: SourceState) -> Profile:
        return resolve_profile(source.url, self.profiles, self.config.source(source.url))

    def guides_citing(self, url: str) -> list[Guide]:
        """Guides citing `url` (as `link.citing` decides), through an index built once: scanning
        every citation of every guide for each changed page is O(N) per page at scale."""
        if self._citing_index is None:
            self._citing_index = {}
            for i, g in enumerate(self.guides):
                for c in g.external_citations:
                    host, path = url_key(c.url)
                    for key in ((host, path), (host, "/" + path.rsplit("/", 1)[-1])):
                        self._citing_index.setdefault(key, set()).add(i)
        host, path = url_key(url)
        candidates = self._citing_index.get((host, path), set()) | self._citing_index.get(
            (host, "/" + path.rsplit("/", 1)[-1]), set())
        return [self.guides[i] for i in sorted(candidates) if citing(self.guides[i], [url])]


def load_guides(config: Config) -> list[Guide]:
    remote = fetch_guide_texts(config, [gc.path for gc in config.guides if _is_url(gc.path)])
    guides = []
    for gc in config.guides:
        if gc.path in remote:
            guides.append(parse_guide(remote[gc.path], slug=gc.slug, fmt=guide_format(gc.path), source=gc.path,
                                      base_url=gc.base_url, editors=gc.editors))
        else:
            guides.append(_load_local(config, gc))
    return guides


def _load_local(config: Config, gc: GuideConfig) -> Guide:
    """A guide file; one that cannot be used is reported with the config line that names it."""
    try:
        return load_guide(config.guide_path(gc), slug=gc.slug, base_url=gc.base_url, editors=gc.editors)
    except GuideFileError as exc:
        raise GuideError(f"{gc.origin}: {exc}" if gc.origin else str(exc)) from None


def _is_url(path: str) -> bool:
    return path.startswith(("http://", "https://"))


def fetch_guide_texts(config: Config, urls: Sequence[str]) -> dict[str, str]:
    """Guides given by URL, fetched by the crawl child exactly as sources are: the same
    private-address guard and resolver, redirects only to the guide's own host, robots.txt,
    the per-request timeout and the whole-crawl limit. A second fetcher would be a second
    guard to keep in step, and the one that fell behind is the way round it."""
    if not urls:
        return {}
    for url in urls:
        guide_format(url)  # an unsupported format fails before anything is fetched
    settings = dataclasses.replace(fetch_settings(config), max_bytes=MAX_GUIDE_BYTES)
    outcomes = fetch_sources([FetchRequest(url, "default") for url in dict.fromkeys(urls)], settings,
                             timeout=config.fetch.crawl_timeout)
    texts: dict[str, str] = {}
    for outcome in outcomes:
        if outcome.status != "ok":
            raise GuideError(f"{outcome.url}: cannot fetch guide: {outcome.error or outcome.status}")
        texts[outcome.url] = outcome.body.decode("utf-8-sig", "replace")
    return texts


def open_workspace(config: Config, *, sync: bool = True) -> Workspace:
    guides = load_guides(config)
    profiles = load_profiles([config.profiles_dir] if config.profiles_dir else [])
    for sc in config.sources:  # a profile name no profile has stops every command, not one crawl
        resolve_profile(sc.url, profiles, sc)
    store = Store(config.store)
    remove_orphaned_temp_files(config.snapshots_dir, config.alerts_dir)  # left by a killed run
    ws = Workspace(config, store, guides, profiles)
    if sync:
        store.guides.sync(guides, watched_sources(guides, config.sources, profiles))
        import_committed_baselines(store, config)
        retire_uncited(ws)
    return ws


def retire_uncited(ws: Workspace) -> None:
    """Sources no guide cites any more (the link was changed or dropped): their open alerts
    close, recorded in the audit trail, and their files leave `snapshots/`. Idempotent, so a
    command killed half-way, or a crawl that wrote an old source's files meanwhile, is put
    right by the next command."""
    closure = uncited_closure()
    for source_id in ws.store.alerts.uncited_sources():
        ws.store.alerts.close(source_id, kinds=closure.kinds, status=closure.status, note=closure.note, by=AUTOMATIC)
    root = ws.config.snapshots_dir
    gone = [u for u in ws.store.sources.uncited_urls()
            if snapshot_path(root, u).exists() or snapshot_path(root, u, latest=True).exists()]
    if gone:
        sync_snapshot_files(ws, urls=gone)


def watched_sources(guides: Sequence[Guide], configured: Sequence[SourceConfig],
                    profiles: Mapping[str, Profile]) -> dict[str, str]:
    """Every source to watch (each guide's external citations, then the `[[sources]]` entries)
    and the name of the profile `resolve_profile` reads it with, from the loaded profile set."""
    by_url: dict[str, SourceConfig] = {}
    for s in configured:
        by_url.setdefault(s.url, s)
    urls = dict.fromkeys([c.url for g in guides for c in g.external_citations] + list(by_url))
    return {url: resolve_profile(url, profiles, by_url.get(url)).name for url in urls}


def import_committed_baselines(store: Store, config: Config) -> list[str]:
    """A store without a source's history (a fresh CI runner) takes the reviewed version from
    the committed `snapshots/` file, so the gate compares against what editors reviewed."""
    imported: list[str] = []
    for src in store.sources.all():
        if src.current_snapshot_id is not None:
            continue
        path = snapshot_path(config.snapshots_dir, src.url)
        if not path.exists():
            continue
        try:
            snap = parse_snapshot(path.read_text(encoding="utf-8"))
            meta = {k[5:]: v for k, v in snap.meta.items() if k.startswith("meta.")}
            fetched = _parse_time(snap.meta.get("fetched_at")) or utcnow()
            reviewed = _parse_time(snap.meta.get("reviewed_at")) or fetched
            if store.sources.import_baseline(src.url, text=snap.text, title=snap.meta.get("title", ""),
                                     profile=snap.meta.get("profile", src.profile), fetched_at=fetched, meta=meta,
                                     reviewed_by=snap.meta.get("reviewed_by") or "snapshot file",
                                     reviewed_at=reviewed):
                imported.append(src.url)
        except (OSError, ValueError) as exc:
            log.warning("%s: ignoring unreadable snapshot file: %s", path, exc)
    return imported


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def fetch_settings(config: Config) -> FetchSettings:
    f = config.fetch
    if not f.contact_url:
        _warn_no_contact(str(config.path or config.root))
    return FetchSettings(
        user_agent=f.user_agent + (f" (+{f.contact_url})" if f.contact_url else ""),
        contact_url=f.contact_url,
        concurrency=f.concurrency,
        per_host=f.per_host,
        download_delay=f.download_delay,
        autothrottle=f.autothrottle,
        retries=f.retries,
        timeout_s=f.timeout,
        max_bytes=f.max_bytes,
        obey_robots=f.obey_robots,
        allow_private=f.allow_private,
        log_level=_child_log_level(),
    )


@lru_cache(maxsize=64)
def _warn_no_contact(config: str) -> None:
    """Once per config and process: `check` crawls up to three times, the daemon every few hours."""
    log.warning("%s: [fetch] contact_url is not set: set it to a URL or e-mail address where site owners "
                "can reach you (it is sent in the User-Agent of every request)", config)


def _child_log_level() -> str:
    """DEBUG (every request, tracebacks) when this process shows debug lines (-vv), else
    WARNING: at -v Scrapy's INFO would be a hundred lines of start-up banner per crawl."""
    return "DEBUG" if logging.getLogger("guidewatch.sources.spider").isEnabledFor(logging.DEBUG) else "WARNING"


def source_schedule(config: Config, source: SourceState, profile: Profile | None = None) -> str:
    """The most specific schedule wins: the source's, the config's for its profile, the
    profile file's own default, then `[schedule] crawl`."""
    sc = config.source(source.url)
    return ((sc.schedule if sc and sc.schedule else None) or config.schedule.profiles.get(source.profile)
            or (profile.schedule if profile else None) or config.schedule.crawl)


def next_due(config: Config, source: SourceState, now: datetime, profile: Profile | None = None) -> datetime:
    cron = source_schedule(config, source, profile)
    if cron.startswith("every "):
        return now + parse_duration(cron[6:])
    trigger = _cron_trigger(cron, config.schedule.timezone)
    nxt = trigger.get_next_fire_time(None, now)
    return nxt.astimezone(UTC) if nxt else now + timedelta(days=1)


@lru_cache(maxsize=256)
def _cron_trigger(cron: str, timezone: str) -> Any:
    """Parsed once per expression: building a CronTrigger per crawled source adds up at scale."""
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger.from_crontab(cron, timezone=timezone)


#: The crawl summary's categories: each recorded source counts in exactly one.
CATEGORIES = ("new", "unchanged", "changed", "moved", "gone", "failed")


def crawl_category(status: str, *, moved: bool = False, baseline: bool = False, changed: bool = False) -> str:
    """The one category a recorded outcome counts in, so that the summary adds up to the
    sources checked. What needs doing most decides: a failure, then a gone or moved page
    (the guide's link), then a first version, then a change to review."""
    if status in ("failed", "blocked"):
        return "failed"
    if status in ("gone", "soft_404"):
        return "gone"
    if moved:
        return "moved"
    if baseline:
        return "new"
    return "changed" if changed else "unchanged"


@dataclass
class CrawlSummary:
    counts: Counter[str] = field(default_factory=Counter)  # by CATEGORIES
    new_alerts: list[int] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # one per source: what happened

    @property
    def checked(self) -> int:
        return sum(self.counts[k] for k in CATEGORIES)

    @property
    def fetched(self) -> int:
        """Sources that answered (every category but failed)."""
        return self.checked - self.counts["failed"]

    def headline(self) -> str:
        parts = ", ".join(f"{self.counts[k]} {k}" for k in CATEGORIES)
        return f"{self.checked} checked: {parts}; {len(self.new_alerts)} new alerts"


def select_sources(ws: Workspace, *, all_sources: bool = False, source: str | None = None) -> list[SourceState]:
    if source:
        found = ws.store.sources.get(source)
        if found is None or not found.active:
            raise StoreError(f"{source}: not a watched source (see `guidewatch guides`)")
        return [found]
    return ws.store.sources.all() if all_sources else ws.store.sources.due()


def build_request(ws: Workspace, src: SourceState) -> FetchRequest:
    profile = ws.profile(src)
    # Only ask for a 304 when we hold the text it would confirm.
    conditional = src.current_snapshot_id is not None and src.state not in ("gone",)
    return FetchRequest(
        url=src.url,
        profile=profile.name,
        etag=src.etag if conditional else None,
        last_modified=src.last_modified if conditional else None,
        api_url=api_url_for(src.url, profile),
        allowed_hosts=tuple(profile.hosts),
    )


def crawl(ws: Workspace, sources: Sequence[SourceState], *,
          progress: Callable[[FetchOutcome, str], None] | None = None, today: date | None = None,
          child: subprocess.Popen[bytes] | None = None) -> CrawlSummary:
    """Fetch the sources in a child process (`child`, if started early) and record each outcome as it arrives."""
    summary = CrawlSummary()
    by_url = {s.url: s for s in sources}
    requests = [build_request(ws, s) for s in sources]
    recording = Recording(ws, summary, sources, progress=progress, today=today)

    def handle(outcome: FetchOutcome) -> None:
        src = by_url.get(outcome.url)
        if src is not None:
            recording.add(src, outcome)

    try:
        fetch_sources(requests, fetch_settings(ws.config), on_outcome=handle, timeout=ws.config.fetch.crawl_timeout,
                      child=child, keep=False)
    finally:
        recording.close()
    return summary


class Recording:
    """Outcomes in, recorded: quiet 304s in batches, pages parsed by the page workers once
    there are enough of them, everything else through `process_outcome` one at a time.

    Used by a local crawl and by a distributed worker. `settle` records whatever waits (an
    idle worker calls it); `close` settles and stops the page workers. `progress` gets
    each outcome with its verdict once it is recorded.
    """

    def __init__(self, ws: Workspace, summary: CrawlSummary, sources: Sequence[SourceState] = (), *,
                 progress: Callable[[FetchOutcome, str], None] | None = None, today: date | None = None) -> None:
        self.ws, self.summary, self.progress, self.today = ws, summary, progress, today
        self.recorded = 0
        self.quiet = _QuietBatch(ws, summary, sources)
        dirs = [ws.config.profiles_dir] if ws.config.profiles_dir else []
        self.pool: ParsePool[tuple[SourceState, FetchOutcome]] = ParsePool(ws.profiles, dirs,
                                                                           workers=ws.config.fetch.parse_workers)

    def add(self, src: SourceState, outcome: FetchOutcome) -> None:
        if self.quiet.take(src, outcome):
            self._report(outcome, "unchanged")
        elif outcome.status == "ok":  # content to normalise: in the worker pool once there is enough of it
            for (s, o), parsed in self.pool.put((src, outcome), parse_job(self.ws, src, outcome)):
                self._finish(s, o, parsed)
        else:
            self._finish(src, outcome, None)

    @property
    def pages_held(self) -> int:
        """Pages taken but not yet recorded (each holds its body; batched 304s hold nothing much)."""
        return self.pool.waiting

    def settle(self) -> None:
        try:
            for (s, o), parsed in self.pool.drain():
                self._finish(s, o, parsed)
        finally:
            self.quiet.flush()

    def close(self) -> None:
        try:
            self.settle()
        finally:
            self.pool.close()

    def _finish(self, src: SourceState, outcome: FetchOutcome, parsed: Page | str | None) -> None:
        try:
            verdict = process_outcome(self.ws, src, outcome, self.summary, today=self.today, parsed=parsed)
        except Exception as exc:  # one bad page must not stop the crawl
            log.exception("processing %s failed", outcome.url)
            self.summary.counts["failed"] += 1
            verdict = f"failed: internal error while processing ({type(exc).__name__}: {exc})"
        self._report(outcome, verdict)

    def _report(self, outcome: FetchOutcome, verdict: str) -> None:
        self.recorded += 1
        self.summary.lines.append(f"{outcome.url}: {verdict}")
        if self.progress:
            self.progress(outcome, verdict)
        outcome.body = b""  # recorded: nothing holds on to the page any longer


def parse_job(ws: Workspace, src: SourceState, outcome: FetchOutcome) -> ParseJob:
    """How to normalise this answer: the source's profile (or the API's), its ignore rules."""
    sc = ws.config.source(src.url)
    profile = ws.profiles.get(outcome.via_api and src.profile or "") or ws.profile(src)
    return ParseJob(outcome.body, outcome.final_url or outcome.url, profile.name, outcome.headers.get("content-type"),
                    outcome.via_api, tuple(sc.ignore) if sc else ())


class _QuietBatch:
    """304s that need nothing but a fetch record, written many to a transaction.

    A 304 for a source whose reviewed and current versions are the same, whose files show
    them and which was not gone or unreachable changes nothing but its check times: the
    per-source path (a transaction, two queries, two file reads) would dominate a re-crawl.
    At most `size` answers or `max_age` seconds wait; a crash loses only their check times
    (the sources are simply checked again), never a version.
    """

    size, max_age = 200, 1.0

    def __init__(self, ws: Workspace, summary: CrawlSummary, sources: Sequence[SourceState] = ()):
        self.ws, self.summary = ws, summary
        self.pending: list[tuple[int, FetchOutcome, datetime | None]] = []
        self.oldest = 0.0
        self.hashes: dict[int, str] = {}  # loaded for the whole crawl when its sources are known
        self._load([s.reviewed_snapshot_id for s in sources if s.current_snapshot_id == s.reviewed_snapshot_id])

    def _load(self, ids: Sequence[int | None]) -> None:
        wanted = [i for i in ids if i is not None and i not in self.hashes]
        for start in range(0, len(wanted), 500):
            self.hashes.update(self.ws.store.sources.snapshot_hashes(wanted[start:start + 500]))

    def take(self, src: SourceState, outcome: FetchOutcome) -> bool:
        """Queue the outcome if it is a quiet 304; False sends it down the full path."""
        if (outcome.status != "not_modified" or outcome.moved or src.state in ("gone", "unreachable")
                or src.current_snapshot_id != src.reviewed_snapshot_id or src.reviewed_snapshot_id is None):
            return False
        self._load([src.reviewed_snapshot_id])  # a source that arrived from a queue: one query
        if src.reviewed_snapshot_id not in self.hashes or not _files_in_line(self.ws, src, self.hashes):
            return False
        now = outcome.fetched_at or utcnow()
        if not self.pending:
            self.oldest = time.monotonic()
        self.pending.append((src.id, outcome, next_due(self.ws.config, src, now, self.ws.profile(src))))
        self.summary.counts["unchanged"] += 1
        if len(self.pending) >= self.size or time.monotonic() - self.oldest >= self.max_age:
            self.flush()
        return True

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        try:
            self.ws.store.sources.record_not_modified(batch)
        except Exception as exc:
            reason = str(exc).splitlines()[0][:300]
            log.error("recording %d unchanged answers failed: %s", len(batch), reason)
            self.summary.counts["unchanged"] -= len(batch)
            self.summary.counts["failed"] += len(batch)
            self.summary.lines.append(f"{len(batch)} unchanged answers not recorded: {reason}")


def process_outcome(ws: Workspace, src: SourceState, outcome: FetchOutcome, summary: CrawlSummary, *,
                    today: date | None = None, parsed: Page | str | None = None) -> str:
    """Record one outcome and derive its changes; returns a short verdict for the progress line.

    `parsed`: the body already normalised (a `ParsePool` result); None parses it here.
    The source counts in one summary category, once it is recorded.
    """
    cfg = ws.config
    now = outcome.fetched_at or utcnow()
    today = today or now.date()
    page, suspect_hash, note = _content(ws, src, outcome, parsed)
    result = ws.store.sources.record_fetch(outcome, page, unreachable_after=cfg.check.unreachable_after,
                                   next_due_at=next_due(cfg, src, now, ws.profile(src)), suspect_hash=suspect_hash)
    state = result.source
    events, verdict = _state_events(ws, src, state, outcome, page)
    block_changes: list[Change] | None = None
    fresh = result.new_snapshot or _undiffed_current(ws, state, outcome)
    # Only load the reviewed text when there is something to compare it with (not for a 304).
    if result.baseline_review is not None:
        reviewed = result.new_snapshot  # the first version seen is the baseline: nothing to read back
    else:
        reviewed = (ws.store.sources.snapshot(state.reviewed_snapshot_id)
                    if fresh is not None or page is not None else None)
    if fresh is not None and reviewed is not None and reviewed.id != fresh.id:
        block_changes = diff_pages(reviewed.page(), fresh.page())
        real = [c for c in block_changes if c.severity != "cosmetic"]
        verdict = _also(verdict, f"changed: {len(real)} change(s) to review" if real else "changed (cosmetic only)")
    elif result.new_snapshot is not None:
        verdict = verdict or "baseline recorded"
    elif outcome.status in ("ok", "not_modified"):
        verdict = verdict or "unchanged"
    if page is not None:
        current = result.new_snapshot or ws.store.sources.snapshot(state.current_snapshot_id)
        meta = current.meta if current else page.metadata
        events.extend(metadata_events(reviewed.meta if reviewed else None, meta, today=today))
        verdict = _also(verdict, _close_review_due(ws, state, meta, events, today))
    _record_changes(ws, state, block_changes, events, summary)
    _sync_files(ws, state, outcome, result, changed=block_changes is not None)
    summary.counts[crawl_category(outcome.status, moved=outcome.moved, baseline=result.baseline_review is not None,
                                  changed=block_changes is not None)] += 1
    return verdict + note


def _also(verdict: str, more: str) -> str:
    return f"{verdict}; {more}" if verdict and more else verdict or more


def _state_events(ws: Workspace, src: SourceState, state: SourceState, outcome: FetchOutcome,
                  page: Page | None) -> tuple[list[Change], str]:
    """Page-level events of this answer (failed, gone, moved, withdrawn) and the verdict so far."""
    events: list[Change] = []
    if outcome.status in ("failed", "blocked"):
        verdict = f"failed ({outcome.error or outcome.status})"
        if state.state == "unreachable":
            events.append(unreachable_event(src.url, state.consecutive_failures, state.first_failed_at,
                                            state.last_error or ""))
            verdict += f"; unreachable after {state.consecutive_failures} tries"
        elif outcome.transient:
            verdict += f"; transient, try {state.consecutive_failures} of {ws.config.check.unreachable_after}"
        return events, verdict
    if outcome.status in ("gone", "soft_404"):
        events.append(gone_event(src.url, outcome.http_status or 200))
        return events, "gone" + (" (page says it was not found)" if outcome.status == "soft_404" else
                                 f" (HTTP {outcome.http_status})")
    verdict = "unchanged" if outcome.status == "not_modified" else ""
    if src.state in ("gone", "unreachable") and ws.store.alerts.close_recovered(src.id):
        verdict = "answers again (gone/unreachable alerts closed)"
    if outcome.moved:
        events.append(moved_event(src.url, outcome.final_url or ""))
        verdict = f"moved to {outcome.final_url}"
    if page is not None and page.metadata.get("withdrawn_at"):
        events.append(withdrawn_event(page))
    return events, verdict


def _close_review_due(ws: Workspace, state: SourceState, meta: dict[str, str], events: Sequence[Change],
                      today: date) -> str:
    """Close the review-due alert of a page whose next review date no longer passed (it was
    re-reviewed); the store records why in the audit trail. Idempotent: a crawl killed before
    this step closes it on the next answer."""
    if any(e.kind == "review_due" for e in events):
        return ""
    closure = review_due_closure(meta, today=today)
    if closure is None or not ws.store.alerts.close(state.id, kinds=closure.kinds, status=closure.status,
                                                    note=closure.note, by=AUTOMATIC):
        return ""
    return f"review-due alert closed ({closure.note})"


def _record_changes(ws: Workspace, state: SourceState, block_changes: list[Change] | None, events: list[Change],
                    summary: CrawlSummary) -> None:
    changes = (block_changes or []) + events
    number_changes(changes)
    if changes or block_changes is not None:
        linked = link_changes(changes, state.url, ws.guides_citing(state.url),
                              dismissed=ws.store.changes.dismissals(state.url))
        pairs = [(c, linked.get(c.id, [])) for c in changes]
        summary.new_alerts += ws.store.changes.record(
            state.id, state.reviewed_snapshot_id, state.current_snapshot_id, pairs,
            min_alert_severity=ws.config.alerts.min_severity, replace_open=block_changes is not None)


def _sync_files(ws: Workspace, state: SourceState, outcome: FetchOutcome, result: RecordResult, *,
                changed: bool) -> None:
    """Every answer re-syncs the files (unchanged ones are not rewritten), which also repairs
    files a killed crawl stored in the database but never wrote; a 304 whose files already
    show the stored versions (by content hash) skips the re-render."""
    cfg = ws.config
    quiet_304 = outcome.status == "not_modified" and not changed and _files_in_line(ws, state)
    if result.baseline_review is not None and state.active:  # a first version: files from what was just stored
        with files_lock(cfg.snapshots_dir):
            write_snapshots(cfg.snapshots_dir, state.url, result.new_snapshot, result.new_snapshot,
                            reviewed_by=result.baseline_review.reviewed_by,
                            reviewed_at=result.baseline_review.reviewed_at)
    elif (outcome.status in ("ok", "not_modified") or changed) and not quiet_304:
        sync_snapshot_files(ws, urls=[state.url])


def _content(ws: Workspace, src: SourceState, outcome: FetchOutcome,
             parsed: Page | str | None) -> tuple[Page | None, str | None, str]:
    """The page an "ok" answer holds, or None with `outcome` made a failed check (`screen_page`,
    then the structural guard); the content hash of a page held back as suspect; a verdict note."""
    if outcome.status != "ok":
        return None, None, ""
    if parsed is None:
        parsed = parse(parse_job(ws, src, outcome), ws.profiles)
    if isinstance(parsed, str):  # an unparseable body is a failed check, never a content change
        outcome.status, outcome.error, outcome.transient = "failed", parsed, True
        return None, None, ""
    page = screen_page(parsed, outcome)
    judgement = judge_version(ws, src, page) if page is not None else Judgement("accept")
    if page is not None and judgement.verdict == "suspect":
        outcome.status, outcome.transient = "failed", True
        outcome.error = f"suspect page held back until a later crawl sees it again: {judgement.reason}"
        return None, page.content_hash, ""
    return page, None, f"; suspect page confirmed: {judgement.reason}" if judgement.verdict == "confirmed" else ""


def judge_version(ws: Workspace, src: SourceState, page: Page) -> Judgement:
    """The structural guard's verdict on a new version (`suspect.judge`) with what the store knows.
    Free for almost every page: the store is asked only when a title or heading reads like an error."""
    if src.reviewed_snapshot_id is None or error_like(page) is None:
        return Judgement("accept")
    reviewed = ws.store.sources.snapshot(src.reviewed_snapshot_id)
    known = set(ws.store.sources.snapshot_hashes([src.reviewed_snapshot_id, src.current_snapshot_id]).values())
    last = ws.store.sources.fetch_history(src.url, limit=1)
    last_suspect = last[0]["content_hash"] if last and last[0]["status"] == "failed" else None
    return judge(page, reviewed.text if reviewed else None, known=known, last_suspect=last_suspect)


def _files_in_line(ws: Workspace, state: SourceState, hashes: dict[int, str] | None = None) -> bool:
    """Whether the snapshot files already show the stored versions (checked by content hash
    in the file headers), so a 304 need not re-render them: keeps a 304 cheap at scale.
    `hashes`: snapshot content hashes already loaded (one query for a whole crawl)."""
    if hashes is None:
        hashes = ws.store.sources.snapshot_hashes([state.reviewed_snapshot_id, state.current_snapshot_id])
    reviewed, current = hashes.get(state.reviewed_snapshot_id), hashes.get(state.current_snapshot_id)  # type: ignore[arg-type]
    root = ws.config.snapshots_dir
    want = {snapshot_path(root, state.url): reviewed,
            snapshot_path(root, state.url, latest=True): current if current != reviewed else None}
    for path, content_hash in want.items():
        try:
            with path.open(encoding="utf-8") as fh:
                head = "".join(line for _, line in zip(range(8), fh, strict=False))
        except OSError:
            head = None
        if (head is None) != (content_hash is None) or (head is not None and
                                                        f"\ncontent_hash: {content_hash}\n" not in head):
            return False
    return True


def _undiffed_current(ws: Workspace, state: SourceState, outcome: FetchOutcome) -> SnapshotRecord | None:
    """The current snapshot when it differs from the reviewed one but no change was ever
    recorded for it: a crawl killed between storing a version and its changes. Diffing it
    now (idempotent: known changes are not alerted twice) means the change is not lost."""
    if outcome.status not in ("ok", "not_modified") or state.current_snapshot_id in (None, state.reviewed_snapshot_id):
        return None
    if ws.store.changes.exists_for(state.current_snapshot_id):  # type: ignore[arg-type]
        return None
    return ws.store.sources.snapshot(state.current_snapshot_id)


def screen_page(page: Page, outcome: FetchOutcome) -> Page | None:
    """The page, or None (with `outcome` made a failure or soft 404) when the 200 is not the content.

    An outage notice, consent wall, empty body or a PDF/JSON/text body in place of the page
    must never be diffed: it would report the guidance as deleted and move the snapshot.
    """
    kind = page.metadata.get("content_type") or ""
    if page.metadata.get("unavailable"):
        reason = page.metadata["unavailable"][:120]
        outcome.status, outcome.error, outcome.transient = "failed", f"page says it is unavailable: {reason!r}", True
    elif page.metadata.get("soft_404"):
        outcome.status = "soft_404"
    elif not page.blocks and (outcome.via_api or "html" in kind or not kind):
        outcome.status, outcome.error, outcome.transient = "failed", "page had no main content", True
    elif not page.blocks:
        outcome.status, outcome.error = "failed", f"not a web page: the server sent {kind}"
        outcome.transient = kind.startswith("text/")  # a plain-text error message may clear
    else:
        return page
    return None


def sync_snapshot_files(ws: Workspace, root: Path | None = None, *, urls: Sequence[str] | None = None) -> None:
    """Rewrite every (or these) source's snapshot files from the store (after accept, or to
    repair); the files of a source no guide cites any more are removed.

    The store is read under the snapshot directory's lock, so when a crawl and an `accept`
    write the same source's files at once, the last writer has the newest state.
    """
    root = root or ws.config.snapshots_dir
    with files_lock(root):
        # Look the given URLs up one by one: scanning every source per crawled page is O(N^2).
        chosen = ws.store.sources.all(active_only=False) if urls is None else [
            s for s in (ws.store.sources.get(u) for u in urls) if s is not None and s.url in urls]
        for src in chosen:
            if not src.active:  # no guide cites it any more: its files go
                remove_snapshots(root, src.url)
                continue
            reviewed = ws.store.sources.snapshot(src.reviewed_snapshot_id)
            current = ws.store.sources.snapshot(src.current_snapshot_id)
            last = ws.store.reviews.last(src.id)
            write_snapshots(root, src.url, reviewed, current,
                            reviewed_by=last.reviewed_by if last else None,
                            reviewed_at=last.reviewed_at if last else None)


def now_utc() -> datetime:
    return datetime.now(UTC)

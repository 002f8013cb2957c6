"""Scale-out: crawl workers on several machines share one Redis queue and one store.

    guidewatch crawl --distributed --redis URL     # claim the due sources, queue them
    guidewatch worker --redis URL                  # any number of these, on any hosts

The queue is a Redis list, ``<queue>:requests``, of JSON fetch requests (`work_queue`).
Each worker runs `redis_spider.RedisGuideSpider`, a scrapy-redis ``RedisSpider`` variant of
the generic `GuideSpider` (same middlewares, retries, redirects and outcomes): it pops a
batch with LRANGE + LTRIM in one MULTI/EXEC, so every queued source goes to exactly one
worker, fetches it, and records the outcome through `crawl.Recording` in the shared store (PostgreSQL; SQLite
works for workers on one machine). The redirects, retries and API fallback of one source
stay in the worker that popped it, so one source always ends in exactly one outcome.

Sources are claimed with `Sources.claim_due` (SELECT ... FOR UPDATE SKIP LOCKED on
PostgreSQL), so two pushers never queue the same source, and a claim is a lease: a source
whose worker died comes due again when the lease runs out. A worker that is stopped
(SIGTERM) puts the sources it had not finished back at the front of the queue.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from guidewatch.app.crawl import build_request, select_sources
from guidewatch.app.instance import holder_id
from guidewatch.app.recording import CrawlSummary, Recording
from guidewatch.app.settings import fetch_settings
from guidewatch.app.workspace import Workspace, open_workspace
from guidewatch.exitcodes import UNAVAILABLE, USAGE, safe_store_url
from guidewatch.model import FetchOutcome
from guidewatch.sources.work_queue import encode_request, queue_key
from guidewatch.store import SourceState, utcnow

if TYPE_CHECKING:
    from redis import Redis

    from guidewatch.config import Config

log = logging.getLogger("guidewatch.app.distributed")

DEFAULT_QUEUE = "guidewatch"
DEFAULT_LEASE = timedelta(minutes=30)
CLAIM_BATCH = 500

Progress = Callable[[FetchOutcome, str], None]


class DistributedError(ValueError):
    """Redis is unreachable or the queue holds something unusable; one line for the CLI."""

    exit_code = USAGE


class QueueUnreachable(DistributedError):
    """Redis did not answer: the environment, not the command (exit 4 like the store)."""

    exit_code = UNAVAILABLE


def connect(url: str) -> Redis:
    """A checked Redis client; connection problems become one-line DistributedErrors."""
    import redis  # optional: the `distributed` extra

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=10, socket_timeout=30)
        client.ping()
    except ValueError as exc:
        raise DistributedError(f"{safe_store_url(url)}: not a Redis URL ({exc})") from None
    except redis.RedisError as exc:
        raise QueueUnreachable(f"{safe_store_url(url)}: cannot reach Redis: {exc}") from None
    return client


# --- pushing --------------------------------------------------------------------------------


@dataclass
class PushResult:
    queued: dict[str, datetime | None]  # url -> its last check before the push
    queue_length: int


def push_sources(ws: Workspace, redis_url: str, name: str = DEFAULT_QUEUE, *,
                 sources: Sequence[SourceState] | None = None, lease: timedelta = DEFAULT_LEASE) -> PushResult:
    """Queue `sources`, or (None) claim every due source and queue those.

    Claims go in batches, each pushed before the next claim, so a pusher that dies leaves
    at most one batch leased but unqueued (it comes due again after the lease).
    """
    client = connect(redis_url)
    key, started = queue_key(name), utcnow()
    queued: dict[str, datetime | None] = {}
    if sources is not None:
        queued |= _push(ws, client, key, sources)
    else:
        holder = holder_id("push")
        while batch := ws.store.sources.claim_due(holder, CLAIM_BATCH, now=started, lease=lease):
            try:
                queued |= _push(ws, client, key, batch)
            except DistributedError:
                for src in batch:  # not queued: due again at once, not after the lease
                    ws.store.sources.set_next_due(src.id, started)
                raise
    return PushResult(queued, int(client.llen(key)))


def _push(ws: Workspace, client: Redis, key: str, sources: Sequence[SourceState]) -> dict[str, datetime | None]:
    import redis  # optional: the `distributed` extra

    entries = [encode_request(build_request(ws, s)) for s in sources]
    if entries:
        try:
            client.rpush(key, *entries)
        except redis.RedisError as exc:
            raise DistributedError(f"cannot queue on Redis: {exc}") from None
    return {s.url: s.last_checked_at for s in sources}


def wait_recorded(ws: Workspace, before: dict[str, datetime | None], timeout: float,
                  poll: float = 1.0) -> list[str]:
    """Wait until each URL has a newer check than `before` says; returns those still missing.

    Compares with each source's previous check, not a clock, so workers' clocks may differ.
    """
    deadline = time.monotonic() + timeout
    missing = set(before)
    while missing:
        done = {s.url for s in ws.store.sources.all() if s.url in missing and s.last_checked_at != before[s.url]}
        missing -= done
        if not missing or time.monotonic() >= deadline:
            break
        time.sleep(poll)
    return sorted(missing)


def push_command(ws: Workspace, redis_url: str, name: str = DEFAULT_QUEUE, *, all_sources: bool = False,
                 source: str | None = None, wait: bool = False, echo: Callable[[str], None] = print) -> None:
    """`guidewatch crawl --distributed`: queue due sources (claimed), or --all / --source (unclaimed)."""
    try:
        chosen = select_sources(ws, all_sources=all_sources, source=source) if all_sources or source else None
        result = push_sources(ws, redis_url, name, sources=chosen)
        if not result.queued:
            echo("no sources are due (use --all to queue every source now)")
            return
        echo(f"queued {len(result.queued)} source(s) on {queue_key(name)} ({result.queue_length} waiting)")
        if wait:
            missing = wait_recorded(ws, result.queued, ws.config.fetch.crawl_timeout)
            if missing:
                raise DistributedError(f"{len(missing)} source(s) not recorded after "
                                       f"{ws.config.fetch.crawl_timeout:g} s (are workers running?)")
            echo(f"all {len(result.queued)} source(s) recorded by the workers")
    finally:
        ws.close()


# --- the worker -----------------------------------------------------------------------------


class Recorder:
    """Records outcomes in the store on its own thread, so fetching goes on meanwhile.

    Through `crawl.Recording`, as a local crawl does: quiet 304s and pages in batches.
    Whatever waits there is recorded as soon as the queue goes idle.
    """

    IDLE_SETTLE_S = 0.5

    def __init__(self, ws: Workspace, progress: Progress | None = None) -> None:
        self.ws = ws
        self.summary = CrawlSummary()
        self.recording = Recording(ws, self.summary, progress=progress)
        self._queue: queue.Queue[FetchOutcome | None] = queue.Queue()
        self._busy = 0
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    @property
    def recorded(self) -> int:
        return self.recording.recorded

    def put(self, _index: int, outcome: FetchOutcome) -> None:
        self._queue.put(outcome)

    def backlog(self) -> int:
        # Batched 304s and pages are not counted: they wait for more answers, which a full backlog would stop.
        return self._queue.qsize() + self._busy

    def close(self) -> None:
        """Record everything queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        try:
            while True:
                try:
                    outcome = self._queue.get(timeout=self.IDLE_SETTLE_S)
                except queue.Empty:
                    self._guarded(self.recording.settle)
                    continue
                if outcome is None:
                    break
                self._busy = 1
                try:
                    self._guarded(partial(self._record, outcome))
                finally:
                    self._busy = 0
        finally:
            self._guarded(self.recording.close)

    @staticmethod
    def _guarded(step: Callable[[], None]) -> None:
        """One bad page or a store hiccup must not stop the worker's recording thread."""
        try:
            step()
        except Exception:
            log.exception("recording failed")

    def _record(self, outcome: FetchOutcome) -> None:
        src = self.ws.store.sources.get(outcome.url)
        if src is None:
            log.warning("%s: fetched but no longer a watched source; not recorded", outcome.url)
            return
        self.recording.add(src, outcome)


def run_worker(config: Config, redis_url: str, name: str = DEFAULT_QUEUE, *, idle_exit: float = 0.0,
               progress: Progress | None = None) -> CrawlSummary:
    """Fetch queued sources until stopped (SIGTERM/SIGINT) or idle for `idle_exit` seconds.

    Runs Scrapy in this process (a worker is its own process, so the reactor starts once).
    """
    # Scrapy and scrapy-redis (optional) load only in a worker: `crawl --distributed` never needs them.
    from scrapy.crawler import CrawlerProcess

    from guidewatch.sources.redis_spider import RedisGuideSpider
    from guidewatch.sources.spider import scrapy_settings

    connect(redis_url)  # fail fast, with one line, before Scrapy starts
    ws = open_workspace(config, sync=False)
    recorder = Recorder(ws, progress)
    fs = fetch_settings(config)
    level = logging.getLogger().getEffectiveLevel()  # the CLI's -v, not Scrapy's DEBUG default
    for handler in logging.getLogger().handlers:
        handler.addFilter(lambda record: record.levelno >= level)
    try:
        process = CrawlerProcess({
            **scrapy_settings(fs),
            "LOG_INSTALL_ROOT_HANDLER": False,  # log through the command's handler
            "REDIS_URL": redis_url,
            "REDIS_START_URLS_KEY": queue_key(name),
            "MAX_IDLE_TIME_BEFORE_CLOSE": max(1, round(idle_exit)) if idle_exit > 0 else 0,
        })
        batch = 2 * fs.concurrency
        RedisGuideSpider.redis_batch_size = batch
        process.crawl(RedisGuideSpider, fetch_settings=fs, emit=recorder.put, backlog=recorder.backlog,
                      max_backlog=batch)
        process.start()
    finally:
        recorder.close()
        ws.close()
    return recorder.summary

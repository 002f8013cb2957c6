"""The distributed worker's spider: `GuideSpider` fed from the shared Redis queue.

Imported only by a worker (`guidewatch worker`): it needs scrapy-redis, an optional
dependency, and importing Scrapy's spiders is what a plain crawl's parent must avoid.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy_redis.spiders import RedisMixin

from guidewatch.model import FetchRequest
from guidewatch.sources.fetch import FetchSettings
from guidewatch.sources.spider import Emit, GuideSpider, _Source, mark_start
from guidewatch.sources.work_queue import decode_request

log = logging.getLogger("guidewatch.app.distributed")

#: Longest an idle worker blocks its reactor waiting for work (Scrapy re-checks idle spiders every 5 s).
IDLE_POLL_S = 4.0


class _Sources(dict[int, _Source]):
    """Index -> live source. A finished source is dropped (a worker runs for months);
    a late callback for it finds a placeholder that is already done."""

    def __missing__(self, index: int) -> _Source:
        return _Source(index, FetchRequest(url="", profile=""), frozenset(), done=True)


def wait_until(ready: Callable[[], bool], timeout: float, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not ready() and time.monotonic() < deadline:
        time.sleep(step)


class RedisGuideSpider(RedisMixin, GuideSpider):  # type: ignore[misc]
    """GuideSpider fed from the shared Redis queue instead of a fixed list of requests:
    it takes the next batch only when the recorder keeps up, and puts back what it popped
    but did not finish when it is stopped."""

    name = "guidewatch-worker"

    def __init__(self, fetch_settings: FetchSettings, emit: Emit,
                 backlog: Callable[[], int], max_backlog: int, **kwargs: Any) -> None:
        super().__init__([], fetch_settings, emit, **kwargs)
        self.sources = _Sources()
        self.raw: dict[int, bytes] = {}  # what was popped, to put back if stopped midway
        self.next_index = 0
        self.backlog, self.max_backlog = backlog, max_backlog
        self.spider_idle_start_time = int(time.time())

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> RedisGuideSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.setup_redis(crawler)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        for request in self.next_requests():
            yield mark_start(request)

    def next_requests(self) -> list[Request]:
        """The whole popped batch at once, so every popped entry is known before any is
        yielded (and goes back on the queue if the worker stops before fetching it)."""
        return list(super().next_requests())

    def make_request_from_data(self, data: bytes) -> list[Request]:
        try:
            fetch_request = decode_request(data)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("dropping an unreadable queue entry (%s): %.200r", exc, data)
            return []
        index, self.next_index = self.next_index, self.next_index + 1
        src = self._source(index, fetch_request)
        self.sources[index], self.raw[index] = src, data
        try:
            request = self._first_request(src)
        except ValueError as exc:  # Scrapy rejects the URL
            self._finish(src, "failed", error=f"invalid URL: {exc}")
            return []
        return [request] if request is not None else []

    def _finish(self, src: _Source, status: Any, **kwargs: Any) -> None:
        super()._finish(src, status, **kwargs)
        self.sources.pop(src.index, None)
        self.raw.pop(src.index, None)

    def spider_idle(self) -> None:
        """Take the next batch only when the recorder keeps up, and wait briefly for work."""
        if self.backlog() > self.max_backlog:
            wait_until(lambda: self.backlog() <= self.max_backlog, IDLE_POLL_S)
            if self.backlog() > self.max_backlog:
                raise DontCloseSpider
        poll = IDLE_POLL_S
        if self.max_idle_time:  # wait no longer than the rest of the allowed idle time
            poll = min(poll, self.spider_idle_start_time + self.max_idle_time - time.time())
        wait_until(lambda: self.count_size(self.redis_key) > 0, max(0.0, poll))
        super().spider_idle()

    def closed(self, reason: str) -> None:
        """Sources popped but not finished (the worker was stopped) go back to the queue's front."""
        left = [self.raw[i] for i in sorted(self.raw)]
        for src in self.sources.values():
            src.done = True
        if left:
            self.server.lpush(self.redis_key, *reversed(left))
            log.warning("worker stopping (%s): %d unfinished source(s) put back on the queue", reason, len(left))

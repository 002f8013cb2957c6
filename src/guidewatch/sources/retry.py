"""Downloader middleware: retries with exponential back-off that honour Retry-After.

Scrapy's RetryMiddleware retries at once; a struggling server (or one that asked us to wait)
gets the same load again.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    ResponseDataLossError,
)
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import error as txerror
from twisted.internet.task import deferLater
from twisted.web.client import ResponseFailed

from guidewatch.sources.partial import partial_problem

log = logging.getLogger("guidewatch.sources.spider")  # one name for all the crawl child logs (see spider.py)

RETRY_CODES = frozenset({408, 429, 500, 502, 503, 504})


async def _sleep(seconds: float) -> None:
    from twisted.internet import reactor

    await maybe_deferred_to_future(deferLater(reactor, seconds))  # type: ignore[arg-type]


_RETRYABLE_ERRORS: tuple[type[BaseException], ...] = (
    DownloadTimeoutError,
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    ResponseDataLossError,
    txerror.TimeoutError,
    txerror.ConnectError,
    txerror.ConnectionLost,
    txerror.ConnectionDone,
    ResponseFailed,
)


class BackoffRetryMiddleware:
    """Retry timeouts, connection errors and 408/429/5xx with exponential back-off.

    Waits retry_backoff * 2**n (with a little jitter), or the server's Retry-After on
    429/503 if longer; no wait exceeds max_retry_after, and a Retry-After beyond it ends
    the retries at once (coming back early would ignore what the server asked). Only the
    spider's own requests (meta "gw_index") are retried, up to meta "gw_max_retries".
    The wait holds the request's downloader slot, which keeps the host's load down.
    """

    def __init__(self, retries: int, backoff: float, cap: float):
        self.retries, self.backoff, self.cap = retries, backoff, cap

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        s = crawler.settings
        return cls(
            s.getint("GUIDEWATCH_RETRIES"),
            s.getfloat("GUIDEWATCH_RETRY_BACKOFF"),
            s.getfloat("GUIDEWATCH_MAX_RETRY_AFTER"),
        )

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        partial = partial_problem(response)
        if (response.status not in RETRY_CODES and partial is None) or not self._may_retry(request):
            return response
        wait = self.wait_for(request.meta.get("gw_retries", 0), response)
        if wait is None:
            return response
        return await self._retry(request, wait, partial or f"HTTP {response.status}")

    async def process_exception(self, request: Request, exception: Exception) -> Request | None:
        if not isinstance(exception, _RETRYABLE_ERRORS) or not self._may_retry(request):
            return None
        wait = self.wait_for(request.meta.get("gw_retries", 0), None)
        return await self._retry(request, wait or 0.0, type(exception).__name__)

    def _may_retry(self, request: Request) -> bool:
        if "gw_index" not in request.meta:
            return False
        limit = request.meta.get("gw_max_retries", self.retries)
        return int(request.meta.get("gw_retries", 0)) < limit

    def wait_for(self, attempt: int, response: Response | None) -> float | None:
        """Seconds to wait before retry number attempt+1; None means do not retry."""
        wait = min(self.backoff * (2**attempt) * random.uniform(1.0, 1.2), self.cap)
        if response is not None and response.status in (429, 503):
            after = retry_after_seconds(_header(response, "retry-after"))
            if after is not None:
                if after > self.cap:
                    return None
                wait = max(wait, after)
        return wait

    async def _retry(self, request: Request, wait: float, why: str) -> Request:
        attempt = int(request.meta.get("gw_retries", 0)) + 1
        log.info("retrying %s (%s), attempt %d in %.2f s", request.url, why, attempt + 1, wait)
        if wait > 0:
            await _sleep(wait)
        retry = request.replace(dont_filter=True)
        retry.meta["gw_retries"] = attempt
        return retry


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value is not None else None

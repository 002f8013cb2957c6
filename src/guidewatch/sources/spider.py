"""The one generic Scrapy spider: fetch each cited source once and report a FetchOutcome.

It runs in the crawl child process that `guidewatch.sources.fetch.fetch_sources` starts as
``python -m guidewatch.sources.child`` (see `guidewatch.sources.child` and the protocol in `guidewatch.sources.fetch`).

Outcome statuses:

- ``ok``: a 2xx answer; `body` holds it (GOV.UK Content API JSON when `via_api`).
- ``not_modified``: 304 to our If-None-Match / If-Modified-Since; no body.
- ``gone``: 404 or 410.
- ``soft_404``: a 2xx HTML page whose <title> or first <h1> says "Page not found" etc.
- ``failed``: no usable answer. `transient` is True for timeouts, connection errors,
  408/429/5xx after retries, partial bodies (a 206, a body cut short: `guidewatch.sources.partial`)
  and aborted crawls; False for other 4xx, redirect loops, too many redirects, bodies over
  the size cap.
- ``blocked``: we chose not to fetch: robots.txt disallows it, a redirect leads outside
  the allowed hosts or off HTTP(S), or the host is a private / loopback / link-local
  address (or resolves to one) and `allow_private` is off. `error` names the host.

Redirects are followed here, not by Scrapy's RedirectMiddleware, so every hop is checked
against the allowed hosts before anything connects to it. Retries are done by
`BackoffRetryMiddleware`, not Scrapy's RetryMiddleware, to get exponential back-off and
Retry-After. Conditional headers are set by the spider; Scrapy's HTTP cache is off
because its RFC 2616 policy would serve stale copies on 5xx and hide outages.

The parts, each small: `hosts` (allowed hosts, redirect checks), `crawlsettings` (the Scrapy
settings), the downloader middlewares `hostguard.HostGuardMiddleware` and
`retry.BackoffRetryMiddleware` (configured through `from_crawler`, as Scrapy's own are),
`outcomes` (outcome records and error texts) and `child` (the child's stdin/stdout protocol).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Unpack
from urllib.parse import urljoin

import scrapy
from scrapy import Request, signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.spidermiddlewares.referer import RefererMiddleware
from twisted.python.failure import Failure

from guidewatch.model import FetchOutcome, FetchRequest, FetchStatus
from guidewatch.sources.crawlsettings import scrapy_settings
from guidewatch.sources.fetch import FetchSettings
from guidewatch.sources.hosts import allowed_hosts_for, host_allowed, host_of, redirect_problem
from guidewatch.sources.mirror import Mirror
from guidewatch.sources.netguard import downloader_url, is_private_address
from guidewatch.sources.outcomes import (
    OutcomeDetails,
    _after_retries,
    _is_json,
    _soft_404_text,
    classify_error,
    describe_error,
    fetch_outcome,
    http_error,
)
from guidewatch.sources.partial import partial_problem
from guidewatch.sources.request_defaults import RequestDefaults
from guidewatch.sources.retry import RETRY_CODES, _header, retry_after_seconds

if TYPE_CHECKING:
    from guidewatch.sources.child import Credits

__all__ = [  # the names other modules (and tests) import from here
    "GuideSpider",
    "allowed_hosts_for",
    "host_allowed",
    "is_private_address",
    "retry_after_seconds",
    "run_crawl",
    "scrapy_settings",
]

log = logging.getLogger("guidewatch.sources.spider")  # not __name__: that is "__main__" in the child

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
GONE_CODES = frozenset({404, 410})
MAX_REDIRECTS = 10


# --- the spider ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Source:
    """Crawl state of one FetchRequest."""

    index: int
    request: FetchRequest  # as fetched: on the mirror when `[fetch.mirror]` maps its origin
    allowed: frozenset[str]
    started: float | None = None
    done: bool = False
    real_url: str = ""  # the cited URL the outcome is reported under ("": request.url)


Emit = Callable[[int, FetchOutcome], None]


class GuideSpider(scrapy.Spider):
    """Fetches each FetchRequest (API first when it has one) and emits exactly one outcome."""

    name = "guidewatch"

    def __init__(
        self,
        fetch_requests: Sequence[FetchRequest],
        fetch_settings: FetchSettings,
        emit: Emit,
        credits: Credits | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.fs = fetch_settings
        self.mirror = Mirror(fetch_settings.mirror)
        self.emit = emit
        self.credits = credits
        self._hosts: dict[frozenset[str], frozenset[str]] = {}  # one copy of each: ~2.7 MB at 10,000 sources
        self.sources = [self._source(i, r) for i, r in enumerate(fetch_requests)]

    def _source(self, index: int, request: FetchRequest) -> _Source:
        """The crawl state of `request`, fetched from its mirror if `[fetch.mirror]` has one."""
        local = self.mirror.request(request)
        allowed = allowed_hosts_for(local)
        return _Source(index, local, self._hosts.setdefault(allowed, allowed), real_url=request.url)

    #: What Scrapy's default-headers, user-agent and timeout middlewares would add (set in `from_crawler`).
    defaults = RequestDefaults({}, {})
    #: Scrapy's Referer policy, applied here to the follow-ups of a response (None: REFERER_ENABLED off).
    referer: RefererMiddleware | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> GuideSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._reached_downloader, signal=signals.request_reached_downloader)
        spider.defaults = RequestDefaults.from_settings(crawler.settings)
        # The spider middleware would run on every response to find a follow-up once in a while
        with contextlib.suppress(NotConfigured):
            spider.referer = RefererMiddleware.from_crawler(crawler)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        # Scrapy sets the root logger to NOTSET and its own to DEBUG when the crawl starts (its
        # handler filters), so every per-request debug line ("Crawled (304)", ours in _finish)
        # was built as a LogRecord and then dropped: the loggers' own level stops them sooner.
        for name in (None, "scrapy"):
            logging.getLogger(name).setLevel(self.fs.log_level.upper())
        for src in self.sources:
            if self.credits is not None:
                await self.credits.admit()
            try:
                request = self._first_request(src)
            except ValueError as exc:  # Scrapy rejects the URL
                self._finish(src, "failed", error=f"invalid URL: {exc}")
                continue
            if request is not None:
                yield mark_start(request)

    def closed(self, reason: str) -> None:
        """Whatever never got an outcome (a bug, a shutdown) still gets one."""
        for src in self.sources:
            if not src.done:
                self._finish(
                    src, "failed", error=f"crawl ended ({reason}) before this source finished", transient=True
                )

    # --- requests ----------------------------------------------------------------------

    def _first_request(self, src: _Source) -> Request | None:
        fr = src.request
        if not fr.url.startswith(("http://", "https://")) or not host_of(fr.url):
            self._finish(src, "failed", error=f"not an http(s) URL: {fr.url}")
            return None
        if fr.api_url and fr.api_url.startswith(("http://", "https://")) and host_of(fr.api_url):
            return self._request(src, fr.api_url, phase="api")
        return self._request(src, fr.url, phase="html")

    def _request(self, src: _Source, url: str, *, phase: str, chain: Sequence[str] = ()) -> Request:
        headers: dict[str, str] = {}
        if src.request.etag:
            headers["If-None-Match"] = src.request.etag
        if src.request.last_modified:
            headers["If-Modified-Since"] = src.request.last_modified
        if phase == "api":
            headers["Accept"] = "application/json"
            headers.update(_api_key_header(src.request))
        meta = {
            "gw_index": src.index,
            "gw_phase": phase,
            "gw_chain": list(chain),
            # the API gets one try: on any trouble the HTML page (with full retries) is next
            "gw_max_retries": 0 if phase == "api" else self.fs.retries,
            "handle_httpstatus_all": True,
            "dont_redirect": True,
        }
        self.defaults.apply(headers, meta)
        return Request(
            url,
            callback=self._on_response,
            errback=self._on_error,
            headers=headers,
            meta=meta,
            dont_filter=True,
        )

    def _fallback(self, src: _Source, reason: str) -> Request:
        log.info("API for %s unusable (%s); fetching the HTML page", src.request.url, reason)
        return self._request(src, src.request.url, phase="html")

    def _reached_downloader(self, request: Request, spider: scrapy.Spider) -> None:
        index = request.meta.get("gw_index")
        if index is not None and self.sources[index].started is None:
            self.sources[index].started = time.monotonic()

    # --- responses ---------------------------------------------------------------------

    def _on_response(self, response: Response) -> list[Request]:
        src = self.sources[response.meta["gw_index"]]
        if src.done:
            return []
        try:
            follow = self._handle_response(src, response)
        except Exception as exc:  # a bug here must still end in an outcome
            log.exception("error handling %s", response.url)
            self._finish(src, "failed", response=response, error=f"internal error: {exc!r}")
            return []
        if follow is not None and self.referer is not None:  # as Scrapy's RefererMiddleware did
            follow = self.referer.get_processed_request(follow, response)
        return [follow] if follow is not None else []

    def _handle_response(self, src: _Source, response: Response) -> Request | None:
        phase, status = response.meta["gw_phase"], response.status
        if status in REDIRECT_CODES:
            if phase == "api":
                return self._fallback(src, f"HTTP {status} redirect")
            return self._redirect(src, response)
        if phase == "api":
            return self._api_response(src, response)
        chain = response.meta["gw_chain"]
        common: dict[str, Any] = {"response": response, "final_url": response.url, "redirects": chain}
        if status == 304:
            self._finish(src, "not_modified", **common)
        elif partial := partial_problem(response):  # part of a page is never the page
            self._finish(src, "failed", error=partial + _after_retries(response), transient=True, **common)
        elif 200 <= status < 300:
            soft = _soft_404_text(response)
            if soft:
                self._finish(src, "soft_404", body=response.body, error=f"page says {soft!r}", **common)
            else:
                self._finish(src, "ok", body=response.body, **common)
        elif status in GONE_CODES:
            self._finish(src, "gone", error=http_error(response, self.fs.max_retry_after), **common)
        else:
            transient = status in RETRY_CODES or status >= 500
            error = http_error(response, self.fs.max_retry_after)
            self._finish(src, "failed", error=error, transient=transient, **common)
        return None

    def _api_response(self, src: _Source, response: Response) -> Request | None:
        common: dict[str, Any] = {"response": response, "final_url": src.request.url, "via_api": True}
        if response.status == 304:
            self._finish(src, "not_modified", **common)
            return None
        partial = partial_problem(response)
        if response.status == 200 and partial is None and _is_json(response.body):
            self._finish(src, "ok", body=response.body, **common)
            return None
        reason = partial or (f"HTTP {response.status}" if response.status != 200 else "not JSON")
        return self._fallback(src, reason)

    def _redirect(self, src: _Source, response: Response) -> Request | None:
        hops = [*response.meta["gw_chain"], response.url]
        location = _header(response, "location")
        if not location:
            self._finish(
                src,
                "failed",
                response=response,
                final_url=response.url,
                redirects=hops[:-1],
                error=f"HTTP {response.status} redirect without a Location header",
            )
            return None
        target = self.mirror.to_local(downloader_url(urljoin(response.url, location.strip())))
        common: dict[str, Any] = {"response": response, "final_url": target, "redirects": hops}
        if target in hops:
            loop = " -> ".join([*hops[hops.index(target) :], target])
            self._finish(src, "failed", error=f"redirect loop: {loop}", **common)
        elif len(hops) > MAX_REDIRECTS:
            self._finish(src, "failed", error=f"more than {MAX_REDIRECTS} redirects", **common)
        elif problem := redirect_problem(target, src.allowed, self.fs.allow_private):
            self._finish(src, "blocked", error=problem, **common)
        else:
            return self._request(src, target, phase="html", chain=hops)
        return None

    # --- errors ------------------------------------------------------------------------

    def _on_error(self, failure: Failure) -> list[Request]:
        request: Request = failure.request  # type: ignore[attr-defined]
        src = self.sources[request.meta["gw_index"]]
        if src.done:
            return []
        try:
            return self._handle_error(src, request, failure.value)
        except Exception as exc:  # a bug here must still end in an outcome
            log.exception("error handling the failure of %s", request.url)
            self._finish(src, "failed", error=f"internal error: {exc!r}")
            return []

    def _handle_error(self, src: _Source, request: Request, exc: BaseException) -> list[Request]:
        if request.meta["gw_phase"] == "api":
            return [self._fallback(src, describe_error(exc, self.fs, request.url))]
        chain = request.meta["gw_chain"]
        status, transient = classify_error(exc)
        error = describe_error(exc, self.fs, request.url)
        retries = int(request.meta.get("gw_retries", 0))
        if retries:
            error += f" (after {retries} {'retry' if retries == 1 else 'retries'})"
        self._finish(
            src,
            status,
            error=error,
            transient=transient,
            final_url=request.url if chain else None,
            redirects=chain,
        )
        return []

    # --- outcomes ----------------------------------------------------------------------

    def _finish(self, src: _Source, status: FetchStatus, **details: Unpack[OutcomeDetails]) -> None:
        if src.done:
            return
        src.done = True
        outcome = fetch_outcome(src.request.url, status, src.started, **details)
        if self.mirror:  # reported under the real URLs: the store and the digest never see the copy
            outcome = self.mirror.outcome(outcome, src.real_url or src.request.url)
        log.debug("%s: %s %s", outcome.url, status, outcome.error or "")
        self.emit(src.index, outcome)


def mark_start(request: Request) -> Request:
    """A start request as Scrapy's StartSpiderMiddleware marked it: the scheduler queues these apart."""
    request.meta.setdefault("is_start_request", True)
    return request


def run_crawl(
    requests: Sequence[FetchRequest], settings: FetchSettings, emit: Emit, credits: Credits | None = None
) -> None:
    """Run one crawl in this process (blocks; starts the reactor, so once per process)."""
    process = CrawlerProcess({**scrapy_settings(settings), "LOG_INSTALL_ROOT_HANDLER": True})
    process.crawl(GuideSpider, fetch_requests=list(requests), fetch_settings=settings, emit=emit, credits=credits)
    process.start()


def _api_key_header(request: FetchRequest) -> dict[str, str]:
    """The API key, read here from the environment so it never travels in the job or an outcome."""
    if not (request.api_key_env and request.api_key_header):
        return {}
    value = os.environ.get(request.api_key_env, "")
    return {request.api_key_header: value} if value else {}

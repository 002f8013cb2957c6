"""The one generic Scrapy spider: fetch each cited source once and report a FetchOutcome.

It runs in the crawl child process that `guidewatch.sources.fetch.fetch_sources` starts as
``python -m guidewatch.sources.spider`` (see `main` and the protocol in `guidewatch.sources.fetch`).

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
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy import Request, signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response, TextResponse
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import error as txerror
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
from twisted.python.failure import Failure
from twisted.web.client import ResponseFailed

from guidewatch.changes.severity import typography
from guidewatch.model import FetchOutcome, FetchRequest, FetchStatus
from guidewatch.sources.fetch import FetchSettings, credit_window, encode_outcome
from guidewatch.sources.netguard import (
    BlockedHost,
    GuardedResolver,
    PrivateAnswer,
    RobotsMiddleware,
    downloader_url,
    ip_of,
    is_private_address,
)
from guidewatch.sources.partial import PartialBodyMiddleware, partial_problem

__all__ = ["GuideSpider", "allowed_hosts_for", "is_private_address", "run_crawl", "scrapy_settings"]

log = logging.getLogger("guidewatch.sources.spider")  # not __name__: that is "__main__" in the child

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
RETRY_CODES = frozenset({408, 429, 500, 502, 503, 504})
GONE_CODES = frozenset({404, 410})
MAX_REDIRECTS = 10
RECORDED_HEADERS = (
    "etag",
    "last-modified",
    "content-type",
    "content-length",
    "retry-after",
    "location",
    "date",
)

_SOFT_404 = re.compile(
    r"""\b(
        page\s+(was\s+)?not\s+found
      | page\s+(cannot|can\s+not|can't|could\s+not|couldn't)\s+be\s+found
      | (page|content|document)\s+(does\s+not|doesn't|no\s+longer)\s+exists?
      | (cannot|can't|could\s+not|couldn't)\s+find\s+(the|that|this)\s+page
      | 404\s+(error|not\s+found) | error\s+404
    )\b|^\s*not\s+found\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


# --- hosts and addresses --------------------------------------------------------------------


def host_of(url: str) -> str:
    """Lower-case host of `url`, "" when it has none or cannot be parsed."""
    try:
        return (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


def allowed_hosts_for(request: FetchRequest) -> frozenset[str]:
    """Hosts a redirect may lead to: the explicit list, else the cited host and its www twin.

    The cited host itself is always allowed. Without an explicit list, ``www.nhs.uk``
    also allows ``nhs.uk`` and ``nhs.uk`` allows ``www.nhs.uk`` (a public suffix list
    would call nhs.uk and gov.uk public suffixes, so "registrable parent" means this).
    An explicit entry ``*.example.org`` (or ``.example.org``) allows every subdomain.
    """
    host = host_of(request.url)
    if request.allowed_hosts:
        return frozenset({host, *(h.lower().rstrip(".") for h in request.allowed_hosts)})
    twin = host[4:] if host.startswith("www.") else f"www.{host}"
    return frozenset({host, twin}) if "." in host and not ip_of(host) else frozenset({host})


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    for entry in allowed:
        if entry.startswith(("*.", ".")):
            suffix = entry.lstrip("*")
            if host.endswith(suffix) or host == suffix[1:]:
                return True
        elif host == entry:
            return True
    return False


# --- Scrapy settings and middlewares ----------------------------------------------------------


def scrapy_settings(settings: FetchSettings) -> dict[str, Any]:
    """Translate FetchSettings into Scrapy settings (plus GUIDEWATCH_* for our middlewares)."""
    return {
        "BOT_NAME": "guidewatch",
        "USER_AGENT": settings.full_user_agent,
        "ROBOTSTXT_OBEY": settings.obey_robots,
        "ROBOTSTXT_USER_AGENT": _robots_token(settings.user_agent),
        "CONCURRENT_REQUESTS": settings.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": settings.per_host,
        # Callbacks return at most one follow-up request; Scrapy's default (100) starts 100
        # asyncio tasks per response to process that output, most of a 304's CPU cost.
        "CONCURRENT_ITEMS": 1,
        "DOWNLOAD_DELAY": settings.download_delay,
        "AUTOTHROTTLE_ENABLED": settings.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(settings.download_delay, 1.0),
        "AUTOTHROTTLE_MAX_DELAY": max(settings.max_retry_after, 10.0),
        "DOWNLOAD_TIMEOUT": settings.timeout,
        "DNS_TIMEOUT": settings.timeout,
        "DOWNLOAD_MAXSIZE": settings.max_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "DOWNLOAD_FAIL_ON_DATALOSS": True,  # a body short of its Content-Length is a failed fetch
        "RETRY_ENABLED": False,  # BackoffRetryMiddleware instead
        "REDIRECT_ENABLED": False,  # followed by the spider, host-checked hop by hop
        "METAREFRESH_ENABLED": False,  # a meta refresh would be an unchecked redirect
        "HTTPCACHE_ENABLED": False,  # RFC 2616 policy serves stale copies on 5xx
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,  # no listening ports in a crawl child
        "REMOTE_CONTROL_ENABLED": False,  # Scrapy 2.19: code-execution HTTP server + job files in ~
        "TWISTED_DNS_RESOLVER": GuardedResolver,  # every lookup, the download's own too, is checked
        "DOWNLOADER_MIDDLEWARES": {
            HostGuardMiddleware: 50,  # before robots.txt (100): no robots.txt fetch either
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            RobotsMiddleware: 100,  # gives every waiting request the parsed file
            BackoffRetryMiddleware: 550,
            PartialBodyMiddleware: 595,  # above HttpCompressionMiddleware (590): sees the raw bytes
        },
        "DEFAULT_REQUEST_HEADERS": {
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "Accept-Language": "en-GB,en;q=0.8",
        },
        "LOG_LEVEL": settings.log_level.upper(),
        "LOG_FORMAT": "%(levelname)s|%(name)s|%(message)s",
        "GUIDEWATCH_ALLOW_PRIVATE": settings.allow_private,
        "GUIDEWATCH_RETRIES": settings.retries,
        "GUIDEWATCH_RETRY_BACKOFF": settings.retry_backoff,
        "GUIDEWATCH_MAX_RETRY_AFTER": settings.max_retry_after,
    }


def _robots_token(user_agent: str) -> str:
    """The product token robots.txt groups are matched against ("guidewatch" in "guidewatch/0.1")."""
    words = user_agent.split("/", 1)[0].split()
    return words[0] if words else "guidewatch"


async def _sleep(seconds: float) -> None:
    from twisted.internet import reactor

    await maybe_deferred_to_future(deferLater(reactor, seconds))  # type: ignore[arg-type]


class HostGuardMiddleware:
    """Refuse any request (robots.txt included) to a private, loopback or link-local address.

    Host names are resolved through the reactor's resolver (`GuardedResolver`, caching), the
    same one the download then uses, so the address checked is the address connected to.
    When this lookup fails the request fails too (a transient DNS error, retried): letting
    it through would leave the download to do a fresh lookup that nobody checked.
    """

    def __init__(self, allow_private: bool):
        self.allow_private = allow_private

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HostGuardMiddleware:
        return cls(crawler.settings.getbool("GUIDEWATCH_ALLOW_PRIVATE"))

    async def process_request(self, request: Request) -> None:
        if self.allow_private:
            return
        host = host_of(request.url)
        if ip_of(host) is not None:
            if is_private_address(host):
                raise BlockedHost(f"host {host} is a private or loopback address")
            return
        address = await self._resolve(host)
        if is_private_address(address):
            raise BlockedHost(f"host {host} resolves to private or loopback address {address}")

    @staticmethod
    async def _resolve(host: str) -> str:
        """The address the download will use; fails closed (CannotResolveHostError) when lookup fails."""
        from twisted.internet import reactor

        try:
            return str(await maybe_deferred_to_future(reactor.resolve(host)))  # type: ignore[attr-defined]
        except PrivateAnswer as exc:
            raise BlockedHost(str(exc)) from None
        except Exception as exc:
            raise CannotResolveHostError(f"DNS lookup failed for {host}: {exc}") from exc


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


# --- the spider ----------------------------------------------------------------------------


@dataclass
class _Source:
    """Crawl state of one FetchRequest."""

    index: int
    request: FetchRequest
    allowed: frozenset[str]
    started: float | None = None
    done: bool = False


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
        self.emit = emit
        self.credits = credits
        self.sources = [_Source(i, r, allowed_hosts_for(r)) for i, r in enumerate(fetch_requests)]

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> GuideSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._reached_downloader, signal=signals.request_reached_downloader)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        for src in self.sources:
            if self.credits is not None:
                await self.credits.admit()
            try:
                request = self._first_request(src)
            except ValueError as exc:  # Scrapy rejects the URL
                self._finish(src, "failed", error=f"invalid URL: {exc}")
                continue
            if request is not None:
                yield request

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
        meta = {
            "gw_index": src.index,
            "gw_phase": phase,
            "gw_chain": list(chain),
            # the API gets one try: on any trouble the HTML page (with full retries) is next
            "gw_max_retries": 0 if phase == "api" else self.fs.retries,
            "handle_httpstatus_all": True,
            "dont_redirect": True,
        }
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
            self._finish(src, "gone", error=self._http_error(response), **common)
        else:
            transient = status in RETRY_CODES or status >= 500
            self._finish(src, "failed", error=self._http_error(response), transient=transient, **common)
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
        target = downloader_url(urljoin(response.url, location.strip()))
        common: dict[str, Any] = {"response": response, "final_url": target, "redirects": hops}
        if target in hops:
            loop = " -> ".join([*hops[hops.index(target) :], target])
            self._finish(src, "failed", error=f"redirect loop: {loop}", **common)
        elif len(hops) > MAX_REDIRECTS:
            self._finish(src, "failed", error=f"more than {MAX_REDIRECTS} redirects", **common)
        elif problem := self._redirect_problem(src, target):
            self._finish(src, "blocked", error=problem, **common)
        else:
            return self._request(src, target, phase="html", chain=hops)
        return None

    def _redirect_problem(self, src: _Source, target: str) -> str | None:
        """Why `target` (as the downloader will fetch it: `downloader_url`) is not followed."""
        host = host_of(target)
        if not target.startswith(("http://", "https://")) or not host:
            return f"redirect to {target} not followed: not an http(s) URL"
        if "@" in urlsplit(target).netloc:  # the downloader would read user-info as part of the host
            return f"redirect to {target} not followed: user name or password in the URL"
        if not host_allowed(host, src.allowed):
            allowed = ", ".join(sorted(src.allowed))
            return f"redirect to host {host} not followed: not among the allowed hosts ({allowed})"
        if not self.fs.allow_private and is_private_address(host):
            return f"redirect to host {host} not followed: private or loopback address"
        return None

    def _http_error(self, response: Response) -> str:
        from http import HTTPStatus

        try:
            text = f"HTTP {response.status} {HTTPStatus(response.status).phrase}"
        except ValueError:
            text = f"HTTP {response.status}"
        text += _after_retries(response)
        after = retry_after_seconds(_header(response, "retry-after"))
        if response.status in (429, 503) and after is not None and after > self.fs.max_retry_after:
            text += f" (Retry-After {after:g} s exceeds the {self.fs.max_retry_after:g} s cap)"
        return text

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

    def _finish(
        self,
        src: _Source,
        status: FetchStatus,
        *,
        response: Response | None = None,
        error: str | None = None,
        transient: bool = False,
        body: bytes = b"",
        via_api: bool = False,
        final_url: str | None = None,
        redirects: Sequence[str] = (),
    ) -> None:
        if src.done:
            return
        src.done = True
        elapsed = 0 if src.started is None else int((time.monotonic() - src.started) * 1000)
        outcome = FetchOutcome(
            url=src.request.url,
            status=status,
            http_status=response.status if response is not None else None,
            final_url=final_url,
            redirects=list(redirects),
            headers=_recorded_headers(response),
            body=body,
            via_api=via_api,
            error=error,
            transient=transient,
            elapsed_ms=elapsed,
            fetched_at=datetime.now(UTC),
        )
        log.debug("%s: %s %s", outcome.url, status, error or "")
        self.emit(src.index, outcome)


def _after_retries(response: Response) -> str:
    retries = int(response.meta.get("gw_retries", 0))
    return f" after {retries} {'retry' if retries == 1 else 'retries'}" if retries else ""


def classify_error(exc: BaseException) -> tuple[FetchStatus, bool]:
    """(status, transient) for a download exception."""
    if isinstance(exc, BlockedHost) or (isinstance(exc, IgnoreRequest) and "robots.txt" in str(exc)):
        return "blocked", False
    if _too_large(exc):
        return "failed", False
    return "failed", True


def describe_error(exc: BaseException, settings: FetchSettings, url: str) -> str:
    """A readable, one-line reason for a download exception on `url`."""
    if isinstance(exc, BlockedHost):
        return f"blocked: {exc}"
    if isinstance(exc, IgnoreRequest) and "robots.txt" in str(exc):
        parts = urlsplit(url)
        return f"disallowed by {parts.scheme}://{parts.netloc}/robots.txt"
    if _too_large(exc):
        return f"too large: body exceeds the {settings.max_bytes} byte limit"
    if isinstance(exc, DownloadTimeoutError | txerror.TimeoutError):
        return f"timed out after {settings.timeout:g} s"
    if isinstance(exc, CannotResolveHostError | txerror.DNSLookupError):
        return f"DNS lookup failed for {host_of(url)}"
    if isinstance(exc, DownloadConnectionRefusedError | txerror.ConnectionRefusedError):
        return f"connection refused by {urlsplit(url).netloc}"
    if isinstance(
        exc,
        DownloadFailedError
        | ResponseFailed
        | ResponseDataLossError
        | txerror.ConnectionLost
        | txerror.ConnectionDone,
    ):
        detail = str(exc)[:200]
        return f"connection reset or lost ({type(exc).__name__}{': ' + detail if detail else ''})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _too_large(exc: BaseException) -> bool:
    """DOWNLOAD_MAXSIZE hit: cancelled download, or (compressed body) IgnoreRequest naming it."""
    return isinstance(exc, DownloadCancelledError) or (
        isinstance(exc, IgnoreRequest) and "DOWNLOAD_MAXSIZE" in str(exc)
    )


def _recorded_headers(response: Response | None) -> dict[str, str]:
    if response is None:
        return {}
    return {name: value for name in RECORDED_HEADERS if (value := _header(response, name)) is not None}


def _is_json(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body), dict | list)
    except ValueError:
        return False


def _soft_404_text(response: Response) -> str | None:
    """The <title> or first <h1> text if it reads like a "not found" page, else None."""
    if not isinstance(response, TextResponse) or b"html" not in (
        response.headers.get("Content-Type") or b"html"
    ):
        return None
    try:
        candidates = [
            response.xpath("normalize-space(//title)").get(""),
            response.xpath("normalize-space((//h1)[1])").get(""),
        ]
    except ValueError:  # not parseable as HTML
        return None
    # typography folded first: "Sorry, we couldn’t find that page" reads as "couldn't"
    return next((text for text in map(typography, candidates) if text and _SOFT_404.search(text)), None)


# --- running a crawl -----------------------------------------------------------------------


class Credits:
    """Flow control with the parent: at most `window` sources started whose outcomes the
    parent has not yet recorded ("+" acks on stdin). Without it a crawl of 10,000 pages
    fetches far ahead of the parent, which then holds every body while it normalises them."""

    def __init__(self, window: int):
        self.window, self.started, self.acked = window, 0, 0
        self._waiter: Deferred[None] | None = None

    async def admit(self) -> None:
        while self.started - self.acked >= self.window:
            self._waiter = Deferred()
            await maybe_deferred_to_future(self._waiter)
        self.started += 1

    def ack(self, count: int) -> None:
        """In the reactor thread: the parent has recorded `count` more outcomes."""
        self.acked += count
        if self._waiter is not None and self.started - self.acked < self.window:
            waiter, self._waiter = self._waiter, None
            waiter.callback(None)

    def ack_from_thread(self, count: int) -> None:
        from twisted.internet import reactor  # installed by now: acks follow outcomes

        reactor.callFromThread(self.ack, count)  # type: ignore[attr-defined]


def run_crawl(
    requests: Sequence[FetchRequest], settings: FetchSettings, emit: Emit, credits: Credits | None = None
) -> None:
    """Run one crawl in this process (blocks; starts the reactor, so once per process)."""
    process = CrawlerProcess({**scrapy_settings(settings), "LOG_INSTALL_ROOT_HANDLER": True})
    process.crawl(GuideSpider, fetch_requests=list(requests), fetch_settings=settings, emit=emit, credits=credits)
    process.start()


class _OutcomeWriter:
    """Writes outcome lines to the parent, flushing each so a kill loses nothing sent."""

    def __init__(self, stream: IO[bytes]):
        self._stream = stream
        self._lock = threading.Lock()
        self.sent: set[int] = set()

    def emit(self, index: int, outcome: FetchOutcome) -> None:
        line = json.dumps({"i": index, "outcome": encode_outcome(outcome)}).encode("utf-8") + b"\n"
        with self._lock:
            self.sent.add(index)
            try:
                self._stream.write(line)
                self._stream.flush()
            except (BrokenPipeError, OSError):
                os._exit(3)  # the parent is gone: nobody to report to


def _private_stdout() -> IO[bytes]:
    """Keep the real stdout for outcomes and point fd 1 at stderr, so stray prints can't corrupt it."""
    fd = os.dup(1)
    os.dup2(2, 1)
    return os.fdopen(fd, "wb")


def _watch_lifeline(fd: int, on_acks: Callable[[int], None] | None = None) -> None:
    """Exit when the parent closes our stdin or dies, rather than crawl for nobody; pass the
    parent's "+" acks (one per outcome recorded) to `on_acks`.

    Reads the raw fd (not sys.stdin) so the blocked thread holds no buffer lock that
    would trip interpreter shutdown.
    """

    def wait_for_eof() -> None:
        while chunk := os.read(fd, 65536):
            if on_acks is not None and (acks := chunk.count(b"+")):
                on_acks(acks)
        os._exit(4)

    threading.Thread(target=wait_for_eof, name="lifeline", daemon=True).start()


def _read_job(fd: int) -> tuple[list[FetchRequest], FetchSettings]:
    """The one JSON line the parent sends, read unbuffered so nothing past it is consumed."""
    chunks: list[bytes] = []
    while not chunks or not chunks[-1].endswith(b"\n"):
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    job = json.loads(b"".join(chunks))
    settings = FetchSettings(**job["settings"])
    requests = [
        FetchRequest(**{**r, "allowed_hosts": tuple(r.get("allowed_hosts") or ())}) for r in job["requests"]
    ]
    return requests, settings


def main() -> int:
    """Child-process entry point: job on stdin, outcomes on stdout, logs on stderr."""
    out = _private_stdout()
    requests, settings = _read_job(0)
    credits = Credits(credit_window(settings))
    _watch_lifeline(0, credits.ack_from_thread)
    writer = _OutcomeWriter(out)
    problem = "crawl ended without an outcome for this source"
    try:
        run_crawl(requests, settings, writer.emit, credits)
    except Exception as exc:
        log.exception("crawl failed")
        problem = f"crawl failed: {exc!r}"
    for index, request in enumerate(requests):  # one outcome per request, whatever happened
        if index not in writer.sent:
            writer.emit(
                index,
                FetchOutcome(
                    url=request.url,
                    status="failed",
                    error=problem,
                    transient=True,
                    fetched_at=datetime.now(UTC),
                ),
            )
    out.close()
    return 0


if __name__ == "__main__":
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip interpreter teardown (reactor thread pool etc.): nothing left to save

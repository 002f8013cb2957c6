"""What a finished fetch reports: the outcome record, and readable reasons for what went wrong."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TypedDict
from urllib.parse import urlsplit

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
from scrapy.selector import Selector
from twisted.internet import error as txerror
from twisted.web.client import ResponseFailed

from guidewatch.model import FetchOutcome, FetchStatus
from guidewatch.sources.fetch import FetchSettings
from guidewatch.sources.hosts import host_of
from guidewatch.sources.netguard import PRIVATE_HINT, BlockedHost
from guidewatch.sources.retry import _header, retry_after_seconds
from guidewatch.text import typography

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


class OutcomeDetails(TypedDict, total=False):
    """What the spider knows of a finished fetch besides its status; see `fetch_outcome`."""

    response: Response | None
    error: str | None
    transient: bool
    body: bytes
    via_api: bool
    final_url: str | None
    redirects: Sequence[str]


def fetch_outcome(
    url: str,
    status: FetchStatus,
    started: float | None,
    *,
    response: Response | None = None,
    error: str | None = None,
    transient: bool = False,
    body: bytes = b"",
    via_api: bool = False,
    final_url: str | None = None,
    redirects: Sequence[str] = (),
) -> FetchOutcome:
    """The outcome of fetching `url`, timed from when its first request reached the downloader."""
    elapsed = 0 if started is None else int((time.monotonic() - started) * 1000)
    return FetchOutcome(
        url=url,
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


def http_error(response: Response, max_retry_after: float) -> str:
    """"HTTP 503 Service Unavailable after 2 retries", with a Retry-After over the cap named."""
    try:
        text = f"HTTP {response.status} {HTTPStatus(response.status).phrase}"
    except ValueError:
        text = f"HTTP {response.status}"
    text += _after_retries(response)
    after = retry_after_seconds(_header(response, "retry-after"))
    if response.status in (429, 503) and after is not None and after > max_retry_after:
        text += f" (Retry-After {after:g} s exceeds the {max_retry_after:g} s cap)"
    return text


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
        return f"blocked: {exc}; {PRIVATE_HINT}"
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


_RECORDED_KEYS = {name.encode("latin-1"): name for name in RECORDED_HEADERS}


def _recorded_headers(response: Response | None) -> dict[str, str]:
    """The RECORDED_HEADERS the response has, each its last value (as `Headers.get` gives it),
    in that order. One pass over the stored keys instead of a normalised lookup per name."""
    if response is None:
        return {}
    found: dict[str, str] = {}
    for key, values in dict.items(response.headers):  # keys as Scrapy stores them (b"Etag"), lists of values
        name = _RECORDED_KEYS.get(key.lower())
        if name is not None and values:
            found[name] = values[-1].decode("latin-1")
    return {name: found[name] for name in RECORDED_HEADERS if name in found}


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
        # A selector of its own, not `response.xpath`: the one a response caches refers back to
        # it, a cycle only the garbage collector frees, so the pages of ~90 answers (body, text,
        # lxml tree) waited for it: ~30 MB of the crawl child's peak on a first crawl.
        page = Selector(response)
        candidates = [
            page.xpath("normalize-space(//title)").get(""),
            page.xpath("normalize-space((//h1)[1])").get(""),
        ]
    except ValueError:  # not parseable as HTML
        return None
    # typography folded first: "Sorry, we couldn’t find that page" reads as "couldn't"
    return next((text for text in map(typography, candidates) if text and _SOFT_404.search(text)), None)

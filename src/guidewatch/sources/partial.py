"""Partial bodies: a 206, or a body shorter than its framing says, is a failed fetch, never a page.

Diffing part of a page reports the rest of it as removed. We never send a Range header, so a
206 is a proxy's or cache's mistake; a body shorter than its Content-Length, or a compressed
body whose stream stops before its end, was cut off on the way. Scrapy already fails a body
short of its Content-Length (`DOWNLOAD_FAIL_ON_DATALOSS`, set explicitly by the spider), but a
body that ends where the connection closes (no length, no chunking) carries no length to check,
and Scrapy's gunzip returns whatever it could decompress of a cut-off stream.

`PartialBodyMiddleware` looks at the raw bytes (before HttpCompressionMiddleware decompresses
them) and flags the response; `BackoffRetryMiddleware` retries a flagged response like a reset
connection, and the spider records it as a failed, transient fetch.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping

from scrapy.crawler import Crawler
from scrapy.http import Response

__all__ = ["PartialBodyMiddleware", "partial_body", "partial_problem"]

#: Prefix of the response flag that carries the problem (Scrapy's own flags are "partial", "dataloss").
FLAG = "guidewatch-partial: "

_WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 15}  # zlib: 31 = gzip wrapper, 15 = zlib wrapper
_CHUNK = 1 << 20


def partial_body(status: int, headers: Mapping[str, str], body: bytes, flags: Iterable[str] = (),
                 max_bytes: int = 0) -> str | None:
    """Why this raw answer holds only part of its body, or None. `headers`: lower-case names.

    `flags`: Scrapy's response flags ("partial": the body ended where the connection closed;
    "dataloss": shorter than its length, kept because failing on data loss was turned off).
    """
    if status == 206:
        return "HTTP 206 Partial Content: the server sent part of the page, not the page"
    if not _has_page_body(status):
        return None
    flags = set(flags)
    length = _content_length(headers.get("content-length"))
    if "dataloss" in flags or (length is not None and len(body) < length):
        shown = f"{len(body)} of {length}" if length is not None else f"{len(body)}"
        return f"body cut short: {shown} bytes received"
    coding = headers.get("content-encoding", "").strip().lower()
    if "partial" in flags and coding in _WBITS and _stream_cut_short(body, _WBITS[coding], max_bytes):
        return f"body cut short: the {coding} stream stops before its end ({len(body)} bytes received)"
    return None


def _has_page_body(status: int) -> bool:
    """Only a page's body matters (a 304 may announce a length); a 206 is a problem in itself."""
    return status == 206 or (200 <= status < 300 and status != 204)


def _content_length(value: str | None) -> int | None:
    try:
        return int((value or "").split(",")[0].strip())
    except ValueError:
        return None


def _stream_cut_short(body: bytes, wbits: int, max_bytes: int) -> bool:
    """True when the compressed stream is valid so far but has no end; decompresses at most
    `max_bytes` (0: no limit) and keeps none of it, so a bomb costs no memory."""
    stream = zlib.decompressobj(wbits)
    data, produced = body, 0
    try:
        while data and not stream.eof:
            produced += len(stream.decompress(data, _CHUNK))
            data = stream.unconsumed_tail
            if max_bytes and produced > max_bytes:
                return False  # too large: Scrapy's own size cap reports it
    except zlib.error:
        return False  # corrupt rather than short: left to HttpCompressionMiddleware
    return not stream.eof


def partial_problem(response: Response) -> str | None:
    """The problem `PartialBodyMiddleware` flagged on this response, or None."""
    return next((f[len(FLAG):] for f in response.flags if f.startswith(FLAG)), None)


class PartialBodyMiddleware:
    """Flags partial bodies; sits above HttpCompressionMiddleware (590), so it sees the raw bytes."""

    def __init__(self, max_bytes: int = 0):
        self.max_bytes = max_bytes

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PartialBodyMiddleware:
        return cls(crawler.settings.getint("DOWNLOAD_MAXSIZE"))

    def process_response(self, request: object, response: Response) -> Response:
        if not _has_page_body(response.status):  # a 304, a redirect, an error: no header lookups
            return response
        headers = {k: response.headers.get(k, b"").decode("latin-1") for k in ("content-length", "content-encoding")}
        problem = partial_body(response.status, headers, response.body, response.flags, self.max_bytes)
        if problem is None:
            return response
        return response.replace(flags=[*response.flags, FLAG + problem])

"""The crawl child's guards: which addresses may be fetched, and robots.txt for every request.

Used by `guidewatch.sources.spider` (its Scrapy settings name these classes), so the local crawl,
the distributed worker and guides fetched by URL all pass through the same checks:

- `is_private_address`: anything but a global unicast address is refused (`ipaddress`'s
  `is_global`, also applied to IPv4 addresses carried inside IPv6).
- `GuardedResolver`: the reactor's resolver; every host name the crawl connects to is
  resolved here and a private answer is refused, so the address checked is the address
  connected to, whichever lookup (guard, download, robots.txt) happens first.
- `downloader_url`: a URL as the downloader will fetch it (w3lib), so a redirect target is
  judged by the host it really connects to.
- `RobotsMiddleware`: robots.txt, obeyed by every request that waited for it.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag

from scrapy import Request, signals
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http.request import NO_CALLBACK
from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError
from w3lib.url import safe_url_string

from guidewatch.sources.request_defaults import RequestDefaults

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.robotstxt import RobotParser

__all__ = ["BlockedHost", "GuardedResolver", "PrivateAnswer", "RobotsMiddleware", "downloader_url",
           "is_private_address"]

log = logging.getLogger("guidewatch.sources.spider")  # the crawl child's logger (see spider.py)

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
_V4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d


#: Where a "private address" refusal points the user: the two settings that allow one.
PRIVATE_HINT = ("set `[fetch] allow_private = true` to fetch it (local testing only); `[fetch.mirror]` maps a "
                "real site's origin to a local copy")


class BlockedHost(IgnoreRequest):
    """The host guard refused a request; the source's status becomes "blocked"."""


class PrivateAnswer(DNSLookupError):
    """`GuardedResolver` refused a private answer. A DNSLookupError, so that Twisted's name
    resolution takes it as "no address" (nothing connects); the host guard reports it as
    BlockedHost."""


# --- addresses --------------------------------------------------------------------------------


def ip_of(host: str) -> IP | None:
    """`host` as an IP address ("[::1]" included), None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def is_private_address(address: str) -> bool:
    """True for every address that is not global unicast: loopback, private, link-local,
    shared (100.64.0.0/10, where a cloud metadata address lives), reserved, multicast,
    unspecified; an IPv6 address carrying an IPv4 one (mapped, 6to4, NAT64, compatible) is
    judged by that IPv4 address. A deny list misses ranges; `is_global` is the allow list."""
    ip = ip_of(address)
    return ip is not None and not _is_global(ip)


def _is_global(ip: IP) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
        return _is_global(inner)
    return ip.is_global and not ip.is_multicast


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or ip in _V4_COMPATIBLE:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def downloader_url(url: str) -> str:
    """`url` as Scrapy's Request (w3lib's safe_url_string) and so the downloader will see it,
    fragment dropped. urlsplit reads ``http://a\\@b/`` as host b; the downloader, like a
    browser, connects to a: judge hosts on this form, never on the raw Location header."""
    return urldefrag(safe_url_string(url.strip(), "utf-8"))[0]


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's caching resolver that refuses private answers (unless `allow_private`).

    Installed on the crawl child's reactor (TWISTED_DNS_RESOLVER), it answers every lookup
    the crawl makes: the host guard's, robots.txt's and the download's own. A lookup that
    fails once and then answers 127.0.0.1, or a name re-pointed between two lookups, is
    refused whenever it comes. Off by default: only the setting turns private answers on.
    """

    allow_private = False

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> GuardedResolver:
        resolver = super().from_crawler(crawler, reactor)
        resolver.allow_private = crawler.settings.getbool("GUIDEWATCH_ALLOW_PRIVATE")
        return resolver

    def getHostByName(self, name: str, timeout: Any = ()) -> Deferred[str]:  # noqa: N802 (Twisted's name)
        d = super().getHostByName(name, timeout)
        if not self.allow_private:
            d.addCallback(_refuse_private, name)
        return d


def _refuse_private(address: str, name: str) -> str:
    if is_private_address(address):
        raise PrivateAnswer(f"host {name} resolves to private or loopback address {address}")
    return address


# --- robots.txt ------------------------------------------------------------------------------


class RobotsMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, with the parsed file given to every waiting request.

    Scrapy 2.19 parks the requests that wait for a host's robots.txt on one shared Deferred;
    awaiting a Deferred from asyncio takes its result, so the first waiter got the parser
    and the others None ("allowed"): under concurrency most disallowed pages were fetched.
    Here each waiter gets its own Deferred. A robots.txt that cannot be fetched allows every
    page, as in Scrapy (the page's own fetch then reports the outage), and says so in one
    INFO line with the traceback at DEBUG instead of a 50-line ERROR.
    """

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self._defaults = RequestDefaults.from_settings(crawler.settings)  # no middleware adds them
        self._ready: dict[str, RobotParser | None] = {}
        self._waiting: dict[str, list[Deferred[RobotParser | None]]] = {}

    async def robot_parser(self, request: Request) -> RobotParser | None:
        netloc = urlparse_cached(request).netloc
        if netloc in self._ready:
            return self._ready[netloc]
        if netloc in self._waiting:
            waiter: Deferred[RobotParser | None] = Deferred()
            self._waiting[netloc].append(waiter)
            return await maybe_deferred_to_future(waiter)
        self._waiting[netloc] = []
        parser: RobotParser | None = None
        try:
            parser = await self._fetch_parser(request)
        finally:  # whatever happens, nobody is left waiting
            self._ready[netloc] = parser
            for waiter in self._waiting.pop(netloc):
                waiter.callback(parser)
        return parser

    async def _fetch_parser(self, request: Request) -> RobotParser | None:
        url = urlparse_cached(request)
        headers: dict[str, str] = {}
        meta: dict[str, Any] = {"dont_obey_robotstxt": True}
        self._defaults.apply(headers, meta)
        robots = Request(f"{url.scheme}://{url.netloc}/robots.txt", priority=self.DOWNLOAD_PRIORITY,
                         headers=headers, meta=meta, callback=NO_CALLBACK)
        self._stats.inc_value("robotstxt/request_count")
        try:
            response = await self.crawler.engine.download_async(robots)
        except Exception as exc:
            self._stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            log.info("%s not fetched (%s): every page of %s is allowed", robots.url, reason, url.netloc)
            log.debug("robots.txt failure for %s", url.netloc, exc_info=True)
            return None
        self._stats.inc_value("robotstxt/response_count")
        self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
        parser = build_from_crawler(self._parserimpl, self.crawler, response.body)
        await self.crawler.signals.send_catch_log_async(signal=signals.robots_parsed, robotparser=parser,
                                                        request=request)
        return parser

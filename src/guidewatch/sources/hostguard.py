"""Downloader middleware: no request, robots.txt included, to a private or loopback address."""

from __future__ import annotations

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import CannotResolveHostError
from scrapy.utils.defer import maybe_deferred_to_future

from guidewatch.sources.hosts import host_of
from guidewatch.sources.netguard import BlockedHost, PrivateAnswer, ip_of, is_private_address


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

"""`[fetch] mirror`: fetch a real origin's pages from a local copy, report them under the real URL.

Pure: the crawl parent maps each request to the mirror before the child fetches it and each
outcome back afterwards, so the store, snapshots, digests and alerts only ever see the
guide's real URLs. The child maps a redirect that names a mirrored real origin to the mirror
too, so a copy's absolute links never reach the internet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from urllib.parse import urlsplit

from guidewatch.model import FetchOutcome, FetchRequest


def origin_of(url: str) -> str:
    """`scheme://host[:port]`, lower case, default port dropped; "" when `url` has none."""
    try:
        parts = urlsplit(url.strip())
        host, port = (parts.hostname or "").rstrip("."), parts.port
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not host:
        return ""
    default = {"http": 80, "https": 443}[parts.scheme.lower()]
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme.lower()}://{shown}" + (f":{port}" if port and port != default else "")


def origin_problem(value: str) -> str | None:
    """Why `value` is not a bare origin (`https://www.gov.uk`); None when it is."""
    origin = origin_of(value)
    if not origin:
        return f"expected an origin like https://www.gov.uk, got {value!r:.80}"
    parts = urlsplit(value.strip())
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        return f"must be an origin (scheme, host and port only), got {value!r:.80}"
    return None


class Mirror:
    """Real origin -> local origin (and back), as `[fetch.mirror]` declares them."""

    def __init__(self, origins: Mapping[str, str]):
        self._local = {origin_of(real): origin_of(local) for real, local in origins.items()}
        self._real = {local: real for real, local in self._local.items()}

    def __bool__(self) -> bool:
        return bool(self._local)

    def to_local(self, url: str) -> str:
        return _swap(url, self._local)

    def to_real(self, url: str) -> str:
        return _swap(url, self._real)

    def request(self, r: FetchRequest) -> FetchRequest:
        """The request the child makes: its URLs on the mirror, the mirror hosts allowed too."""
        url = self.to_local(r.url)
        if url == r.url and not (r.api_url and self.to_local(r.api_url) != r.api_url):
            return r
        hosts = r.allowed_hosts
        if hosts:  # an explicit list names real hosts: the mirror's hosts stand in for them
            hosts = (*hosts, *sorted({urlsplit(o).hostname or "" for o in self._real}))
        api = self.to_local(r.api_url) if r.api_url else r.api_url
        return dataclasses.replace(r, url=url, api_url=api, allowed_hosts=hosts)

    def outcome(self, o: FetchOutcome, real_url: str) -> FetchOutcome:
        """The child's outcome under the real URLs (redirects into a mirror mapped back)."""
        final = self.to_real(o.final_url) if o.final_url else o.final_url
        return dataclasses.replace(o, url=real_url, final_url=final, redirects=[self.to_real(u) for u in o.redirects])


def _swap(url: str, table: Mapping[str, str]) -> str:
    if not table:  # no mirror configured (most crawls): no URL to parse, per request and per redirect
        return url
    origin = origin_of(url)
    target = table.get(origin)
    if not target:
        return url
    parts = urlsplit(url.strip())
    rest = parts.path or "/"
    if parts.query:
        rest += f"?{parts.query}"
    if parts.fragment:
        rest += f"#{parts.fragment}"
    return target + rest

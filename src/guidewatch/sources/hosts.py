"""Which hosts a source may be fetched from: its own, its www twin, or the configured list."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from guidewatch.model import FetchRequest
from guidewatch.sources.netguard import PRIVATE_HINT, ip_of, is_private_address


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


def redirect_problem(target: str, allowed: frozenset[str], allow_private: bool) -> str | None:
    """Why `target` (as the downloader will fetch it: `downloader_url`) is not followed."""
    host = host_of(target)
    if not target.startswith(("http://", "https://")) or not host:
        return f"redirect to {target} not followed: not an http(s) URL"
    if "@" in urlsplit(target).netloc:  # the downloader would read user-info as part of the host
        return f"redirect to {target} not followed: user name or password in the URL"
    if not host_allowed(host, allowed):
        hosts = ", ".join(sorted(allowed))
        return f"redirect to host {host} not followed: not among the allowed hosts ({hosts})"
    if not allow_private and is_private_address(host):
        return f"redirect to host {host} not followed: private or loopback address; {PRIVATE_HINT}"
    return None

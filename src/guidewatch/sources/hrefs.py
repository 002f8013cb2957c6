"""Checking the links a guide cites, when the guide loads.

A bad link (a scheme typo, no host, a port out of range, a broken IPv6 literal) used to be
dropped silently or listed as a source that failed only at crawl time, or broke every command;
here it becomes a reason an editor can act on, and the caller warns with file:line. Bare URLs
in running text are found here too, in time linear in the text (no backtracking regex).
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

WATCHED = ("http", "https")
# Links that are not sources: nothing to watch, nothing to warn about.
NOT_SOURCES = frozenset({"mailto", "tel", "sms", "callto", "geo", "javascript", "data"})

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_TYPO_SCHEME = re.compile(r"([A-Za-z]{2,8})[^A-Za-z0-9/]?//")  # http;//x, https//x
_LABEL = re.compile(r"[\w-]+")
# A bare URL starts at the start of a word: its scheme (at most 20 characters) cannot be
# retried from every later letter, so the scan is linear. `"`, `<`, `>` and the characters
# RFC 3986 never allows end it.
_BARE = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,19}://[^\s<>\"`{}|\\^]*")
_TRAILING = ".,;:!?'*"
_CLOSERS = {")": "(", "]": "["}


@dataclass(frozen=True)
class Target:
    """A link that can be cited: its URL, normalised, and whether it is the publisher's own."""

    url: str
    internal: bool


@dataclass(frozen=True)
class Bad:
    """Why a link cannot be watched, in words for the editor."""

    reason: str


def check_href(href: str, base_url: str | None) -> Target | Bad | None:
    """A link's target, why it is bad, or None for a link that is not a source (#anchor, mailto:)."""
    href = href.strip()
    if not href:
        return Bad("empty link")
    if href.startswith("#"):
        return None
    m = _SCHEME.match(href)
    if m:
        scheme = m.group(1).lower()
        if scheme in NOT_SOURCES:
            return None
        if scheme in WATCHED:
            return _web_target(scheme, href[m.end() :], base_url)
        guess = _near_http(scheme)
        if guess:
            return Bad(f"unknown scheme {scheme!r} (did you mean {guess}?)")
        return Bad(f"unsupported scheme {scheme!r}: only http and https links are watched")
    return _relative_target(href, base_url)


def _relative_target(href: str, base_url: str | None) -> Target | Bad:
    typo = _TYPO_SCHEME.match(href)
    if typo and _near_http(typo.group(1)):
        return Bad(f"unknown scheme (did you mean {_near_http(typo.group(1))}://?)")
    if href.lower().startswith("www."):
        return Bad("no scheme (did you mean https://" + href + "?)")
    if href.startswith("//"):
        if not base_url:
            return Bad("no scheme (write https: before //)")
        return _web_target((urlsplit(base_url).scheme or "https").lower(), href, base_url)
    try:
        return Target(urljoin(base_url, href) if base_url else href, internal=True)
    except ValueError as exc:
        return Bad(str(exc))


def _web_target(scheme: str, rest: str, base_url: str | None) -> Target | Bad:
    """An http(s) URL after its scheme: check the host and port, lower-case scheme and host."""
    if not rest.startswith("//"):
        return Bad("no host (write " + scheme + "://host/…)")
    end = next((i for i, ch in enumerate(rest[2:], 2) if ch in "/?#"), len(rest))
    userinfo, at, hostport = rest[2:end].rpartition("@")
    netloc = _netloc(hostport)
    if isinstance(netloc, Bad):
        return netloc
    url = f"{scheme}://{userinfo}{at}{netloc}{rest[end:]}"
    return Target(url, internal=bool(base_url) and netloc == _base_netloc(base_url or ""))


def _netloc(hostport: str) -> str | Bad:
    """`host[:port]` checked and lower-cased, or what is wrong with it."""
    if hostport.startswith("[") or "[" in hostport or "]" in hostport:
        m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d*))?", hostport)
        if not m or not _is_ipv6(m.group(1)):
            return Bad("bad IPv6 address")
        host, port = f"[{m.group(1).lower()}]", m.group(2) or ""
    else:
        host, _, port = hostport.partition(":") if hostport.count(":") == 1 else (hostport, "", "")
        host = host.lower()
        if not host:
            return Bad("no host")
        if not _is_host_name(host):
            return Bad(f"host {host!r} is not a valid name")
    if port and not port.isdigit():
        return Bad(f"port {port!r} is not a number")
    if port and not 0 < int(port) < 65536:
        return Bad(f"port {int(port)} is out of range (1-65535)")
    return host + (f":{port}" if port else "")


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _is_host_name(host: str) -> bool:
    labels = host.removesuffix(".").split(".")
    return all(0 < len(x) < 64 and _LABEL.fullmatch(x) and not x.startswith("-") for x in labels)


def _base_netloc(base_url: str) -> str:
    try:
        return urlsplit(base_url).netloc.lower()
    except ValueError:
        return ""


def _near_http(scheme: str) -> str | None:
    """`https` or `http` when a scheme looks like a typo of one (htps, htpp, hhttps)."""
    close = difflib.get_close_matches(scheme.lower(), ["https", "http"], n=1, cutoff=0.6)
    return close[0] if close else None


def bare_urls(text: str) -> list[str]:
    """URL-like runs in plain text (`scheme://…`), without trailing punctuation or an
    unbalanced closing bracket, for `check_href` to accept or explain."""
    return [_trim(m.group(0)) for m in _BARE.finditer(text)]


def _trim(url: str) -> str:
    """Drop trailing `.,;:!?'*` and closing brackets that open nowhere in the URL; linear."""
    balance = {c: url.count(c) - url.count(o) for c, o in _CLOSERS.items()}
    end = len(url)
    while end:
        ch = url[end - 1]
        if ch in _TRAILING:
            end -= 1
        elif ch in balance and balance[ch] > 0:
            balance[ch] -= 1
            end -= 1
        else:
            break
    return url[:end]

"""Site knowledge that is not page markup, in one place: when two URLs are the same page,
and which public bodies a guide may name. Page markup rules live in the profiles.

- GOV.UK serves each page's JSON at its Content API (`/api/content/x` for `/x`): the path
  prefix is derived from the built-in profiles' ``api`` URL, so a crawl that fetched the
  API and a guide that cites the page agree on one key.
- Pages move within their site and keep their last path segment (NHS pages move between
  sections: /conditions/x/ to /tests-and-treatments/x/), so a same-host match on a long
  enough last segment is the same page.
- Named bodies (MHRA, NICE, ...) are recorded as mentions when a guide names them without a
  link, and weigh in when the linker matches a change to a section.
"""

from __future__ import annotations

import re
from functools import cache
from urllib.parse import urlparse, urlsplit

from guidewatch.sources.profiles import Profile, load_profiles

#: Named bodies and how guides and pages spell them.
BODIES: dict[str, re.Pattern[str]] = {
    "MHRA": re.compile(r"\bMHRA\b|Medicines and Healthcare products Regulatory Agency"),
    "NICE": re.compile(r"\bNICE\b|National Institute for Health and Care Excellence"),
    "HTA": re.compile(r"\bHTA\b|Human Tissue Authority"),
    "HRA": re.compile(r"\bHRA\b|Health Research Authority"),
    "CQC": re.compile(r"\bCQC\b|Care Quality Commission"),
    "NHS England": re.compile(r"\bNHS England\b"),
}

#: A moved page is recognised by its last path segment only when it is longer than this
#: (a short slug such as "help" or "about" is shared by unrelated pages).
MOVED_SLUG_MIN = 9


def api_prefix(profile: Profile) -> tuple[str, str] | None:
    """(host without www., path prefix) where the profile's API serves its pages, when its
    ``api`` URL is fixed up to ``{path}`` (GOV.UK: ("gov.uk", "/api/content"))."""
    if not profile.api or "{host}" in profile.api or not profile.api.endswith("{path}"):
        return None
    parts = urlsplit(profile.api.removesuffix("{path}"))
    host = (parts.hostname or "").lower().removeprefix("www.")
    prefix = re.sub(r"/+", "/", parts.path).rstrip("/").lower()
    return (host, prefix) if host and prefix else None


@cache
def api_prefixes() -> dict[str, str]:
    """Host -> API path prefix, from the built-in profiles (read once)."""
    return dict(p for p in map(api_prefix, load_profiles().values()) if p is not None)


def url_key(url: str) -> tuple[str, str]:
    """(host, path) ignoring scheme, www., trailing slash, query, fragment and an API prefix."""
    parsed = urlparse(url.strip() if "//" in url else "//" + url.strip())
    host = (parsed.hostname or "").lower().removeprefix("www.")
    path = re.sub(r"/+", "/", parsed.path).rstrip("/").lower()
    prefix = api_prefixes().get(host)
    if prefix and path.startswith(prefix + "/"):
        path = path[len(prefix) :]
    return host, path


def same_source(cited: str, source: str) -> bool:
    """A citation matches the source exactly, or the same page moved within its site (same
    host, same long last path segment)."""
    a, b = url_key(cited), url_key(source)
    if a == b:
        return True
    if a[0] != b[0] or not a[1] or not b[1]:
        return False
    last_a, last_b = a[1].rsplit("/", 1)[-1], b[1].rsplit("/", 1)[-1]
    return bool(last_a) and last_a == last_b and len(last_a) >= MOVED_SLUG_MIN


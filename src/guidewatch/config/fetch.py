"""`[fetch]`: the one table of the schema the crawl child needs (`sources.fetch.FetchSettings`
extends it), in a module of its own so the child loads it without the config loader and the
other tables (~10 ms of its start)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from guidewatch import __version__
from guidewatch.config.keys import DAY, key, num


@dataclass(frozen=True)
class NhsApiConfig:
    key_env: str = key("environment variable holding the NHS website content API key; set: www.nhs.uk pages are "
                       "read through the API (HTML when it fails), unset or empty: as HTML", "str", "NHS_API_KEY",
                       secret="key")
    header: str = key("request header carrying the key (`apikey` in API v2; `subscription-key` in the old "
                      "syndication API)", "str", "apikey")

    @property
    def key(self) -> str | None:
        return os.environ.get(self.key_env) or None


@dataclass(frozen=True)
class FetchConfig:
    user_agent: str = key("product name sent in the User-Agent of every request", "str",
                          f"guidewatch/{__version__} (patient-guide source monitor)")
    contact_url: str = key("a URL or e-mail site owners can reach you at, added to the User-Agent "
                           "(a warning when unset)", "str", "")
    concurrency: int = num("requests in flight overall", 8, 1, 256)
    per_host: int = num("requests in flight per host", 2, 1, 256)
    download_delay: float = num("seconds between requests to one host (AutoThrottle adapts it)", 1.0, 0, 3600,
                                unit=" s")
    timeout: float = num("per request (connect + download)", 30.0, 0, 3600, above=True, unit=" s")
    retries: int = num("retries after the first try, for timeouts, resets, 408/429/5xx", 3, 0, 10)
    max_bytes: int = num("largest page body; larger ones fail as too large", 10 * 1024 * 1024, 1, 1024 ** 3,
                         unit=" bytes")
    obey_robots: bool = key("follow robots.txt", "bool", True)
    autothrottle: bool = key("adapt the delay to each host's response times", "bool", True)
    allow_private: bool = key("follow loopback/private addresses (local testing only)", "bool", False)
    mirror: dict[str, str] = key(
        "fetch a real origin's pages from a local copy (`\"https://www.gov.uk\" = \"http://127.0.0.1:8001\"`); "
        "guides, the store, digests and alerts keep the real URLs; a local origin needs `allow_private`", "origins",
        {}, example={"https://www.gov.uk": "http://127.0.0.1:8001"})
    crawl_timeout: float = num("the child crawl process is killed after this", 1800.0, 0, 7 * DAY, above=True,
                               unit=" s")
    parse_workers: int | None = num(
        "deprecated, ignored (a crawl warns once): pages are parsed in the crawl process; kept so older files "
        "still load", None, 0, 64, kind=int, shown="—", example=4)
    nhs_api: NhsApiConfig | None = key("read www.nhs.uk pages through the NHS website content API (needs a key)",
                                       "table", table=NhsApiConfig)

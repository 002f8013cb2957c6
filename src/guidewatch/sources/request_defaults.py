"""What every request of a crawl carries: the headers and meta Scrapy's middlewares used to add."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scrapy.settings import BaseSettings


@dataclass(frozen=True)
class RequestDefaults:
    """The headers and meta Scrapy's DefaultHeaders, UserAgent and DownloadTimeout middlewares
    gave every request (each only where the request had none), given once as a request is
    built: by the spider, and by `netguard.RobotsMiddleware` for robots.txt."""

    headers: Mapping[str, str]
    meta: Mapping[str, Any]

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> RequestDefaults:
        headers = dict(settings.getdict("DEFAULT_REQUEST_HEADERS"))
        if agent := settings.get("USER_AGENT"):
            headers["User-Agent"] = agent
        timeout = settings.getfloat("DOWNLOAD_TIMEOUT")
        return cls(headers, {"download_timeout": timeout} if timeout else {})

    def apply(self, headers: dict[str, str], meta: dict[str, Any]) -> None:
        """Add what `headers` (header names in any case, as Scrapy's Headers compare them) and `meta` lack."""
        present = {name.lower() for name in headers}
        for name, value in self.headers.items():
            if name.lower() not in present:
                headers[name] = value
        for key, value in self.meta.items():
            meta.setdefault(key, value)

"""FetchSettings as Scrapy settings: which of Scrapy's parts run, and our middlewares in their place."""

from __future__ import annotations

from typing import Any

from guidewatch.sources.fetch import FetchSettings
from guidewatch.sources.hostguard import HostGuardMiddleware
from guidewatch.sources.netguard import GuardedResolver, RobotsMiddleware
from guidewatch.sources.partial import PartialBodyMiddleware
from guidewatch.sources.retry import BackoffRetryMiddleware


def scrapy_settings(settings: FetchSettings) -> dict[str, Any]:
    """Translate FetchSettings into Scrapy settings (plus GUIDEWATCH_* for our middlewares)."""
    return {
        "BOT_NAME": "guidewatch",
        "USER_AGENT": settings.full_user_agent,
        "ROBOTSTXT_OBEY": settings.obey_robots,
        "ROBOTSTXT_USER_AGENT": _robots_token(settings.user_agent),
        "CONCURRENT_REQUESTS": settings.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": settings.per_host,
        # Callbacks return at most one follow-up request; Scrapy's default (100) starts 100
        # asyncio tasks per response to process that output, most of a 304's CPU cost.
        "CONCURRENT_ITEMS": 1,
        "DOWNLOAD_DELAY": settings.download_delay,
        "AUTOTHROTTLE_ENABLED": settings.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(settings.download_delay, 1.0),
        "AUTOTHROTTLE_MAX_DELAY": max(settings.max_retry_after, 10.0),
        "DOWNLOAD_TIMEOUT": settings.timeout,
        "DNS_TIMEOUT": settings.timeout,
        "DOWNLOAD_MAXSIZE": settings.max_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "DOWNLOAD_FAIL_ON_DATALOSS": True,  # a body short of its Content-Length is a failed fetch
        "RETRY_ENABLED": False,  # BackoffRetryMiddleware instead
        "REDIRECT_ENABLED": False,  # followed by the spider, host-checked hop by hop
        "METAREFRESH_ENABLED": False,  # a meta refresh would be an unchecked redirect
        "HTTPCACHE_ENABLED": False,  # RFC 2616 policy serves stale copies on 5xx
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,  # no listening ports in a crawl child
        "REMOTE_CONTROL_ENABLED": False,  # Scrapy 2.19: code-execution HTTP server + job files in ~
        "TWISTED_DNS_RESOLVER": GuardedResolver,  # every lookup, the download's own too, is checked
        "DOWNLOADER_MIDDLEWARES": {
            HostGuardMiddleware: 50,  # before robots.txt (100): no robots.txt fetch either
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            RobotsMiddleware: 100,  # gives every waiting request the parsed file
            BackoffRetryMiddleware: 550,
            PartialBodyMiddleware: 595,  # above HttpCompressionMiddleware (590): sees the raw bytes
        },
        "DEFAULT_REQUEST_HEADERS": {
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "Accept-Language": "en-GB,en;q=0.8",
        },
        "LOG_LEVEL": settings.log_level.upper(),
        "LOG_FORMAT": "%(levelname)s|%(name)s|%(message)s",
        "GUIDEWATCH_ALLOW_PRIVATE": settings.allow_private,
        "GUIDEWATCH_RETRIES": settings.retries,
        "GUIDEWATCH_RETRY_BACKOFF": settings.retry_backoff,
        "GUIDEWATCH_MAX_RETRY_AFTER": settings.max_retry_after,
    }


def _robots_token(user_agent: str) -> str:
    """The product token robots.txt groups are matched against ("guidewatch" in "guidewatch/0.1")."""
    words = user_agent.split("/", 1)[0].split()
    return words[0] if words else "guidewatch"

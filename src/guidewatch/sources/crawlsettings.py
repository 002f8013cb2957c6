"""FetchSettings as Scrapy settings: which of Scrapy's parts run, and our middlewares in their place."""

from __future__ import annotations

import contextlib
import logging
from typing import Any
from urllib.request import getproxies

from scrapy import Request, Spider
from scrapy.http import Response
from scrapy.logformatter import LogFormatter, LogFormatterResult
from scrapy.settings import default_settings

from guidewatch.sources.fetch import FetchSettings
from guidewatch.sources.hostguard import HostGuardMiddleware
from guidewatch.sources.netguard import GuardedResolver, RobotsMiddleware
from guidewatch.sources.partial import PartialBodyMiddleware
from guidewatch.sources.retry import BackoffRetryMiddleware

# Scrapy imports every component named in a setting such as EXTENSIONS (even one set to None)
# before asking it whether it is enabled, so the ones our settings switch off are left out of
# the *_BASE lists instead: the cookies middleware alone imports tldextract and requests, the
# remote-control extension aiohttp (~0.1 s of the child's start). None would do anything here.
_DM = "scrapy.downloadermiddlewares."
UNUSED_DOWNLOADER_MIDDLEWARES = frozenset({
    _DM + "robotstxt.RobotsTxtMiddleware",  # guidewatch.sources.netguard.RobotsMiddleware instead
    _DM + "retry.RetryMiddleware",  # RETRY_ENABLED off: BackoffRetryMiddleware instead
    _DM + "redirect.MetaRefreshMiddleware",  # METAREFRESH_ENABLED off
    _DM + "redirect.RedirectMiddleware",  # REDIRECT_ENABLED off: the spider follows redirects
    _DM + "cookies.CookiesMiddleware",  # COOKIES_ENABLED off
    _DM + "httpcache.HttpCacheMiddleware",  # HTTPCACHE_ENABLED off
    # DOWNLOADER_STATS off: per request it rebuilt the request and response heads only to count
    # their bytes (~6 % of an unchanged crawl's CPU); nothing reads those stats
    _DM + "stats.DownloaderStats",
    # The rest ran on every request and did nothing: the spider sets no allowed_domains (the
    # host guard checks hosts) and every request is dont_filter; no HTTPAUTH_* or http_user.
    _DM + "offsite.OffsiteMiddleware",
    _DM + "httpauth.HttpAuthMiddleware",
    # What these three added to every request is set once as each request is built
    # (`request_defaults.RequestDefaults`): three middleware calls fewer per request.
    _DM + "downloadtimeout.DownloadTimeoutMiddleware",
    _DM + "defaultheaders.DefaultHeadersMiddleware",
    _DM + "useragent.UserAgentMiddleware",
})
# Only when the environment names a proxy (`_downloader_base`): it decides per request.
_PROXY_MIDDLEWARE = _DM + "httpproxy.HttpProxyMiddleware"
_SM = "scrapy.spidermiddlewares."
UNUSED_SPIDER_MIDDLEWARES = frozenset({
    _SM + "depth.DepthMiddleware",  # no DEPTH_LIMIT: redirect hops are counted by the spider
    _SM + "metacopy.MetaCopyDetectionMiddleware",  # only warns about a spider copying meta
    # drops follow-ups over URLLENGTH_LIMIT without a word: a redirect hop it dropped left its
    # source to the "crawl ended" failure; every hop goes through the spider's own checks
    _SM + "urllength.UrlLengthMiddleware",
    # Each ran once per request or response (an async generator per response for the output
    # ones) for what the spider now does itself: it marks its start requests, asks for every
    # status (handle_httpstatus_all, so HttpError let everything through) and gives the
    # follow-ups of a response their Referer by Scrapy's policy (`GuideSpider.from_crawler`).
    _SM + "start.StartSpiderMiddleware",
    _SM + "httperror.HttpErrorMiddleware",
    _SM + "referer.RefererMiddleware",
})
UNUSED_EXTENSIONS = frozenset({
    "scrapy.extensions.telnet.TelnetConsole",  # TELNETCONSOLE_ENABLED off
    "scrapy.extensions.remote_control.RemoteControl",  # REMOTE_CONTROL_ENABLED off
    "scrapy.extensions.memusage.MemoryUsage",  # no MEMUSAGE_* limit: it would only poll
    "scrapy.extensions.memdebug.MemoryDebugger",  # MEMDEBUG_ENABLED off
    "scrapy.extensions.closespider.CloseSpider",  # no CLOSESPIDER_* limit
    "scrapy.extensions.feedexport.FeedExporter",  # no FEEDS: outcomes go to the parent
    "scrapy.extensions.spiderstate.SpiderState",  # no JOBDIR
    # Crawl statistics: nothing reads them (the parent counts outcomes itself), and keeping
    # them cost signal handlers and dict updates per request (STATS_CLASS is the dummy one).
    "scrapy.extensions.corestats.CoreStats",
    "scrapy.extensions.logcount.LogCount",
    "scrapy.extensions.logstats.LogStats",  # would log the dummy's zeros each minute at INFO
})
# Only http(s) is fetched: the spider answers any other scheme itself, and a redirect off
# HTTP(S) is blocked (`hosts.redirect_problem`) before anything is requested.
USED_SCHEMES = frozenset({"http", "https"})


class QuietLogFormatter(LogFormatter):
    """Scrapy's log messages, except that the "Crawled (304) <GET ...>" line of every response
    is not put together (its referer looked up, its flags formatted, a dict built) only for the
    logger to drop it: it is a DEBUG line, and a crawl logs at WARNING unless asked."""

    _engine_log = logging.getLogger("scrapy.core.engine")  # the logger Scrapy logs that line to

    def crawled(self, request: Request, response: Response, spider: Spider) -> LogFormatterResult | None:  # type: ignore[override]
        if not self._engine_log.isEnabledFor(logging.DEBUG):
            return None
        return super().crawled(request, response, spider)


def _base(name: str, unused: frozenset[str]) -> dict[str, Any]:
    """Scrapy's default `name` (a *_BASE component dict) without the `unused` components."""
    return {k: v for k, v in getattr(default_settings, name).items() if k not in unused}


def _downloader_base() -> dict[str, Any]:
    """Scrapy's downloader middlewares we use: the proxy one only when a proxy is set (it reads
    the same *_proxy variables Scrapy's would, once, in the crawl child)."""
    unused = UNUSED_DOWNLOADER_MIDDLEWARES if getproxies() else UNUSED_DOWNLOADER_MIDDLEWARES | {_PROXY_MIDDLEWARE}
    return _base("DOWNLOADER_MIDDLEWARES_BASE", unused)


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
        "DOWNLOADER_STATS": False,
        "STATS_CLASS": "scrapy.statscollectors.DummyStatsCollector",  # see UNUSED_EXTENSIONS
        "TELNETCONSOLE_ENABLED": False,  # no listening ports in a crawl child
        "REMOTE_CONTROL_ENABLED": False,  # Scrapy 2.19: code-execution HTTP server + job files in ~
        "TWISTED_DNS_RESOLVER": GuardedResolver,  # every lookup, the download's own too, is checked
        "DOWNLOADER_MIDDLEWARES": {
            HostGuardMiddleware: 50,  # before robots.txt (100): no robots.txt fetch either
            RobotsMiddleware: 100,  # gives every waiting request the parsed file
            BackoffRetryMiddleware: 550,
            PartialBodyMiddleware: 595,  # above HttpCompressionMiddleware (590): sees the raw bytes
        },
        "DOWNLOADER_MIDDLEWARES_BASE": _downloader_base(),
        "SPIDER_MIDDLEWARES_BASE": _base("SPIDER_MIDDLEWARES_BASE", UNUSED_SPIDER_MIDDLEWARES),
        "EXTENSIONS_BASE": _base("EXTENSIONS_BASE", UNUSED_EXTENSIONS),
        "DOWNLOAD_HANDLERS_BASE": {k: v for k, v in default_settings.DOWNLOAD_HANDLERS_BASE.items()
                                   if k in USED_SCHEMES},
        "DEFAULT_REQUEST_HEADERS": {  # set by `RequestDefaults`, not by Scrapy's middleware
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "Accept-Language": "en-GB,en;q=0.8",
        },
        "LOG_LEVEL": settings.log_level.upper(),
        # the versions of lxml, Twisted, OpenSSL, the platform...: worked out (~20 ms) even when
        # the INFO line that shows them is not logged
        **({} if settings.log_level.upper() in ("DEBUG", "INFO") else {"LOG_VERSIONS": []}),
        "LOG_FORMAT": "%(levelname)s|%(name)s|%(message)s",
        "LOG_FORMATTER": QuietLogFormatter,
        "GUIDEWATCH_ALLOW_PRIVATE": settings.allow_private,
        "GUIDEWATCH_RETRIES": settings.retries,
        "GUIDEWATCH_RETRY_BACKOFF": settings.retry_backoff,
        "GUIDEWATCH_MAX_RETRY_AFTER": settings.max_retry_after,
    }


# The settings naming the components a crawl loads once it has its settings (the job).
_COMPONENT_LISTS = ("DOWNLOADER_MIDDLEWARES_BASE", "EXTENSIONS_BASE", "DOWNLOAD_HANDLERS_BASE",
                    "SPIDER_MIDDLEWARES_BASE")  # {path: order}, or {scheme: path} for the handlers
_COMPONENTS = ("SCHEDULER", "SCHEDULER_PRIORITY_QUEUE", "SCHEDULER_MEMORY_QUEUE", "DUPEFILTER_CLASS", "STATS_CLASS",
               "REQUEST_FINGERPRINTER_CLASS", "LOG_FORMATTER", "DOWNLOADER", "ITEM_PROCESSOR")


def preload() -> None:
    """Import the Scrapy components a crawl will load (the HTTP handler and its TLS context
    factories alone take ~40 ms), while the crawl child waits for its job: the parent takes
    longer to work the job out than the child takes to start, so this costs no time, and
    the crawl then starts as soon as the job arrives. Never fails: the crawl loads them again."""
    from scrapy.settings import Settings
    from scrapy.utils.misc import load_object

    settings = Settings(scrapy_settings(FetchSettings()))
    paths = [settings.get(name) for name in _COMPONENTS]
    paths += [item for name in _COMPONENT_LISTS for pair in (settings.get(name) or {}).items() for item in pair]
    for path in paths:
        if isinstance(path, str) and "." in path:
            with contextlib.suppress(Exception):
                load_object(path)


def _robots_token(user_agent: str) -> str:
    """The product token robots.txt groups are matched against ("guidewatch" in "guidewatch/0.1")."""
    words = user_agent.split("/", 1)[0].split()
    return words[0] if words else "guidewatch"

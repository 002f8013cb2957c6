"""The crawl child's settings, from `[fetch]` as loaded (validated once, there)."""

from __future__ import annotations

import dataclasses
import logging
from functools import lru_cache

from guidewatch.config import Config
from guidewatch.sources.fetch import FetchSettings

log = logging.getLogger("guidewatch.crawl")


def fetch_settings(config: Config) -> FetchSettings:
    """The crawl child's settings: `[fetch]` as loaded (validated once, there), plus the log level."""
    f = config.fetch
    if not f.contact_url:
        _warn_no_contact(str(config.path or config.root))
    values = {field.name: getattr(f, field.name) for field in dataclasses.fields(f)}
    return FetchSettings(**values, log_level=_child_log_level())


@lru_cache(maxsize=64)
def _warn_no_contact(config: str) -> None:
    """Once per config and process: `check` crawls up to three times, the daemon every few hours."""
    log.warning("%s: [fetch] contact_url is not set: set it to a URL or e-mail address where site owners "
                "can reach you (it is sent in the User-Agent of every request)", config)


def _child_log_level() -> str:
    """DEBUG (every request, tracebacks) when this process shows debug lines (-vv), else
    WARNING: at -v Scrapy's INFO would be a hundred lines of start-up banner per crawl."""
    return "DEBUG" if logging.getLogger("guidewatch.sources.spider").isEnabledFor(logging.DEBUG) else "WARNING"

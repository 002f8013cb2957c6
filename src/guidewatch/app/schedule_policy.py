"""When each source is next due: the schedule that applies to it and its next fire time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from guidewatch.config import Config, parse_duration
from guidewatch.sources.profiles import Profile
from guidewatch.store import SourceState


def source_schedule(config: Config, source: SourceState, profile: Profile | None = None) -> str:
    """The most specific schedule wins: the source's, the config's for its profile, the
    profile file's own default, then `[schedule] crawl`."""
    sc = config.source(source.url)
    return ((sc.schedule if sc and sc.schedule else None) or config.schedule.profiles.get(source.profile)
            or (profile.schedule if profile else None) or config.schedule.crawl)


def next_due(config: Config, source: SourceState, now: datetime, profile: Profile | None = None) -> datetime:
    cron = source_schedule(config, source, profile)
    if cron.startswith("every "):
        return now + parse_duration(cron[6:])
    trigger = _cron_trigger(cron, config.schedule.timezone)
    nxt = trigger.get_next_fire_time(None, now)
    return nxt.astimezone(UTC) if nxt else now + timedelta(days=1)


@lru_cache(maxsize=256)
def _cron_trigger(cron: str, timezone: str) -> Any:
    """Parsed once per expression: building a CronTrigger per crawled source adds up at scale."""
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger.from_crontab(cron, timezone=timezone)

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
    key = (cron, config.schedule.timezone)
    asked, fire = _last_fire.get(key, (None, None))
    if asked is not None and fire is not None and asked <= now <= fire:
        return fire  # no fire time between the one asked for and this `now`: the same answer
    trigger = _cron_trigger(*key)
    nxt = trigger.get_next_fire_time(None, now)
    if nxt is None:
        return now + timedelta(days=1)
    fire = nxt.astimezone(UTC)
    zone = trigger.timezone
    if fire - now <= _STEADY and now.astimezone(zone).utcoffset() == fire.astimezone(zone).utcoffset():
        _last_fire[key] = (now, fire)  # not across a clock change: there APScheduler can skip a fire time
    return fire


_STEADY = timedelta(days=7)  # clock changes are months apart: one offset at both ends means none between

# The last answer per (cron, timezone): the first fire time at or after `asked`. Every source
# of a crawl asks with a `now` a little later than the one before; any `now` up to that fire
# time has the same answer, without the trigger's field-by-field search.
_last_fire: dict[tuple[str, str], tuple[datetime, datetime]] = {}


@lru_cache(maxsize=256)
def _cron_trigger(cron: str, timezone: str) -> Any:
    """Parsed once per expression: building a CronTrigger per crawled source adds up at scale."""
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger.from_crontab(cron, timezone=timezone)

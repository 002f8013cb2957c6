"""The one schema of `guidewatch.toml`: every key once, with its default, range or choices and help.

Loading (load.py), the `init` template and the README's table (docs.py) all read these
declarations, so a default changed here changes everywhere and nowhere else can disagree.

Plain dataclasses with field metadata rather than pydantic: pydantic v2 is not a dependency
of guidewatch, its errors would need rewriting into today's `file:line: key: problem` lines
anyway, and the checks (cron, URLs hiding their paths, durations) are ours either way.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from guidewatch.config.fetch import FetchConfig, NhsApiConfig
from guidewatch.config.keys import DAY, Key, Range, default_of, duration_text, key, num, required
from guidewatch.exitcodes import USAGE

__all__ = [  # the declaration helpers and [fetch] live in keys.py and fetch.py; this is their one address
    "DAY", "DIGEST_FORMATS", "INTERVAL", "MAX_DURATION", "SEVERITIES", "Config", "ConfigError", "DurationTooLong",
    "FetchConfig", "Key", "NhsApiConfig", "Range", "default_of", "duration_text", "key", "num", "parse_duration",
    "required",
]  # fmt: skip

SEVERITIES = ("cosmetic", "minor", "substantive")
DIGEST_FORMATS = ("md", "html", "text", "json")
MAX_DURATION = timedelta(days=36500)  # parse_duration's ceiling: datetime arithmetic stays in range


class ConfigError(ValueError):
    """Bad configuration; str() is the one-line message shown to the user."""

    exit_code = USAGE


#: `every …` schedules: at least a second, at most a year (APScheduler adds them to datetimes).
INTERVAL = Range(1, 366 * DAY, unit="duration")


class DurationTooLong(ValueError):
    """A duration past MAX_DURATION: it would overflow datetime arithmetic."""


_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_duration(value: str) -> timedelta:
    """'30d', '12h', '90m', '2w' -> timedelta; raises ValueError with the accepted forms."""
    m = _DURATION.match(value)
    if not m:
        raise ValueError(f"expected a duration like 30d, 12h, 90m or 2w, got {value!r}")
    n, unit = int(m.group(1)), m.group(2)
    seconds = n * {"s": 1, "m": 60, "h": 3600, "d": DAY, "w": 7 * DAY}[unit]
    if seconds > MAX_DURATION.total_seconds():
        raise DurationTooLong(f"{value.strip()!r} is longer than {duration_text(MAX_DURATION.total_seconds())}")
    return timedelta(seconds=seconds)


# --- the schema -----------------------------------------------------------------------------


@dataclass(frozen=True)
class GuideConfig:
    path: str = required("`.md`, `.html` or `.txt` file, or an http(s) URL", "str",
                         example="guides/gene-therapy-atmps-uk.md")
    slug: str = key("guide id used in alerts and section references", "slug", shown="file name",
                    example="gene-therapy-atmps-uk", dataclass_default=False)
    editors: tuple[str, ...] = key("e-mail addresses that receive this guide's alerts", "emails", (),
                                   example=("editor@example.org",))
    base_url: str | None = key("resolves relative links (kept as internal links, not watched)", "url",
                               example="https://www.example.org")
    origin: str = field(default="", compare=False)  # "guidewatch.toml:12: guides[0].path", for errors


@dataclass(frozen=True)
class GuideSourceConfig:
    """Every guide a publisher lists under a path, without an entry for each."""

    sitemap: str | None = key("the publisher's sitemap.xml (a sitemap index is followed one level down)", "url",
                              example="https://publisher.example/sitemap.xml")
    listing: str | None = key("instead of `sitemap`: a page whose links list the guides (e.g. "
                              "`https://publisher.example/guides/`); give one of the two", "url", shown="none",
                              example="")
    under: str = key("only pages whose path is below this one are guides; the slug is the path below it", "str",
                     "/", example="/guides/")
    profile: str | None = key("site profile whose `main` says where a guide page's content is (a name no profile "
                              "has: exit 2)", "str", shown="by host", example="default")
    editors: tuple[str, ...] = key("e-mail addresses that receive these guides' alerts", "emails", (),
                                   example=("editor@example.org",))
    origin: str = field(default="", compare=False)  # "guidewatch.toml:12: guide_sources[0].sitemap", for errors

    @property
    def url(self) -> str:
        return self.sitemap or self.listing or ""

    @staticmethod
    def problem(values: dict[str, Any]) -> tuple[str, str] | None:
        """The key and what is wrong with an entry that parses but cannot be used."""
        if bool(values["sitemap"]) == bool(values["listing"]):
            return "sitemap", "give one of sitemap or listing (a URL)"
        if not values["under"].startswith("/"):
            return "under", f"must be a path starting with /, got {values['under']!r:.80}"
        return None


@dataclass(frozen=True)
class SourceConfig:
    url: str = required("override for one cited source", "url",
                        example="https://www.gov.uk/guidance/advanced-therapy-medicinal-products-regulation-and-"
                                "licensing")
    profile: str | None = key(
        "site profile name (`govuk`, `nhsuk`, `default`, yours); a name no profile has is an error (exit 2, "
        "file:line); `crawl` and `compare --url` both read the source with it", "str", shown="by host",
        example="govuk")
    schedule: str | None = key("cron (`0 6 * * *`) or interval (`every 6h`); overrides `[schedule] crawl`",
                               "cron", shown="`[schedule] crawl`", example="0 */6 * * *")
    ignore: tuple[str, ...] = key(
        "noise to drop: `css:<selector>` or a regular expression of text; each rule is checked when the config "
        "loads (a bad selector or regex: exit 2, file:line), never left to fail every crawl", "ignore", (),
        example=("css:.app-c-banner", "Share this page"))
    profile_at: str = ""  # "file:line: sources[i].profile", for errors found once the profiles are loaded


@dataclass(frozen=True)
class ScheduleConfig:
    crawl: str = key("when the daemon crawls due sources: cron or `every …`", "cron", "0 6 * * *")
    digest: str = key("when the daemon sends digests: cron or `every …`", "cron", "30 7 * * 1-5")
    timezone: str = key("time zone of the cron expressions", "timezone", "UTC", example="Europe/London")
    profiles: dict[str, str] = key("per-profile crawl schedules (profile name = cron or `every …`)", "crons", {},
                                   example={"nhsuk": "0 5 * * 1"})
    misfire_grace: int = num("how late a missed run may still start", 3600, 1, 7 * DAY, unit=" s")


@dataclass(frozen=True)
class EmailConfig:
    host: str = required("SMTP server", "str", example="smtp.example.org")
    port: int = num("SMTP port", 25, 1, 65535, example=587)
    sender: str = key("From address", "str", "guidewatch@localhost", example="guidewatch@example.org")
    username: str | None = key("SMTP login (none: no login)", "str", example="guidewatch")
    password_env: str = key("environment variable holding the SMTP password", "str", "GUIDEWATCH_SMTP_PASSWORD",
                            secret="password")
    security: str = key("transport security", "choice", "none", choices=("none", "starttls", "ssl"),
                        example="starttls")
    timeout: float = num("per connection", 30.0, 0, 3600, above=True, unit=" s")

    @property
    def password(self) -> str | None:
        return os.environ.get(self.password_env) or None


@dataclass(frozen=True)
class WebhookConfig:
    url: str = required("where digests are POSTed", "url", example="https://hooks.example.org/guidewatch")
    token_env: str = key("environment variable holding the Bearer token", "str", "GUIDEWATCH_WEBHOOK_TOKEN",
                         secret="token")
    style: str = key("payload shape", "choice", "json", choices=("json", "slack"))
    timeout: float = num("per request", 10.0, 0, 3600, above=True, unit=" s")

    @property
    def token(self) -> str | None:
        return os.environ.get(self.token_env) or None


@dataclass(frozen=True)
class AppriseConfig:
    urls_env: tuple[str, ...] = required(
        "names of environment variables, each holding one apprise URL (`json://…`, `msteams://…`, `tgram://…`, "
        "`ntfy://…`); the URLs carry tokens, so never the URL itself", "envs",
        example=("GUIDEWATCH_APPRISE_TEAMS",))
    timeout: float = num("per request (connect, then read)", 10.0, 0, 3600, above=True, unit=" s")


@dataclass(frozen=True)
class AlertsConfig:
    formats: tuple[str, ...] = key("digest files written", "formats", ("md", "html", "json"),
                                   choices=DIGEST_FORMATS)
    min_severity: str = key("what opens an alert", "choice", "minor", choices=("minor", "substantive"))
    email: EmailConfig | None = key("send each editor their digest by e-mail", "table", table=EmailConfig)
    webhook: WebhookConfig | None = key("POST digests to a webhook (JSON or Slack)", "table", table=WebhookConfig)
    apprise: AppriseConfig | None = key("send digests through apprise (Teams, Slack, Telegram, Matrix, ntfy, …)",
                                        "table", table=AppriseConfig)
    # back-off doubles per failed attempt: the bounds keep retry_base * 2**(max_attempts - 2) a datetime
    max_attempts: int = num("delivery attempts per digest", 10, 1, 20)
    retry_base: float = num("first retry wait; it doubles per failed attempt", 60.0, 0, DAY, above=True, unit=" s")


@dataclass(frozen=True)
class CheckConfig:
    max_age: timedelta = num("a source not checked successfully for this long is stale", timedelta(days=30), 1,
                             3650 * DAY, kind=timedelta, unit="duration")
    unreachable_after: int = num("consecutive failed checks before a source counts as unreachable", 3, 1, 100)


@dataclass(frozen=True)
class ServeConfig:
    """The editors' review app (`guidewatch serve`)."""

    public_url: str = key("where editors reach the review app; sign-in links and digest links point there", "url",
                          example="https://guidewatch.example.org")
    operators: tuple[str, ...] = key("addresses that see and act on every guide in the review app", "emails", ())
    secret_env: str = key("environment variable holding the session-signing key (unset: sessions end on restart)",
                          "str", "GUIDEWATCH_SECRET_KEY", secret="secret_key")
    link_ttl: timedelta = num("how long an e-mailed sign-in link works (once)", timedelta(minutes=30), 60, DAY,
                              kind=timedelta, unit="duration")
    behind_proxy: bool = key("behind an https reverse proxy: `Secure` cookies, trust `X-Forwarded-*`", "bool", False)

    def __post_init__(self) -> None:
        # one spelling of each: links are built as public_url + path; sign-in compares lower-case addresses
        object.__setattr__(self, "public_url", (self.public_url or "").rstrip("/"))
        object.__setattr__(self, "operators", tuple(e.strip().lower() for e in self.operators if e.strip()))


@dataclass(frozen=True)
class Config:
    path: Path | None
    root: Path  # directory relative paths are resolved against
    store: str = key("SQLite file (WAL) or `postgresql://…` (`postgres://…` too); env `GUIDEWATCH_STORE` "
                     "overrides (its errors name the variable, never the password)", "store",
                     "sqlite:///guidewatch.db", dataclass_default=False)
    snapshots_dir: Path = key("reviewed snapshots of each source (commit them next to your guides)", "path",
                              "snapshots", dataclass_default=False)
    alerts_dir: Path = key("digest output", "path", "alerts", dataclass_default=False)
    profiles_dir: Path | None = key("extra site profiles (TOML) beside the built-in ones; used for every source, "
                                    "cited or configured", "path", example="spiders", dataclass_default=False)
    guides: tuple[GuideConfig, ...] = key("one `[[guides]]` table per guide", "entries", (), table=GuideConfig,
                                          dataclass_default=False)
    guide_sources: tuple[GuideSourceConfig, ...] = key(
        "one `[[guide_sources]]` table per publisher sitemap or listing: every page under a path is a guide", "entries",
        (), table=GuideSourceConfig, dataclass_default=False)
    sources: tuple[SourceConfig, ...] = key("per-source overrides: every external link in a guide is watched "
                                            "anyway", "entries", (), table=SourceConfig, dataclass_default=False)
    fetch: FetchConfig = key("how politely and how persistently sources are fetched", "table", FetchConfig(),
                             table=FetchConfig, dataclass_default=False)
    schedule: ScheduleConfig = key("when the daemon crawls and sends digests", "table", ScheduleConfig(),
                                   table=ScheduleConfig, dataclass_default=False)
    alerts: AlertsConfig = key("digests and their delivery", "table", AlertsConfig(), table=AlertsConfig,
                               dataclass_default=False)
    check: CheckConfig = key("what `guidewatch check` counts as stale or unreachable", "table", CheckConfig(),
                             table=CheckConfig, dataclass_default=False)
    serve: ServeConfig = key("the editors' review app (`guidewatch serve`)", "table", ServeConfig(),
                             table=ServeConfig, dataclass_default=False)

    def source(self, url: str) -> SourceConfig | None:
        return self._sources_by_url.get(url)

    @cached_property
    def _sources_by_url(self) -> dict[str, SourceConfig]:
        """Looked up per source several times a crawl: a scan of every entry each time is O(N^2)."""
        by_url: dict[str, SourceConfig] = {}
        for s in self.sources:
            by_url.setdefault(s.url, s)  # the first entry for a URL wins, as the scan did
        return by_url

    def guide_path(self, guide: GuideConfig) -> Path:
        return (self.root / guide.path).resolve()

"""`guidewatch.toml`: read once with tomllib, validated into typed, frozen objects.

Every error names the file, the line where the key sits (when it can be found) and what is
wrong, in one line. Secrets are never in the file: the file names the environment
variables that hold them.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CONFIG_NAME = "guidewatch.toml"
MAX_CONFIG_BYTES = 1024 * 1024
SEVERITIES = ("cosmetic", "minor", "substantive")
DIGEST_FORMATS = ("md", "html", "text", "json")


class ConfigError(ValueError):
    """Bad configuration; str() is the one-line message shown to the user."""


# --- bounds: every number a key takes, stated beside the key's default ---------------------

DAY = 86400
MAX_DURATION = timedelta(days=36500)  # parse_duration's ceiling: datetime arithmetic stays in range


@dataclass(frozen=True)
class Range:
    """The numbers a key accepts: finite, from `lo` to `hi` (`lo` itself excluded when `above`).

    Bounds keep values that parse from failing later (an OverflowError in datetime
    arithmetic, a NaN timeout that fails every fetch, a back-off too long to schedule)."""

    lo: float
    hi: float
    kind: type = float
    above: bool = False
    unit: str = ""  # " s", " bytes"; "duration" shows the bounds as 1s, 366d

    def show(self, value: float, unit: bool = False) -> str:
        if self.unit == "duration":
            return _duration_text(value)
        text = f"{value:g}" if isinstance(value, float) else f"{value}"
        return text + self.unit if unit else text

    def problem(self, value: float, shown: str | None = None) -> str | None:
        """Why `value` is out of range (None when it is fine); `shown` is how the user wrote it."""
        got = shown if shown is not None else repr(value)
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number, got {got}"
        if value > self.hi or value < self.lo or (self.above and value == self.lo):
            return self.outside(got)
        return None

    def outside(self, got: str) -> str:
        lo, hi = self.show(self.lo), self.show(self.hi, unit=True)
        if self.above:
            return f"must be greater than {lo} and at most {hi}, got {got}"
        return f"must be between {lo} and {hi}, got {got}"


def _num(default: Any, lo: float, hi: float, *, kind: type | None = None, above: bool = False,
         unit: str = "") -> Any:
    """A dataclass field with its default and its Range side by side."""
    rng = Range(lo, hi, kind or type(default), above, unit)
    return field(default=default, metadata={"range": rng})


def _duration_text(seconds: float) -> str:
    """3600 -> "1h", 31622400 -> "366d": a bound written the way durations are written."""
    for unit, size in (("d", DAY), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


#: `every …` schedules: at least a second, at most a year (APScheduler adds them to datetimes).
INTERVAL = Range(1, 366 * DAY, unit="duration")


@dataclass(frozen=True)
class GuideConfig:
    path: str  # file path (relative to the config file) or http(s) URL
    slug: str
    editors: tuple[str, ...] = ()
    base_url: str | None = None  # resolves the guide's relative links (kept as internal links)
    origin: str = field(default="", compare=False)  # "guidewatch.toml:12: guides[0].path", for errors


@dataclass(frozen=True)
class SourceConfig:
    url: str
    profile: str | None = None
    schedule: str | None = None  # cron expression; overrides the profile's and the default
    ignore: tuple[str, ...] = ()  # "css:<selector>" or a regular expression of text to drop
    profile_at: str = ""  # "file:line: sources[i].profile", for errors found once the profiles are loaded


@dataclass(frozen=True)
class FetchConfig:
    user_agent: str = "guidewatch/0.1 (patient-guide source monitor)"
    contact_url: str = ""
    concurrency: int = _num(8, 1, 256)
    per_host: int = _num(2, 1, 256)
    download_delay: float = _num(1.0, 0, 3600, unit=" s")
    timeout: float = _num(30.0, 0, 3600, above=True, unit=" s")
    retries: int = _num(3, 0, 10)
    max_bytes: int = _num(10 * 1024 * 1024, 1, 1024 ** 3, unit=" bytes")
    obey_robots: bool = True
    autothrottle: bool = True
    allow_private: bool = False  # only for local testing: follow 127.0.0.1 and private addresses
    # the child crawl process is killed after this many seconds
    crawl_timeout: float = _num(1800.0, 0, 7 * DAY, above=True, unit=" s")
    # processes normalising pages; None: one per core (max 4), 0: none
    parse_workers: int | None = _num(None, 0, 64, kind=int)


@dataclass(frozen=True)
class ScheduleConfig:
    crawl: str = "0 6 * * *"
    digest: str = "30 7 * * 1-5"
    timezone: str = "UTC"
    profiles: dict[str, str] = field(default_factory=dict)  # profile name -> cron
    misfire_grace: int = _num(3600, 1, 7 * DAY, unit=" s")  # `every …` intervals: INTERVAL


@dataclass(frozen=True)
class EmailConfig:
    host: str
    port: int = _num(25, 1, 65535)
    sender: str = "guidewatch@localhost"
    username: str | None = None
    password_env: str = "GUIDEWATCH_SMTP_PASSWORD"
    security: str = "none"  # none | starttls | ssl
    timeout: float = _num(30.0, 0, 3600, above=True, unit=" s")

    @property
    def password(self) -> str | None:
        return os.environ.get(self.password_env) or None


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    token_env: str = "GUIDEWATCH_WEBHOOK_TOKEN"
    style: str = "json"  # json | slack
    timeout: float = _num(10.0, 0, 3600, above=True, unit=" s")

    @property
    def token(self) -> str | None:
        return os.environ.get(self.token_env) or None


@dataclass(frozen=True)
class AlertsConfig:
    formats: tuple[str, ...] = ("md", "html", "json")
    min_severity: str = "minor"
    email: EmailConfig | None = None
    webhook: WebhookConfig | None = None
    # back-off doubles per failed attempt: the bounds keep retry_base * 2**(max_attempts - 2) a datetime
    max_attempts: int = _num(10, 1, 20)
    retry_base: float = _num(60.0, 0, DAY, above=True, unit=" s")


@dataclass(frozen=True)
class CheckConfig:
    max_age: timedelta = _num(timedelta(days=30), 1, 3650 * DAY, kind=timedelta, unit="duration")
    unreachable_after: int = _num(3, 1, 100)  # consecutive failed checks before a source counts as unreachable


@dataclass(frozen=True)
class ServeConfig:  # the editors' review app (`guidewatch serve`)
    public_url: str = ""  # where editors reach the app; digests link each change there when set
    operators: tuple[str, ...] = ()  # e-mail addresses that see and act on every guide
    secret_env: str = "GUIDEWATCH_SECRET_KEY"  # signs session cookies (unset: sessions end on restart)
    link_ttl: timedelta = _num(timedelta(minutes=30), 60, DAY, kind=timedelta, unit="duration")
    behind_proxy: bool = False  # trust X-Forwarded-Proto/For from one reverse proxy (https: secure cookies)


@dataclass(frozen=True)
class Config:
    path: Path | None
    root: Path  # directory relative paths are resolved against
    store: str
    snapshots_dir: Path
    alerts_dir: Path
    profiles_dir: Path | None
    guides: tuple[GuideConfig, ...]
    sources: tuple[SourceConfig, ...]
    fetch: FetchConfig
    schedule: ScheduleConfig
    alerts: AlertsConfig
    check: CheckConfig
    serve: ServeConfig = field(default_factory=ServeConfig)

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


# --- validation ---------------------------------------------------------------------------


class _Reader:
    """Typed access to one TOML table that reports the offending key with its line."""

    def __init__(self, file: str, text: str, data: dict[str, Any], prefix: str, start: int = 0) -> None:
        self.file, self.text, self.data, self.prefix = file, text, data, prefix
        self.start = start  # where this table's text begins: an [[array]] entry's keys are looked up from there
        self.used: set[str] = set()

    def where(self, key: str) -> str:
        """`file:line: dotted.key`, the line being where `key` is written (when it can be found)."""
        dotted = f"{self.prefix}{key}" if key else self.prefix.rstrip(".")
        start = self.start or _table_start(self.text, self.prefix)
        line = _line_of(self.text, key.split("[")[0] or self.prefix.rstrip(".").split(".")[-1], start)
        return f"{self.file}:{line}: {dotted}" if line else f"{self.file}: {dotted}"

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.where(key)}: {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None, *, required: bool = False) -> Any:
        self.used.add(key)
        if key not in self.data:
            if required:
                raise self.fail(key, "is required")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            try:
                value = float(value)
            except OverflowError:
                raise self.fail(key, "is too large a number") from None
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(_type_name(k) for k in kinds)
            raise self.fail(key, f"expected {names}, got {_type_name(type(value))} {value!r:.60}")
        return value

    def strings(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.get(key, list, None)
        if value is None:
            return default
        for item in value:
            if not isinstance(item, str):
                raise self.fail(key, f"expected a list of strings, found {_type_name(type(item))} {item!r:.60}")
        return tuple(value)

    def table(self, key: str) -> _Reader | None:
        value = self.get(key, dict, None)
        if value is None:
            return None
        return _Reader(self.file, self.text, value, f"{self.prefix}{key}.")

    def number(self, key: str, owner: type) -> Any:
        """The key's number, checked against the Range beside its default in `owner`."""
        spec = next(f for f in fields(owner) if f.name == key)
        rng: Range = spec.metadata["range"]
        value = self.get(key, rng.kind, spec.default)
        if value is not None and (problem := rng.problem(value)):
            raise self.fail(key, problem)
        return value

    def duration(self, key: str, owner: type) -> timedelta:
        """A duration key ("30d"), checked against the Range (in seconds) beside its default."""
        spec = next(f for f in fields(owner) if f.name == key)
        raw = self.get(key, str, None)
        if raw is None:
            return spec.default  # type: ignore[no-any-return]
        rng: Range = spec.metadata["range"]
        try:
            value = parse_duration(raw)
        except DurationTooLong:
            raise self.fail(key, rng.outside(repr(raw))) from None
        except ValueError as exc:
            raise self.fail(key, str(exc)) from None
        if problem := rng.problem(value.total_seconds(), repr(raw)):
            raise self.fail(key, problem)
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(key, str, default)
        if value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], "unknown key (check the spelling; see `guidewatch init` for all keys)")


def _type_name(kind: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true/false", list: "a list",
            dict: "a table"}.get(kind, kind.__name__)


def _line_of(text: str, key: str, start: int = 0) -> int | None:
    pattern = re.compile(rf"^\s*(\[+\s*)?[\w.\"-]*\b{re.escape(key)}\b", re.M)
    m = pattern.search(text, start) or (pattern.search(text) if start else None)
    return text.count("\n", 0, m.start()) + 1 if m else None


def _table_start(text: str, prefix: str) -> int:
    """Offset of the `[fetch]` / `[alerts.webhook]` header a prefix names (0 if not written so),
    so a key that several tables have (`timeout`, `url`) is found in its own table."""
    if not prefix:
        return 0
    dotted = r"\s*\.\s*".join(re.escape(part) for part in prefix.rstrip(".").split("."))
    m = re.search(rf"^\s*\[\s*{dotted}\s*\]", text, re.M)
    return m.start() if m else 0


def _entry_start(text: str, table: str, index: int) -> int:
    """Offset of the `index`-th `[[table]]` header, so keys of that entry are found on its own lines."""
    headers = list(re.finditer(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]", text, re.M))
    return headers[index].start() if index < len(headers) else 0


_CRON_FIELD = re.compile(r"^[\d*/,\-a-zA-Z?]+$")


def _cron(reader: _Reader, key: str, value: str | None) -> str | None:
    if value is not None and (problem := schedule_problem(value)):
        raise reader.fail(key, problem)
    return value


def schedule_problem(value: str) -> str | None:
    """Why a schedule (5-field cron or `every …` interval) cannot be used; None when it can."""
    if value.startswith("every "):
        try:
            problem = INTERVAL.problem(parse_duration(value[6:]).total_seconds())
        except DurationTooLong:
            problem = INTERVAL.outside(repr(value))
        except ValueError as exc:
            problem = str(exc)
        return f"bad interval {value!r}: {problem.split(', got')[0]}" if problem else None
    parts = value.split()
    if len(parts) != 5 or not all(_CRON_FIELD.match(p) for p in parts):
        return f"expected a 5-field cron expression like '0 6 * * *' or an interval like 'every 6h', got {value!r}"
    try:
        from apscheduler.triggers.cron import CronTrigger

        CronTrigger.from_crontab(value)
    except ValueError as exc:
        return f"invalid cron expression {value!r}: {exc}"
    return None


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
        raise DurationTooLong(f"{value.strip()!r} is longer than {_duration_text(MAX_DURATION.total_seconds())}")
    return timedelta(seconds=seconds)


def _url(reader: _Reader, key: str, value: str) -> str:
    """An http(s) URL with a host and a usable port. Errors show the port, never the path
    (a Slack webhook's path is its secret)."""
    if not re.match(r"^https?://[^\s/]+", value):
        raise reader.fail(key, f"expected an http(s) URL, got {value!r:.80}")
    parts = urlsplit(value)
    host_port = parts.netloc.rsplit("@", 1)[-1]
    if not parts.hostname:
        raise reader.fail(key, "the URL names no host")
    port = host_port.rsplit("]", 1)[-1].partition(":")[2]
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise reader.fail(key, f"port {port[:20]} is out of range (1-65535)")
    return value


def _guides(root: _Reader, file_dir: Path) -> tuple[GuideConfig, ...]:
    items = root.get("guides", list, [])
    out: list[GuideConfig] = []
    slugs: set[str] = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise root.fail(f"guides[{i}]", "each [[guides]] entry must be a table")
        r = _Reader(root.file, root.text, item, f"guides[{i}].", _entry_start(root.text, "guides", i))
        path = r.get("path", str, required=True)
        slug = r.get("slug", str, None) or Path(path.split("?")[0]).stem
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", slug):
            raise r.fail("slug", f"must be lower case letters, digits and hyphens, got {slug!r}")
        if slug in slugs:
            raise r.fail("slug", f"duplicate guide slug {slug!r}")
        slugs.add(slug)
        editors = r.strings("editors")
        for e in editors:
            if "@" not in e:
                raise r.fail("editors", f"expected e-mail addresses, got {e!r}")
        base_url = r.get("base_url", str, None)
        if base_url:
            _url(r, "base_url", base_url)
        r.finish()
        out.append(GuideConfig(path=path, slug=slug, editors=editors, base_url=base_url, origin=r.where("path")))
    return tuple(out)


def _sources(root: _Reader) -> tuple[SourceConfig, ...]:
    items = root.get("sources", list, [])
    out: list[SourceConfig] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise root.fail(f"sources[{i}]", "each [[sources]] entry must be a table")
        r = _Reader(root.file, root.text, item, f"sources[{i}].", _entry_start(root.text, "sources", i))
        url = _url(r, "url", r.get("url", str, required=True))
        src = SourceConfig(url=url, profile=r.get("profile", str, None),
                           schedule=_cron(r, "schedule", r.get("schedule", str, None)), ignore=_ignore(r),
                           profile_at=r.where("profile"))
        r.finish()
        out.append(src)
    return tuple(out)


def _ignore(r: _Reader) -> tuple[str, ...]:
    """The source's ignore rules, each checked here by the function the crawl applies them with:
    a rule it could not apply would fail every crawl of the source (a false "unreachable")."""
    ignore = r.strings("ignore")
    if ignore:
        from guidewatch.pages.normalise import compile_ignore  # only configs with rules pay for importing the parser

        for rule in ignore:
            try:
                compile_ignore((rule,))
            except ValueError as exc:
                problem = str(exc).removeprefix(f"ignore rule {rule!r}: ")
                raise r.fail("ignore", f"{problem} (rule {rule!r})") from None
    return ignore


def _fetch(root: _Reader) -> FetchConfig:
    r = root.table("fetch")
    if r is None:
        return FetchConfig()
    d = FetchConfig()
    cfg = FetchConfig(
        user_agent=r.get("user_agent", str, d.user_agent),
        contact_url=r.get("contact_url", str, d.contact_url),
        obey_robots=r.get("obey_robots", bool, d.obey_robots),
        autothrottle=r.get("autothrottle", bool, d.autothrottle),
        allow_private=r.get("allow_private", bool, d.allow_private),
        **{k: r.number(k, FetchConfig) for k in ("concurrency", "per_host", "download_delay", "timeout", "retries",
                                                 "max_bytes", "crawl_timeout", "parse_workers")},
    )
    r.finish()
    return cfg


def _schedule(root: _Reader) -> ScheduleConfig:
    r = root.table("schedule")
    if r is None:
        return ScheduleConfig()
    d = ScheduleConfig()
    profiles: dict[str, str] = {}
    pr = r.table("profiles")
    if pr is not None:
        for name in list(pr.data):
            profiles[name] = _cron(pr, name, pr.get(name, str)) or ""
    tz = r.get("timezone", str, d.timezone)
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(tz)
    except Exception:
        raise r.fail("timezone", f"unknown time zone {tz!r}") from None
    cfg = ScheduleConfig(
        crawl=_cron(r, "crawl", r.get("crawl", str, d.crawl)) or d.crawl,
        digest=_cron(r, "digest", r.get("digest", str, d.digest)) or d.digest,
        timezone=tz,
        profiles=profiles,
        misfire_grace=r.number("misfire_grace", ScheduleConfig),
    )
    r.finish()
    return cfg


def _alerts(root: _Reader) -> AlertsConfig:
    r = root.table("alerts")
    if r is None:
        return AlertsConfig()
    d = AlertsConfig()
    formats = r.strings("formats", d.formats)
    for f in formats:
        if f not in DIGEST_FORMATS:
            raise r.fail("formats", f"unknown format {f!r} (choose from {', '.join(DIGEST_FORMATS)})")
    email = None
    er = r.table("email")
    if er is not None:
        ed = EmailConfig(host="")
        email = EmailConfig(
            host=er.get("host", str, required=True),
            port=er.number("port", EmailConfig),
            sender=er.get("sender", str, ed.sender),
            username=er.get("username", str, None),
            password_env=er.get("password_env", str, ed.password_env),
            security=er.choice("security", ("none", "starttls", "ssl"), ed.security),
            timeout=er.number("timeout", EmailConfig),
        )
        if "password" in er.data:
            raise er.fail("password", f"secrets do not belong in the file: set {email.password_env} instead")
        er.finish()
    webhook = None
    wr = r.table("webhook")
    if wr is not None:
        wd = WebhookConfig(url="")
        webhook = WebhookConfig(
            url=_url(wr, "url", wr.get("url", str, required=True)),
            token_env=wr.get("token_env", str, wd.token_env),
            style=wr.choice("style", ("json", "slack"), wd.style),
            timeout=wr.number("timeout", WebhookConfig),
        )
        if "token" in wr.data:
            raise wr.fail("token", f"secrets do not belong in the file: set {webhook.token_env} instead")
        wr.finish()
    cfg = AlertsConfig(
        formats=formats,
        min_severity=r.choice("min_severity", ("minor", "substantive"), d.min_severity),
        email=email,
        webhook=webhook,
        max_attempts=r.number("max_attempts", AlertsConfig),
        retry_base=r.number("retry_base", AlertsConfig),
    )
    r.finish()
    return cfg


def _check(root: _Reader) -> CheckConfig:
    r = root.table("check")
    if r is None:
        return CheckConfig()
    cfg = CheckConfig(max_age=r.duration("max_age", CheckConfig),
                      unreachable_after=r.number("unreachable_after", CheckConfig))
    r.finish()
    return cfg


def _serve(root: _Reader) -> ServeConfig:
    r = root.table("serve")
    if r is None:
        return ServeConfig()
    public = r.get("public_url", str, "")
    cfg = ServeConfig(public_url=_url(r, "public_url", public).rstrip("/") if public else "",
                      operators=tuple(e.strip().lower() for e in r.strings("operators") if e.strip()),
                      secret_env=r.get("secret_env", str, ServeConfig.secret_env),
                      link_ttl=r.duration("link_ttl", ServeConfig), behind_proxy=r.get("behind_proxy", bool, False))
    if "secret_key" in r.data:
        raise r.fail("secret_key", f"secrets do not belong in the file: set {cfg.secret_env} instead")
    r.finish()
    return cfg


def _path(root: _Reader, key: str, default: str, base: Path) -> Path:
    value = root.get(key, str, default)
    return (base / value).resolve()


def _store(root: _Reader, base: Path, env: Callable[[str], str | None]) -> str:
    """The store URL, from GUIDEWATCH_STORE or the file; `postgres://` (the common spelling)
    means postgresql. An error names where the URL came from and never shows its password."""
    default_store = "sqlite:///" + str((base / "guidewatch.db").resolve())
    file_store = root.get("store", str, default_store)  # read even when overridden: it is a known key
    from_env = env("GUIDEWATCH_STORE")
    store = re.sub(r"^postgres(?=[+:])", "postgresql", from_env or file_store)
    problem = _store_problem(store)
    if problem:
        raise ConfigError(f"GUIDEWATCH_STORE: {problem}") if from_env else root.fail("store", problem)
    if store.startswith("sqlite:///") and not store.startswith("sqlite:////") and store != "sqlite:///:memory:":
        store = "sqlite:///" + str((base / store[len("sqlite:///"):]).resolve())
    return store


def _store_problem(url: str) -> str | None:
    shown = repr(hide_password(url)[:80])
    if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url):
        return f"expected a sqlite:/// or postgresql:// URL, got {shown}"
    try:
        urlsplit(url).port  # noqa: B018 - reading the port is the check: it raises when malformed
    except ValueError:
        return f"the port must be a number from 0 to 65535, got {shown}"
    return None


def hide_password(url: str) -> str:
    """The URL with the password of its user:password@ part replaced by ***."""
    scheme, sep, rest = url.partition("//") if "//" in url else ("", "", url)
    authority, slash, path = rest.partition("/")
    if "@" not in authority:
        return url
    userinfo, _, host = authority.rpartition("@")
    if ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.partition(':')[0]}:***@{host}{slash}{path}"


def parse_config(text: str, *, file: str, base: Path, env: Callable[[str], str | None] = os.environ.get) -> Config:
    """Validate config text; `base` is the directory that relative paths are resolved against."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_from_message(str(exc))
        msg = str(exc).split(" (at line")[0]
        if msg == "Cannot overwrite a value" and line:
            msg = _duplicate_key(text, line) or msg
        raise ConfigError(f"{file}:{line}: invalid TOML: {msg}" if line else f"{file}: invalid TOML: {msg}") from None
    except RecursionError:  # tomllib recurses per nesting level: `x = [[[[...` must not be a traceback
        raise ConfigError(f"{file}: invalid TOML: arrays or tables nested too deeply") from None
    root = _Reader(file, text, data, "")
    store = _store(root, base, env)
    profiles_dir = root.get("profiles_dir", str, None)
    cfg = Config(
        path=Path(file) if file else None,
        root=base,
        store=store,
        snapshots_dir=_path(root, "snapshots_dir", "snapshots", base),
        alerts_dir=_path(root, "alerts_dir", "alerts", base),
        profiles_dir=(base / profiles_dir).resolve() if profiles_dir else None,
        guides=_guides(root, base),
        sources=_sources(root),
        fetch=_fetch(root),
        schedule=_schedule(root),
        alerts=_alerts(root),
        check=_check(root),
        serve=_serve(root),
    )
    root.finish()
    return cfg


def _duplicate_key(text: str, line: int) -> str | None:
    """tomllib says only "Cannot overwrite a value": name the key, its table and its first line."""
    lines = text.splitlines()
    key = lines[line - 1].split("=", 1)[0].strip() if line <= len(lines) else ""
    if not key or key.startswith("["):
        return None
    table, first = "", None
    for n in range(line - 1, 0, -1):
        here = lines[n - 1].strip()
        if here.startswith("["):
            table = f" in {here.split('#')[0].strip()}"
            break
        if here.split("=", 1)[0].strip() == key and "=" in here:
            first = n
    return f"key {key!r}{table} is set twice" + (f" (first on line {first})" if first else "")


def _line_from_message(message: str) -> int | None:
    m = re.search(r"line (\d+)", message)
    return int(m.group(1)) if m else None


def read_capped(path: Path, limit: int) -> bytes:
    """At most `limit` + 1 bytes of a regular file (callers compare the length with `limit`).

    A size check by stat says 0 for /dev/zero or a pipe; reading those whole exhausts memory
    or blocks, so only regular files are read, and never more than the limit allows."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a pipe opens at once instead of blocking
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file (a device, pipe or socket)", str(path))
        return fh.read(limit + 1)


def load_config(path: Path | None = None, *, cwd: Path | None = None) -> Config:
    """Load `path`, or `guidewatch.toml` in the working directory."""
    cwd = cwd or Path.cwd()
    explicit = path is not None
    path = path or cwd / CONFIG_NAME
    if not path.exists():
        if explicit:
            raise ConfigError(f"{path}: config file not found")
        raise ConfigError(f"{path}: no {CONFIG_NAME} here; run `guidewatch init` or pass --config FILE")
    try:
        data = read_capped(path, MAX_CONFIG_BYTES)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: config file is larger than {MAX_CONFIG_BYTES} bytes")
    if b"\x00" in data:
        raise ConfigError(f"{path}: config file is binary (contains NUL bytes), expected TOML text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: config is not valid UTF-8") from None
    return parse_config(text, file=str(path), base=path.parent.resolve())


CONFIG_TEMPLATE = '''\
# guidewatch configuration. Every key is optional unless marked "required".
# Relative paths are relative to this file. Secrets never go in this file: name the
# environment variables that hold them (password_env, token_env).

# Where guidewatch keeps its state: a SQLite file (default) or a PostgreSQL URL,
# e.g. "postgresql://guidewatch@db.example.org/guidewatch". GUIDEWATCH_STORE overrides it.
store = "sqlite:///guidewatch.db"

# Reviewed snapshots of each source (commit these next to your guides) and digests.
snapshots_dir = "snapshots"
alerts_dir = "alerts"

# Extra site profiles (TOML files like the built-in govuk.toml / nhsuk.toml).
# profiles_dir = "spiders"

# One [[guides]] table per guide: a .md, .html or .txt file, or an http(s) URL.
# [[guides]]
# path = "guides/gene-therapy-atmps-uk.md"      # required
# slug = "gene-therapy-atmps-uk"                 # default: the file name
# editors = ["editor@example.org"]               # who receives this guide's alerts
# base_url = "https://www.example.org"           # resolves relative links to your own guides

# Per-source overrides (optional): every external link in a guide is watched anyway.
# [[sources]]
# url = "https://www.gov.uk/guidance/advanced-therapy-medicinal-products-regulation-and-licensing"
# profile = "govuk"                              # default: chosen by host
# schedule = "0 */6 * * *"                       # cron, overrides [schedule]
# ignore = ["css:.app-c-banner", "Share this page"]  # css: selectors or text regexes to drop

[fetch]
user_agent = "guidewatch/0.1 (patient-guide source monitor)"
contact_url = ""          # put a URL or e-mail site owners can reach you at
concurrency = 8
per_host = 2
download_delay = 1.0      # seconds between requests to one host (AutoThrottle adapts it)
timeout = 30.0
retries = 3
max_bytes = 10485760
obey_robots = true

[schedule]
crawl = "0 6 * * *"       # cron: when the daemon crawls due sources
digest = "30 7 * * 1-5"   # cron: when it sends digests
timezone = "Europe/London"
# [schedule.profiles]
# nhsuk = "0 5 * * 1"     # per-profile crawl schedules

[alerts]
formats = ["md", "html", "json"]
min_severity = "minor"    # minor | substantive

# [alerts.email]
# host = "smtp.example.org"
# port = 587
# security = "starttls"   # none | starttls | ssl
# sender = "guidewatch@example.org"
# username = "guidewatch"
# password_env = "GUIDEWATCH_SMTP_PASSWORD"

# [alerts.webhook]
# url = "https://hooks.example.org/guidewatch"
# style = "json"          # json | slack
# token_env = "GUIDEWATCH_WEBHOOK_TOKEN"

# [serve]                 # the editors' review app: `guidewatch serve`
# public_url = "https://guidewatch.example.org"  # digests link each change to its page there
# operators = ["lead@example.org"]               # see and act on every guide
# link_ttl = "30m"        # how long an e-mailed sign-in link works (once)
# behind_proxy = false    # true behind an https reverse proxy: secure cookies, real client IPs
# secret_env = "GUIDEWATCH_SECRET_KEY"           # signs session cookies

[check]
max_age = "30d"           # a source not checked successfully for this long is stale
unreachable_after = 3     # consecutive failed checks before a source counts as unreachable
'''

"""Site profiles: declarative TOML files saying where a site keeps its content, chrome and dates.

Adding a site is adding a file. The built-in profiles (`govuk`, `nhsuk`, `default`) live in the
package's `site_profiles/` folder beside this module; operators add or override profiles from
`profiles_dir` (this repository's own are in the top-level `spiders/`). A bad file raises `ProfileError` with one
line naming the file, the key and the problem, so the CLI can show it without a traceback.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from guidewatch.config import MAX_CONFIG_BYTES, schedule_problem
from guidewatch.exitcodes import USAGE
from guidewatch.files import read_capped

if TYPE_CHECKING:
    from guidewatch.config import SourceConfig

BUILTIN_DIR = Path(__file__).parent / "site_profiles"
DEFAULT = "default"
MAX_PROFILE_BYTES = MAX_CONFIG_BYTES

# What "{date}" stands for in date patterns: "12 June 2014", "12th June 2014", "June 12, 2014", "2014-06-12".
DATE_REGEX = (
    r"(?P<date>\d{1,2}(?:st|nd|rd|th)?\s+[A-Za-z]{3,9}\.?,?\s+\d{4}"
    r"|[A-Za-z]{3,9}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}"
    r"|\d{4}-\d{2}-\d{2})"
)

# Metadata keys a [dates] table may fill (see model.Page.metadata).
DATE_KEYS = frozenset(
    {
        "public_updated_at",
        "first_published_at",
        "last_reviewed",
        "next_review_due",
        "change_note_at",
        "withdrawn_at",
    }
)

# API key tables in the config's [fetch] a profile's `[api] key` may name (the key itself is in the environment).
API_KEYS = ("nhs_api",)

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_TOP_KEYS = frozenset(
    {
        "name",
        "description",
        "hosts",
        "markers",
        "main",
        "title",
        "title_suffix",
        "drop",
        "soft_404",
        "unavailable",
        "dates",
        "change_history",
        "withdrawn",
        "api",
        "schedule",
    }
)


class ProfileError(ValueError):
    """A profile file that cannot be used; str() is one line naming the file, key and problem."""

    exit_code = USAGE


@dataclass(frozen=True)
class DateRule:
    """Text pattern for one of the page's own dates; the `date` group holds the date."""

    key: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class ChangeHistoryRule:
    """Where a change-history list lives: one element per entry, with a time and a note."""

    item: str
    time: str
    note: str


@dataclass(frozen=True)
class WithdrawnRule:
    """A notice saying the page was withdrawn; `pattern` must match the notice text."""

    selectors: tuple[str, ...]
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class Profile:
    """One site family: which hosts, where the content is, what to drop, where the dates are."""

    name: str
    description: str = ""
    hosts: tuple[str, ...] = ()  # "www.gov.uk": that host only; "*.example.org": it and every name under it
    markers: tuple[str, ...] = ()  # class-name prefixes that identify the site's markup
    main: tuple[str, ...] = ()  # CSS selectors, first match wins
    title: tuple[str, ...] = ()  # CSS selectors for the page title, first non-empty wins
    title_suffix: re.Pattern[str] | None = None  # removed from <title> when no title element matched
    drop: tuple[str, ...] = ()  # CSS selectors of chrome removed from the main content
    soft_404: tuple[re.Pattern[str], ...] = ()  # matched on <title> and h1 text
    # A 200 that is an outage notice or consent wall, not the page: matched on <title>, h1 and short pages' text
    unavailable: tuple[re.Pattern[str], ...] = ()
    dates: tuple[DateRule, ...] = ()
    change_history: ChangeHistoryRule | None = None
    withdrawn: WithdrawnRule | None = None
    api: str | None = None  # structured endpoint template: {path}, {host}, {scheme}
    api_hosts: tuple[str, ...] = ()  # hosts the endpoint serves (empty: all of `hosts`)
    api_exclude: tuple[re.Pattern[str], ...] = ()  # URL paths the endpoint does not serve
    api_key: str | None = None  # "nhs_api": used only when config [fetch.nhs_api] names a key that is set
    schedule: str | None = None  # default crawl cron for the site (config can override)
    source: str = ""  # the file it was read from


# --- loading ------------------------------------------------------------------------------


def load_profiles(extra_dirs: Sequence[Path] = ()) -> dict[str, Profile]:
    """Built-in profiles, then each extra directory; a later file with the same name wins."""
    profiles: dict[str, Profile] = {}
    for directory in (BUILTIN_DIR, *(Path(d) for d in extra_dirs)):
        if not directory.is_dir():
            raise ProfileError(f"{directory}: profiles directory not found")
        seen: dict[str, Path] = {}
        for path in sorted(directory.glob("*.toml")):
            profile = load_profile(path, check_selectors=directory is not BUILTIN_DIR)
            if profile.name in seen:
                other = seen[profile.name]
                raise ProfileError(f"{path}: key 'name': profile {profile.name!r} is also defined in {other}")
            seen[profile.name] = path
            profiles[profile.name] = profile
    if DEFAULT not in profiles:
        raise ProfileError(f"{BUILTIN_DIR}: no {DEFAULT}.toml profile (is the package installed completely?)")
    return profiles


def load_profile(path: Path, *, check_selectors: bool = True) -> Profile:
    """Read and validate one profile file; `check_selectors` False skips compiling its CSS
    selectors, for the built-in files only: tests/test_profiles.py compiles every one of them,
    and a crawl whose pages all answer 304 then never imports cssselect and lxml (~15 ms)."""
    try:
        raw = read_capped(path, MAX_PROFILE_BYTES)
        if len(raw) > MAX_PROFILE_BYTES:
            raise ProfileError(f"{path}: larger than {MAX_PROFILE_BYTES} bytes")
        data = tomllib.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: invalid TOML: {_one_line(exc)}") from None
    except RecursionError:  # tomllib recurses per nesting level
        raise ProfileError(f"{path}: invalid TOML: arrays or tables nested too deeply") from None
    return _Reader(path, data, check_selectors).profile()


class _Reader:
    """Validates the TOML table key by key so every error names its key."""

    def __init__(self, path: Path, data: dict[str, Any], check_selectors: bool = True) -> None:
        self.path = path
        self.data = data
        self.check_selectors = check_selectors

    def fail(self, key: str, problem: str) -> ProfileError:
        return ProfileError(f"{self.path}: key {key!r}: {problem}")

    def profile(self) -> Profile:
        unknown = sorted(set(self.data) - _TOP_KEYS)
        if unknown:
            raise self.fail(unknown[0], f"unknown key (known keys: {', '.join(sorted(_TOP_KEYS))})")
        name = self.string("name", default=self.path.stem)
        if not _NAME.match(name):
            raise self.fail("name", f"{name!r} must be lower-case letters, digits, '-' or '_'")
        api, api_hosts, api_exclude, api_key = self.api()
        suffix = self.string("title_suffix", default="")
        return Profile(
            name=name,
            description=self.string("description", default=""),
            hosts=self.hosts("hosts"),
            markers=self.strings("markers"),
            main=self.selectors("main"),
            title=self.selectors("title"),
            title_suffix=self.regex("title_suffix", suffix) if suffix else None,
            drop=self.selectors("drop"),
            soft_404=tuple(self.regex(f"soft_404[{i}]", p) for i, p in enumerate(self.strings("soft_404"))),
            unavailable=tuple(
                self.regex(f"unavailable[{i}]", p) for i, p in enumerate(self.strings("unavailable"))
            ),
            dates=self.dates(),
            change_history=self.change_history(),
            withdrawn=self.withdrawn(),
            api=api,
            api_hosts=api_hosts,
            api_exclude=api_exclude,
            api_key=api_key,
            schedule=self.schedule(),
            source=str(self.path),
        )

    # --- typed getters --------------------------------------------------------------------

    def schedule(self) -> str | None:
        value = self.string("schedule", default="") or None
        if value and (problem := schedule_problem(value)):
            raise self.fail("schedule", problem)
        return value

    def string(
        self, key: str, *, default: str | None = None, table: dict[str, Any] | None = None, prefix: str = ""
    ) -> str:
        src = self.data if table is None else table
        if key not in src:
            if default is None:
                raise self.fail(prefix + key, "missing")
            return default
        value = src[key]
        if not isinstance(value, str):
            raise self.fail(prefix + key, f"expected a string, got {_type(value)}")
        return value

    def strings(self, key: str, *, table: dict[str, Any] | None = None, prefix: str = "") -> tuple[str, ...]:
        src = self.data if table is None else table
        value = src.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(prefix + key, f"expected a list of strings, got {_type(value)}")
        return tuple(value)

    def hosts(self, key: str, *, table: dict[str, Any] | None = None, prefix: str = "") -> tuple[str, ...]:
        """Host patterns: a host name (matches that host only) or `*.` and a domain (it and every name under it)."""
        out: list[str] = []
        for i, raw in enumerate(self.strings(key, table=table, prefix=prefix)):
            pattern = raw.strip().lower().rstrip(".")
            if pattern.startswith(".") and _is_host(pattern[1:]):
                raise self.fail(f"{prefix}{key}[{i}]", f"{raw!r}: write '*{pattern}' for it and every name under it, "
                                f"or '{pattern[1:]}' for that host only")
            if not _is_host(pattern.removeprefix("*.")):
                raise self.fail(f"{prefix}{key}[{i}]", f"{raw!r} is not a host name like 'www.example.org' or a "
                                "wildcard like '*.example.org'")
            out.append(pattern)
        return tuple(out)

    def table(self, key: str) -> dict[str, Any] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, got {_type(value)}")
        return value

    def selectors(
        self, key: str, *, table: dict[str, Any] | None = None, prefix: str = ""
    ) -> tuple[str, ...]:
        values = self.strings(key, table=table, prefix=prefix)
        for i, sel in enumerate(values):
            self.selector(f"{prefix}{key}[{i}]", sel)
        return values

    def selector(self, key: str, sel: str) -> str:
        if not self.check_selectors:
            return sel
        from guidewatch.sources.selectors import compile_selector

        try:
            compile_selector(sel)
        except ValueError as exc:
            raise self.fail(key, f"invalid CSS selector {sel!r}: {exc}") from None
        return sel

    def regex(self, key: str, pattern: str, *, with_date: bool = False) -> re.Pattern[str]:
        if _CONTROL.search(pattern):  # "\b" in a double-quoted TOML string is a backspace, not \b
            raise self.fail(
                key,
                f"pattern {pattern!r} contains a control character; write regular "
                "expressions in single quotes ('...') so backslashes stay as they are",
            )
        if with_date and "{date}" not in pattern:
            raise self.fail(key, f"pattern {pattern!r} must contain {{date}} where the date goes")
        try:
            return re.compile(pattern.replace("{date}", DATE_REGEX) if with_date else pattern)
        except re.error as exc:
            raise self.fail(key, f"invalid regular expression {pattern!r}: {exc}") from None

    # --- tables ---------------------------------------------------------------------------

    def dates(self) -> tuple[DateRule, ...]:
        table = self.table("dates") or {}
        rules: list[DateRule] = []
        for key in table:
            if key not in DATE_KEYS:
                raise self.fail(f"dates.{key}", f"unknown date key (known: {', '.join(sorted(DATE_KEYS))})")
            for i, pattern in enumerate(self.strings(key, table=table, prefix="dates.")):
                rules.append(DateRule(key, self.regex(f"dates.{key}[{i}]", pattern, with_date=True)))
        return tuple(rules)

    def change_history(self) -> ChangeHistoryRule | None:
        table = self.table("change_history")
        if table is None:
            return None
        self.only("change_history", table, {"item", "time", "note"})
        p = "change_history."
        return ChangeHistoryRule(
            item=self.selector(p + "item", self.string("item", table=table, prefix=p)),
            time=self.selector(p + "time", self.string("time", table=table, prefix=p)),
            note=self.selector(p + "note", self.string("note", table=table, prefix=p)),
        )

    def withdrawn(self) -> WithdrawnRule | None:
        table = self.table("withdrawn")
        if table is None:
            return None
        self.only("withdrawn", table, {"selectors", "pattern"})
        p = "withdrawn."
        selectors = self.selectors("selectors", table=table, prefix=p)
        if not selectors:
            raise self.fail(p + "selectors", "missing")
        pattern = self.string("pattern", table=table, prefix=p)
        return WithdrawnRule(selectors, self.regex(p + "pattern", pattern, with_date="{date}" in pattern))

    def api(self) -> tuple[str | None, tuple[str, ...], tuple[re.Pattern[str], ...], str | None]:
        """`api = "https://…{path}"`, or an [api] table with url, hosts, exclude and key."""
        value = self.data.get("api")
        if value is None:
            return None, (), (), None
        table: dict[str, Any] = {"url": value} if isinstance(value, str) else self.table("api") or {}
        self.only("api", table, {"url", "hosts", "exclude", "key"})
        key = self.string("key", table=table, prefix="api.", default="") or None
        if key is not None and key not in API_KEYS:
            raise self.fail("api.key", f"{key!r} is not a known API key table (known: {', '.join(API_KEYS)})")
        url = self.string("url", table=table, prefix="api.")
        if not url.startswith(("https://", "http://")) or "{path}" not in url:
            raise self.fail("api.url", f"{url!r} must be an http(s) URL containing {{path}}")
        hosts = self.hosts("hosts", table=table, prefix="api.")
        exclude = tuple(
            self.regex(f"api.exclude[{i}]", p)
            for i, p in enumerate(self.strings("exclude", table=table, prefix="api."))
        )
        return url, hosts, exclude, key

    def only(self, key: str, table: dict[str, Any], allowed: set[str]) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise self.fail(f"{key}.{unknown[0]}", f"unknown key (known keys: {', '.join(sorted(allowed))})")


def _type(value: object) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


# --- choosing a profile -------------------------------------------------------------------


def _host(url: str) -> str:
    try:
        return (urlsplit(url.strip()).hostname or "").rstrip(".").lower()
    except ValueError:
        return ""


_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


def _is_host(name: str) -> bool:
    """A DNS name (letters, digits, '-', '_' in dot-separated labels) or an IP address."""
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    labels = name.split(".")
    return 0 < len(name) <= 253 and all(_LABEL.match(label) for label in labels)


def host_matches(host: str, pattern: str) -> bool:
    """Whether `host` is what `pattern` names: exactly that host, or with `*.domain` (or
    `.domain`) the domain and every name under it. A bare domain never matches its
    sub-domains: gov.uk is GOV.UK, hta.gov.uk is the Human Tissue Authority."""
    if not host:
        return False
    if pattern.startswith(("*.", ".")):
        domain = pattern.lstrip("*").lstrip(".")
        return host == domain or host.endswith("." + domain)
    return host == pattern


def on_hosts(url: str, hosts: Sequence[str]) -> bool:
    """Whether the URL's host is one the host patterns name."""
    host = _host(url)
    return any(host_matches(host, pattern) for pattern in hosts)


def profile_for_url(url: str, profiles: Mapping[str, Profile]) -> Profile:
    """The profile whose hosts name the URL's host: an exact host beats a wildcard, a longer
    wildcard a shorter one; `default` when none does."""
    host = _host(url)
    best: tuple[tuple[bool, int], Profile] | None = None
    for profile in profiles.values():
        for pattern in profile.hosts:
            rank = (not pattern.startswith("*."), len(pattern))
            if host_matches(host, pattern) and (best is None or rank > best[0]):
                best = (rank, profile)
    if best:
        return best[1]
    return profiles.get(DEFAULT) or Profile(name=DEFAULT)


def resolve_profile(url: str, profiles: Mapping[str, Profile], source: SourceConfig | None = None) -> Profile:
    """The profile a source is read with: the one its `[[sources]]` entry names, else by host.

    `profiles` is the set the configuration loaded (built-in and `profiles_dir`). The guide
    sync, the crawl and `compare` all decide here, so an offline what-if reads a page exactly
    as the crawl does. A name no profile has raises `ProfileError` (naming the entry's line)
    rather than quietly reading the page with another profile.
    """
    name = source.profile if source else None
    if not name:
        return profile_for_url(url, profiles)
    if name not in profiles:
        where = f"{source.profile_at}: " if source and source.profile_at else ""
        raise ProfileError(f"{where}unknown profile {name!r} (known: {', '.join(sorted(profiles))})")
    return profiles[name]


_CLASS_ATTR = re.compile(r"""\bclass\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.IGNORECASE)


def guess_profile(html: str | bytes, profiles: dict[str, Profile]) -> Profile:
    """Pick a profile from the markup alone: the one whose class-name prefixes occur most."""
    if isinstance(html, bytes):
        html = html.decode("latin-1")
    counts: dict[str, int] = {}
    with_markers = [p for p in profiles.values() if p.markers]
    for m in _CLASS_ATTR.finditer(html):
        for token in (m.group(1) or m.group(2) or m.group(3) or "").split():
            for profile in with_markers:
                if token.startswith(profile.markers):
                    counts[profile.name] = counts.get(profile.name, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    if ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]):
        return profiles[ranked[0][0]]
    return profiles.get(DEFAULT) or Profile(name=DEFAULT)


def api_url_for(url: str, profile: Profile) -> str | None:
    """The structured endpoint for a page URL, or None when the profile or path has none."""
    if not profile.api:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme not in ("http", "https") or not any(
        host_matches(host, h) for h in (profile.api_hosts or profile.hosts)
    ):
        return None
    path = parts.path.rstrip("/")
    if not path or any(p.search(path) for p in profile.api_exclude):
        return None
    return profile.api.replace("{path}", path).replace("{host}", host).replace("{scheme}", parts.scheme)

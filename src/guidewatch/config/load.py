"""Loading `guidewatch.toml`: read once with tomllib, validated by the schema into frozen objects.

Every error names the file, the line where the key sits (when it can be found) and what is
wrong, in one line. Each key is read by the reader its schema `Key.kind` names (READERS), so
adding a key to schema.py is enough for it to be loaded and checked. Secrets are never in the
file: the file names the environment variables that hold them.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from guidewatch.config.schema import (
    INTERVAL,
    Config,
    ConfigError,
    DurationTooLong,
    GuideConfig,
    Key,
    SourceConfig,
    parse_duration,
)
from guidewatch.files import read_capped
from guidewatch.sources.mirror import origin_problem

CONFIG_NAME = "guidewatch.toml"
MAX_CONFIG_BYTES = 1024 * 1024


class _Reader:
    """Typed access to one TOML table that reports the offending key with its line."""

    def __init__(self, file: str, text: str, data: dict[str, Any], prefix: str, start: int = 0,
                 base: Path = Path("."), env: Callable[[str], str | None] = os.environ.get) -> None:
        self.file, self.text, self.data, self.prefix = file, text, data, prefix
        self.start = start  # where this table's text begins: an [[array]] entry's keys are looked up from there
        self.base, self.env = base, env  # relative paths resolve against base; env may override the store
        self.used: set[str] = set()

    def where(self, key: str) -> str:
        """`file:line: dotted.key`, the line being where `key` is written (when it can be found)."""
        dotted = f"{self.prefix}{key}" if key else self.prefix.rstrip(".")
        start = self.start or _table_start(self.text, self.prefix)
        line = _line_of(self.text, key.split("[")[0] or self.prefix.rstrip(".").split(".")[-1], start) or (
            self.text.count("\n", 0, self.start) + 1 if self.start else None)  # a key not written: its [[entry]]
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
        return _Reader(self.file, self.text, value, f"{self.prefix}{key}.", base=self.base, env=self.env)

    def entry(self, key: str, index: int, data: dict[str, Any]) -> _Reader:
        """The reader of the `index`-th `[[key]]` table, its keys looked up from its own header."""
        return _Reader(self.file, self.text, data, f"{key}[{index}].", _entry_start(self.text, key, index),
                       self.base, self.env)

    def number(self, key: str, spec: Key) -> Any:
        """The key's number, checked against the Range the schema declares beside its default."""
        assert spec.range is not None
        value = self.get(key, spec.range.kind, spec.default)
        if value is not None and (problem := spec.range.problem(value)):
            raise self.fail(key, problem)
        return value

    def duration(self, key: str, spec: Key) -> Any:
        """A duration key ("30d"), checked against the schema's Range (in seconds)."""
        raw = self.get(key, str, None)
        if raw is None:
            return spec.default
        rng = spec.range
        assert rng is not None
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


def _ignore(r: _Reader) -> tuple[str, ...]:
    """The source's ignore rules, each checked here by the function the crawl applies them with:
    a rule it could not apply would fail every crawl of the source (a false "unreachable")."""
    ignore = r.strings("ignore")
    if ignore:
        from guidewatch.pages.ignore import compile_ignore  # only configs with rules pay for importing the parser

        for rule in ignore:
            try:
                compile_ignore((rule,))
            except ValueError as exc:
                problem = str(exc).removeprefix(f"ignore rule {rule!r}: ")
                raise r.fail("ignore", f"{problem} (rule {rule!r})") from None
    return ignore


def _store(root: _Reader, default: str) -> str:
    """The store URL, from GUIDEWATCH_STORE or the file; `postgres://` (the common spelling)
    means postgresql. An error names where the URL came from and never shows its password."""
    base = root.base
    file_store = root.get("store", str, default)  # read even when overridden: it is a known key
    from_env = root.env("GUIDEWATCH_STORE")
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


# --- one reader per schema kind ------------------------------------------------------------

#: A reader gets the table, the key, its schema entry and the keys of the table read so far.
Reader = Callable[[_Reader, str, Key, dict[str, Any]], Any]


def _text(r: _Reader, name: str, spec: Key, values: dict[str, Any]) -> Any:
    return r.get(name, str, spec.default, required=spec.required)


def _flag(r: _Reader, name: str, spec: Key, values: dict[str, Any]) -> Any:
    return r.get(name, bool, spec.default)


def _choice(r: _Reader, name: str, spec: Key, values: dict[str, Any]) -> Any:
    return r.choice(name, spec.choices, spec.default)


def _formats(r: _Reader, name: str, spec: Key, values: dict[str, Any]) -> Any:
    formats = r.strings(name, spec.default)
    for f in formats:
        if f not in spec.choices:
            raise r.fail(name, f"unknown format {f!r} (choose from {', '.join(spec.choices)})")
    return formats


def _emails(r: _Reader, name: str, spec: Key, values: dict[str, Any]) -> Any:
    editors = r.strings(name, spec.default)
    for e in editors:
        if "@" not in e:
            raise r.fail(name, f"expected e-mail addresses, got {e!r}")
    return editors


def _env_names(r: _Reader, name: str, spec: Key, values: dict[str, Any]) -> Any:
    """Names of environment variables; a value that is not one (a URL pasted in) is not echoed."""
    if spec.required and name not in r.data:
        raise r.fail(name, "is required")
    names = r.strings(name)
    for n, value in enumerate(names):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise r.fail(name, f"item {n + 1} is not the name of an environment variable (letters, digits, _); "
                               "put the URL in the variable, not in this file")
    if not names and spec.required:
        raise r.fail(name, "names no environment variable")
    if len(set(names)) < len(names):
        raise r.fail(name, "names a variable twice")
    return names


def _slug(r: _Reader, name: str, spec: Key, values: dict[str, Any]) -> Any:
    slug = r.get(name, str, None) or Path(values["path"].split("?")[0]).stem
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", slug):
        raise r.fail(name, f"must be lower case letters, digits and hyphens, got {slug!r}")
    return slug


def _url_key(r: _Reader, name: str, spec: Key, values: dict[str, Any]) -> Any:
    value = r.get(name, str, spec.default, required=spec.required)
    if value is None or (not value and not spec.required):  # an empty optional URL means none
        return value
    return _url(r, name, value)


def _cron_key(r: _Reader, name: str, spec: Key, values: dict[str, Any]) -> Any:
    return _cron(r, name, r.get(name, str, spec.default))


def _crons(r: _Reader, name: str, spec: Key, values: dict[str, Any]) -> Any:
    """A table of name = text: [schedule.profiles] (name = schedule), [fetch.mirror] (real = local origin)."""
    table = r.table(name)
    if table is None:
        return dict(spec.default)
    pairs = {key: table.get(key, str) for key in list(table.data)}
    for key, value in pairs.items():
        if problem := schedule_problem(value) if spec.kind == "crons" else origin_problem(key) or origin_problem(value):
            raise table.fail(key, problem)
    return pairs


def _timezone(r: _Reader, name: str, spec: Key, values: dict[str, Any]) -> Any:
    tz = r.get(name, str, spec.default)
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(tz)
    except Exception:
        raise r.fail(name, f"unknown time zone {tz!r}") from None
    return tz


def _path(r: _Reader, name: str, spec: Key, values: dict[str, Any]) -> Any:
    value = r.get(name, str, spec.default)
    if value is None or (not value and spec.default is None):  # an empty optional directory means none
        return None
    return (r.base / value).resolve()


def _number(r: _Reader, name: str, spec: Key, values: dict[str, Any]) -> Any:
    return r.number(name, spec)


def _duration(r: _Reader, name: str, spec: Key, values: dict[str, Any]) -> Any:
    return r.duration(name, spec)


def _table(r: _Reader, name: str, spec: Key, values: dict[str, Any]) -> Any:
    sub = r.table(name)
    if sub is None or spec.table is None:
        return spec.default
    return _section(sub, spec.table)


def _entries(r: _Reader, name: str, spec: Key, values: dict[str, Any]) -> Any:
    """Each `[[name]]` table, read by the schema of one entry."""
    assert spec.table is not None
    out: list[Any] = []
    for i, item in enumerate(r.get(name, list, [])):
        if not isinstance(item, dict):
            raise r.fail(f"{name}[{i}]", f"each [[{name}]] entry must be a table")
        sub = r.entry(name, i, item)
        got = _values(sub, spec.table)
        if spec.table is GuideConfig:
            if any(g.slug == got["slug"] for g in out):
                raise sub.fail("slug", f"duplicate guide slug {got['slug']!r}")
            got["origin"] = sub.where("path")
        elif spec.table is SourceConfig:
            got["profile_at"] = sub.where("profile")
        elif hasattr(spec.table, "problem"):  # guide_sources: keys checked together, as the schema says
            if bad := spec.table.problem(got):
                raise sub.fail(*bad)
            got["origin"] = sub.where("sitemap" if got["sitemap"] else "listing")
        sub.finish()
        out.append(spec.table(**got))
    return tuple(out)


READERS: dict[str, Reader] = {
    "str": _text, "bool": _flag, "choice": _choice, "formats": _formats, "emails": _emails, "slug": _slug,
    "envs": _env_names, "url": _url_key, "cron": _cron_key, "crons": _crons, "origins": _crons, "path": _path,
    "timezone": _timezone, "number": _number, "duration": _duration, "table": _table, "entries": _entries,
    "ignore": lambda r, name, spec, values: _ignore(r),
    "store": lambda r, name, spec, values: _store(r, spec.default),
}


def _values(r: _Reader, owner: type) -> dict[str, Any]:
    """Every key `owner` declares, read and checked in declaration order."""
    values: dict[str, Any] = {}
    for f in fields(owner):
        if (spec := f.metadata.get("key")) is not None:
            values[f.name] = READERS[spec.kind](r, f.name, spec, values)
    for f in fields(owner):
        spec = f.metadata.get("key")
        if spec is not None and spec.secret and spec.secret in r.data:
            raise r.fail(spec.secret, f"secrets do not belong in the file: set {values[f.name]} instead")
    return values


def _section(r: _Reader, owner: type) -> Any:
    values = _values(r, owner)
    r.finish()
    return owner(**values)


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
    root = _Reader(file, text, data, "", base=base, env=env)
    values = _values(root, Config)
    root.finish()
    return Config(path=Path(file) if file else None, root=base, **values)


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



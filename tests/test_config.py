"""Configuration: validated once, one-line errors naming file, line and key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from guidewatch.config import CONFIG_TEMPLATE, ConfigError, load_config, parse_config


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "guidewatch.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_template_is_valid_and_gives_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, CONFIG_TEMPLATE))
    assert cfg.store == f"sqlite:///{tmp_path.resolve()}/guidewatch.db"
    assert cfg.snapshots_dir == tmp_path.resolve() / "snapshots"
    assert cfg.check.max_age == timedelta(days=30)
    assert cfg.fetch.obey_robots is True
    assert cfg.schedule.timezone == "Europe/London"
    assert cfg.guides == ()


def test_full_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_PW", "s3cret")
    cfg = load_config(write(tmp_path, """
store = "postgresql://gw@127.0.0.1/gw"
[[guides]]
path = "guides/atmp.md"
editors = ["ed@example.org"]
base_url = "https://www.example.org"
[[sources]]
url = "https://www.gov.uk/guidance/x"
profile = "govuk"
schedule = "every 6h"
ignore = ["css:.banner", "Share this page"]
[alerts.email]
host = "127.0.0.1"
port = 2525
password_env = "GW_PW"
[check]
max_age = "12h"
"""))
    assert cfg.guides[0].slug == "atmp"
    assert cfg.guides[0].editors == ("ed@example.org",)
    assert cfg.sources[0].ignore == ("css:.banner", "Share this page")
    assert cfg.alerts.email is not None and cfg.alerts.email.password == "s3cret"
    assert cfg.check.max_age == timedelta(hours=12)
    assert cfg.store.startswith("postgresql://")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[fetch]\ntimeout = "soon"\n', r"guidewatch\.toml:2: fetch\.timeout: expected a number, got a string 'soon'"),
        ("[fetch]\ntimeout = -1\n", r":2: fetch\.timeout: must be greater than 0"),
        ("[fetch]\ntimout = 3\n", r":2: fetch\.timout: unknown key"),
        ("colour = 1\n", r":1: colour: unknown key"),
        ("[[guides]]\neditors = []\n", r"guides\[0\]\.path: is required"),
        ('[[guides]]\npath = "a.md"\neditors = ["nobody"]\n', r":3: guides\[0\]\.editors: expected e-mail"),
        ('[[sources]]\nurl = "ftp://x"\n', r":2: sources\[0\]\.url: expected an http\(s\) URL"),
        ('[[sources]]\nurl = "https://x.org/a"\nignore = ["(unclosed"]\n', r"sources\[0\]\.ignore: bad regular"),
        ('[schedule]\ncrawl = "every day"\n', r":2: schedule\.crawl: bad interval 'every day'"),
        ('[schedule]\ncrawl = "daily"\n', r":2: schedule\.crawl: expected a 5-field cron"),
        ('[schedule]\ncrawl = "61 * * * *"\n', r"schedule\.crawl: invalid cron expression"),
        ('[schedule]\ntimezone = "Mars/Base"\n', r"schedule\.timezone: unknown time zone"),
        ('[check]\nmax_age = "a month"\n', r"check\.max_age: expected a duration like 30d"),
        ('[alerts.email]\nhost = "h"\npassword = "x"\n', r"alerts\.email\.password: secrets do not belong"),
        ('[alerts]\nformats = ["pdf"]\n', r"alerts\.formats: unknown format 'pdf'"),
        ('store = "mysql://x"\n', r"store: expected a sqlite:/// or postgresql:// URL"),
        ("[fetch\n", r"guidewatch\.toml:1: invalid TOML"),
        ("fetch = 3\n", r"fetch: expected a table, got an integer"),
        ("[fetch]\nobey_robots = 1\n", r"fetch\.obey_robots: expected true/false"),
        ("[fetch]\nparse_workers = -1\n", r":2: fetch\.parse_workers: must be between 0 and 64"),
        ("[fetch]\nparse_workers = 1.5\n", r":2: fetch\.parse_workers: expected an integer"),
    ],
)
def test_bad_config_one_line_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        load_config(write(tmp_path, text))
    assert "\n" not in str(err.value)
    assert str(tmp_path) in str(err.value)


def test_binary_and_missing_and_huge_config(tmp_path: Path) -> None:
    p = tmp_path / "guidewatch.toml"
    p.write_bytes(b"\x00\x01\x02")
    with pytest.raises(ConfigError, match="binary"):
        load_config(p)
    p.write_bytes(b"a = '\xff'\n")
    with pytest.raises(ConfigError, match=r":1: config is not valid UTF-8"):
        load_config(p)
    p.write_bytes(b"# " + b"x" * (2 * 1024 * 1024))
    with pytest.raises(ConfigError, match="larger than"):
        load_config(p)
    with pytest.raises(ConfigError, match="no guidewatch.toml here"):
        load_config(cwd=tmp_path / "nowhere")


def test_env_overrides_store(tmp_path: Path) -> None:
    cfg = parse_config("", file="x.toml", base=tmp_path, env={"GUIDEWATCH_STORE": "sqlite:////tmp/o.db"}.get)
    assert cfg.store == "sqlite:////tmp/o.db"


def test_store_url_in_the_common_postgres_spelling_is_accepted(tmp_path: Path) -> None:
    """`postgres://` (Heroku, libpq, most hosting docs) means the postgresql dialect."""
    for given, expected in (("postgres://user:PASS@127.0.0.1/db", "postgresql://user:PASS@127.0.0.1/db"),
                            ("postgres+psycopg://u@127.0.0.1/db", "postgresql+psycopg://u@127.0.0.1/db")):
        cfg = parse_config("", file="x.toml", base=tmp_path, env={"GUIDEWATCH_STORE": given}.get)
        assert cfg.store == expected
        cfg = parse_config(f'store = "{given}"\n', file="x.toml", base=tmp_path, env={}.get)
        assert cfg.store == expected


@pytest.mark.parametrize("url", ["mysql://user:PASS@127.0.0.1/db", "postgresql://user:PASS@127.0.0.1:abc/db",
                                 "postgresql://user:PASS@127.0.0.1:99999/db", "user:PASS@127.0.0.1/db"])
def test_a_bad_store_url_from_the_environment_names_the_variable_and_hides_the_password(
        tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config('store = "sqlite:///x.db"\n', file="guidewatch.toml", base=tmp_path,
                     env={"GUIDEWATCH_STORE": url}.get)
    message = str(err.value)
    assert message.startswith("GUIDEWATCH_STORE: "), message
    assert "PASS" not in message and "guidewatch.toml" not in message and "\n" not in message


def test_a_bad_store_url_in_the_file_names_its_line_and_hides_the_password(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, '# the store\nstore = "mysql://gw:PASS@127.0.0.1/gw"\n'))
    assert str(err.value).startswith(f"{tmp_path / 'guidewatch.toml'}:2: store: "), err.value
    assert "PASS" not in str(err.value) and "mysql://gw:***@127.0.0.1/gw" in str(err.value)


# --- every number is bounded at load: finite, at least its minimum, at most its maximum ------

OUT_OF_RANGE = [
    # issue 16 item 12: values that used to pass validation and then crash or misbehave
    ('[check]\nmax_age = "9999999999d"\n', r":2: check\.max_age: must be between 1s and 3650d, got '9999999999d'"),
    ('[schedule]\ncrawl = "every 9999999999d"\n', r":2: schedule\.crawl: bad interval 'every 9999999999d': "
                                                  r"must be between 1s and 366d"),
    ("[fetch]\ncrawl_timeout = inf\n", r":2: fetch\.crawl_timeout: must be a finite number, got inf"),
    ("[alerts]\nretry_base = 1e308\n",
     r":2: alerts\.retry_base: must be greater than 0 and at most 86400 s, got 1e\+308"),
    ("[fetch]\ntimeout = nan\n", r":2: fetch\.timeout: must be a finite number, got nan"),
    ('[alerts.webhook]\nurl = "https://hooks.example.org:99999/T000/B000/XXXX"\n',
     r":2: alerts\.webhook\.url: port 99999 is out of range \(1-65535\)"),
    # more of the same kind: zero where it means nothing, negative, huge, not finite
    ("[fetch]\ntimeout = 0\n", r":2: fetch\.timeout: must be greater than 0 and at most 3600 s, got 0\.0"),
    ("[fetch]\ntimeout = -inf\n", r":2: fetch\.timeout: must be a finite number, got -inf"),
    ("[fetch]\ntimeout = 1" + "0" * 400 + "\n", r":2: fetch\.timeout: is too large a number"),
    ("[fetch]\nconcurrency = 0\n", r":2: fetch\.concurrency: must be between 1 and 256, got 0"),
    ("[fetch]\nper_host = 100000\n", r":2: fetch\.per_host: must be between 1 and 256, got 100000"),
    ("[fetch]\nretries = -1\n", r":2: fetch\.retries: must be between 0 and 10, got -1"),
    ("[fetch]\nretries = 1000000\n", r":2: fetch\.retries: must be between 0 and 10, got 1000000"),
    ("[fetch]\nmax_bytes = 0\n", r":2: fetch\.max_bytes: must be between 1 and 1073741824 bytes, got 0"),
    ("[fetch]\nmax_bytes = 99999999999999999999\n", r":2: fetch\.max_bytes: must be between 1 and 1073741824"),
    ("[fetch]\ndownload_delay = -0.5\n", r":2: fetch\.download_delay: must be between 0 and 3600 s, got -0\.5"),
    ("[fetch]\ndownload_delay = nan\n", r":2: fetch\.download_delay: must be a finite number"),
    ("[fetch]\ncrawl_timeout = 1e9\n", r":2: fetch\.crawl_timeout: must be greater than 0 and at most 604800 s"),
    ("[fetch]\nparse_workers = 65\n", r":2: fetch\.parse_workers: must be between 0 and 64, got 65"),
    ("[schedule]\nmisfire_grace = 0\n", r":2: schedule\.misfire_grace: must be between 1 and 604800 s, got 0"),
    ('[schedule]\ndigest = "every 0s"\n', r":2: schedule\.digest: bad interval 'every 0s': must be between 1s"),
    ('[schedule]\ncrawl = "every 400d"\n', r":2: schedule\.crawl: bad interval 'every 400d': must be between 1s "
                                           r"and 366d"),
    ('[schedule.profiles]\nnhsuk = "every 99999999999w"\n', r":2: schedule\.profiles\.nhsuk: bad interval"),
    ('[[sources]]\nurl = "https://x.org/a"\nschedule = "every 9999999999d"\n',
     r":3: sources\[0\]\.schedule: bad interval"),
    ('[[sources]]\nurl = "https://x.org:0/a"\n', r":2: sources\[0\]\.url: port 0 is out of range \(1-65535\)"),
    ('[[sources]]\nurl = "https://x.org:http/a"\n', r":2: sources\[0\]\.url: port http is out of range"),
    ('[[sources]]\nurl = "http://:8080/a"\n', r":2: sources\[0\]\.url: the URL names no host"),
    ('[alerts.email]\nhost = "127.0.0.1"\nport = 0\n', r":3: alerts\.email\.port: must be between 1 and 65535"),
    ('[alerts.email]\nhost = "127.0.0.1"\nport = 70000\n', r":3: alerts\.email\.port: must be between 1 and 65535"),
    ('[alerts.email]\nhost = "127.0.0.1"\ntimeout = nan\n', r":3: alerts\.email\.timeout: must be a finite number"),
    ('[alerts.webhook]\nurl = "https://h.example.org/x"\ntimeout = 1e308\n',
     r":3: alerts\.webhook\.timeout: must be greater than 0 and at most 3600 s"),
    ("[alerts]\nmax_attempts = 0\n", r":2: alerts\.max_attempts: must be between 1 and 20, got 0"),
    ("[alerts]\nmax_attempts = 10000\n", r":2: alerts\.max_attempts: must be between 1 and 20, got 10000"),
    ("[alerts]\nretry_base = 0\n", r":2: alerts\.retry_base: must be greater than 0"),
    ("[alerts]\nretry_base = -60\n", r":2: alerts\.retry_base: must be greater than 0"),
    ("[check]\nunreachable_after = 0\n", r":2: check\.unreachable_after: must be between 1 and 100, got 0"),
    ("[check]\nunreachable_after = 1000000\n", r":2: check\.unreachable_after: must be between 1 and 100"),
    ('[check]\nmax_age = "0s"\n', r":2: check\.max_age: must be between 1s and 3650d, got '0s'"),
    ('[check]\nmax_age = "5000d"\n', r":2: check\.max_age: must be between 1s and 3650d, got '5000d'"),
]


@pytest.mark.parametrize(("text", "message"), OUT_OF_RANGE)
def test_numbers_out_of_range_are_refused_at_load(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        load_config(write(tmp_path, text))
    assert "\n" not in str(err.value)
    assert str(err.value).startswith(f"{tmp_path / 'guidewatch.toml'}:")


def test_a_bad_webhook_url_never_shows_its_path(tmp_path: Path) -> None:
    """A Slack webhook's path is its secret: the error names the port, not the URL."""
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, '[alerts.webhook]\nurl = "https://hooks.slack.com:99999/services/T0/B0/s3cr3t"\n'))
    assert "s3cr3t" not in str(err.value) and "services" not in str(err.value)


def test_the_line_named_is_the_one_in_the_table_at_fault(tmp_path: Path) -> None:
    """Keys of the same name in several tables: the error points at the table it is about."""
    text = ('[[sources]]\nurl = "https://x.org/a"\n\n[[sources]]\nurl = "https://x.org/b"\nschedule = "every 0s"\n'
            '\n[alerts.email]\nhost = "h"\ntimeout = 5.0\n\n[alerts.webhook]\nurl = "https://h.org:0/x"\n'
            "timeout = -1\n")
    with pytest.raises(ConfigError, match=r":6: sources\[1\]\.schedule: bad interval"):
        load_config(write(tmp_path, text))
    text = text.replace("every 0s", "every 6h")
    with pytest.raises(ConfigError, match=r":13: alerts\.webhook\.url: port 0"):
        load_config(write(tmp_path, text))
    with pytest.raises(ConfigError, match=r":14: alerts\.webhook\.timeout: must be greater than 0"):
        load_config(write(tmp_path, text.replace("h.org:0", "h.org")))


def test_bounds_sit_beside_the_defaults_and_the_defaults_are_within_them() -> None:
    from dataclasses import fields

    from guidewatch.config import AlertsConfig, CheckConfig, EmailConfig, FetchConfig, ScheduleConfig, WebhookConfig

    bounded = 0
    for owner in (FetchConfig, ScheduleConfig, EmailConfig, WebhookConfig, AlertsConfig, CheckConfig):
        for f in fields(owner):
            rng = f.metadata.get("range")
            if rng is None:
                continue
            bounded += 1
            if f.default is not None:
                value = f.default.total_seconds() if isinstance(f.default, timedelta) else f.default
                assert rng.problem(value) is None, (owner.__name__, f.name, f.default)
    assert bounded >= 16


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timeout = 1\ntimeout = 2\n", r":2: invalid TOML: key 'timeout' is set twice \(first on line 1\)"),
        ("[fetch]\ntimeout = 1\n\nretries = 2\n  timeout = 2\n",
         r":5: invalid TOML: key 'timeout' in \[fetch\] is set twice \(first on line 2\)"),
        ('[[guides]]\npath = "a.md"\n[[guides]]\npath = "b.md"\npath = "c.md"\n',
         r":5: invalid TOML: key 'path' in \[\[guides\]\] is set twice \(first on line 4\)"),
        ("[fetch]\nx = 1\n[fetch]\ny = 2\n", r":3: invalid TOML: Cannot declare \('fetch',\) twice"),
    ],
)
def test_a_duplicate_key_is_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        load_config(write(tmp_path, text))
    assert "\n" not in str(err.value)


def test_durations_too_long_are_a_value_error_not_an_overflow() -> None:
    from guidewatch.config import parse_duration

    for text in ("9999999999d", "99999999999999999999s", "9999999999w"):
        with pytest.raises(ValueError, match="longer than 36500d"):
            parse_duration(text)
    assert parse_duration("36500d") == timedelta(days=36500)

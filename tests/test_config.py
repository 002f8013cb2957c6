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

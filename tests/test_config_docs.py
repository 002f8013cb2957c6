"""One schema: the README's table, the `init` template and loading all say what schema.py says."""

from __future__ import annotations

import dataclasses
import logging
import re
import subprocess
import sys
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from guidewatch.app.settings import fetch_settings
from guidewatch.config import CONFIG_TEMPLATE, FetchConfig, load_config, markdown_table, parse_config, parse_duration
from guidewatch.config.docs import TABLE_END, TABLE_START, config_template, readme_section, walk
from guidewatch.config.schema import DIGEST_FORMATS
from guidewatch.sources.fetch import FetchSettings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_table_is_the_one_the_schema_generates() -> None:
    """Edit a default, range or help text in schema.py only, or in the README only: this fails."""
    section = readme_section(README.read_text(encoding="utf-8"))
    assert section == markdown_table(), "README out of date: run `python -m guidewatch.config --readme README.md`"


def test_every_key_has_one_row_with_its_default_and_range() -> None:
    table = markdown_table()
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in table.splitlines()[2:]}
    assert rows["`[fetch] timeout`"] == ("| `[fetch] timeout` | 30 s | above 0, at most 3600 s | per request "
                                         "(connect + download) |")
    assert "| 10 MiB | 1 B–1 GiB |" in rows["`[fetch] max_bytes`"]
    assert "| 30d | 1s–3650d |" in rows["`[check] max_age`"]
    assert "| `UTC` | IANA time zone name |" in rows["`[schedule] timezone`"]
    assert "| required |" in rows["`[[guides]] path`"] and "| required |" in rows["`[alerts.email] host`"]
    leaves = [e for e in walk() if e.spec.kind not in ("table", "entries")]
    assert len(rows) == len(leaves) >= 45


def test_the_readme_generator_rewrites_only_its_section(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Intro\n\n{TABLE_START}\n| stale | row |\n{TABLE_END}\n\nAfter.\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "guidewatch.config", "--readme", str(readme)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    text = readme.read_text(encoding="utf-8")
    assert text == f"# Intro\n\n{TABLE_START}\n{markdown_table()}{TABLE_END}\n\nAfter.\n"
    printed = subprocess.run([sys.executable, "-m", "guidewatch.config"], capture_output=True, text=True, timeout=60)
    assert printed.stdout == markdown_table()


def _table(data: dict[str, Any], table: str) -> dict[str, Any]:
    for part in filter(None, table.split(".")):
        data = data[part]
    return data


def test_the_template_writes_each_key_with_the_schema_default_or_its_example() -> None:
    """Every key is in the template; an uncommented one has the schema's default (or its
    declared example, noted with the default beside it); the rest appear commented out."""
    data = tomllib.loads(CONFIG_TEMPLATE)
    written = 0
    for e in walk():
        if e.spec.kind in ("table", "entries", "crons", "origins"):
            continue
        header = f"[[{e.table}]]" if e.array else f"[{e.table}]"
        assert re.search(rf"^(# )?{re.escape(e.name)} = ", CONFIG_TEMPLATE, re.M), e
        try:
            value = _table(data, e.table)[e.name]
        except KeyError:
            assert e.spec.default is None or e.array or e.spec.required or f"# {header}" in CONFIG_TEMPLATE, e
            continue
        written += 1
        expected = e.spec.default if e.spec.example is None else e.spec.example
        if isinstance(e.spec.default, timedelta):
            value = parse_duration(value)
        assert (tuple(value) if isinstance(value, list) else value) == expected, e
        if isinstance(e.spec.example, str | int) and e.spec.example != e.spec.default:
            assert f"(default: {e.spec.default})" in CONFIG_TEMPLATE
    assert written >= 20


def test_the_template_loads_to_the_schema_defaults(tmp_path: Path) -> None:
    path = tmp_path / "guidewatch.toml"
    path.write_text(config_template(), encoding="utf-8")
    cfg = load_config(path)
    assert cfg.fetch == FetchConfig()
    assert cfg.alerts.formats == ("md", "html", "json") and set(cfg.alerts.formats) <= set(DIGEST_FORMATS)
    assert cfg.alerts.email is None and cfg.alerts.webhook is None and cfg.profiles_dir is None
    assert cfg.schedule.timezone == "Europe/London"  # the template's example; the schema's default is UTC
    assert parse_config("", file="x.toml", base=tmp_path).schedule.timezone == "UTC"


def test_uncommenting_the_template_examples_gives_a_loadable_config(tmp_path: Path) -> None:
    """The commented-out examples are valid too: a user who removes the `# ` gets no error."""
    text = re.sub(r"^# (?=\[|[a-z_]+ = )", "", CONFIG_TEMPLATE, flags=re.M)
    (tmp_path / "guides").mkdir()
    path = tmp_path / "guidewatch.toml"
    path.write_text(text, encoding="utf-8")
    cfg = load_config(path)
    assert cfg.guides[0].slug == "gene-therapy-atmps-uk" and cfg.guides[0].editors == ("editor@example.org",)
    assert cfg.sources[0].profile == "govuk" and cfg.sources[0].schedule == "0 */6 * * *"
    assert cfg.alerts.email is not None and cfg.alerts.email.port == 587
    assert cfg.alerts.webhook is not None and cfg.schedule.profiles == {"nhsuk": "0 5 * * 1"}
    assert cfg.fetch.parse_workers == 4 and cfg.profiles_dir == (tmp_path / "spiders").resolve()


def test_init_writes_the_generated_template(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "guidewatch.cli", "init", "site"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    written = (tmp_path / "site" / "guidewatch.toml").read_text(encoding="utf-8")
    assert written == CONFIG_TEMPLATE
    assert load_config(tmp_path / "site" / "guidewatch.toml").fetch.timeout == 30.0


# --- [fetch] flows to the crawl child once, under the same names ------------------------------


def test_fetch_settings_share_the_config_keys_and_defaults() -> None:
    config_keys = {f.name: f.default for f in dataclasses.fields(FetchConfig)}
    settings_keys = {f.name: f.default for f in dataclasses.fields(FetchSettings)}
    assert config_keys.items() <= settings_keys.items()
    assert set(settings_keys) - set(config_keys) == {"retry_backoff", "max_retry_after", "log_level"}
    assert FetchSettings().user_agent == FetchConfig().user_agent


def test_the_crawl_child_gets_the_loaded_values(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    text = ('[fetch]\nuser_agent = "acme-watch/2"\ncontact_url = "https://acme.example/contact"\nconcurrency = 3\n'
            "per_host = 1\ndownload_delay = 0.25\ntimeout = 7.5\nretries = 0\nmax_bytes = 2048\n"
            "obey_robots = false\nautothrottle = false\nallow_private = true\ncrawl_timeout = 99\n")
    cfg = parse_config(text, file=str(tmp_path / "guidewatch.toml"), base=tmp_path)
    with caplog.at_level(logging.WARNING):
        fs = fetch_settings(cfg)
    assert not [r for r in caplog.records if "contact_url" in r.getMessage()]
    assert (fs.user_agent, fs.concurrency, fs.per_host, fs.download_delay, fs.timeout, fs.retries, fs.max_bytes,
            fs.obey_robots, fs.autothrottle, fs.allow_private) == (
        "acme-watch/2", 3, 1, 0.25, 7.5, 0, 2048, False, False, True)
    assert fs.full_user_agent == "acme-watch/2 (+https://acme.example/contact)"
    assert fs.log_level in ("WARNING", "DEBUG")

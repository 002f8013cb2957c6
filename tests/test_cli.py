"""The command line from the installed entry point: --help, init, guides, exit codes."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from guidewatch.cli import main

GUIDES = Path(__file__).parent / "fixtures" / "guides"
COMMANDS = ["init", "guides", "crawl", "changes", "digest", "accept", "check", "daemon", "run", "compare", "demo",
            "test", "versions", "diff",
            "history"]


def gw(*args: str, cwd: Path, check: bool = False) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("guidewatch", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "guidewatch.cli"]
    return subprocess.run([*cmd, *args], cwd=cwd, capture_output=True, text=True, check=check, timeout=120)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, tmp_path: Path) -> None:
    r = gw(command, "--help", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Usage: guidewatch " + command in r.stdout


def test_every_help_ends_with_an_example_that_parses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each command's --help (and the group's) shows an example; each `guidewatch …` in it is
    parsed as the command line would parse it, so an example cannot name a missing option."""
    assert set(COMMANDS) <= set(main.commands)
    monkeypatch.chdir(tmp_path)
    for name in ("old.html", "new.html"):  # files the compare example names
        (tmp_path / name).write_text("<p>x</p>", encoding="utf-8")
    for command in ["", *sorted(main.commands)]:
        r = CliRunner().invoke(main, [*command.split(), "--help"])
        assert r.exit_code == 0, r.output
        lines = r.output.splitlines()
        starts = [n for n, line in enumerate(lines) if re.match(r"\s*Example\b.*:$", line)]
        assert starts, f"`guidewatch {command} --help` has no example:\n{r.output}"
        example = lines[starts[0] + 1].strip()
        runs = [shlex.split(part) for part in example.split("&&")]
        runs = [run[run.index("guidewatch") + 1:] for run in runs if "guidewatch" in run]
        assert runs and (not command or any(command in run for run in runs)), example
        for args in runs:
            parse(args)
    with pytest.raises(click.UsageError):  # the parsing does catch a misspelt option
        parse(["check", "--formt", "json"])


def parse(args: list[str]) -> None:
    """Parse a command line as `guidewatch` would (the group's options, then the command's),
    running nothing: a bad option or value raises click's UsageError."""
    at = next(n for n, arg in enumerate(args) if arg in main.commands)
    parent = main.make_context("guidewatch", args[:at]) if at else click.Context(main, info_name="guidewatch")
    command = main.commands[args[at]]
    with parent:
        command.make_context(args[at], args[at + 1:], parent=parent)


def test_init_writes_commented_config_and_directories(tmp_path: Path) -> None:
    r = gw("init", "site", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    cfg = (tmp_path / "site" / "guidewatch.toml").read_text()
    assert cfg.count("#") > 20 and "[[guides]]" in cfg
    for d in ("snapshots", "alerts", "guides"):
        assert (tmp_path / "site" / d).is_dir()
    again = gw("init", "site", cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr
    # the written config is valid: `guides` runs on it
    assert gw("guides", cwd=tmp_path / "site").returncode == 0


def _workspace(tmp_path: Path, ext: str = "md") -> Path:
    shutil.copy(GUIDES / f"gene-therapy-atmps-uk.{ext}", tmp_path / f"atmp.{ext}")
    (tmp_path / "guidewatch.toml").write_text(
        f'[[guides]]\npath = "atmp.{ext}"\nslug = "gene-therapy-atmps-uk"\neditors = ["ed@example.org"]\n')
    return tmp_path


def test_guides_lists_sections_and_citations(tmp_path: Path) -> None:
    r = gw("guides", cwd=_workspace(tmp_path))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "12 sections, 13 sub-sections, 3 cited sources" in out
    reg = out.index("#how-atmps-are-regulated-in-the-uk")
    nxt = out.index("#approved-treatment-hospital-exemption-or-clinical-trial")
    assert "cites: https://www.gov.uk/guidance/advanced-therapy-medicinal-products-regulation-and-licensing" \
        in out[reg:nxt]
    gen = out.index("#gene-therapy-genetic-testing-and-personalised-medicine")
    assert "cites: https://www.nhs.uk/conditions/genetic-and-genomic-testing/" in out[gen:]
    assert "#what-is-hospital-exemption" in out
    j = json.loads(gw("guides", "--format", "json", cwd=tmp_path).stdout)
    secs = {s["id"]: s for s in j[0]["sections"]}
    assert secs["gene-therapy-genetic-testing-and-personalised-medicine"]["cites"] == [
        "https://www.nhs.uk/conditions/genetic-and-genomic-testing/"]


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ('[fetch]\ntimeout = "x"\n', "guidewatch.toml:2: fetch.timeout: expected a number"),
        ('[[guides]]\npath = "missing.md"\n', "missing.md: cannot read guide"),
    ],
)
def test_config_errors_exit_2_one_line(tmp_path: Path, config: str, needle: str) -> None:
    (tmp_path / "guidewatch.toml").write_text(config)
    r = gw("guides", cwd=tmp_path)
    assert r.returncode == 2
    assert needle in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr


def test_no_config_exit_2(tmp_path: Path) -> None:
    r = gw("changes", cwd=tmp_path)
    assert r.returncode == 2 and "no guidewatch.toml here" in r.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    _workspace(tmp_path)
    assert gw("accept", "--by", "x", cwd=tmp_path).returncode == 2
    assert gw("check", "--max-age", "soon", "--offline", cwd=tmp_path).returncode == 2
    assert gw("crawl", "--source", "https://not-cited.example/", cwd=tmp_path).returncode == 2
    assert gw("nonsense", cwd=tmp_path).returncode == 2


def test_a_bad_store_variable_is_one_line_naming_it_without_the_password(tmp_path: Path) -> None:
    (tmp_path / "guidewatch.toml").write_text('store = "sqlite:///guidewatch.db"\n')
    exe = shutil.which("guidewatch", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "guidewatch.cli"]
    env = {"PATH": "/usr/bin:/bin", "GUIDEWATCH_STORE": "postgresql://gw:PASS@127.0.0.1:port/gw"}
    r = subprocess.run([*cmd, "-vv", "digest"], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("guidewatch: error: GUIDEWATCH_STORE: ") and r.stderr.count("\n") == 1, r.stderr
    assert "PASS" not in r.stdout + r.stderr and "guidewatch.toml" not in r.stderr

"""`--format json` on the commands that report, and `changes --open`, through real crawls:
the CLI in a subprocess, real HTTP on 127.0.0.1, a real store."""

from __future__ import annotations

import json
from pathlib import Path

import click

from guidewatch.app.decision import CATEGORIES
from guidewatch.cli import main
from httpserver import LocalHTTPServer
from test_crawl import GOV, HE_V2, gw, site  # noqa: F401 (the fixture these tests use)

REPORTING = ("changes", "guides", "compare", "check", "crawl", "run", "accept", "history", "worker")


def js(ws: Path, *args: str, store_url: str, code: int = 0) -> object:
    r = gw(ws, *args, "--format", "json", store_url=store_url)
    assert r.returncode == code, r.stderr
    return json.loads(r.stdout)


def test_every_reporting_command_takes_the_same_format_option() -> None:
    shared = None
    for name in REPORTING:
        [opt] = [p for p in main.commands[name].params if p.name == "fmt"]
        assert isinstance(opt.type, click.Choice) and "json" in opt.type.choices, name
        if name != "check":  # check also writes junit and github annotations, so says so
            shared = shared or opt.help
            assert opt.help == shared and opt.default == "text", name


def test_json_reports_and_open_changes(site: tuple[LocalHTTPServer, Path], store_url: str) -> None:  # noqa: F811
    s, ws = site
    first = js(ws, "crawl", store_url=store_url)
    assert isinstance(first, dict) and set(first["counts"]) == set(CATEGORIES)
    assert first["checked"] == 4 and first["counts"]["new"] == 3 and len(first["sources"]) == 4
    assert js(ws, "crawl", store_url=store_url) == {"checked": 0, "counts": dict.fromkeys(CATEGORIES, 0),
                                                    "new_alerts": [], "sources": []}  # nothing due

    s.page("/guidance/atmp", GOV.format(title="ATMPs", cookie="Cookies!", he=HE_V2), etag='"v2"')
    second = js(ws, "crawl", "--all", store_url=store_url)
    assert isinstance(second, dict) and second["counts"]["changed"] == 1 and second["new_alerts"]

    atmp = s.url("/guidance/atmp")
    opened = js(ws, "changes", "--open", store_url=store_url)
    assert isinstance(opened, list) and any(c["source"] == atmp and c["kind"] == "modified" for c in opened)

    done = js(ws, "accept", atmp, "--by", "A. Editor", "--note", "FAQ updated", store_url=store_url)
    assert isinstance(done, dict) and done["refused"] == []
    [review] = done["accepted"]
    assert review["source"] == atmp and review["by"] == "A. Editor" and review["note"] == "FAQ updated"
    assert review["alerts_closed"] >= 1 and len(review["version"]) == 64 and Path(review["baseline"]).is_file()

    still = js(ws, "changes", "--open", store_url=store_url)
    every = js(ws, "changes", store_url=store_url)
    assert isinstance(still, list) and isinstance(every, list)
    assert not any(c["source"] == atmp for c in still), "accepted: no longer to review"
    assert any(c["source"] == atmp for c in every), "still in the record"
    assert {c["id"] for c in still} < {c["id"] for c in every}

    history = js(ws, "history", atmp, store_url=store_url)
    assert isinstance(history, dict) and history["dismissals"] == []
    assert [r["source"] for r in history["reviews"]] == [atmp, atmp]  # the first crawl's baseline, then ours
    assert history["reviews"][-1]["by"] == "A. Editor" and history["reviews"][-1]["note"] == "FAQ updated"

    cycle = js(ws, "run", store_url=store_url)
    assert isinstance(cycle, dict) and cycle["exit_code"] == 0
    assert [j["job"] for j in cycle["jobs"]] == ["crawl", "digest"] and all(j["summary"] for j in cycle["jobs"])

"""`[fetch] mirror`: a guide keeps its real URLs while its pages come from a local server.

Real crawls (child process, real HTTP on 127.0.0.1) with the real origins mapped to the
test server; every URL the rest of guidewatch sees is the real one.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from guidewatch.config import CONFIG_TEMPLATE, ConfigError, load_config
from guidewatch.model import FetchRequest
from guidewatch.sources.fetch import FetchSettings, fetch_sources
from guidewatch.sources.mirror import Mirror
from httpserver import LocalHTTPServer, Reply

GOVUK = "https://www.gov.uk"
FAST = FetchSettings(user_agent="guidewatch-test/1.0", download_delay=0, autothrottle=False, retries=0,
                     retry_backoff=0.01, timeout=5, allow_private=True)


def settings(server: LocalHTTPServer, **changes: object) -> FetchSettings:
    return dataclasses.replace(FAST, mirror={GOVUK: server.base_url}, **changes)


def test_mirror_maps_origins_both_ways() -> None:
    m = Mirror({"https://www.gov.uk": "http://127.0.0.1:8001", "https://www.nhs.uk": "http://127.0.0.1:8002/"})
    assert m.to_local("https://www.gov.uk/guidance/x?y=1#z") == "http://127.0.0.1:8001/guidance/x?y=1#z"
    assert m.to_local("https://WWW.GOV.UK") == "http://127.0.0.1:8001/"
    assert m.to_local("https://www.gov.uk.evil.example/x") == "https://www.gov.uk.evil.example/x"
    assert m.to_local("http://www.gov.uk/x") == "http://www.gov.uk/x"  # another scheme is another origin
    assert m.to_real("http://127.0.0.1:8002/conditions/") == "https://www.nhs.uk/conditions/"
    assert m.to_real("http://127.0.0.1:8003/x") == "http://127.0.0.1:8003/x"


def test_page_comes_from_the_mirror_and_keeps_its_real_url(http_server: LocalHTTPServer) -> None:
    http_server.page("/guidance/atmps", "<html><body><h1>ATMPs</h1><p>Hospital exemption</p></body></html>")
    [outcome] = fetch_sources([FetchRequest(f"{GOVUK}/guidance/atmps", "default")], settings(http_server),
                              timeout=30)
    assert outcome.status == "ok", outcome.error
    assert outcome.url == f"{GOVUK}/guidance/atmps"
    assert outcome.final_url == f"{GOVUK}/guidance/atmps"
    assert b"Hospital exemption" in outcome.body
    assert http_server.hits("/guidance/atmps") == 1


def test_redirects_on_the_mirror_are_mapped_back(http_server: LocalHTTPServer) -> None:
    http_server.page("/new", "<html><body><h1>New</h1></body></html>")
    http_server.redirect("/old", "/hop")  # relative: stays on the mirror
    http_server.route("/hop", Reply(status=301, location=f"{GOVUK}/new"))  # absolute real URL: mapped to the mirror
    [outcome] = fetch_sources([FetchRequest(f"{GOVUK}/old", "default")], settings(http_server), timeout=30)
    assert outcome.status == "ok", outcome.error
    assert outcome.url == f"{GOVUK}/old"
    assert outcome.final_url == f"{GOVUK}/new"
    assert outcome.redirects == [f"{GOVUK}/old", f"{GOVUK}/hop"]
    assert http_server.hits("/new") == 1


def test_blocked_private_address_names_the_settings(http_server: LocalHTTPServer) -> None:
    http_server.page("/p", "<html><body><h1>p</h1></body></html>")
    [outcome] = fetch_sources([FetchRequest(f"{GOVUK}/p", "default")], settings(http_server, allow_private=False),
                              timeout=30)
    assert outcome.status == "blocked" and outcome.url == f"{GOVUK}/p"
    assert "[fetch] allow_private" in (outcome.error or "") and "[fetch.mirror]" in (outcome.error or "")
    assert http_server.requests() == []


def test_config_reads_the_mirror_and_rejects_a_path(tmp_path: Path) -> None:
    cfg = tmp_path / "guidewatch.toml"
    cfg.write_text('[fetch]\nallow_private = true\n\n[fetch.mirror]\n"https://www.gov.uk" = "http://127.0.0.1:8001"\n')
    assert load_config(cfg).fetch.mirror == {"https://www.gov.uk": "http://127.0.0.1:8001"}
    cfg.write_text('[fetch.mirror]\n"https://www.gov.uk/guidance" = "http://127.0.0.1:8001"\n')
    with pytest.raises(ConfigError, match=r"guidewatch.toml:2: .*mirror.*origin"):
        load_config(cfg)


def test_init_template_shows_allow_private_and_the_mirror() -> None:
    assert "\nallow_private = false\n" in CONFIG_TEMPLATE
    assert '# [fetch.mirror]\n# "https://www.gov.uk" = "http://127.0.0.1:8001"' in CONFIG_TEMPLATE

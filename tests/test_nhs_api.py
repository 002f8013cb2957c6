"""The NHS website content API as a structured source: read like the HTML page, fetched with a key
from the environment only when one is configured, falling back to HTML, and switching it on
raising no change. Fixtures: tests/fixtures/nhs_api (from ../shared/fixtures/nhs-website-content-api)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from guidewatch.config import ConfigError, load_config
from guidewatch.model import FetchRequest
from guidewatch.pages.normalise import normalise
from guidewatch.sources.fetch import FetchSettings, fetch_sources
from guidewatch.sources.profiles import BUILTIN_DIR, Profile, ProfileError, load_profile, load_profiles
from httpserver import LocalHTTPServer, RecordedRequest, Reply

FIXTURES = Path(__file__).parent / "fixtures" / "nhs_api"
ACHALASIA_JSON = (FIXTURES / "conditions-achalasia.json").read_bytes()
ACHALASIA_HTML = (FIXTURES / "conditions-achalasia.html").read_bytes()
KEY = "k3y-Vb1Yq9-not-a-real-key"
FAST = FetchSettings(user_agent="guidewatch-test", concurrency=4, per_host=4, download_delay=0.0, timeout=5.0,
                     retries=0, obey_robots=False, autothrottle=False, allow_private=True)


@pytest.fixture(scope="module")
def nhsuk() -> Profile:
    return load_profiles()["nhsuk"]


def read(body: bytes, profile: Profile, *, via_api: bool) -> object:
    ctype = "application/json" if via_api else "text/html; charset=utf-8"
    return normalise(body, url="https://www.nhs.uk/conditions/achalasia/", profile=profile,
                     content_type=ctype, via_api=via_api)


# --- the API read like the page -------------------------------------------------------------


def test_api_and_html_give_the_same_text(nhsuk: Profile) -> None:
    html = normalise(ACHALASIA_HTML, url="https://www.nhs.uk/conditions/achalasia/", profile=nhsuk,
                     content_type="text/html")
    api = normalise(ACHALASIA_JSON, url="https://www.nhs.uk/conditions/achalasia/", profile=nhsuk,
                    content_type="application/json", via_api=True)
    assert api.blocks == html.blocks and api.content_hash == html.content_hash
    assert api.title == html.title == "Achalasia"
    assert "## Symptoms of achalasia" in api.text() and "Achalasia Action website" in api.text()
    assert "Read about achalasia, a disorder" not in api.text(), "the meta description is not on the page"
    for key in ("last_reviewed", "next_review_due"):
        assert api.metadata[key] == html.metadata[key]
    assert (api.metadata["last_reviewed"], api.metadata["next_review_due"]) == ("2023-12-05", "2026-12-05")
    assert api.metadata["date_modified"] == "2023-12-12" and "date_modified" not in html.metadata


def test_sections_care_cards_and_do_dont_keep_their_headings(nhsuk: Profile) -> None:
    """chickenpox: section headlines are h2, their parts' headlines h3; hasPart's summary is not read twice."""
    page = normalise((FIXTURES / "conditions-chickenpox.json").read_bytes(), url="https://www.nhs.uk/conditions/chickenpox/",
                     profile=nhsuk, content_type="application/json", via_api=True)
    text = page.text()
    assert "## Check if it's chickenpox\n### Stage 1: small spots appear\n" in text
    assert text.count("Stage 1: small spots appear") == 1
    assert "## Speak to a GP if:" in text and "### Don't" in text
    assert page.metadata["date_modified"] == "2022-11-15"
    paths = {b.path for b in page.blocks if "ice lollies" in b.text}
    assert paths == {("How to treat chickenpox at home", "Do")}


def test_a_real_edit_in_the_api_changes_the_text(nhsuk: Profile) -> None:
    edited = ACHALASIA_JSON.replace(b"There is no cure for achalasia", b"There is now a cure for achalasia")
    before = normalise(ACHALASIA_JSON, url="u", profile=nhsuk, via_api=True)
    after = normalise(edited, url="u", profile=nhsuk, via_api=True)
    assert before.content_hash != after.content_hash


# --- fetching with the key --------------------------------------------------------------------


def api_route(server: LocalHTTPServer, path: str, body: bytes) -> None:
    def answer(request: RecordedRequest) -> Reply:
        if request.headers.get("apikey") != KEY:
            return Reply(status=401, body='{"message": "Invalid API key"}', content_type="application/json")
        return Reply(body=body, content_type="application/json")
    server.route(path, answer)


def test_the_key_is_sent_from_the_environment_and_never_kept(http_server: LocalHTTPServer,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_NHS_KEY", KEY)
    api_route(http_server, "/nhs-website-content/conditions/achalasia/", ACHALASIA_JSON)
    http_server.page("/conditions/achalasia/", ACHALASIA_HTML.decode())
    request = FetchRequest(http_server.url("/conditions/achalasia/"), "nhsuk",
                           api_url=http_server.url("/nhs-website-content/conditions/achalasia/"),
                           api_key_env="TEST_NHS_KEY", api_key_header="apikey")
    [outcome] = fetch_sources([request], FAST, timeout=60)
    assert outcome.status == "ok" and outcome.via_api and outcome.body == ACHALASIA_JSON
    assert http_server.hits("/conditions/achalasia/") == 0
    assert KEY not in repr(outcome)

    monkeypatch.setenv("TEST_NHS_KEY", "wrong")  # a bad key: the API says 401, the HTML page is read
    [fallback] = fetch_sources([request], FAST, timeout=60)
    assert fallback.status == "ok" and not fallback.via_api and b"<h1>Achalasia</h1>" in fallback.body


# --- switching the key on: end to end ----------------------------------------------------------


def gw(ws: Path, *args: str, store_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("guidewatch", path=str(Path(sys.executable).parent)) or "guidewatch"
    full = {k: v for k, v in os.environ.items() if k != "TEST_NHS_KEY"}
    full.update(GUIDEWATCH_STORE=store_url, **env)
    return subprocess.run([exe, *args], cwd=ws, capture_output=True, text=True, timeout=180, env=full)


def workspace(server: LocalHTTPServer, tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "profiles").mkdir(parents=True)
    # the built-in nhsuk profile, its API pointed at the local server (hosts: the server's)
    text = (BUILTIN_DIR / "nhsuk.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^hosts = \["www\.nhs\.uk"\]$', 'hosts = ["127.0.0.1"]', text)
    text = re.sub(r'(?m)^url = "https://api\.service\.nhs\.uk/nhs-website-content\{path\}/"$',
                  f'url = "{server.base_url}/nhs-website-content{{path}}/"', text)
    assert server.base_url in text
    (ws / "profiles" / "nhsuk.toml").write_text(text, encoding="utf-8")
    url = server.url("/conditions/achalasia/")
    (ws / "guide.md").write_text(f"# Guide\n\n## Swallowing\n\nAchalasia makes swallowing hard. [NHS]({url})\n")
    (ws / "guidewatch.toml").write_text(f"""profiles_dir = "profiles"

[[guides]]
path = "guide.md"
editors = ["ed@example.org"]

[[sources]]
url = "{url}"
profile = "nhsuk"

[fetch]
allow_private = true
download_delay = 0.0
autothrottle = false
retries = 0
timeout = 5.0

[fetch.nhs_api]
key_env = "TEST_NHS_KEY"
""")
    return ws


def test_switching_the_key_on_raises_no_change(http_server: LocalHTTPServer, tmp_path: Path,
                                               store_url: str) -> None:
    s = http_server
    s.robots("User-agent: *\nAllow: /\n")
    s.page("/conditions/achalasia/", ACHALASIA_HTML.decode())
    api_route(s, "/nhs-website-content/conditions/achalasia/", ACHALASIA_JSON)
    ws = workspace(s, tmp_path)

    first = gw(ws, "crawl", store_url=store_url)  # no key in the environment: HTML only
    assert first.returncode == 0, first.stderr
    assert s.hits("/nhs-website-content/conditions/achalasia/") == 0
    assert first.stdout.startswith("1 checked: 1 new"), first.stdout

    second = gw(ws, "crawl", "--all", store_url=store_url, TEST_NHS_KEY=KEY)
    assert second.returncode == 0, second.stderr
    assert s.hits("/nhs-website-content/conditions/achalasia/") == 1
    assert s.hits("/conditions/achalasia/") == 1, "the HTML page was not read again"
    assert second.stdout.startswith("1 checked: 0 new, 1 unchanged, 0 changed"), second.stdout
    assert KEY not in second.stdout + second.stderr

    s.reset()
    s.robots("User-agent: *\nAllow: /\n")
    edited = ACHALASIA_JSON.replace(b"There is no cure for achalasia", b"There is now a cure for achalasia")
    api_route(s, "/nhs-website-content/conditions/achalasia/", edited)
    third = gw(ws, "crawl", "--all", store_url=store_url, TEST_NHS_KEY=KEY)
    assert third.returncode == 0, third.stderr
    assert "1 changed" in third.stdout, third.stdout
    for path in [*ws.rglob("*"), *tmp_path.glob("guidewatch.db*")]:
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


# --- configuration --------------------------------------------------------------------------------


def test_the_key_itself_in_the_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "guidewatch.toml").write_text('[fetch.nhs_api]\nkey_env = "TEST_NHS_KEY"\nkey = "abc"\n')
    with pytest.raises(ConfigError, match=r"guidewatch\.toml:3: .*secrets do not belong in the file: set TEST_NHS_KEY"):
        load_config(tmp_path / "guidewatch.toml")


def test_a_profile_naming_an_unknown_key_table_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text('name = "x"\n[api]\nurl = "https://api.example.org{path}"\nkey = "nice_api"\n')
    with pytest.raises(ProfileError, match=r"x\.toml: key 'api\.key': 'nice_api' is not a known API key table"):
        load_profile(path)


def test_compare_reads_a_saved_api_response_like_the_page(tmp_path: Path, store_url: str) -> None:
    """`compare` takes the API's JSON as a saved version: profile from its `webpage`, text as the page's."""
    (tmp_path / "g.md").write_text("# G\n\n## Swallowing\n\nAchalasia. [NHS](https://www.nhs.uk/conditions/achalasia/)\n")
    edited = tmp_path / "edited.json"
    edited.write_bytes(ACHALASIA_JSON.replace(b"There is no cure", b"There is now a cure"))
    html, api = FIXTURES / "conditions-achalasia.html", FIXTURES / "conditions-achalasia.json"
    same = gw(tmp_path, "compare", "--guide", "g.md", str(html), str(api), store_url=store_url)
    assert same.returncode == 0, same.stderr
    assert "(profile nhsuk)" in same.stdout and "No changes." in same.stdout
    changed = gw(tmp_path, "compare", "--guide", "g.md", str(html), str(edited), store_url=store_url)
    assert "1 change (1 substantive)" in changed.stdout and "in: Treatments for achalasia" in changed.stdout


@pytest.mark.parametrize("body", [
    b'{"@context":"http://schema.org","mainEntityOfPage":[1,null,{"mainEntityOfPage":"x"},'
    b'{"headline":5,"mainEntityOfPage":[{"text":7,"headline":[]}]}],"lastReviewed":{},"dateModified":3,"name":null}',
    b'{"@context":"http://schema.org","mainEntityOfPage":[],"lastReviewed":[]}',
    b'{"@context":"http://schema.org","mainEntityOfPage":[{"position":"a"},{"position":1.5}]}',
])
def test_odd_api_bodies_give_an_empty_page_not_a_crash(nhsuk: Profile, body: bytes) -> None:
    page = normalise(body, url="u", profile=nhsuk, via_api=True)
    assert page.blocks == [] and page.metadata == {"content_type": "application/json"}


def test_markup_in_api_text_is_text_and_scripts_are_dropped(nhsuk: Profile) -> None:
    body = (b'{"@context":"http://schema.org","mainEntityOfPage":[{"headline":"H","mainEntityOfPage":'
            b'[{"text":"<script>alert(1)</script><p>ok &lt;b&gt;</p>"}]}]}')
    assert normalise(body, url="u", profile=nhsuk, via_api=True).text() == "## H\nok <b>\n"

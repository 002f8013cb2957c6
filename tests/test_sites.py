"""Site rules kept out of the linker: the API prefix comes from the profiles' `api` URL, so
a profile that serves its pages under another prefix needs no code."""

from __future__ import annotations

from pathlib import Path

import pytest

from guidewatch.sources.profiles import load_profile, load_profiles
from guidewatch.sources.sites import BODIES, api_prefix, api_prefixes, same_source, url_key


def profile_with_api(tmp_path: Path, api: str) -> Path:
    path = tmp_path / "example.toml"
    path.write_text(f'name = "example"\nhosts = ["www.example.org"]\nmain = ["main"]\n'
                    f'title = ["h1"]\napi = "{api}"\n', encoding="utf-8")
    return path


def test_the_govuk_api_prefix_is_read_from_its_profile() -> None:
    govuk = load_profiles()["govuk"]
    assert govuk.api == "https://www.gov.uk/api/content{path}"
    assert api_prefix(govuk) == ("gov.uk", "/api/content")
    assert api_prefixes() == {"gov.uk": "/api/content"}  # the only built-in profile with an API
    assert url_key("https://www.gov.uk/api/content/guidance/x/") == ("gov.uk", "/guidance/x")
    assert url_key("https://www.gov.uk/api/contents/guidance/x") == ("gov.uk", "/api/contents/guidance/x")
    assert url_key("https://www.nhs.uk/api/content/x") == ("nhs.uk", "/api/content/x")


@pytest.mark.parametrize(("api", "expected"), [
    ("https://api.example.org/v2/Pages{path}", ("api.example.org", "/v2/pages")),
    ("https://www.example.org/{path}", None),  # no prefix: the page path is the API path
    ("https://{host}/api{path}", None),  # one API per host: no fixed host to key on
    ("https://www.example.org/api{path}?format=json", None),  # the path is not the URL's tail
])
def test_an_api_prefix_is_derived_only_from_a_fixed_url(tmp_path: Path, api: str,
                                                         expected: tuple[str, str] | None) -> None:
    assert api_prefix(load_profile(profile_with_api(tmp_path, api))) == expected


def test_a_page_that_moved_within_its_site_keeps_its_long_slug() -> None:
    assert same_source("https://www.nhs.uk/conditions/genetic-testing/",
                       "https://www.nhs.uk/tests-and-treatments/genetic-testing")
    assert not same_source("https://www.nhs.uk/conditions/help/", "https://www.nhs.uk/tests/help/")  # short slug
    assert not same_source("https://www.nhs.uk/conditions/genetic-testing/",
                           "https://www.gov.uk/conditions/genetic-testing/")


def test_named_bodies_match_their_full_names() -> None:
    named = {name for name, pattern in BODIES.items()
             if pattern.search("Report it to the Medicines and Healthcare products Regulatory Agency or NICE.")}
    assert named == {"MHRA", "NICE"}

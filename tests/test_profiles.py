"""Site profiles: loading, host matching, guessing from markup, API URLs, and bad-file errors."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from guidewatch.sources.profiles import (
    BUILTIN_DIR,
    Profile,
    ProfileError,
    api_url_for,
    guess_profile,
    load_profile,
    load_profiles,
    profile_for_url,
)

FIXTURES = Path(__file__).parent / "fixtures" / "normalise"
ATMP = "https://www.gov.uk/guidance/advanced-therapy-medicinal-products-regulation-and-licensing"


@pytest.fixture(scope="module")
def profiles() -> dict[str, Profile]:
    return load_profiles()


# --- built-in profiles --------------------------------------------------------------------


def test_builtin_profiles_load_from_the_package_directory(profiles: dict[str, Profile]) -> None:
    assert {"govuk", "nhsuk", "default"} <= set(profiles)
    assert (BUILTIN_DIR / "govuk.toml").is_file()
    govuk, nhsuk = profiles["govuk"], profiles["nhsuk"]
    assert govuk.main[0] == "main#content"
    assert ".gem-c-govspeak" in govuk.main
    assert "#global-cookie-message" in govuk.drop
    assert govuk.change_history is not None and govuk.withdrawn is not None
    assert govuk.api == "https://www.gov.uk/api/content{path}"
    assert nhsuk.main[0] == "main#maincontent"
    assert "#nhsuk-cookie-banner" in nhsuk.drop
    assert {r.key for r in nhsuk.dates} == {"last_reviewed", "next_review_due"}
    assert profiles["default"].hosts == ()
    assert govuk.source.endswith("govuk.toml")


@pytest.mark.parametrize("path", sorted(BUILTIN_DIR.glob("*.toml")), ids=lambda p: p.stem)
def test_every_builtin_profile_selector_compiles(path: Path) -> None:
    """`load_profiles` skips compiling the built-in files' selectors at start-up: this is their check."""
    assert load_profile(path) == load_profile(path, check_selectors=False)


def test_profiles_are_frozen_and_hashable(profiles: dict[str, Profile]) -> None:
    govuk = profiles["govuk"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        govuk.name = "x"  # type: ignore[misc]
    assert {govuk: 1}[govuk] == 1
    assert load_profiles()["govuk"] == govuk


# --- host matching ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (ATMP, "govuk"),
        ("https://gov.uk/government/groups/mhra-innovation-office", "govuk"),
        ("HTTPS://WWW.GOV.UK:443/guidance/x", "govuk"),
        ("https://www.gov.uk./guidance/x", "govuk"),
        ("https://www.nhs.uk/conditions/genetic-and-genomic-testing/", "nhsuk"),
        ("https://nhs.uk/tests-and-treatments/", "nhsuk"),
        ("https://notgov.uk/x", "default"),  # a suffix matches only at a dot
        ("https://www.gov.uk.example.com/x", "default"),
        ("https://www.example.org/page", "default"),
        ("not a url at all", "default"),
        ("", "default"),
        ("http://[::1", "default"),  # unparseable
    ],
)
def test_profile_for_url(profiles: dict[str, Profile], url: str, expected: str) -> None:
    assert profile_for_url(url, profiles).name == expected


def test_most_specific_host_suffix_wins(tmp_path: Path) -> None:
    (tmp_path / "govuk-assets.toml").write_text(
        'name = "govuk-assets"\nhosts = ["assets.publishing.service.gov.uk"]\nmain = ["body"]\n'
    )
    profiles = load_profiles([tmp_path])
    assets = profile_for_url("https://assets.publishing.service.gov.uk/media/x.pdf", profiles)
    assert assets.name == "govuk-assets"
    assert profile_for_url("https://www.gov.uk/x", profiles).name == "govuk"


def test_extra_directory_adds_and_overrides_profiles(tmp_path: Path) -> None:
    (tmp_path / "hta.toml").write_text(
        'name = "hta"\nhosts = ["hta.gov.uk", "www.hta.gov.uk"]\nmain = ["main", "#content"]\ndrop = [".cookie"]\n'
        '[dates]\nlast_reviewed = ["Last reviewed:? {date}"]\n'
    )
    (tmp_path / "nhs-custom.toml").write_text('name = "nhsuk"\nhosts = ["nhs.uk"]\nmain = ["article"]\n')
    profiles = load_profiles([tmp_path])
    assert profile_for_url("https://www.hta.gov.uk/guidance", profiles).name == "hta"
    assert profiles["nhsuk"].main == ("article",)  # a later directory wins
    assert profiles["hta"].dates[0].pattern.search("Last reviewed: 3 May 2024")


def test_name_defaults_to_the_file_name(tmp_path: Path) -> None:
    (tmp_path / "mysite.toml").write_text('hosts = ["example.org"]\n')
    assert load_profiles([tmp_path])["mysite"].hosts == ("example.org",)


# --- guessing from markup -----------------------------------------------------------------


def test_guess_profile_from_markup(profiles: dict[str, Profile]) -> None:
    govuk_html = (FIXTURES / "govuk_detailed_guide.html").read_text()
    nhs_html = (FIXTURES / "nhsuk_content_page.html").read_text()
    assert guess_profile(govuk_html, profiles).name == "govuk"
    assert guess_profile(nhs_html, profiles).name == "nhsuk"
    assert guess_profile(nhs_html.encode(), profiles).name == "nhsuk"
    assert guess_profile("<html><body><p class='content'>Hello</p></body></html>", profiles).name == "default"
    assert guess_profile("", profiles).name == "default"
    assert guess_profile("<div class=govuk-body>x</div>", profiles).name == "govuk"  # unquoted attribute


def test_guess_profile_tie_falls_back_to_default(profiles: dict[str, Profile]) -> None:
    html = '<div class="govuk-body"></div><div class="nhsuk-body"></div>'
    assert guess_profile(html, profiles).name == "default"


# --- structured endpoint ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            ATMP,
            "https://www.gov.uk/api/content/guidance/advanced-therapy-medicinal-products-regulation-and-licensing",
        ),
        (
            ATMP + "/?utm_source=x#hospital-exemption",
            "https://www.gov.uk/api/content/guidance/advanced-therapy-medicinal-products-regulation-and-licensing",
        ),
        (
            "https://www.gov.uk/government/groups/mhra-innovation-office",
            "https://www.gov.uk/api/content/government/groups/mhra-innovation-office",
        ),
        ("https://www.gov.uk/", None),
        ("https://www.gov.uk/search/all?keywords=atmp", None),
        ("https://www.gov.uk/api/content/guidance/x", None),
        ("https://www.gov.uk/government/uploads/system/uploads/attachment_data/file/1/atmp.pdf", None),
        ("https://assets.publishing.service.gov.uk/media/abc/atmp.pdf", None),
        ("ftp://www.gov.uk/guidance/x", None),
    ],
)
def test_api_url_for_govuk(profiles: dict[str, Profile], url: str, expected: str | None) -> None:
    assert api_url_for(url, profiles["govuk"]) == expected


def test_no_api_for_profiles_without_one(profiles: dict[str, Profile]) -> None:
    assert api_url_for("https://example.org/x", profiles["default"]) is None


def test_the_nhs_api_needs_a_key(profiles: dict[str, Profile]) -> None:
    """nhsuk's API is keyed: the crawl uses it only when [fetch.nhs_api] names a set variable."""
    nhsuk = profiles["nhsuk"]
    assert api_url_for("https://www.nhs.uk/conditions/x/", nhsuk) == (
        "https://api.service.nhs.uk/nhs-website-content/conditions/x/")
    assert api_url_for("https://nhs.uk/conditions/x/", nhsuk) is None  # the API serves www.nhs.uk only
    assert nhsuk.api_key == "nhs_api" and profiles["govuk"].api_key is None


def test_api_string_shorthand(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(
        'name = "s"\nhosts = ["*.example.org"]\napi = "https://{host}/api{path}.json"\n'
    )
    profile = load_profiles([tmp_path])["s"]
    assert api_url_for("https://www.example.org/a/b/", profile) == "https://www.example.org/api/a/b.json"


# --- bad profile files --------------------------------------------------------------------

BAD = [
    ("main = [", None, "invalid TOML"),
    ('hosts = ["a"]\nhosts = ["b"]', None, "invalid TOML"),
    ('main = "main"\nhosts = 3', "hosts", "list of strings"),
    ('main = ["main", 4]', "main", "list of strings"),
    ('main = ["main >> p"]', "main[0]", "invalid CSS selector"),
    ('drop = ["nav", "div[class="]', "drop[1]", "invalid CSS selector"),
    ('soft_404 = ["(unclosed"]', "soft_404[0]", "invalid regular expression"),
    ('title_suffix = "["', "title_suffix", "invalid regular expression"),
    ('mian = ["main"]', "mian", "unknown key"),
    ('[dates]\nlast_updated = ["Last updated {date}"]', "dates.last_updated", "unknown date key"),
    ('[dates]\nlast_reviewed = ["Last reviewed"]', "dates.last_reviewed[0]", "{date}"),
    ('[dates]\nlast_reviewed = ["(Last {date}"]', "dates.last_reviewed[0]", "invalid regular expression"),
    ('name = "Bad Name"', "name", "lower-case"),
    ("name = 5", "name", "expected a string"),
    ('api = "https://www.gov.uk/api/content"', "api.url", "{path}"),
    ('[api]\nurl = "https://x/{path}"\nhost = ["x"]', "api.host", "unknown key"),
    ('[change_history]\nitem = "li"\ntime = "time"', "change_history.note", "missing"),
    ('[withdrawn]\nselectors = []\npattern = "withdrawn"', "withdrawn.selectors", "missing"),
    ('dates = "x"', "dates", "expected a table"),
    ('soft_404 = ["\\bnot found"]', "soft_404[0]", "single quotes"),
]


@pytest.mark.parametrize(("text", "key", "problem"), BAD)
def test_bad_profile_raises_one_line_error_naming_file_key_and_problem(
    tmp_path: Path, text: str, key: str | None, problem: str
) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text + "\n")
    with pytest.raises(ProfileError) as info:
        load_profiles([tmp_path])
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    if key is not None:
        assert f"key {key!r}" in message
    assert problem in message


def test_duplicate_profile_names_in_one_directory(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('name = "same"\n')
    (tmp_path / "b.toml").write_text('name = "same"\n')
    duplicate = r"b\.toml: key 'name': profile 'same' is also defined in .*a\.toml$"
    with pytest.raises(ProfileError, match=duplicate):
        load_profiles([tmp_path])


def test_missing_extra_directory(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="profiles directory not found"):
        load_profiles([tmp_path / "nope"])


def test_unreadable_profile_file(tmp_path: Path) -> None:
    path = tmp_path / "latin.toml"
    path.write_bytes(b'description = "caf\xe9"\n')
    with pytest.raises(ProfileError, match="not UTF-8"):
        load_profile(path)


# --- packaging ------------------------------------------------------------------------------


def test_wheel_carries_profiles_and_demo_data(tmp_path: Path) -> None:
    """A non-editable install must carry the built-in profiles and the demo pages.

    Builds from a copy of the tree, so no build/ directory is left in the checkout.
    """
    root = Path(__file__).resolve().parent.parent
    tree = tmp_path / "tree"
    (tree / "src").mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        if (root / name).exists():
            shutil.copy(root / name, tree / name)
    shutil.copytree(
        root / "src" / "guidewatch",
        tree / "src" / "guidewatch",
        symlinks=True,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    assert not (tree / "src" / "guidewatch" / "sources" / "site_profiles").is_symlink()
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(tree)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    # Installing the project needs this same build; a failure is a packaging bug, not an environment gap.
    assert done.returncode == 0, f"building the wheel failed: {done.stderr.strip().splitlines()[-3:]}"
    (wheel,) = (tmp_path / "dist").glob("guidewatch-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for profile in ("govuk", "nhsuk", "default"):
        assert f"guidewatch/sources/site_profiles/{profile}.toml" in names
    site = "guidewatch/demo_data/site/"
    slug = "advanced-therapy-medicinal-products-regulation-and-licensing"
    assert f"{site}v1/www.gov.uk/guidance/{slug}/index.html" in names
    assert f"{site}v1/www.gov.uk/api/content/guidance/{slug}.json" in names
    assert f"{site}v2/www.nhs.uk/tests-and-treatments/genetic-and-genomic-testing/index.html" in names
    assert f"{site}v2/redirects.json" in names

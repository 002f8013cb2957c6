"""The repository's own layout: top-level snapshots/ and alerts/ say what lands in them, and
the root guidewatch.toml watches the ATMP guide's real cited pages (loaded offline here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_cli import gw

ROOT = Path(__file__).resolve().parents[1]


def test_snapshots_and_alerts_folders_explain_their_files() -> None:
    snapshots = (ROOT / "snapshots" / "README.md").read_text()
    alerts = (ROOT / "alerts" / "README.md").read_text()
    assert "<host>/<path>.txt" in snapshots and ".latest.txt" in snapshots and "content_hash:" in snapshots
    assert "digest" in alerts and all(ext in alerts for ext in (".md", ".html", ".json"))


def test_root_config_watches_the_guides_real_cited_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUIDEWATCH_STORE", f"sqlite:///{tmp_path / 'gw.db'}")  # leave the clone's own store alone
    r = gw("--config", str(ROOT / "guidewatch.toml"), "guides", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (guide,) = json.loads(r.stdout)
    cited = {url for section in guide["sections"] for url in section["cites"]}
    assert cited == {
        "https://www.gov.uk/guidance/advanced-therapy-medicinal-products-regulation-and-licensing",
        "https://www.gov.uk/government/groups/mhra-innovation-office",
        "https://www.nhs.uk/conditions/genetic-and-genomic-testing/",
    }


def test_repository_profiles_load_beside_the_built_in_ones() -> None:
    """spiders/ is the root config's profiles_dir: its NICE profile loads and takes nice.org.uk."""
    from guidewatch.sources.profiles import load_profiles, profile_for_url

    profiles = load_profiles([ROOT / "spiders"])
    assert {"govuk", "nhsuk", "default", "nice"} <= set(profiles)
    assert profile_for_url("https://www.nice.org.uk/guidance/ta123", profiles).name == "nice"
    assert not (ROOT / "src" / "guidewatch" / "sources" / "site_profiles").is_symlink()

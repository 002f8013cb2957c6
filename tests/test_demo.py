"""`guidewatch demo` end to end: the digest names the right sections, not the cosmetic edits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from guidewatch.app.demo import run_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("demo")
    lines: list[str] = []
    assert run_demo(root, echo=lines.append) == 0
    return root, "\n".join(lines)


def _digest(root: Path) -> dict:
    files = sorted((root / "alerts").glob("*-digest-all.json"))
    assert files, "the demo writes a JSON digest"
    return json.loads(files[-1].read_text())


def test_digest_names_expected_sections(demo: tuple[Path, str]) -> None:
    root, _ = demo
    d = _digest(root)
    sections = {s["section"] for g in d["guides"] for s in g["sections"]}
    # hospital exemption change -> the main section and the FAQ
    assert {"approved-treatment-hospital-exemption-or-clinical-trial", "what-is-hospital-exemption"} <= sections
    # change to what counts as an ATMP -> the definition section and the FAQ
    assert {"what-are-gene-therapy-and-atmps", "what-does-atmp-mean"} <= sections
    # the moved NHS page -> the section that cites it
    assert "gene-therapy-genetic-testing-and-personalised-medicine" in sections
    # nothing about the FAQ on travel abroad or red flags: unrelated to these changes
    assert "should-i-travel-abroad-for-gene-therapy-or-an-atmp" not in sections


def test_cosmetic_changes_do_not_alert(demo: tuple[Path, str]) -> None:
    root, out = demo
    d = _digest(root)
    items = [i for g in d["guides"] for s in g["sections"] for i in s["items"]]
    assert all(i["change"]["severity"] != "cosmetic" for i in items)
    text = json.dumps(d).lower()
    assert "cookie" not in text
    assert "page last reviewed" not in text and "next review due" not in text
    # the Innovation Office page only changed its chrome: no alert for it
    assert not any("mhra-innovation-office" in i["source"]["url"] for i in items)
    assert "mhra-innovation-office: unchanged" in out


def test_demo_outputs_and_summary(demo: tuple[Path, str]) -> None:
    root, out = demo
    assert "moved to https://www.nhs.uk/tests-and-treatments/genetic-and-genomic-testing/" in out
    assert "re-read: What is hospital exemption?" in out
    for ext in ("md", "html", "json"):
        assert list((root / "alerts").glob(f"*-digest-all.{ext}"))
    html = next((root / "alerts").glob("*.html")).read_text()
    assert "<script" not in html.lower()
    baselines = list((root / "snapshots").rglob("*.txt"))
    assert any(p.name.endswith(".latest.txt") for p in baselines), "the changed page awaits review"
    assert "`guidewatch check` now fails (exit 1)" in out


def test_digest_names_the_real_addresses(demo: tuple[Path, str]) -> None:
    """The pages come from 127.0.0.1 through `[fetch.mirror]`; what editors read names the real sites."""
    root, _ = demo
    d = _digest(root)
    urls = {i["source"]["url"] for g in d["guides"] for s in g["sections"] for i in s["items"]}
    assert any(u.startswith("https://www.gov.uk/") for u in urls)
    assert any(u.startswith("https://www.nhs.uk/") for u in urls)
    for ext in ("md", "html", "json"):
        text = next((root / "alerts").glob(f"*-digest-all.{ext}")).read_text()
        assert "127.0.0.1" not in text, ext
    assert "https://www.gov.uk" in (root / "guides" / "gene-therapy-atmps-uk.md").read_text()
    assert {p.name for p in (root / "snapshots").iterdir() if p.is_dir()} == {"www.gov.uk", "www.nhs.uk"}


def test_closing_hint_runs_as_printed(tmp_path: Path) -> None:
    """Installed as the README says (a venv, not on PATH), the hint names the venv's own script."""
    script = Path(sys.executable).parent / "guidewatch"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")} | {"PATH": "/usr/bin:/bin"}
    project = script.parents[2]  # run as the README's `.venv/bin/guidewatch demo`, from the project
    demo = subprocess.run([os.path.relpath(script, project), "demo", "--dir", str(tmp_path / "d")], cwd=project,
                          capture_output=True, text=True, timeout=300, env=env)
    assert demo.returncode == 0, demo.stderr
    lines = demo.stdout.splitlines()
    hint = lines[lines.index("Next, see what changed (runnable as printed):") + 1].strip()
    assert hint.startswith("cd ") and f"&& {script.absolute()} changes --open" in hint
    ran = subprocess.run(["/bin/sh", "-c", hint], capture_output=True, text=True, timeout=120, env=env)
    assert ran.returncode == 0, ran.stderr
    assert "SUBSTANTIVE modified" in ran.stdout and "https://www.gov.uk/" in ran.stdout


def test_demo_refuses_a_foreign_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not empty and not a previous demo workspace"):
        run_demo(tmp_path, echo=lambda s: None)
    assert (tmp_path / "precious.txt").read_text() == "keep me"

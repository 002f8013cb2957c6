"""Page workers (`guidewatch.pages.parallel`): same pages as parsing inline, in order, nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from guidewatch.model import Page
from guidewatch.pages.parallel import ParseJob, ParsePool, parse
from guidewatch.sources.profiles import load_profiles

SITE = Path(__file__).resolve().parents[1] / "src" / "guidewatch" / "demo_data" / "site"
PAGES = sorted(SITE.rglob("*.html"))


@pytest.fixture(scope="module")
def profiles() -> dict:
    return load_profiles([])


def jobs() -> list[ParseJob]:
    """The demo site's real GOV.UK and NHS pages, plus bodies that are not pages."""
    out = []
    for path in PAGES:
        profile = "nhsuk" if "www.nhs.uk" in path.parts else "govuk"
        out.append(ParseJob(path.read_bytes(), f"https://example.org/{path.parent.name}", profile,
                            "text/html; charset=utf-8", False, ("css:.gem-c-print-link",)))
    out.append(ParseJob(b"%PDF-1.4 not html", "https://example.org/file.pdf", "default", "application/pdf", False, ()))
    out.append(ParseJob(b"{not json", "https://example.org/api", "govuk", "application/json", True, ()))
    return out * 3


def test_workers_give_the_same_pages_as_inline_parsing_in_arrival_order(profiles: dict) -> None:
    work = jobs()
    expected = [parse(j, profiles) for j in work]
    assert any(isinstance(e, Page) and e.blocks for e in expected)
    pool: ParsePool[int] = ParsePool(profiles, [], workers=2, start_after=3)
    got: list[tuple[int, Page | str]] = []
    try:
        for i, job in enumerate(work):
            got += pool.put(i, job)
            assert pool.started == (i + 1 >= 3)
        got += pool.drain()
        assert len({w.proc.pid for w in pool._workers}) == 2
    finally:
        pool.close()
    assert [i for i, _ in got] == list(range(len(work))), "results come back in arrival order"
    assert [r for _, r in got] == expected


def test_no_workers_below_the_threshold_or_when_disabled(profiles: dict) -> None:
    work = jobs()[:5]
    for pool in (ParsePool(profiles, [], workers=2, start_after=100), ParsePool(profiles, [], workers=0)):
        got = [r for j in work for _, r in pool.put(None, j)]
        assert not pool.started and not pool.drain()
        assert got == [parse(j, profiles) for j in work], "parsed inline, at once"


def test_a_killed_worker_loses_no_page(profiles: dict) -> None:
    work = jobs() * 2
    pool: ParsePool[int] = ParsePool(profiles, [], workers=1, start_after=1)
    got: list[tuple[int, Page | str]] = []
    try:
        for i, job in enumerate(work):
            got += pool.put(i, job)
            if i == 4:
                os.kill(pool._workers[0].proc.pid, signal.SIGKILL)
        got += pool.drain()
    finally:
        pool.close()
    assert [i for i, _ in got] == list(range(len(work)))
    assert [r for _, r in got] == [parse(j, profiles) for j in work]


def test_workers_are_subprocesses_that_work_under_any_main(tmp_path: Path) -> None:
    """A script without an `if __name__ == "__main__"` guard (multiprocessing's spawn would
    re-run it in each worker) still gets its pages parsed once, by workers."""
    script = tmp_path / "unguarded.py"
    script.write_text(f"""
from pathlib import Path
from guidewatch.pages.parallel import ParseJob, ParsePool
from guidewatch.sources.profiles import load_profiles
print("main ran", flush=True)
body = Path({str(PAGES[0])!r}).read_bytes()
pool = ParsePool(load_profiles([]), [], workers=1, start_after=1)
out = [r for i in range(4) for _, r in pool.put(i, ParseJob(body, "https://x/y", "govuk", "text/html", False, ()))]
out += [r for _, r in pool.drain()]
assert pool.started
pool.close()
print(len(out), sum(1 for r in out if r.blocks))
""")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[:2] == ["main ran", "4 4"]

"""`guidewatch check`, the CI gate, driven as the installed command in a small guide repository.

Each test builds a repository (a Markdown guide citing three pages, a guidewatch.toml)
whose cited pages are served by LocalHTTPServer on 127.0.0.1, and runs `guidewatch check`
in it as a subprocess, with the store under test passed in GUIDEWATCH_STORE.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

import guidewatch.app.check as check_module
import guidewatch.changes.diff as diff_module
from guidewatch.cli import main
from guidewatch.model import Change, Page
from guidewatch.store import Store
from httpserver import LocalHTTPServer, Reply

JUNIT_XSD = Path(__file__).parent / "data" / "junit.xsd"

PAGE = ("<html><head><title>{title}</title></head><body><header>Site navigation</header>"
        "<main><h1>{title}</h1>{body}</main><footer>Cookies and contact</footer></body></html>")

HOSPITAL_V1 = ("A hospital may supply an unlicensed ATMP to a single patient under the hospital exemption "
               "if it holds a manufacturing licence.")
HOSPITAL_V2 = ("A hospital must notify the MHRA before it supplies an unlicensed ATMP under the hospital "
               "exemption, and must report every serious adverse reaction.")
HOSPITAL_V3 = ("A hospital must notify the MHRA and the health board before it supplies an unlicensed ATMP "
               "under the hospital exemption.")


def atmp_page(hospital: str = HOSPITAL_V1, trials: str = "a favourable ethics opinion") -> str:
    return PAGE.format(title="ATMP regulation", body=(
        "<p>The MHRA regulates advanced therapy medicinal products in the UK.</p>"
        f"<h2>Hospital exemption</h2><p>{hospital}</p>"
        f"<h2>Clinical trials</h2><p>Clinical trials of ATMPs need authorisation from the MHRA and {trials}.</p>"))


GENETIC = PAGE.format(title="Genetic testing", body=(
    "<p>Genetic testing looks for changes in your genes.</p>"
    "<h2>Who can have a test</h2><p>Your doctor can refer you to a genetics service.</p>"))
OFFICE = PAGE.format(title="Innovation Office", body=(
    "<p>The Innovation Office gives free regulatory advice to developers of new medicines.</p>"))

PATHS = {"atmp": "/guidance/atmp", "genetic": "/conditions/genetic-testing", "office": "/government/office"}

GUIDE = """# Gene therapy: a guide for patients

This guide explains how gene therapy works in the UK.

## How gene therapies are regulated

The MHRA regulates advanced therapy medicinal products (ATMPs) in the UK
([MHRA guidance on ATMPs]({atmp})).

## What is hospital exemption?

Under the hospital exemption a hospital can make an unlicensed ATMP for one patient. The
hospital needs a manufacturing licence.

## Genetic testing

Before gene therapy you may have a genetic test
([NHS: genetic testing]({genetic})).

## Getting advice

Developers can ask the MHRA Innovation Office for advice ([Innovation Office]({office})).
"""

CONFIG = """# a guide repository checked in CI
store = "sqlite:///not-used.db"   # GUIDEWATCH_STORE overrides this in every test

[[guides]]
path = "guides/gene-therapy.md"
slug = "gene-therapy"
editors = ["editor@example.org"]

[fetch]
contact_url = "https://example.org/contact"
allow_private = true
download_delay = 0.0
autothrottle = false
retries = 0
timeout = 5.0
crawl_timeout = 60.0
{extra}"""

GH_COMMAND = re.compile(r"^::(?P<level>error|warning|notice) (?P<props>[^:]*)::(?P<msg>.*)$")


class Repo:
    """A guide repository on disk, its pages on a local server, and the command to run in it."""

    def __init__(self, root: Path, server: LocalHTTPServer, store_url: str) -> None:
        self.root, self.server, self.store_url = root, server, store_url
        exe = shutil.which("guidewatch", path=str(Path(sys.executable).parent))
        self.cmd = [exe] if exe else [sys.executable, "-m", "guidewatch.cli"]

    def url(self, key: str) -> str:
        return self.server.url(PATHS[key])

    def write(self, *, extra: str = "", cite: dict[str, str] | None = None) -> None:
        links = {k: self.url(k) for k in PATHS} | (cite or {})
        (self.root / "guides").mkdir(parents=True, exist_ok=True)
        (self.root / "guides" / "gene-therapy.md").write_text(GUIDE.format(**links), encoding="utf-8")
        (self.root / "guidewatch.toml").write_text(CONFIG.format(extra=extra), encoding="utf-8")

    def serve(self, key: str, *replies: Reply | str) -> None:
        self.server.route(PATHS[key], *(Reply(body=r) if isinstance(r, str) else r for r in replies))

    def gw(self, *args: str, store: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, GUIDEWATCH_STORE=store or self.store_url)
        return subprocess.run([*self.cmd, *args], cwd=self.root, env=env, capture_output=True, text=True,
                              timeout=timeout)

    def check(self, *args: str, store: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.gw("check", "--retry-pause", "0s", *args, store=store)

    def guide_line(self, needle: str) -> int:
        lines = (self.root / "guides" / "gene-therapy.md").read_text(encoding="utf-8").splitlines()
        return next(n for n, text in enumerate(lines, 1) if needle in text)


@pytest.fixture
def repo(tmp_path: Path, http_server: LocalHTTPServer, store_url: str) -> Repo:
    r = Repo(tmp_path / "repo", http_server, store_url)
    r.write()
    r.serve("atmp", atmp_page())
    r.serve("genetic", GENETIC)
    r.serve("office", OFFICE)
    return r


def by_url(report: dict[str, object]) -> dict[str, dict[str, object]]:
    return {s["url"]: s for s in report["sources"]}  # type: ignore[index, union-attr]


def sections(source: dict[str, object]) -> set[str]:
    return {a["section"] for a in source["affects"]}  # type: ignore[index, union-attr]


def one_line_error(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


# --- the gate -----------------------------------------------------------------------------


def test_404_and_refused_pages_fail_and_every_format_says_so(repo: Repo) -> None:
    repo.serve("atmp", Reply(status=404, body="Not Found", content_type="text/plain"))
    repo.serve("office", Reply(status=403, body="Forbidden", content_type="text/plain"))
    online = repo.check("--format", "json", "--output", "report.json")
    assert online.returncode == 1, online.stdout + online.stderr
    report = json.loads(online.stdout)
    assert json.loads((repo.root / "report.json").read_text()) == report
    assert {"ok", "exit_code", "generated_at", "max_age_seconds", "offline", "counts", "sources"} <= set(report)
    assert report["ok"] is False and report["exit_code"] == 1 and report["offline"] is False
    assert report["counts"] == {"sources": 3, "stale": 2, "warnings": 0, "fresh": 1}
    src = by_url(report)
    gone = src[repo.url("atmp")]
    assert {"url", "title", "verdict", "state", "reasons", "warnings", "affects", "actions", "last_ok_at",
            "accept_command"} <= set(gone)
    assert gone["verdict"] == "stale" and gone["state"] == "gone"
    assert [(x["kind"], x["text"]) for x in gone["reasons"]] == [("gone", "gone: HTTP 404")]
    assert sections(gone) == {"how-gene-therapies-are-regulated"}
    assert gone["affects"][0] == {"guide": "gene-therapy", "section": "how-gene-therapies-are-regulated",
                                  "heading": "How gene therapies are regulated", "file": "guides/gene-therapy.md",
                                  "line": repo.guide_line("## How gene"), "score": None, "why": "cites this source"}
    assert any("replace or remove the citation" in a for a in gone["actions"])
    assert gone["accept_command"] is None  # accepting does not bring a page back
    refused = src[repo.url("office")]
    assert refused["verdict"] == "stale" and refused["reasons"][0]["kind"] == "failed"
    assert "HTTP 403" in refused["reasons"][0]["text"] and "not a transient error" in refused["reasons"][0]["text"]
    assert sections(refused) == {"getting-advice"}
    assert src[repo.url("genetic")]["verdict"] == "fresh"
    assert repo.server.hits(PATHS["office"]) == 1  # a 403 is not retried

    # the same verdicts from the store, as JUnit XML valid against the schema
    junit = repo.check("--offline", "--format", "junit", "--output", "junit.xml")
    assert junit.returncode == 1
    doc = etree.parse(str(repo.root / "junit.xml"))
    schema = etree.XMLSchema(etree.parse(str(JUNIT_XSD)))
    assert schema.validate(doc), schema.error_log
    root = ET.fromstring(junit.stdout)
    assert root.tag == "testsuites" and root.get("tests") == "3" and root.get("failures") == "2"
    suites = root.findall("testsuite")
    assert len(suites) == 1 and suites[0].get("tests") == "3" and suites[0].get("failures") == "2"
    cases = {c.get("name"): c for c in suites[0].findall("testcase")}
    assert set(cases) == {repo.url(k) for k in PATHS}
    assert cases[repo.url("genetic")].find("failure") is None
    failure = cases[repo.url("atmp")].find("failure")
    assert failure is not None and failure.get("type") == "gone"
    assert failure.get("message") == "gone: HTTP 404"
    assert "gene-therapy#how-gene-therapies-are-regulated" in (failure.text or "")
    assert cases[repo.url("office")].find("failure").get("type") == "failed"  # type: ignore[union-attr]

    # and as GitHub annotations on the line of the guide that cites each page
    gh = repo.check("--offline", "--format", "github")
    assert gh.returncode == 1
    commands = [m.groupdict() for m in map(GH_COMMAND.match, gh.stdout.splitlines()) if m]
    assert [c["level"] for c in commands] == ["error", "error"]
    for c in commands:
        props = dict(p.split("=", 1) for p in c["props"].split(","))
        assert props["file"] == "guides/gene-therapy.md"
        assert props["title"].startswith("Stale source%3A ")
        assert "\n" not in c["msg"] and "%0A" in c["msg"]
    gone_cmd = next(c for c in commands if repo.url("atmp") in c["msg"])
    assert dict(p.split("=", 1) for p in gone_cmd["props"].split(","))["line"] == str(
        repo.guide_line(repo.url("atmp")))
    assert "gone: HTTP 404" in gone_cmd["msg"] and "gene-therapy#how-gene-therapies-are-regulated" in gone_cmd["msg"]
    assert gh.stdout.rstrip().endswith("FAIL: 2 of 3 cited source(s) stale (offline: from the store)")


def test_one_transient_503_passes_with_a_warning(repo: Repo) -> None:
    repo.serve("genetic", Reply(status=503, body="busy", content_type="text/plain"), GENETIC)
    r = repo.check("--format", "github")
    assert r.returncode == 0, r.stdout + r.stderr
    warnings = [m.groupdict() for m in map(GH_COMMAND.match, r.stdout.splitlines()) if m]
    assert [w["level"] for w in warnings] == ["warning"]
    assert repo.url("genetic") in warnings[0]["msg"]
    assert "transient failure, not failing the build (try 1: HTTP 503" in warnings[0]["msg"]
    assert "fetched fine on try 2" in warnings[0]["msg"]
    assert "line=" + str(repo.guide_line(repo.url("genetic"))) in warnings[0]["props"]
    assert r.stdout.rstrip().endswith("OK: 3 cited source(s) fresh; 1 warning(s)")
    assert "trying again" in r.stderr
    assert repo.server.hits(PATHS["genetic"]) == 2


def test_persistent_503_fails_as_unreachable(repo: Repo) -> None:
    repo.serve("genetic", Reply(status=503, body="down", content_type="text/plain"))
    r = repo.check()
    assert r.returncode == 1, r.stdout + r.stderr
    block = r.stdout[r.stdout.index(f"STALE {repo.url('genetic')}"):]
    assert "persistent failure: 3 failed checks in a row" in block and "HTTP 503" in block
    assert "re-read: gene-therapy#genetic-testing" in block
    assert repo.server.hits(PATHS["genetic"]) == 3  # [check] unreachable_after tries, then it counts


def test_max_age_exceeded_fails(repo: Repo) -> None:
    assert repo.check().returncode == 0
    time.sleep(1.2)
    old = repo.check("--offline", "--max-age", "1s")
    assert old.returncode == 1, old.stdout
    assert old.stdout.count("why: last checked successfully") == 3
    assert "more than 1 second ago (max-age)" in old.stdout
    assert "guidewatch check` without --offline" in old.stdout
    assert repo.check("--offline", "--max-age", "30d").returncode == 0
    assert one_line_error(repo.check("--offline", "--max-age", "soon")).startswith(
        "guidewatch: error: --max-age: expected a duration")


def test_moved_page_fails_until_the_guide_cites_the_new_address(repo: Repo) -> None:
    repo.server.redirect(PATHS["genetic"], "/tests-and-treatments/genetic-testing")
    repo.server.page("/tests-and-treatments/genetic-testing", GENETIC)
    r = repo.check("--format", "json")
    assert r.returncode == 1, r.stdout + r.stderr
    moved = by_url(json.loads(r.stdout))[repo.url("genetic")]
    new = repo.server.url("/tests-and-treatments/genetic-testing")
    assert moved["state"] == "moved" and moved["final_url"] == new
    assert moved["reasons"][0]["kind"] == "moved" and new in moved["reasons"][0]["text"]
    assert moved["actions"] == [f"update the guide's link to {new} (the cited address redirects there)"]
    # accepting cannot clear it (the guide still cites an address that redirects), so it is refused
    refused = one_line_error(repo.gw("accept", repo.url("genetic"), "--by", "A. Editor"))
    assert f"change the guide's link to {new}" in refused
    assert repo.check("--offline").returncode == 1
    repo.write(cite={"genetic": new})
    fixed = repo.check()
    assert fixed.returncode == 0, fixed.stdout


def test_committed_snapshots_seed_a_fresh_store(repo: Repo, tmp_path: Path, store_url: str) -> None:
    # An editor's own store (a laptop) records the reviewed versions into snapshots/ ...
    laptop = f"sqlite:///{tmp_path / 'laptop.db'}"
    assert repo.check(store=laptop).returncode == 0
    baseline = repo.root / "snapshots" / f"127.0.0.1_{repo.server.port}" / "guidance" / "atmp.txt"
    assert "status: reviewed" in baseline.read_text(encoding="utf-8")
    # ... which are committed. A CI runner starts with an empty store and compares the
    # live pages with those files: one unchanged, one changed since the review.
    repo.serve("atmp", atmp_page(HOSPITAL_V2))
    r = repo.check(store=store_url)
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout
    block = out[out.index(f"STALE {repo.url('atmp')}"):out.index("FAIL:")]
    assert "why: substantive change (modified) in Hospital exemption" in block
    # the section the change is about (linked to it), and the section that cites the page
    assert re.search(r"re-read: gene-therapy#what-is-hospital-exemption \"What is hospital exemption\?\" "
                     r"\(linked, score 0\.\d\d; guides/gene-therapy\.md:10\)", block), block
    assert "re-read: gene-therapy#how-gene-therapies-are-regulated" in block
    assert "#genetic-testing" not in block and "#getting-advice" not in block
    assert f"then: re-read the sections listed, fix the guide, then run: guidewatch accept {repo.url('atmp')} " \
           "--by NAME" in block
    assert f"ok    {repo.url('genetic')}" in out and f"ok    {repo.url('office')}" in out
    assert "FAIL: 1 of 3 cited source(s) stale" in out
    history = repo.gw("history", store=store_url).stdout
    assert history.count("imported from the committed snapshot file") == 3


def test_committed_snapshots_unchanged_pages_pass_on_a_fresh_store(repo: Repo, tmp_path: Path) -> None:
    laptop = f"sqlite:///{tmp_path / 'laptop.db'}"
    repo.serve("atmp", atmp_page(HOSPITAL_V2))
    assert repo.check(store=laptop).returncode == 0  # the laptop's baseline is already V2
    r = repo.check()  # the store under test: fresh, seeded from snapshots/
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK: 3 cited source(s) fresh" in r.stdout
    assert repo.gw("history").stdout.count("imported from the committed snapshot file") == 3


def test_check_while_another_crawl_holds_the_lock_exits_2(repo: Repo, store_url: str) -> None:
    store = Store(store_url)
    try:
        store.locks.acquire("crawl", "crawl:ci-runner:1:test")  # held by this (live) test process
        started = time.monotonic()
        r = repo.check()
        line = one_line_error(r)
        assert time.monotonic() - started < 30
        assert "cannot check now, another crawl is running" in line and "crawl lock is held by" in line
        assert repo.server.hits(PATHS["atmp"]) == 0
        assert repo.check("--offline").returncode == 1  # reading the store needs no lock: never checked
    finally:
        store.locks.release("crawl", "crawl:ci-runner:1:test")
        store.close()


def test_no_cited_sources_is_a_usage_error(repo: Repo) -> None:
    (repo.root / "guides" / "gene-therapy.md").write_text("# A guide\n\nNo links at all.\n", encoding="utf-8")
    line = one_line_error(repo.check())
    assert "guidewatch.toml: no cited sources to check" in line


# --- what changed is what the crawl recorded -------------------------------------------------


def test_check_reports_the_recorded_change_whatever_the_diff_code_says_now(
        repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    assert repo.gw("crawl", "--all").returncode == 0  # the reviewed baseline
    repo.serve("atmp", atmp_page(HOSPITAL_V2))
    assert repo.gw("crawl", "--all").returncode == 0  # finds the change, links it, records it
    recorded = by_url(json.loads(repo.check("--offline", "--format", "json").stdout))[repo.url("atmp")]
    assert recorded["verdict"] == "stale"
    assert [(x["kind"], x["severity"]) for x in recorded["reasons"]] == [("changed", "substantive")]
    assert "in Hospital exemption" in recorded["reasons"][0]["text"]
    linked = [a for a in recorded["affects"] if a["why"] == "linked to the change"]
    assert [a["section"] for a in linked] == ["what-is-hospital-exemption"]

    # The diff and severity code change between the crawl and the check (a new release, say):
    # the same pages now diff to a milder change with other passage text.
    real = diff_module.diff_pages

    def newer_diff(old: Page, new: Page, **kwargs: object) -> list[Change]:
        return [dataclasses.replace(c, severity="minor", reason="wording changed", old=c.old.rstrip("."))
                for c in real(old, new, **kwargs)]  # type: ignore[arg-type]

    monkeypatch.setattr(diff_module, "diff_pages", newer_diff)
    monkeypatch.setattr(check_module, "diff_pages", newer_diff, raising=False)
    monkeypatch.chdir(repo.root)
    monkeypatch.setenv("GUIDEWATCH_STORE", repo.store_url)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    result = CliRunner().invoke(main, ["check", "--offline", "--format", "json"])
    assert result.exit_code == 1, result.output
    now = by_url(json.loads(result.stdout))[repo.url("atmp")]
    for key in ("verdict", "reasons", "affects", "actions", "accept_command"):
        assert now[key] == recorded[key], key


def changed_reasons(repo: Repo, store_changes: list[dict[str, object]]) -> tuple[int, list[str], list[str]]:
    """The offline check's exit code and its reasons for the ATMP page, and the reasons the
    latest recorded change of each changed passage gives (`guidewatch changes`)."""
    r = repo.check("--offline", "--format", "json")
    atmp = by_url(json.loads(r.stdout))[repo.url("atmp")]
    latest = {tuple(c["source_section"]): c for c in store_changes if c["severity"] != "cosmetic"}  # type: ignore
    expected = [f"{c['severity']} change ({c['kind']}) in {' > '.join(c['source_section'])}: {c['reason']}"
                for c in latest.values()]
    return r.returncode, [x["text"] for x in atmp["reasons"]], expected  # type: ignore[index]


@pytest.mark.parametrize("min_severity", ["minor", "substantive"])
def test_a_passage_changed_again_or_changed_back_counts_as_it_is_now(repo: Repo, min_severity: str) -> None:
    repo.write(extra=f'[alerts]\nmin_severity = "{min_severity}"\n')
    research = "a favourable research ethics opinion"  # a minor (wording) change

    def crawl(hospital: str, trials: str = "a favourable ethics opinion") -> list[dict[str, object]]:
        repo.serve("atmp", atmp_page(hospital, trials))
        assert repo.gw("crawl", "--all").returncode == 0
        return json.loads(repo.gw("changes", "--source", repo.url("atmp"), "--format", "json").stdout)

    crawl(HOSPITAL_V1)
    crawl(HOSPITAL_V2, research)
    code, reasons, _ = changed_reasons(repo, [])
    assert code == 1 and [r.split(" in ")[1].split(":")[0] for r in reasons] == ["Hospital exemption",
                                                                                "Clinical trials"]
    # the hospital passage changes again, the trials passage changes back
    recorded = crawl(HOSPITAL_V3)
    code, reasons, expected = changed_reasons(repo, recorded)
    assert code == 1 and len(reasons) == 1 and reasons[0].startswith("substantive change (modified) in Hospital")
    assert reasons == [e for e in expected if "Hospital exemption" in e]
    # the hospital passage changes back; the trials passage changes again (minor: stale whatever
    # [alerts] min_severity says)
    crawl(HOSPITAL_V1, research)
    code, reasons, _ = changed_reasons(repo, [])
    assert code == 1 and len(reasons) == 1 and reasons[0].startswith("minor change (modified) in Clinical trials")
    # every passage back as it was reviewed: nothing to re-read
    crawl(HOSPITAL_V1)
    code, reasons, _ = changed_reasons(repo, [])
    assert code == 0 and reasons == []


# --- the example GitHub Actions workflow ---------------------------------------------------

WORKFLOW = Path(__file__).parent.parent / "docs" / "github-actions.yml"


def workflow_runs(text: str) -> dict[str, str]:
    """Step name -> its `run:` script, read from the workflow's plain block layout."""
    lines, runs, name, i = text.splitlines(), {}, "", 0
    while i < len(lines):
        if m := re.match(r"^\s*- name: (.+)$", lines[i]):
            name = m.group(1).strip()
        if (m := re.match(r"^(\s*)run: (.*)$", lines[i])) and name:
            indent, rest = len(m.group(1)), m.group(2).strip()
            if rest != "|":
                runs[name] = rest
            else:
                body = []
                while i + 1 < len(lines) and (not lines[i + 1].strip()
                                              or len(lines[i + 1]) - len(lines[i + 1].lstrip()) > indent):
                    i += 1
                    body.append(lines[i][indent + 2:])
                runs[name] = "\n".join(body).strip() + "\n"
        i += 1
    return runs


def test_example_workflow_steps_work(repo: Repo, tmp_path: Path) -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    for needle in ("\n  schedule:\n    - cron:", "\n  pull_request:\n", "actions/cache/restore@v4",
                   "actions/cache/save@v4", "GUIDEWATCH_BASELINE: cache", "pip install git+https://github.com/OWNER/"):
        assert needle in text, needle
    runs = workflow_runs(text)
    assert {"Install guidewatch", "Record a review", "Check cited sources"} <= set(runs)
    summary = tmp_path / "step-summary.md"

    def step(name: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run one step's script the way GitHub does (bash -e), with the venv's guidewatch on PATH."""
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        full = dict(os.environ, PATH=path, GUIDEWATCH_STORE=repo.store_url, GITHUB_STEP_SUMMARY=str(summary),
                    GITHUB_WORKSPACE=str(repo.root), ACCEPT="", REVIEWER="", NOTE="") | env
        return subprocess.run(["bash", "-e", "-c", runs[name]], cwd=repo.root, env=full, capture_output=True,
                              text=True, timeout=180)

    assert step("Record a review").returncode == 0  # no review asked for: nothing to do
    first = step("Check cited sources")
    assert first.returncode == 0, first.stdout + first.stderr
    assert ET.parse(repo.root / "guidewatch-junit.xml").getroot().get("failures") == "0"
    assert "### guidewatch check: OK: 3 cited source(s) fresh" in summary.read_text(encoding="utf-8")

    repo.serve("atmp", atmp_page(HOSPITAL_V2))
    stale = step("Check cited sources")
    assert stale.returncode == 1, stale.stdout + stale.stderr
    errors = [m.groupdict() for m in map(GH_COMMAND.match, stale.stdout.splitlines()) if m]
    assert len(errors) == 1 and errors[0]["level"] == "error"
    assert f"file=guides/gene-therapy.md,line={repo.guide_line(repo.url('atmp'))}," in errors[0]["props"]
    assert "what-is-hospital-exemption" in errors[0]["msg"]
    junit = ET.parse(repo.root / "guidewatch-junit.xml").getroot()
    assert junit.get("tests") == "3" and junit.get("failures") == "1"
    table = summary.read_text(encoding="utf-8")
    assert "FAIL: 1 of 3 cited source(s) stale" in table
    assert f"| {repo.url('atmp')} | stale |" in table and "`gene-therapy#what-is-hospital-exemption`" in table

    assert step("Record a review", ACCEPT="all").returncode == 2  # a review needs a name
    note = "re-read the hospital exemption FAQ"
    review = step("Record a review", ACCEPT="all", REVIEWER="A. Editor", NOTE=note)
    assert review.returncode == 0, review.stderr
    assert f"accepted {repo.url('atmp')} (" in review.stdout and "by A. Editor" in review.stdout
    assert f"note: {note}" in repo.gw("history", repo.url("atmp")).stdout

    # accepted; and the spacing and typography edits since are cosmetic, so the gate passes
    repo.serve("atmp", atmp_page(HOSPITAL_V2.replace("serious adverse", "serious  adverse"),
                                 trials="a \u201cfavourable\u201d ethics opinion"))
    after = step("Check cited sources")
    assert after.returncode == 0, after.stdout + after.stderr
    assert after.stdout.rstrip().endswith("OK: 3 cited source(s) fresh")


def test_a_crawl_that_cannot_run_is_an_error_not_a_stale_source(repo: Repo) -> None:
    repo.write(extra="[check]\nunreachable_after = 1\n")
    config = repo.root / "guidewatch.toml"
    config.write_text(config.read_text().replace("crawl_timeout = 60.0", "crawl_timeout = 0.01"))
    r = repo.check()
    line = one_line_error(r)
    assert "the crawl failed for every source, so nothing was checked: crawl aborted: timed out" in line


def test_the_markdown_summary_escapes_page_text() -> None:
    """GitHub renders the job summary's Markdown as HTML: a page title or changed text must
    show as text, never as markup."""
    from datetime import UTC, datetime, timedelta

    from guidewatch.app.check import CheckReport, Reason, SourceVerdict
    from guidewatch.app.check_report import markdown_summary

    hostile = "<img src=x onerror=alert(1)> & 'must' became 'may'"
    verdict = SourceVerdict(url="https://www.gov.uk/x", title=hostile, verdict="stale",
                            reasons=[Reason("changed", f"substantive change (modified) in Fees: {hostile}")],
                            actions=[f"re-read {hostile}"])
    table = markdown_summary(CheckReport(datetime.now(UTC), timedelta(days=30), True, [verdict]))
    assert "<img" not in table
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; 'must' became 'may'" in table

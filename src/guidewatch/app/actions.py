"""The work behind the commands that change things (`init`, `crawl`, `accept`, `dismiss`) and
behind `compare`, so that the command line only parses options and prints."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guidewatch.config import CONFIG_NAME, Config
from guidewatch.exitcodes import UsageProblem
from guidewatch.model import Dismissal, FetchOutcome

if TYPE_CHECKING:  # without importing the crawl stack at start-up
    from guidewatch.app.recording import CrawlSummary
    from guidewatch.app.workspace import Workspace
    from guidewatch.store import ReviewRecord


def init_workspace(directory: Path, *, force: bool = False) -> Path:
    """A commented guidewatch.toml and the snapshots/, alerts/ and guides/ directories."""
    from guidewatch.config import CONFIG_TEMPLATE  # built on first use (config.docs): not for every command

    directory.mkdir(parents=True, exist_ok=True)
    target = directory / CONFIG_NAME
    if target.exists() and not force:
        raise UsageProblem(f"{target}: already exists (use --force to overwrite)")
    target.write_text(CONFIG_TEMPLATE, encoding="utf-8")
    for sub in ("snapshots", "alerts", "guides"):
        (directory / sub).mkdir(exist_ok=True)
    return target


def crawl_now(ws: Workspace, child: subprocess.Popen[bytes] | None, *, all_sources: bool, source: str | None,
              say: Callable[[str], None] | None = None) -> CrawlSummary | None:
    """Crawl the chosen sources under the crawl lock, saying how far it got; None when none is due."""
    from guidewatch.app.crawl import crawl, select_sources
    from guidewatch.app.instance import single_instance

    with single_instance(ws.store, "crawl"):
        chosen = select_sources(ws, all_sources=all_sources, source=source)
        if not chosen:
            return None
        total, done = len(chosen), [0]

        def progress(outcome: FetchOutcome, verdict: str) -> None:
            done[0] += 1
            if say:
                say(f"[{done[0]}/{total}] {outcome.url}: {verdict}")

        if say:
            say(f"crawling {total} source(s)...")
        return crawl(ws, chosen, progress=progress, child=child)


@dataclass(frozen=True)
class Accepted:
    """What `accept` did: one line per accepted source, and why others were not accepted."""

    lines: tuple[str, ...]
    refused: tuple[str, ...] = ()
    reviews: tuple[tuple[ReviewRecord, str], ...] = ()  # each review recorded, with its baseline file


def accept_reviews(ws: Workspace, source_url: str | None, *, all_sources: bool, by: str,
                   note: str | None) -> Accepted:
    """Record the review of one source, or of every source awaiting review that accepting can
    clear (the others are named with what they need), and move the baselines in snapshots/."""
    from guidewatch.app.digest import accept_sources, awaiting_review, describe_review, refusals
    from guidewatch.app.snapshot_files import sync_snapshot_files
    from guidewatch.pages.snapshots import snapshot_path

    urls = awaiting_review(ws.store) if all_sources else [source_url or ""]
    if not urls:
        return Accepted(("nothing awaits review: nothing to accept",))
    refused: tuple[str, ...] = ()
    if all_sources:
        why = refusals(ws.store, urls)
        refused = tuple(f"not accepted: {w}" for w in why.values())
        urls = [u for u in urls if u not in why]
        if not urls:
            return Accepted(("nothing accepted: what awaits review needs the guide's links changed (see above)",),
                            refused)
    reviews = accept_sources(ws.store, urls, by=by, note=note)
    sync_snapshot_files(ws)
    lines: list[str] = []
    done: list[tuple[ReviewRecord, str]] = []
    for review, snap in reviews:
        baseline = str(snapshot_path(ws.config.snapshots_dir, review.source_url))
        lines += [describe_review(review, snap), f"  baseline: {baseline}"]
        done.append((review, baseline))
    return Accepted(tuple(lines), refused, tuple(done))


def dismiss_impact(ws: Workspace, change_id: str, section: str, *, by: str, note: str | None) -> Dismissal:
    """Mark a change's impact on a section not relevant; CHANGE is an id such as c12."""
    number = change_id.strip().removeprefix("c")
    if not number.isdigit():
        raise UsageProblem(f"{change_id}: not a change id (such as c12; see `guidewatch changes`)")
    return ws.store.changes.dismiss(int(number), section, by=by, note=note)


def compare_with_guide(old: Path, new: Path, guide_ref: str, *, url: str | None, config: Callable[[], Config],
                       has_config: bool) -> dict[str, Any]:
    """`compare`: the guide is a file or a configured slug; with a config the page is read as
    the crawl reads it (its profiles_dir, and the URL's [[sources]] profile and ignore rules)."""
    from guidewatch.app.compare import compare_files
    from guidewatch.sources.guides import load_guide
    from guidewatch.sources.profiles import load_profiles

    cfg = config() if has_config else None
    if Path(guide_ref).exists():
        guide = load_guide(Path(guide_ref))
    else:
        from guidewatch.app.workspace import load_guides

        cfg = config()  # a slug needs the config (its absence is the usual one-line error)
        found = [g for g in load_guides(cfg) if g.slug == guide_ref]
        if not found:
            raise UsageProblem(f"{guide_ref}: no such guide file or configured guide slug")
        guide = found[0]
    profiles = load_profiles([cfg.profiles_dir] if cfg and cfg.profiles_dir else [])
    configured = cfg.source(url) if cfg and url else None
    return compare_files(old, new, guide, url=url, profiles=profiles, configured=configured)

"""One crawl: due sources -> fetch -> normalise -> record -> diff -> link -> alerts.

Each outcome is processed as soon as the child crawl process streams it back, so a crawl
that is killed part-way keeps everything it had already recorded (`recording.Recording`,
which records each through `recorder.record_outcome` as `decision.decide` says).
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from guidewatch.app.recording import CrawlSummary, Recording
from guidewatch.app.settings import fetch_settings
from guidewatch.model import FetchOutcome, FetchRequest
from guidewatch.sources.fetch import fetch_sources
from guidewatch.sources.profiles import api_url_for
from guidewatch.store import SourceState, StoreError

if TYPE_CHECKING:
    from datetime import date

    from guidewatch.app.workspace import Workspace
    from guidewatch.sources.profiles import Profile

log = logging.getLogger("guidewatch.crawl")


def select_sources(ws: Workspace, *, all_sources: bool = False, source: str | None = None) -> list[SourceState]:
    if source:
        found = ws.store.source(source)
        if found is None or not found.active:
            raise StoreError(f"{source}: not a watched source (see `guidewatch guides`)")
        return [found]
    return ws.store.sources() if all_sources else ws.store.due_sources()


def build_request(ws: Workspace, src: SourceState) -> FetchRequest:
    profile = ws.profile(src)
    # Only ask for a 304 when we hold the text it would confirm.
    conditional = src.current_snapshot_id is not None and src.state not in ("gone",)
    return request_for(src.url, profile, etag=src.etag if conditional else None,
                       last_modified=src.last_modified if conditional else None)


def request_for(url: str, profile: Profile, *, etag: str | None = None,
                last_modified: str | None = None) -> FetchRequest:
    """The request a crawl sends for `url` read with `profile` (`guidewatch test` sends the same)."""
    return FetchRequest(url=url, profile=profile.name, etag=etag, last_modified=last_modified,
                        api_url=api_url_for(url, profile), allowed_hosts=tuple(profile.hosts))


def crawl(ws: Workspace, sources: Sequence[SourceState], *,
          progress: Callable[[FetchOutcome, str], None] | None = None, today: date | None = None,
          child: subprocess.Popen[bytes] | None = None) -> CrawlSummary:
    """Fetch the sources in a child process (`child`, if started early) and record each outcome as it arrives."""
    summary = CrawlSummary()
    by_url = {s.url: s for s in sources}
    requests = [build_request(ws, s) for s in sources]
    recording = Recording(ws, summary, sources, progress=progress, today=today)

    def handle(outcome: FetchOutcome) -> None:
        src = by_url.get(outcome.url)
        if src is not None:
            recording.add(src, outcome)

    try:
        fetch_sources(requests, fetch_settings(ws.config), on_outcome=handle, timeout=ws.config.fetch.crawl_timeout,
                      child=child, keep=False)
    finally:
        recording.close()
    return summary

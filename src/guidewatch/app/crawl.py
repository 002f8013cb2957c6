"""One crawl: due sources -> fetch -> normalise -> record -> diff -> link -> alerts.

Each outcome is processed as soon as the child crawl process streams it back, so a crawl
that is killed part-way keeps everything it had already recorded (`recording.Recording`,
which records them in batches through `recorder` as `decision.decide` says). The
recording machinery (deciding, diffing) is imported only once the child has its job, so that
import overlaps the child's start instead of delaying its first request; the normaliser and
the linker only with the first page that needs them (`recorder.parse`), so a crawl of 304s
never loads them.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from guidewatch.app.settings import fetch_settings
from guidewatch.model import FetchOutcome, FetchRequest
from guidewatch.sources.fetch import fetch_sources
from guidewatch.sources.profiles import Profile, api_url_for
from guidewatch.store import SourceState, StoreError

if TYPE_CHECKING:
    from datetime import date

    from guidewatch.app.recording import CrawlSummary, Recording
    from guidewatch.app.workspace import Workspace

log = logging.getLogger("guidewatch.crawl")


def select_sources(ws: Workspace, *, all_sources: bool = False, source: str | None = None) -> list[SourceState]:
    if source:
        found = ws.store.sources.get(source)
        if found is None or not found.active:
            raise StoreError(f"{source}: not a watched source (see `guidewatch guides`)")
        return [found]
    return ws.store.sources.all() if all_sources else ws.store.sources.due()


def build_request(ws: Workspace, src: SourceState) -> FetchRequest:
    profile = ws.profile(src)
    # Only ask for a 304 when we hold the text it would confirm.
    conditional = src.current_snapshot_id is not None and src.state not in ("gone",)
    return request_for(src.url, profile, etag=src.etag if conditional else None,
                       last_modified=src.last_modified if conditional else None, **_api_fields(ws, src.url, profile))


def request_for(url: str, profile: Profile, *, etag: str | None = None, last_modified: str | None = None,
                **api: str | None) -> FetchRequest:
    """The request a crawl sends for `url` read with `profile` (`guidewatch test` sends the same);
    `api`: the API endpoint and key variable (`_api_fields`); without it, the profile's API
    when it needs no key."""
    keyless = {"api_url": api_url_for(url, profile) if profile.api_key is None else None}
    return FetchRequest(url=url, profile=profile.name, etag=etag, last_modified=last_modified,
                        allowed_hosts=tuple(profile.hosts), **(keyless | api))


def _api_fields(ws: Workspace, url: str, profile: Profile) -> dict[str, str | None]:
    """The API endpoint, and for a keyed API the key's variable name: no key set, no API (HTML only)."""
    api_url = api_url_for(url, profile)
    if api_url is None or profile.api_key is None:
        return {"api_url": api_url}
    table = ws.config.fetch.nhs_api if profile.api_key == "nhs_api" else None
    if table is None or table.key is None:
        return {"api_url": None}
    return {"api_url": api_url, "api_key_env": table.key_env, "api_key_header": table.header}


def crawl(ws: Workspace, sources: Sequence[SourceState], *,
          progress: Callable[[FetchOutcome, str], None] | None = None, today: date | None = None,
          child: subprocess.Popen[bytes] | None = None) -> CrawlSummary:
    """Fetch the sources in a child process (`child`, if started early) and record each outcome as it arrives."""
    by_url = {s.url: s for s in sources}
    requests = [build_request(ws, s) for s in sources]
    started: list[tuple[CrawlSummary, Recording]] = []

    def start() -> None:  # the child has its job: set up the recording while it starts crawling
        from guidewatch.app.recording import CrawlSummary, Recording

        summary = CrawlSummary()
        started.append((summary, Recording(ws, summary, sources, progress=progress, today=today)))

    def idle() -> None:
        if started:
            started[0][1].settle()

    def handle(outcome: FetchOutcome) -> None:
        src = by_url.get(outcome.url)
        if src is not None:
            started[0][1].add(src, outcome)

    try:
        fetch_sources(requests, fetch_settings(ws.config), on_outcome=handle, timeout=ws.config.fetch.crawl_timeout,
                      child=child, keep=False, on_sent=start, on_idle=idle)  # nothing waits long in a batch
        if not started:  # nothing to fetch: no child was asked
            start()
    finally:
        if started:
            started[0][1].close()
    return started[0][0]

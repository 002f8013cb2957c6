"""One fetched body normalised, in the crawl process: what parsing it needs, and the call.

Parsing once ran in worker processes; with the lxml normaliser a page costs a few
milliseconds, and on two cores the Scrapy child is already the second process, so a crawl
parses each page where it records it and holds no body longer than that.
"""

from __future__ import annotations

from dataclasses import dataclass

from guidewatch.model import Page
from guidewatch.pages.normalise import normalise
from guidewatch.sources.profiles import Profile


@dataclass(frozen=True)
class ParseJob:
    """What normalising one body needs: the body, where it came from, the profile by name."""

    body: bytes
    url: str
    profile: str
    content_type: str | None
    via_api: bool
    ignore: tuple[str, ...]


def parse(job: ParseJob, profiles: dict[str, Profile]) -> Page | str:
    """The page, or why it could not be parsed (a failed check, never a content change)."""
    try:
        return normalise(job.body, url=job.url, profile=profiles[job.profile], content_type=job.content_type,
                         via_api=job.via_api, ignore=job.ignore)
    except Exception as exc:
        return f"could not parse page: {exc}"

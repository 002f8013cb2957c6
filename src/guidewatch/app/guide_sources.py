"""`[[guide_sources]]`: every guide a publisher lists (sitemap.xml or a listing page) under a path.

Each page found is a guide exactly as a `[[guides]]` entry with an http(s) `path` is: fetched
by the crawl child with the same guards, slug from its path, editors from the entry; its
sections and citations come from the main content its site profile names. A sitemap or
listing that cannot be fetched or read stops the load with its reason: it is never read as
"every guide is gone", which would stop watching every source those guides cite.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bs4 import BeautifulSoup

from guidewatch.app.settings import fetch_settings
from guidewatch.config import Config, GuideSourceConfig
from guidewatch.model import FetchRequest, Guide
from guidewatch.pages.css import prune_soup
from guidewatch.sources.fetch import fetch_sources
from guidewatch.sources.guides import GuideError, parse_guide
from guidewatch.sources.profiles import Profile, ProfileError, profile_for_url
from guidewatch.sources.sitemap import SitemapError, guides_under, parse_listing, parse_sitemap, slug_for

#: Fetches URLs: each one's body, or the reason it could not be fetched (fetch_bodies with a size bound).
Fetch = Callable[[Config, Sequence[str]], Mapping[str, bytes | str]]


@dataclass(frozen=True)
class FoundGuide:
    """One page a guide source lists, before it is fetched."""

    slug: str
    url: str
    entry: GuideSourceConfig


@dataclass(frozen=True)
class GuideChange:
    """A guide that appeared or disappeared since the store's list was last synced."""

    kind: str  # "added" or "gone"
    slug: str
    url: str = ""

    def line(self) -> str:
        return f"guide {self.kind}: {self.slug}" + (f" ({self.url})" if self.url else "")


def fetch_bodies(config: Config, urls: Sequence[str], max_bytes: int) -> dict[str, bytes | str]:
    """Each URL's body, or why it could not be had, fetched by the crawl child (robots.txt,
    the private-address guard, the size bound) as every other page is."""
    settings = dataclasses.replace(fetch_settings(config), max_bytes=max_bytes)
    outcomes = fetch_sources([FetchRequest(url, "default") for url in dict.fromkeys(urls)], settings,
                             timeout=config.fetch.crawl_timeout)
    return {o.url: o.body if o.status == "ok" else (o.error or o.status) for o in outcomes}


def _body(got: Mapping[str, bytes | str], url: str, what: str, origin: str = "") -> bytes:
    body = got.get(url, "not fetched")
    if isinstance(body, str):
        raise GuideError(f"{origin + ': ' if origin else ''}{url}: cannot fetch {what}: {body}")
    return body


def discover(config: Config, fetch: Fetch) -> list[FoundGuide]:
    """The guides every entry lists now, sitemap indexes followed one level down."""
    entries = config.guide_sources
    lists = fetch(config, [e.url for e in entries])
    found: dict[str, FoundGuide] = {}
    for entry in entries:
        urls = _listed(config, entry, _body(lists, entry.url, "the guide list", entry.origin), fetch)
        for url in guides_under(urls, entry.url, entry.under):
            slug = slug_for(url, entry.under)
            if slug in found and found[slug].url != url:
                raise GuideError(f"{entry.origin}: {url} and {found[slug].url} would both be guide {slug!r}")
            found.setdefault(slug, FoundGuide(slug, url, entry))
    return list(found.values())


def _listed(config: Config, entry: GuideSourceConfig, body: bytes, fetch: Fetch) -> tuple[str, ...]:
    try:
        if entry.listing:
            return parse_listing(body, entry.url)
        top = parse_sitemap(body)
        if not top.sitemaps:
            return top.pages
        children = fetch(config, top.sitemaps)
        pages: list[str] = list(top.pages)
        for url in top.sitemaps:
            child = parse_sitemap(_body(children, url, "the sitemap", entry.origin))
            if child.sitemaps:
                raise SitemapError(f"{url}: a sitemap index inside a sitemap index is not followed")
            pages += child.pages
        return tuple(pages)
    except SitemapError as exc:
        raise GuideError(f"{entry.origin}: {entry.url}: cannot read the guide list: {exc}") from None


def check_profiles(config: Config, profiles: Mapping[str, Profile]) -> None:
    """A profile name no profile has stops every command (exit 2, file:line), as for sources."""
    for entry in config.guide_sources:
        if entry.profile and entry.profile not in profiles:
            raise ProfileError(f"{entry.origin}: unknown profile {entry.profile!r} "
                               f"(known: {', '.join(sorted(profiles))})")


def guide_from_page(found: FoundGuide, body: bytes, profiles: Mapping[str, Profile]) -> Guide:
    """The guide a page holds: its profile's main content, minus the profile's chrome."""
    entry = found.entry
    profile = profiles[entry.profile] if entry.profile else profile_for_url(found.url, profiles)
    soup = BeautifulSoup(body.decode("utf-8-sig", "replace"), "lxml")
    main = next((el for sel in (*profile.main, "main", "body") if (el := soup.select_one(sel)) is not None), soup)
    prune_soup(main, profile.drop)
    html = f"<html><body><main>{main.decode_contents() if main is not soup else str(soup)}</main></body></html>"
    return parse_guide(html, slug=found.slug, fmt="html", source=found.url, base_url=found.url,
                       editors=entry.editors)


def load_listed_guides(config: Config, profiles: Mapping[str, Profile], fetch: Fetch) -> list[Guide]:
    """Every listed guide, fetched and parsed; a guide slug also written by hand is an error."""
    if not config.guide_sources:
        return []
    check_profiles(config, profiles)
    found = discover(config, fetch)
    hand = {g.slug: g.origin for g in config.guides}
    for f in found:
        if f.slug in hand:
            raise GuideError(f"{f.entry.origin}: {f.url} is guide {f.slug!r}, which {hand[f.slug]} names too")
    pages = fetch(config, [f.url for f in found])
    return [guide_from_page(f, _body(pages, f.url, "guide", f.entry.origin), profiles) for f in found]


def guide_changes(before: Mapping[str, str], after: Sequence[Guide]) -> list[GuideChange]:
    """Guides added and gone, `before` being the stored slug -> source (a guide's URL or file)."""
    now = {g.slug: g.source for g in after}
    added = [GuideChange("added", slug, now[slug]) for slug in sorted(set(now) - set(before))]
    return added + [GuideChange("gone", slug) for slug in sorted(set(before) - set(now))]

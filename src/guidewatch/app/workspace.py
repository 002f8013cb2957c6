"""The loaded workspace: config, store, guides and profiles, and keeping the store's list of
watched sources in line with what the guides cite (new sources, uncited ones retired,
committed baselines imported).

A crawl opens a workspace before it can send its crawl child the job, so what only some
workspaces need (sitemap guide sources, the linker, snapshot file moves) is imported where
it is used, not here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

from guidewatch.alerts.lifecycle import AUTOMATIC, uncited_closure
from guidewatch.config import Config, GuideConfig, SourceConfig
from guidewatch.model import Guide
from guidewatch.pages.snapshots import parse as parse_snapshot
from guidewatch.pages.snapshots import remove_orphaned_temp_files, snapshot_path
from guidewatch.sources.guides import MAX_GUIDE_BYTES, GuideError, GuideFileError, guide_format, load_guide, parse_guide
from guidewatch.sources.profiles import Profile, load_profiles, resolve_profile
from guidewatch.store import SourceState, Store, utcnow

if TYPE_CHECKING:
    from guidewatch.app.guide_sources import GuideChange

log = logging.getLogger("guidewatch.crawl")


@dataclass
class Workspace:
    """Everything a command needs, loaded once from the validated config."""

    config: Config
    store: Store
    guides: list[Guide]
    profiles: dict[str, Profile]
    guide_changes: list[GuideChange] = field(default_factory=list)  # listed guides added, guides gone: this sync
    _citing_index: dict[tuple[str, str], tuple[int, ...]] | None = field(default=None, repr=False)
    _profile_of: dict[str, Profile] = field(default_factory=dict, repr=False)  # by source URL

    def close(self) -> None:
        self.store.close()

    def profile(self, source: SourceState) -> Profile:
        """Resolved once per URL: a crawl asks twice for every source (its request, its next due
        time), and each answer parses the URL and tries every profile's host patterns."""
        found = self._profile_of.get(source.url)
        if found is None:
            found = self._profile_of[source.url] = resolve_profile(source.url, self.profiles,
                                                                   self.config.source(source.url))
        return found

    def guides_citing(self, url: str) -> list[Guide]:
        """Guides citing `url` (as `link.citing` decides), through an index built once: scanning
        every citation of every guide for each changed page is O(N) per page at scale."""
        from guidewatch.changes.link import citing, url_key

        if self._citing_index is None:
            # tuples of guide numbers and one copy of each host: a set and a host per key were ~5 MB
            # of a crawl's peak at 10,000 citations
            index: dict[tuple[str, str], list[int]] = {}
            hosts: dict[str, str] = {}
            for i, g in enumerate(self.guides):
                for c in g.external_citations:
                    host, path = url_key(c.url)
                    host = hosts.setdefault(host, host)
                    for key in ((host, path), (host, "/" + path.rsplit("/", 1)[-1])):
                        found = index.setdefault(key, [])
                        if not found or found[-1] != i:
                            found.append(i)
            self._citing_index = {key: tuple(found) for key, found in index.items()}
        host, path = url_key(url)
        candidates = {*self._citing_index.get((host, path), ()),
                      *self._citing_index.get((host, "/" + path.rsplit("/", 1)[-1]), ())}
        return [self.guides[i] for i in sorted(candidates) if citing(self.guides[i], [url])]


def load_guides(config: Config, profiles: Mapping[str, Profile] | None = None) -> list[Guide]:
    """The `[[guides]]` entries, then every guide the `[[guide_sources]]` list now."""
    remote = fetch_guide_texts(config, [gc.path for gc in config.guides if _is_url(gc.path)])
    guides = []
    for gc in config.guides:
        if gc.path in remote:
            guides.append(parse_guide(remote[gc.path], slug=gc.slug, fmt=guide_format(gc.path), source=gc.path,
                                      base_url=gc.base_url, editors=gc.editors))
        else:
            guides.append(_load_local(config, gc))
    if config.guide_sources:
        from guidewatch.app.guide_sources import fetch_bodies, load_listed_guides

        profiles = profiles if profiles is not None else load_profiles(
            [config.profiles_dir] if config.profiles_dir else [])
        guides += load_listed_guides(config, profiles, partial(fetch_bodies, max_bytes=MAX_GUIDE_BYTES))
    return guides


def _load_local(config: Config, gc: GuideConfig) -> Guide:
    """A guide file; one that cannot be used is reported with the config line that names it."""
    try:
        return load_guide(config.guide_path(gc), slug=gc.slug, base_url=gc.base_url, editors=gc.editors)
    except GuideFileError as exc:
        raise GuideError(f"{gc.origin}: {exc}" if gc.origin else str(exc)) from None


def _is_url(path: str) -> bool:
    return path.startswith(("http://", "https://"))


def fetch_guide_texts(config: Config, urls: Sequence[str]) -> dict[str, str]:
    """Guides given by URL, fetched by the crawl child exactly as sources are: the same
    private-address guard and resolver, redirects only to the guide's own host, robots.txt,
    the per-request timeout and the whole-crawl limit. A second fetcher would be a second
    guard to keep in step, and the one that fell behind is the way round it."""
    if not urls:
        return {}
    from guidewatch.app.guide_sources import fetch_bodies

    for url in urls:
        guide_format(url)  # an unsupported format fails before anything is fetched
    texts: dict[str, str] = {}
    for url, body in fetch_bodies(config, urls, MAX_GUIDE_BYTES).items():
        if isinstance(body, str):
            raise GuideError(f"{url}: cannot fetch guide: {body}")
        texts[url] = body.decode("utf-8-sig", "replace")
    return texts


def open_workspace(config: Config, *, sync: bool = True) -> Workspace:
    profiles = load_profiles([config.profiles_dir] if config.profiles_dir else [])
    guides = load_guides(config, profiles)
    for sc in config.sources:  # a profile name no profile has stops every command, not one crawl
        resolve_profile(sc.url, profiles, sc)
    store = Store(config.store)
    remove_orphaned_temp_files(config.snapshots_dir, config.alerts_dir)  # left by a killed run
    ws = Workspace(config, store, guides, profiles)
    if sync:
        ws.guide_changes = _guide_changes(store, config, guides)
        store.guides.sync(guides, watched_sources(guides, config.sources, profiles))
        store.guide_events.add([(c.kind, c.slug, c.url) for c in ws.guide_changes])
        import_committed_baselines(store, config)
        retire_uncited(ws)
    return ws


def _guide_changes(store: Store, config: Config, guides: Sequence[Guide]) -> list[GuideChange]:
    """Guides a `[[guide_sources]]` listing added, and guides gone, since the last sync."""
    before = store.guide_events.stored()
    if before.keys() == {g.slug for g in guides}:  # the usual run: none added, none gone (and no import)
        return []
    from guidewatch.app.guide_sources import guide_changes

    listed = {g.slug for g in guides} - {gc.slug for gc in config.guides}
    return [c for c in guide_changes(before, guides) if c.kind == "gone" or c.slug in listed]


def retire_uncited(ws: Workspace) -> None:
    """Sources no guide cites any more (the link was changed or dropped): their open alerts
    close, recorded in the audit trail, and their files leave `snapshots/`. Idempotent, so a
    command killed half-way, or a crawl that wrote an old source's files meanwhile, is put
    right by the next command."""
    closure = uncited_closure()
    for source_id in ws.store.alerts.uncited_sources():
        ws.store.alerts.close(source_id, kinds=closure.kinds, status=closure.status, note=closure.note, by=AUTOMATIC)
    root = ws.config.snapshots_dir
    gone = [u for u in ws.store.sources.uncited_urls()
            if snapshot_path(root, u).exists() or snapshot_path(root, u, latest=True).exists()]
    if gone:
        from guidewatch.app.snapshot_files import sync_snapshot_files

        sync_snapshot_files(ws, urls=gone)


def watched_sources(guides: Sequence[Guide], configured: Sequence[SourceConfig],
                    profiles: Mapping[str, Profile]) -> dict[str, str]:
    """Every source to watch (each guide's external citations, then the `[[sources]]` entries)
    and the name of the profile `resolve_profile` reads it with, from the loaded profile set."""
    by_url: dict[str, SourceConfig] = {}
    for s in configured:
        by_url.setdefault(s.url, s)
    urls = dict.fromkeys([c.url for g in guides for c in g.external_citations] + list(by_url))
    return {url: resolve_profile(url, profiles, by_url.get(url)).name for url in urls}


def import_committed_baselines(store: Store, config: Config) -> list[str]:
    """A store without a source's history (a fresh CI runner) takes the reviewed version from
    the committed `snapshots/` file, so the gate compares against what editors reviewed."""
    imported: list[str] = []
    for src in store.sources.all(unversioned_only=True):  # not all 10,000 read at every start
        path = snapshot_path(config.snapshots_dir, src.url)
        if not path.exists():
            continue
        try:
            snap = parse_snapshot(path.read_text(encoding="utf-8"))
            meta = {k[5:]: v for k, v in snap.meta.items() if k.startswith("meta.")}
            fetched = _parse_time(snap.meta.get("fetched_at")) or utcnow()
            reviewed = _parse_time(snap.meta.get("reviewed_at")) or fetched
            if store.sources.import_baseline(src.url, text=snap.text, title=snap.meta.get("title", ""),
                                     profile=snap.meta.get("profile", src.profile), fetched_at=fetched, meta=meta,
                                     reviewed_by=snap.meta.get("reviewed_by") or "snapshot file",
                                     reviewed_at=reviewed):
                imported.append(src.url)
        except (OSError, ValueError) as exc:
            log.warning("%s: ignoring unreadable snapshot file: %s", path, exc)
    return imported


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)

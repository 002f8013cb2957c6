"""`guidewatch versions URL` and `guidewatch diff URL`: a source's recorded versions, and the
difference between any two, read back from the store and diffed by the crawl's own differ.

A version is named by its number in `versions` (1 is the first recorded), a content-hash
prefix (at least 4 characters), or `reviewed` / `current`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from guidewatch.alerts.digest import clean, display_ops, text_ops
from guidewatch.changes.diff import diff_pages
from guidewatch.exitcodes import UsageProblem
from guidewatch.model import Change
from guidewatch.store import SnapshotRecord, SourceState, Store

MIN_HASH_PREFIX = 4


@dataclass(frozen=True)
class Version:
    number: int  # 1 = the first recorded
    snapshot_id: int
    fetched_at: datetime
    content_hash: str
    kind: str  # baseline | changed | cosmetic only | metadata only
    detail: str  # "2 changes (1 substantive)", the metadata keys that changed, ...
    reviewed: bool
    current: bool


@dataclass(frozen=True)
class History:
    source: SourceState
    versions: tuple[Version, ...]
    snapshots: tuple[SnapshotRecord, ...]


@dataclass(frozen=True)
class VersionDiff:
    url: str
    old: Version
    new: Version
    changes: tuple[Change, ...]
    metadata: dict[str, tuple[str | None, str | None]]  # key -> (old, new), only keys that differ


def history(store: Store, url: str) -> History:
    """Every recorded version of a watched source, each with what kind of change it was."""
    src = store.sources.get(url)
    if src is None:
        raise UsageProblem(f"{url}: not a watched source (see `guidewatch guides`)")
    snaps = store.sources.versions(src.id)
    versions = []
    for n, snap in enumerate(snaps):
        kind, detail = _kind(snaps[n - 1] if n else None, snap)
        versions.append(Version(n + 1, snap.id, snap.fetched_at, snap.content_hash, kind, detail,
                                snap.id == src.reviewed_snapshot_id, snap.id == src.current_snapshot_id))
    return History(src, tuple(versions), tuple(snaps))


def _kind(prev: SnapshotRecord | None, snap: SnapshotRecord) -> tuple[str, str]:
    if prev is None:
        return "baseline", "first version recorded"
    meta = _meta_changes(prev.meta, snap.meta)
    if prev.content_hash == snap.content_hash:
        return "metadata only", ", ".join(sorted(meta)) or "same text"
    changes = diff_pages(prev.page(), snap.page())
    real = [c for c in changes if c.severity != "cosmetic"]
    if not real:
        return "cosmetic only", f"{len(changes)} cosmetic change(s)"
    substantive = sum(c.severity == "substantive" for c in real)
    return "changed", f"{len(real)} change(s) ({substantive} substantive)"


def _meta_changes(old: dict[str, str], new: dict[str, str]) -> dict[str, tuple[str | None, str | None]]:
    return {k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)}


def pick(h: History, ref: str | None, *, default: str) -> Version:
    """The version `ref` names (a number, a hash prefix, `reviewed`, `current`); None: `default`."""
    if not h.versions:
        raise UsageProblem(f"{h.source.url}: no version recorded yet (run `guidewatch crawl`)")
    ref = (ref or default).strip().lower()
    if ref in ("reviewed", "current"):
        found = [v for v in h.versions if (v.reviewed if ref == "reviewed" else v.current)]
        return found[0] if found else h.versions[0 if ref == "reviewed" else -1]
    if ref.isdigit() and len(ref) < MIN_HASH_PREFIX:
        if 1 <= int(ref) <= len(h.versions):
            return h.versions[int(ref) - 1]
        raise UsageProblem(f"version {ref}: {h.source.url} has versions 1 to {len(h.versions)}")
    found = [v for v in h.versions if v.content_hash.startswith(ref)] if len(ref) >= MIN_HASH_PREFIX else []
    if len({v.content_hash for v in found}) == 1:
        return found[-1]  # the same text recorded twice (a metadata-only version): the later one
    what = "matches several versions" if found else "is not a version number, hash prefix, reviewed or current"
    raise UsageProblem(f"version {ref!r} {what} (see `guidewatch versions {h.source.url}`)")


def diff_versions(store: Store, url: str, *, old: str | None = None, new: str | None = None) -> VersionDiff:
    """The changes from one recorded version to another (defaults: reviewed -> current)."""
    h = history(store, url)
    a, b = pick(h, old, default="reviewed"), pick(h, new, default="current")
    snaps = {s.id: s for s in h.snapshots}
    sa, sb = snaps[a.snapshot_id], snaps[b.snapshot_id]
    changes = diff_pages(sa.page(), sb.page())
    return VersionDiff(h.source.url, a, b, tuple(changes), _meta_changes(sa.meta, sb.meta))


# --- showing them ---------------------------------------------------------------------------


def _label(v: Version) -> str:
    return f"version {v.number} ({v.content_hash[:12]}, {v.fetched_at:%Y-%m-%d %H:%M})"


def versions_text(h: History) -> list[str]:
    if not h.versions:
        return [f"{h.source.url}: no version recorded yet (run `guidewatch crawl`)"]
    lines = [f"{h.source.url}: {len(h.versions)} version(s)"]
    for v in h.versions:
        marks = ", ".join(m for m, on in (("reviewed", v.reviewed), ("current", v.current)) if on)
        lines.append(f"  {v.number:>3}  {v.fetched_at:%Y-%m-%d %H:%M}  {v.content_hash[:12]}  {v.kind}: {v.detail}"
                     + (f"  [{marks}]" if marks else ""))
    return lines


def version_json(v: Version) -> dict[str, Any]:
    return {"version": v.number, "fetched_at": v.fetched_at.isoformat(timespec="seconds"),
            "content_hash": v.content_hash, "kind": v.kind, "detail": v.detail, "reviewed": v.reviewed,
            "current": v.current}


def versions_json(h: History) -> dict[str, Any]:
    return {"url": h.source.url, "versions": [version_json(v) for v in h.versions]}


def diff_text(d: VersionDiff) -> list[str]:
    """The digest's text rendering of each change: where, how serious, why, and the word diff."""
    lines = [f"{d.url}: {_label(d.old)} -> {_label(d.new)}"]
    if not d.changes and not d.metadata:
        return [*lines, "  no difference"]
    lines += _changes_text(d.changes) if d.changes else ["  same text"]
    if d.metadata:
        lines.append("  page dates and metadata:")
        lines += [f"    {k}: {clean(a or '-')} -> {clean(b or '-')}" for k, (a, b) in d.metadata.items()]
    return lines


def _changes_text(changes: Sequence[Change]) -> list[str]:
    lines: list[str] = []
    for c in changes:
        lines += [f"  {c.id} {c.severity.upper()} {c.kind}: {clean(' > '.join(c.source_section)) or '(whole page)'}",
                  f"     why: {clean(c.reason)}",
                  f"     diff: {text_ops(display_ops(c))}"]
    return lines


def diff_json(d: VersionDiff) -> dict[str, Any]:
    return {"url": d.url, "from": version_json(d.old), "to": version_json(d.new),
            "changes": [{"id": c.id, "kind": c.kind, "severity": c.severity, "reason": c.reason,
                         "source_section": list(c.source_section), "old": c.old, "new": c.new,
                         "ops": [{"op": o.op, "text": o.text} for o in c.ops]} for c in d.changes],
            "metadata": {k: {"from": a, "to": b} for k, (a, b) in d.metadata.items()}}

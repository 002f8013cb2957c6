"""The snapshot files (`snapshots/`) kept in line with the store: rewritten from it, checked
against it by content hash, and written for a first version. Every write to them from a crawl
goes through here, under the directory's lock."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from guidewatch.pages.snapshots import files_lock, remove_snapshots, snapshot_path, write_snapshots
from guidewatch.store import ReviewRecord, SnapshotRecord, SourceState

if TYPE_CHECKING:
    from guidewatch.app.workspace import Workspace


def sync_snapshot_files(ws: Workspace, root: Path | None = None, *, urls: Sequence[str] | None = None) -> None:
    """Rewrite every (or these) source's snapshot files from the store (after accept, or to
    repair); the files of a source no guide cites any more are removed.

    The store is read under the snapshot directory's lock, so when a crawl and an `accept`
    write the same source's files at once, the last writer has the newest state.
    """
    root = root or ws.config.snapshots_dir
    with files_lock(root):
        # Look the given URLs up one by one: scanning every source per crawled page is O(N^2).
        chosen = ws.store.sources.all(active_only=False) if urls is None else [
            s for s in (ws.store.sources.get(u) for u in urls) if s is not None and s.url in urls]
        for src in chosen:
            if not src.active:  # no guide cites it any more: its files go
                remove_snapshots(root, src.url)
                continue
            reviewed = ws.store.sources.snapshot(src.reviewed_snapshot_id)
            current = ws.store.sources.snapshot(src.current_snapshot_id)
            last = ws.store.reviews.last(src.id)
            write_snapshots(root, src.url, reviewed, current,
                            reviewed_by=last.reviewed_by if last else None,
                            reviewed_at=last.reviewed_at if last else None)


def write_baseline_files(ws: Workspace, url: str, snapshot: SnapshotRecord | None, review: ReviewRecord) -> None:
    """A first version's files, from what was just stored: it is both the reviewed and current one."""
    with files_lock(ws.config.snapshots_dir):
        write_snapshots(ws.config.snapshots_dir, url, snapshot, snapshot,
                        reviewed_by=review.reviewed_by, reviewed_at=review.reviewed_at)


def files_in_line(ws: Workspace, state: SourceState, hashes: dict[int, str] | None = None) -> bool:
    """Whether the snapshot files already show the stored versions (checked by content hash
    in the file headers), so a 304 need not re-render them: keeps a 304 cheap at scale.
    `hashes`: snapshot content hashes already loaded (one query for a whole crawl)."""
    if hashes is None:
        hashes = ws.store.sources.snapshot_hashes([state.reviewed_snapshot_id, state.current_snapshot_id])
    reviewed, current = hashes.get(state.reviewed_snapshot_id), hashes.get(state.current_snapshot_id)  # type: ignore[arg-type]
    root = ws.config.snapshots_dir
    want = {snapshot_path(root, state.url): reviewed,
            snapshot_path(root, state.url, latest=True): current if current != reviewed else None}
    for path, content_hash in want.items():
        try:  # bytes: decoding the text buffer a first line read fills (8 KB) was most of a quiet 304's cost
            with path.open("rb") as fh:
                head = b"".join(fh.readline() for _ in range(8)).replace(b"\r\n", b"\n")
        except OSError:
            head = None
        if (head is None) != (content_hash is None) or (head is not None and
                                                        f"\ncontent_hash: {content_hash}\n".encode() not in head):
            return False
    return True

"""Readable snapshot files under `snapshots/`, one per source, meant to be committed.

`<host>/<path>.txt` holds the version an editor last reviewed (the baseline); while the
live page differs from it, `<host>/<path>.latest.txt` holds the newest version, so a pull
request that accepts a change shows the source diff beside the guide edit. Each file
starts with its metadata, then a `---` line, then the normalised text.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

from guidewatch.model import SnapshotRecord

_UNSAFE = re.compile(r"[^\w.-]")


def snapshot_path(root: Path, url: str, *, latest: bool = False) -> Path:
    parsed = urlparse(url)
    host = _UNSAFE.sub("_", parsed.netloc.lower()) or "local"
    parts = [_UNSAFE.sub("_", p) for p in parsed.path.split("/") if p not in ("", ".", "..")]
    name = "/".join(parts) or "index"
    if parsed.query:
        name += "_" + hashlib.sha1(parsed.query.encode()).hexdigest()[:8]
    # one join, not two: every quiet 304 asks for both of its paths (`files_in_line`)
    return root / f"{host}/{name}{'.latest.txt' if latest else '.txt'}"


@dataclass(frozen=True)
class SnapshotFile:
    url: str
    meta: dict[str, str]
    text: str


def render(snap: SnapshotRecord, *, source_url: str, status: str, reviewed_by: str | None = None,
           reviewed_at: datetime | None = None) -> str:
    head = {
        "url": source_url,
        "fetched_url": snap.url,
        "title": snap.title,
        "profile": snap.profile,
        "fetched_at": snap.fetched_at.isoformat(timespec="seconds"),
        "content_hash": snap.content_hash,
        "status": status,
    }
    if reviewed_by:
        head["reviewed_by"] = reviewed_by
    if reviewed_at:
        head["reviewed_at"] = reviewed_at.isoformat(timespec="seconds")
    for key in sorted(snap.meta):
        head[f"meta.{key}"] = snap.meta[key]
    lines = [f"{k}: {' '.join(str(v).split())}" for k, v in head.items()]
    return "\n".join(lines) + "\n---\n" + snap.text


def parse(text: str) -> SnapshotFile:
    head, sep, body = text.partition("\n---\n")
    if not sep:
        raise ValueError("not a guidewatch snapshot file (no '---' line after the metadata)")
    meta: dict[str, str] = {}
    for line in head.splitlines():
        key, _, value = line.partition(": ")
        meta[key] = value
    return SnapshotFile(meta.get("url", ""), meta, body)


def atomic_write(path: Path, text: str) -> None:
    """Write via a temp file and rename, so a crash never leaves half a file.

    An unchanged file is left alone; the temp file's name carries our pid, so one left by
    a killed process can be recognised and removed (`remove_orphaned_temp_files`).
    """
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{os.getpid()}-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: Temp files of `atomic_write` (snapshots) and of digest files (alerts/): the writer's pid is group 1.
_TEMP_NAMES = (re.compile(r"^\.tmp-(\d+)-"), re.compile(r"^\..+\.(\d+)\.[0-9a-f]+\.tmp$"))


def remove_orphaned_temp_files(*roots: Path) -> list[Path]:
    """Delete temp files whose writer died (SIGKILL, power cut) before renaming them.

    A file whose writer is still alive, even another process, is left alone.
    """
    from guidewatch.procs import pid_alive

    removed: list[Path] = []
    for root in roots:
        if not root.is_dir():
            continue
        for path in root.rglob(".*tmp*"):
            pid = next((int(m.group(1)) for rx in _TEMP_NAMES if (m := rx.match(path.name))), None)
            if pid is None or pid == os.getpid() or pid_alive(pid) or not path.is_file():
                continue
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextmanager
def files_lock(root: Path) -> Iterator[None]:
    """Exclusive lock for "read the store, write the files" (flock on the directory itself: no
    lock file appears beside the committed snapshots). A no-op where flock does not exist."""
    root.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    fd = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def write_snapshots(root: Path, source_url: str, reviewed: SnapshotRecord | None, current: SnapshotRecord | None,
                    *, reviewed_by: str | None = None, reviewed_at: datetime | None = None) -> list[Path]:
    """Bring the source's files in line with the store: baseline always, latest while it differs."""
    written: list[Path] = []
    base = snapshot_path(root, source_url)
    latest = snapshot_path(root, source_url, latest=True)
    if reviewed is not None:
        atomic_write(base, render(reviewed, source_url=source_url, status="reviewed", reviewed_by=reviewed_by,
                                  reviewed_at=reviewed_at))
        written.append(base)
    if current is not None and (reviewed is None or current.content_hash != reviewed.content_hash):
        atomic_write(latest, render(current, source_url=source_url, status="awaiting review"))
        written.append(latest)
    else:
        latest.unlink(missing_ok=True)
    return written


def remove_snapshots(root: Path, source_url: str) -> list[Path]:
    """Delete a source's files (no guide cites it any more), and the directories left empty."""
    removed = []
    for path in (snapshot_path(root, source_url), snapshot_path(root, source_url, latest=True)):
        if path.exists():
            path.unlink(missing_ok=True)
            removed.append(path)
    parent = snapshot_path(root, source_url).parent
    while removed and parent != root and root in parent.parents:
        try:
            parent.rmdir()  # only when empty
        except OSError:
            break
        parent = parent.parent
    return removed

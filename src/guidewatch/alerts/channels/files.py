"""Digest files in ``alerts/``: every format under one name no other digest holds."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from guidewatch.alerts.digest import FORMATS, Digest, Format, digest_filename, render


def _write_new(path: Path, data: bytes) -> Literal["written", "same", "taken"]:
    """Publish `data` at `path` only if no other file has that name, by hard-linking a
    complete temp file: readers never see half a digest, and no writer replaces another's
    file. "same": the name already holds these bytes; "taken": it holds another file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")  # pid: see snapshots
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return "same" if _same_bytes(path, data) else "taken"
        except OSError:  # a file system without hard links: reserve the name, then replace it
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                return "same" if _same_bytes(path, data) else "taken"
            os.replace(tmp, path)
        return "written"
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except OSError:
        return False


def write_files(digest: Digest, directory: Path, formats: Sequence[Format] = FORMATS) -> list[Path]:
    """Write the digest in each format under one name that no other digest holds: a second
    digest in the same second gets `-2`, `-3`, ... (the same digest again keeps its name).
    Everything is rendered before any file is touched."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown digest format(s) {', '.join(map(str, unknown))}; use {', '.join(FORMATS)}")
    rendered = [(f, render(digest, f).encode("utf-8")) for f in dict.fromkeys(formats)]
    directory.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        paths = [directory / digest_filename(digest, fmt, n) for fmt, _ in rendered]
        created: list[Path] = []
        for path, (_, data) in zip(paths, rendered, strict=True):
            result = _write_new(path, data)
            if result == "taken":
                break
            if result == "written":
                created.append(path)
        else:
            return paths
        for path in created:  # the name belongs to another digest: give back what this attempt took
            path.unlink(missing_ok=True)
        n += 1

"""Processes and their leases: who holds a claim or a lock, and when it may be taken over.

Shared by the store (delivery claims, named locks) and `pages.snapshots` (orphaned temp
files); the decisions are plain functions so they can be tested without a database.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host; a zombie counts as dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def claimer_id() -> str:
    """Who holds a delivery claim: this process, on this host."""
    return f"deliver:{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Lease:
    """A claim or lock as stored: its holder, where it runs, and when it last said it was alive."""

    holder: str
    host: str
    pid: int
    heartbeat_at: datetime


def lease_gone(lease: Lease, *, expired: datetime, host: str, alive: Callable[[int], bool] = pid_alive) -> bool:
    """A lease ends when its process is gone from this host (killed), or it was not renewed since `expired`."""
    return (lease.host == host and not alive(lease.pid)) or lease.heartbeat_at <= expired


def claim_abandoned(lease: Lease | None, *, claimed_at: datetime, expired: datetime, host: str,
                    alive: Callable[[int], bool] = pid_alive) -> bool:
    """Whether a claimed delivery may be taken again; a claim without a lease row (an older
    claimer) counts from when it was claimed."""
    if lease is None:
        return claimed_at <= expired
    return lease_gone(lease, expired=expired, host=host, alive=alive)


def lock_takeable(lease: Lease, *, holder: str, now: datetime, stale_after: timedelta, host: str,
                  alive: Callable[[int], bool] = pid_alive) -> bool:
    """Whether `holder` may take a held lock: it is its own, or its holder stopped beating or died."""
    return lease.holder == holder or lease_gone(lease, expired=now - stale_after, host=host, alive=alive)

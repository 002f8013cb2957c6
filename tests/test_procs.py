"""Processes and leases (`procs`): a real process's liveness, and when a claim or lock is taken over."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from guidewatch.procs import Lease, claim_abandoned, claimer_id, lease_gone, lock_takeable, pid_alive

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HERE = "this-host"


def alive(pid: int) -> bool:
    return pid != 666


def test_pid_alive_follows_a_real_process_to_its_end() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert pid_alive(proc.pid)
        proc.kill()
        for _ in range(100):  # killed but not yet reaped: a zombie counts as dead
            if not pid_alive(proc.pid):
                break
            time.sleep(0.02)
        assert not pid_alive(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert not pid_alive(proc.pid)  # reaped: no such process
    assert pid_alive(os.getpid())


def test_claimer_names_this_process_on_this_host() -> None:
    assert claimer_id() == f"deliver:{socket.gethostname()}:{os.getpid()}"


def test_a_lease_ends_when_not_renewed_or_its_process_died_here() -> None:
    fresh = Lease("w1", HERE, 42, NOW)
    assert not lease_gone(fresh, expired=NOW - timedelta(minutes=10), host=HERE, alive=alive)
    assert lease_gone(fresh, expired=NOW, host=HERE, alive=alive)  # not renewed since `expired`
    dead_here = Lease("w1", HERE, 666, NOW)
    assert lease_gone(dead_here, expired=NOW - timedelta(minutes=10), host=HERE, alive=alive)
    # pid 666 on another host says nothing about that host's processes: only the lease counts
    dead_there = Lease("w1", "other-host", 666, NOW)
    assert not lease_gone(dead_there, expired=NOW - timedelta(minutes=10), host=HERE, alive=alive)


def test_a_claim_without_a_lease_counts_from_when_it_was_claimed() -> None:
    expired = NOW - timedelta(minutes=10)
    assert claim_abandoned(None, claimed_at=expired, expired=expired, host=HERE, alive=alive)
    assert not claim_abandoned(None, claimed_at=NOW, expired=expired, host=HERE, alive=alive)
    assert claim_abandoned(Lease("w", HERE, 666, NOW), claimed_at=NOW, expired=expired, host=HERE, alive=alive)


def test_a_lock_is_taken_over_only_from_its_own_holder_a_stale_one_or_a_dead_one() -> None:
    stale_after = timedelta(minutes=2)
    held = Lease("scheduler-a", HERE, 42, NOW - timedelta(seconds=30))
    assert not lock_takeable(held, holder="scheduler-b", now=NOW, stale_after=stale_after, host=HERE, alive=alive)
    assert lock_takeable(held, holder="scheduler-a", now=NOW, stale_after=stale_after, host=HERE, alive=alive)
    stale = Lease("scheduler-a", "other-host", 42, NOW - timedelta(minutes=3))
    assert lock_takeable(stale, holder="scheduler-b", now=NOW, stale_after=stale_after, host=HERE, alive=alive)
    dead = Lease("scheduler-a", HERE, 666, NOW)
    assert lock_takeable(dead, holder="scheduler-b", now=NOW, stale_after=stale_after, host=HERE, alive=alive)

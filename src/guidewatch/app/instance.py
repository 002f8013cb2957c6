"""One holder at a time: named locks in the store, kept alive by a heartbeat thread.

Used by everything that must not run twice over one store: the scheduler (`daemon`, `run`),
crawls (`crawl`, `check`) and distributed pushers (`holder_id` names their claims). A lock
whose holder stopped beating for `STALE_AFTER` is taken over, so a crashed holder never
blocks the next one for long.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from guidewatch.store import Store

log = logging.getLogger("guidewatch.daemon")  # the daemon's log events (lock-lost, ...) keep their logger

HEARTBEAT_SECONDS = 15.0
STALE_AFTER = timedelta(seconds=60)

def holder_id(role: str) -> str:
    return f"{role}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@contextmanager
def single_instance(store: Store, name: str, *, role: str | None = None,
                    on_lost: Callable[[], None] | None = None) -> Iterator[str]:
    """Hold the named store lock for the block, with a heartbeat thread; raise LockHeld if taken.

    A heartbeat that finds the row no longer ours (taken over after we stalled for longer
    than STALE_AFTER) calls `on_lost`, so the holder can stop instead of running twice.
    """
    holder = holder_id(role or name)
    store.locks.acquire(name, holder, stale_after=STALE_AFTER)
    stop = threading.Event()
    thread = threading.Thread(target=_heartbeat, args=(store, name, holder, stop, on_lost),
                              name=f"lock-{name}", daemon=True)
    thread.start()
    try:
        yield holder
    finally:
        stop.set()
        thread.join(timeout=5)
        try:
            store.locks.release(name, holder)
        except Exception:
            log.warning("could not release the %s lock; it expires in %ss", name, STALE_AFTER.seconds,
                        extra={"event": "lock-release-failed"})


def _heartbeat(store: Store, name: str, holder: str, stop: threading.Event,
               on_lost: Callable[[], None] | None) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        try:
            ours = store.locks.heartbeat(name, holder)
        except Exception as exc:  # a missed beat is harmless; the next one retries
            log.warning("lock heartbeat failed: %s", exc, extra={"event": "heartbeat-failed"})
            continue
        if not ours:
            log.error("the %s lock was taken over by another process", name, extra={"event": "lock-lost"})
            if on_lost:
                on_lost()
            return

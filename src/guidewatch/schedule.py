"""Running on a schedule: `guidewatch run` for cron, `guidewatch daemon` with APScheduler.

Only one scheduler (a daemon or a `run`) works on a store at a time: a lock row in the
store, refreshed by a heartbeat and taken over when its holder has died. Crawls take a
second, shorter lock so a manual `guidewatch crawl` and a scheduled one never overlap.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from .config import Config, parse_duration
from .store import LockHeld, Store

log = logging.getLogger("guidewatch.daemon")

HEARTBEAT_SECONDS = 15.0
STALE_AFTER = timedelta(seconds=60)


def holder_id(role: str) -> str:
    return f"{role}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@contextmanager
def single_instance(store: Store, name: str, *, role: str | None = None) -> Iterator[str]:
    """Hold the named store lock for the block, with a heartbeat thread; raise LockHeld if taken."""
    holder = holder_id(role or name)
    store.acquire_lock(name, holder, stale_after=STALE_AFTER)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                store.heartbeat(name, holder)
            except Exception:  # a missed beat is harmless; the next one retries
                log.debug("heartbeat failed", exc_info=True)

    thread = threading.Thread(target=beat, name=f"lock-{name}", daemon=True)
    thread.start()
    try:
        yield holder
    finally:
        stop.set()
        thread.join(timeout=5)
        try:
            store.release_lock(name, holder)
        except Exception:
            log.warning("could not release the %s lock; it expires in %ss", name, STALE_AFTER.seconds)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, so daemon logs can be searched and shipped."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("event", "job", "summary", "error", "alerts", "sent", "failed", "files"):
            if hasattr(record, key):
                data[key] = getattr(record, key)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(data, default=str)


def crawl_job(config: Config) -> str:
    """Crawl due sources under the crawl lock; another crawl in progress means skip, not queue."""
    from .pipeline import crawl, open_workspace

    ws = open_workspace(config)
    try:
        try:
            with single_instance(ws.store, "crawl"):
                due = ws.store.due_sources()
                if not due:
                    return "no sources due"
                summary = crawl(ws, due)
                return summary.headline()
        except LockHeld as exc:
            return f"skipped: {exc}"
    finally:
        ws.close()


def digest_job(config: Config) -> str:
    from .alerts import run_digest
    from .pipeline import open_workspace

    ws = open_workspace(config)
    try:
        run = run_digest(ws.store, config, ws.guides, send=True)
        return (f"{len(run.digest.items)} item(s); files: {', '.join(p.name for p in run.files)}; "
                f"sent {len(run.sent)}, failed {len(run.failed)}")
    finally:
        ws.close()


def run_cycle(config: Config) -> str:
    """One full cycle for cron: crawl due sources, then write and deliver the digest."""
    from .store import Store as _Store

    store = _Store(config.store)
    try:
        with single_instance(store, "scheduler", role="run"):
            crawled = crawl_job(config)
            digested = digest_job(config)
    finally:
        store.close()
    return f"crawl: {crawled}\ndigest: {digested}"


def _trigger(expr: str, timezone: str) -> Any:
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if expr.startswith("every "):
        return IntervalTrigger(seconds=parse_duration(expr[6:]).total_seconds(), timezone=timezone)
    return CronTrigger.from_crontab(expr, timezone=timezone)


def crawl_schedules(config: Config) -> list[str]:
    """Every distinct crawl schedule: the default, per profile and per source.

    Each firing crawls whatever is due, and each source's due time follows its own schedule.
    """
    exprs = [config.schedule.crawl, *config.schedule.profiles.values()]
    exprs += [s.schedule for s in config.sources if s.schedule]
    return list(dict.fromkeys(exprs))


def run_daemon(config: Config, *, once: bool = False) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit code."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("guidewatch")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False

    store = Store(config.store)
    try:
        with single_instance(store, "scheduler", role="daemon"):
            if once:
                for name, job in (("crawl", crawl_job), ("digest", digest_job)):
                    _run_logged(name, job, config)
                return 0
            scheduler = BlockingScheduler(timezone=config.schedule.timezone)
            defaults = {"coalesce": True, "max_instances": 1, "misfire_grace_time": config.schedule.misfire_grace}
            for i, expr in enumerate(crawl_schedules(config)):
                scheduler.add_job(_run_logged, _trigger(expr, config.schedule.timezone), args=("crawl", crawl_job,
                                  config), id=f"crawl-{i}", name=f"crawl ({expr})", **defaults)
            scheduler.add_job(_run_logged, _trigger(config.schedule.digest, config.schedule.timezone),
                              args=("digest", digest_job, config), id="digest", name="digest", **defaults)

            def stop(signum: int, _frame: FrameType | None) -> None:
                log.info("stopping after the running job", extra={"event": "stopping",
                                                                   "job": signal.Signals(signum).name})
                threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True).start()

            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
            log.info("daemon started", extra={"event": "started",
                                              "job": [j.name for j in scheduler.get_jobs()]})
            scheduler.start()
            log.info("daemon stopped", extra={"event": "stopped"})
            return 0
    except LockHeld as exc:
        log.error("another scheduler holds this store", extra={"event": "lock-held", "error": str(exc)})
        raise
    finally:
        store.close()


def _run_logged(name: str, job: Any, config: Config) -> None:
    """Run a job; a failure is logged and the daemon carries on to the next firing."""
    log.info("%s started", name, extra={"event": "job-start", "job": name})
    try:
        summary = job(config)
    except Exception as exc:
        log.exception("%s failed", name, extra={"event": "job-failed", "job": name, "error": str(exc)})
        return
    log.info("%s finished", name, extra={"event": "job-done", "job": name, "summary": summary})

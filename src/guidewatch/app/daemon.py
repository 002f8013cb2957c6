"""Running on a schedule: `guidewatch run` for cron, `guidewatch daemon` with APScheduler 3.

Only one scheduler (a daemon or a `run`) works on a store at a time: a lock row in the
store, refreshed by a heartbeat and taken over when its holder has died. Crawls take a
second lock so a manual `guidewatch crawl` and a scheduled one never overlap.

Stopping: SIGTERM/SIGINT only set a flag (a signal handler must not take locks or log).
The scheduler starts nothing new, a running crawl stops after the source it is recording
(each source is one store transaction plus atomic file renames, so nothing is left
half-written), sources not reached stay due, and the lock is released before exit.
"""

from __future__ import annotations

import functools
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Any

from guidewatch import exitcodes as ec
from guidewatch.app.instance import single_instance
from guidewatch.config import Config, parse_duration
from guidewatch.store import LockHeld, SourceState, Store, utcnow

if TYPE_CHECKING:
    from guidewatch.app.workspace import Workspace

log = logging.getLogger("guidewatch.daemon")

SCHEDULER_LOCK = "scheduler"
CRAWL_LOCK = "crawl"
#: `run` (cron) also crawls sources due this soon: a source due at 07:07:30 is then crawled
#: by the 07:07 run, not an hour late because the run started a few seconds early.
RUN_DUE_SLACK = timedelta(minutes=2)
#: How often the daemon's main thread looks at the stop flag.
POLL_SECONDS = 0.2


class JobFailed(Exception):
    """A scheduled job failed unexpectedly (a bug): reported as an internal error, exit 70."""

    exit_code = ec.INTERNAL


class CrawlStopped(Exception):
    """Raised between two sources to end a crawl early when a stop was requested."""


# --- stopping -----------------------------------------------------------------------------


@dataclass
class Stopper:
    """A stop request shared by the signal handlers, the lock heartbeat and the jobs.

    Plain attributes, no locks: a signal handler that took a lock the interrupted main
    thread already held would deadlock.
    """

    reason: str | None = None
    exit_code: int = 0

    @property
    def stopping(self) -> bool:
        return self.reason is not None

    def request(self, reason: str, exit_code: int = 0) -> None:
        if self.reason is None:
            self.exit_code = exit_code
            self.reason = reason


@contextmanager
def stop_on_signals(stopper: Stopper) -> Iterator[None]:
    """SIGTERM/SIGINT ask for a clean stop (only possible from the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        stopper.request(f"received {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# --- structured logs ----------------------------------------------------------------------

_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line, so daemon logs can be searched and shipped."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "event": getattr(record, "event", "log"),
            "msg": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS and k not in data})
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(data, default=str)


@contextmanager
def json_logging(level: int = logging.INFO) -> Iterator[None]:
    """JSON lines on stderr for guidewatch (and APScheduler's warnings); restored afterwards."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    saved = []
    for name, lvl in (("guidewatch", level), ("apscheduler", logging.WARNING)):
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.level, logger.propagate))
        logger.handlers[:] = [handler]
        logger.setLevel(lvl)
        logger.propagate = False
    try:
        yield
    finally:
        for logger, handlers, lvl, propagate in saved:
            logger.handlers[:] = handlers
            logger.setLevel(lvl)
            logger.propagate = propagate


# --- jobs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    """What a job did, and its outcome in the exit-code table (3: some sources failed, ...)."""

    summary: str
    code: int = ec.OK


def crawl_job(config: Config, stopper: Stopper | None = None, schedule: str | None = None) -> Done:
    """Crawl under the crawl lock; another crawl in progress means skip, not queue.

    `schedule` is the daemon job's expression: its sources are crawled at every firing,
    plus any source that is due. Without it (cron `run`), sources due now or very soon.
    """
    from guidewatch.app.crawl import crawl
    from guidewatch.app.workspace import open_workspace

    ws = open_workspace(config)
    try:
        try:
            with single_instance(ws.store, CRAWL_LOCK):
                chosen = sources_to_crawl(ws, schedule)
                if not chosen:
                    return Done("no sources due")
                done: list[str] = []

                def progress(_outcome: Any, verdict: str) -> None:
                    done.append(verdict)
                    if stopper is not None and stopper.stopping and len(done) < len(chosen):
                        raise CrawlStopped

                try:
                    summary = crawl(ws, chosen, progress=progress)
                except CrawlStopped:
                    return Done(f"stopped after {len(done)} of {len(chosen)} source(s); the rest stay due")
                return Done(summary.headline(), ec.INCOMPLETE if summary.counts["failed"] else ec.OK)
        except LockHeld as exc:
            return Done(f"skipped: {exc}")
    finally:
        ws.close()


def sources_to_crawl(ws: Workspace, schedule: str | None, now: datetime | None = None) -> list[SourceState]:
    """The sources one crawl job takes, in due order."""
    from guidewatch.app.schedule_policy import source_schedule

    now = now or utcnow()
    if schedule is None:
        return ws.store.sources.due(now + RUN_DUE_SLACK)
    chosen = {s.url: s for s in ws.store.sources.due(now)}
    for src in ws.store.sources.all():
        if src.url not in chosen and source_schedule(ws.config, src, ws.profile(src)) == schedule:
            chosen[src.url] = src
    return list(chosen.values())


def digest_job(config: Config, stopper: Stopper | None = None) -> Done:
    """Write the digest of open alerts into alerts/ and deliver it; with nothing open, write
    no file (a daily empty digest is clutter) but still retry deliveries that are owed."""
    from guidewatch.app.digest import deliver_pending, run_digest
    from guidewatch.app.workspace import open_workspace

    ws = open_workspace(config)
    try:
        send = not (stopper is not None and stopper.stopping)
        later = "delivery left for the next run (stopping)"
        if not ws.store.alerts.find(status="open"):
            if not send:
                return Done(f"no open alerts; {later}")
            report = deliver_pending(ws.store, config)
            return Done(f"no open alerts, no digest written; sent {len(report.sent)}, failed {len(report.failed)}",
                        ec.INCOMPLETE if report.failed or report.dead else ec.OK)
        run = run_digest(ws.store, config, ws.guides, send=send)
        files = ", ".join(p.name for p in run.files)
        sent = f"sent {len(run.sent)}, failed {len(run.failed)}" if send else later
        failed = run.failed or run.dead or run.undelivered
        return Done(f"{len(run.digest.items)} item(s); files: {files}; {sent}", ec.INCOMPLETE if failed else ec.OK)
    finally:
        ws.close()


@dataclass
class JobResult:
    name: str
    summary: str | None = None
    error: BaseException | None = None
    seconds: float = 0.0
    code: int = ec.OK  # the job's outcome in the exit-code table


def run_job(name: str, job: Callable[..., Done], config: Config, stopper: Stopper,
            results: list[JobResult] | None = None) -> JobResult:
    """Run one job, logged with its outcome in the terms of the exit-code table (`exit_code`,
    `outcome`); a failure is logged and returned, never raised (the daemon carries on)."""
    result = JobResult(name)
    if stopper.stopping:  # queued behind the running job when the stop came
        result.summary = f"skipped: stopping ({stopper.reason})"
        log.info("%s skipped: stopping", name, extra={"event": "job-skipped", "job": name})
    else:
        log.info("%s started", name, extra={"event": "job-start", "job": name})
        started = time.monotonic()
        try:
            done = job(config, stopper)
            result.summary, result.code = done.summary, done.code
        except Exception as exc:
            result.error = exc
        result.seconds = round(time.monotonic() - started, 3)
        if result.error is not None:
            exc = result.error
            result.code = ec.classify(exc, store_url=config.store).code
            log.error("%s failed: %s", name, exc, exc_info=(type(exc), exc, exc.__traceback__),
                      extra={"event": "job-failed", "job": name, "error": f"{type(exc).__name__}: {exc}",
                             "seconds": result.seconds, "exit_code": result.code,
                             "outcome": ec.OUTCOMES[result.code]})
        else:
            log.info("%s finished", name, extra={"event": "job-done", "job": name, "summary": result.summary,
                                                 "seconds": result.seconds, "exit_code": result.code,
                                                 "outcome": ec.OUTCOMES[result.code]})
    if results is not None:
        results.append(result)
    return result


# --- cron: one cycle ----------------------------------------------------------------------

def run_cycle(config: Config, *, role: str = "run") -> tuple[str, int]:
    """One full cycle for cron: crawl due sources, then write and deliver the digest.

    Returns the jobs' summaries and the exit code (3 when a job completed with failures).
    The digest runs even when the crawl failed (earlier alerts still get delivered); then
    the first failure is raised, so cron sees its exit code and a one-line reason.
    """
    stopper = Stopper()
    results: list[JobResult] = []
    with json_logging(), stop_on_signals(stopper):
        store = Store(config.store)
        try:
            lost = functools.partial(stopper.request, "lost the scheduler lock", 2)
            with single_instance(store, SCHEDULER_LOCK, role=role, on_lost=lost):
                log.info("cycle started", extra={"event": "cycle-start", "role": role})
                run_job("crawl", crawl_job, config, stopper, results)
                run_job("digest", digest_job, config, stopper, results)
                log.info("cycle finished", extra={"event": "cycle-done", "role": role,
                                                  "stopped": stopper.reason})
        finally:
            store.close()
    failed = [r for r in results if r.error is not None]
    if failed:
        exc = failed[0].error
        if failed[0].code != ec.INTERNAL:
            raise exc  # type: ignore[misc]
        raise JobFailed(f"{failed[0].name} job failed: {type(exc).__name__}: {exc}") from exc
    if stopper.exit_code:
        raise LockHeld(f"{SCHEDULER_LOCK} lock was taken over by another process during the run")
    return "\n".join(f"{r.name}: {r.summary}" for r in results), max(r.code for r in results)


# --- the daemon ---------------------------------------------------------------------------


def _trigger(expr: str, timezone: str) -> Any:
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if expr.startswith("every "):
        return IntervalTrigger(seconds=parse_duration(expr[6:]).total_seconds(), timezone=timezone)
    return CronTrigger.from_crontab(expr, timezone=timezone)


def crawl_schedules(config: Config) -> list[str]:
    """Every distinct crawl schedule: the default, per profile (config or profile file), per source.

    A firing crawls the sources on that schedule plus whatever is due.
    """
    from guidewatch.sources.profiles import load_profiles

    profiles = load_profiles([config.profiles_dir] if config.profiles_dir else [])
    exprs = [config.schedule.crawl, *config.schedule.profiles.values()]
    exprs += [p.schedule for p in profiles.values() if getattr(p, "schedule", None)]
    exprs += [s.schedule for s in config.sources if s.schedule]
    return list(dict.fromkeys(exprs))


@dataclass
class Daemon:
    """The APScheduler jobs of one daemon process."""

    config: Config
    stopper: Stopper = field(default_factory=Stopper)

    def build(self) -> Any:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        tz = self.config.schedule.timezone
        # One worker: jobs run one after another, so a digest follows the crawl it reports on.
        scheduler = BackgroundScheduler(timezone=tz, executors={"default": ThreadPoolExecutor(1)},
                                        job_defaults={"coalesce": True, "max_instances": 1,
                                                      "misfire_grace_time": self.config.schedule.misfire_grace})
        # Missed firings are not remembered across restarts, so first catch up on what is due.
        scheduler.add_job(run_job, args=("crawl", crawl_job, self.config, self.stopper), id="catch-up",
                          name="crawl (due at start)")
        for i, expr in enumerate(crawl_schedules(self.config)):
            job = functools.partial(crawl_job, schedule=expr)
            scheduler.add_job(run_job, _trigger(expr, tz), args=("crawl", job, self.config, self.stopper),
                              id=f"crawl-{i}", name=f"crawl ({expr})")
        scheduler.add_job(run_job, _trigger(self.config.schedule.digest, tz),
                          args=("digest", digest_job, self.config, self.stopper), id="digest",
                          name=f"digest ({self.config.schedule.digest})")
        return scheduler

    def run(self) -> int:
        scheduler = self.build()
        store = Store(self.config.store)
        try:
            lost = functools.partial(self.stopper.request, "lost the scheduler lock", 2)
            with single_instance(store, SCHEDULER_LOCK, role="daemon", on_lost=lost) as holder:
                scheduler.start()
                try:
                    log.info("daemon started", extra={"event": "started", "holder": holder, "jobs": [
                        {"job": j.name, "next": str(j.next_run_time)} for j in scheduler.get_jobs()]})
                    while not self.stopper.stopping:
                        time.sleep(POLL_SECONDS)
                    log.info("stopping after the running job (%s)", self.stopper.reason,
                             extra={"event": "stopping", "reason": self.stopper.reason})
                finally:
                    scheduler.shutdown(wait=True)  # waits for the running job; queued ones skip
        finally:
            store.close()
        log.info("daemon stopped", extra={"event": "stopped", "reason": self.stopper.reason,
                                          "exit_code": self.stopper.exit_code})
        return self.stopper.exit_code


def run_daemon(config: Config, *, once: bool = False) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit code. LockHeld propagates (exit 2)."""
    if once:
        return run_cycle(config, role="daemon")[1]
    daemon = Daemon(config)
    with json_logging(), stop_on_signals(daemon.stopper):
        return daemon.run()

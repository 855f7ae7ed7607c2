"""The long-running job: backups and restore drills on their cron schedules, metrics served."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from croniter import croniter  # type: ignore[import-untyped]
from prometheus_client import start_http_server

from learnbot.backup import metrics
from learnbot.backup.catalog import list_backups
from learnbot.backup.job import backup_once, drill_once
from learnbot.backup.physical import BackupType, observe_repository, physical_backup_once
from learnbot.backup.settings import BackupSettings
from learnbot.observability.metrics import (
    MULTIPROC_DIR_VARIABLE,
    exposition_registry,
    multiproc_dir,
)
from learnbot.settings import ConfigError

log = logging.getLogger("learnbot.backup")

# Short waits keep the job on time when the wall clock jumps, and cost nothing.
_LONGEST_WAIT_SECONDS = 30.0
# How often `backup metrics` reads BACKUP_DIR again (backups pruned or restored by hand).
REFRESH_SECONDS = 30.0


def next_run(expression: str, after: datetime) -> datetime:
    moment: datetime = croniter(expression, after.astimezone(UTC)).get_next(datetime)
    return moment.astimezone(UTC)


def missed_run(expression: str, last_done: datetime | None, now: datetime) -> bool:
    """Whether the most recent scheduled time passed with nothing done since it."""
    previous: datetime = croniter(expression, now.astimezone(UTC)).get_prev(datetime)
    return last_done is None or last_done < previous


def first_runs(settings: BackupSettings, now: datetime) -> tuple[datetime, datetime]:
    """When to back up and drill first: now for a run missed while the job was down."""
    backups = list_backups(settings.backup_dir)
    last_backup = backups[-1].taken_at if backups else None
    drills = [record.drilled_at for record in (b.drill() for b in backups) if record is not None]
    last_drill = max(drills, default=None)
    backup_at = (
        now if missed_run(settings.schedule, last_backup, now) else next_run(settings.schedule, now)
    )
    drill_at = (
        now
        if missed_run(settings.drill_schedule, last_drill, now)
        else next_run(settings.drill_schedule, now)
    )
    return backup_at, drill_at


def run_scheduled(settings: BackupSettings, stop: threading.Event) -> None:
    """Runs until `stop` is set; a run in progress is interrupted and cleaned up."""
    settings.require_database_url("'backup run'")
    backups = list_backups(settings.backup_dir)
    metrics.observe_backups(backups)
    metrics.LAST_ATTEMPT.set(backups[-1].taken_at.timestamp() if backups else 0)
    with _metrics_served(settings, "backup job stopped"):
        log.info(
            "backup job started: backups on '%s', restore drills on '%s', metrics on %s:%d",
            settings.schedule,
            settings.drill_schedule,
            settings.metrics_host,
            settings.metrics_port,
        )
        backup_at, drill_at = first_runs(settings, _now())
        log.info("next backup at %s, next drill at %s", backup_at.isoformat(), drill_at.isoformat())
        physical = PhysicalSchedule(settings)
        while not stop.is_set():
            now = _now()
            if physical.run_due(now):
                continue
            if now >= backup_at:
                _guarded(backup_once, settings, stop)
                backup_at = next_run(settings.schedule, _now())
            elif now >= drill_at:
                _guarded(drill_once, settings, stop)
                drill_at = next_run(settings.drill_schedule, _now())
            else:
                wait = (min(backup_at, drill_at, physical.next_at) - now).total_seconds()
                stop.wait(min(wait, _LONGEST_WAIT_SECONDS))


class PhysicalSchedule:
    """Full and differential pgBackRest backups on their schedules, when a repository is set.

    A time missed while the job was down is not caught up: pgBackRest takes a differential
    with no full backup before it as a full one, and the WAL archive covers the gap."""

    def __init__(self, settings: BackupSettings) -> None:
        self._repository = settings.physical
        self._schedules: dict[BackupType, str] = {
            "full": settings.full_schedule,
            "diff": settings.diff_schedule,
        }
        now = _now()
        self._due = {kind: next_run(cron, now) for kind, cron in self._schedules.items()}
        if self._repository is not None:
            observe_repository(self._repository)
            log.info(
                "physical backups into %s: full on '%s', differential on '%s'",
                self._repository.path,
                self._schedules["full"],
                self._schedules["diff"],
            )

    @property
    def next_at(self) -> datetime:
        return (
            min(self._due.values())
            if self._repository is not None
            else datetime.max.replace(tzinfo=UTC)
        )

    def run_due(self, now: datetime) -> bool:
        """Takes the backup that is due, if any; whether one was."""
        if self._repository is None:
            return False
        for kind, due in self._due.items():
            if now >= due:
                try:
                    physical_backup_once(self._repository, kind)
                except Exception:
                    metrics.PHYSICAL_FAILURES.inc()
                    log.exception("physical %s backup failed unexpectedly", kind)
                self._due[kind] = next_run(self._schedules[kind], _now())
                return True
        return False


def serve_metrics(settings: BackupSettings, stop: threading.Event) -> None:
    """Serves the metrics of runs that another scheduler starts (`backup run --once` and
    `backup verify --restore-drill`, as Kubernetes CronJobs): they write them into the shared
    PROMETHEUS_MULTIPROC_DIR, so failures and attempts outlive the runs' processes."""
    if multiproc_dir() is None:
        raise ConfigError(
            MULTIPROC_DIR_VARIABLE,
            "a folder shared with the `backup run --once` runs; 'backup metrics' needs it",
        )
    with _metrics_served(settings, "backup metrics stopped"):
        log.info(
            "serving backup metrics of %s on %s:%d",
            settings.backup_dir,
            settings.metrics_host,
            settings.metrics_port,
        )
        while True:
            metrics.observe_backups(list_backups(settings.backup_dir))
            if stop.wait(REFRESH_SECONDS):
                break


@contextmanager
def _metrics_served(settings: BackupSettings, stopped: str) -> Iterator[None]:
    """The job's metrics on BACKUP_METRICS_HOST:BACKUP_METRICS_PORT while the block runs."""
    server, thread = start_http_server(
        settings.metrics_port, settings.metrics_host, registry=exposition_registry()
    )
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        log.info(stopped)


def _guarded(
    action: Callable[[BackupSettings, threading.Event], object],
    settings: BackupSettings,
    stop: threading.Event,
) -> None:
    # A bug in one run must not end the schedule: the next run may well succeed.
    try:
        action(settings, stop)
    except Exception:
        metrics.FAILURES.inc()
        log.exception("%s failed unexpectedly", action.__name__)


def _now() -> datetime:
    return datetime.now(UTC)

"""The backup job's Prometheus metrics; their names are a contract for alerts and dashboards."""

from __future__ import annotations

import os
from contextlib import suppress

from prometheus_client import REGISTRY, Counter, Gauge, values

from learnbot.backup.catalog import Backup
from learnbot.backup.settings import METRICS_WRITER, METRICS_WRITER_VARIABLE

# Creates PROMETHEUS_MULTIPROC_DIR, where set, before the metrics below open their files in it.
from learnbot.observability.metrics import multiproc_dir


def _writer() -> str:
    # An invalid name is refused by BackupSettings.from_env before any metric is written.
    name = os.environ.get(METRICS_WRITER_VARIABLE, "").strip()
    return name if METRICS_WRITER.fullmatch(name) else str(os.getpid())


if multiproc_dir() is not None and os.environ.get(METRICS_WRITER_VARIABLE):
    # Must precede the metrics below: each opens its file as it is defined.
    values.ValueClass = values.MultiProcessValue(process_identifier=_writer)  # type: ignore[no-untyped-call]

# "mostrecent": with PROMETHEUS_MULTIPROC_DIR set, the value last written by any process wins.
LAST_SUCCESS = Gauge(
    "backup_last_success_timestamp_seconds",
    "When the newest backup in BACKUP_DIR finished.",
    multiprocess_mode="mostrecent",
)
LAST_ATTEMPT = Gauge(
    "backup_last_attempt_timestamp_seconds",
    "When the last backup run started, whatever its outcome.",
    multiprocess_mode="mostrecent",
)
LAST_DURATION = Gauge(
    "backup_last_duration_seconds",
    "How long the newest backup took, from snapshot to checked file.",
    multiprocess_mode="mostrecent",
)
LAST_SIZE = Gauge(
    "backup_last_size_bytes", "Size of the newest backup file.", multiprocess_mode="mostrecent"
)
FAILURES = Counter("backup_failures", "Backup runs that failed, off-host copies included.")
LAST_VERIFIED = Gauge(
    "backup_last_verified_timestamp_seconds",
    "When a restore drill last passed for a backup still kept.",
    multiprocess_mode="mostrecent",
)
KEPT = Gauge("backup_kept_count", "Backups in BACKUP_DIR.", multiprocess_mode="mostrecent")


def observe_backups(backups: list[Backup]) -> None:
    """Sets the gauges from what BACKUP_DIR holds, so a restart keeps them; oldest first."""
    # Set even when zero: in multiprocess mode a gauge never set is not exported at all.
    KEPT.set(len(backups))
    newest = backups[-1] if backups else None
    manifest = None if newest is None else newest.manifest()
    if newest is None:
        LAST_SUCCESS.set(0)
    else:
        finished_at = newest.taken_at if manifest is None else manifest.finished_at
        LAST_SUCCESS.set(finished_at.timestamp())
    LAST_SIZE.set(0 if newest is None else newest.size())
    LAST_DURATION.set(0 if manifest is None else manifest.duration_seconds)
    drills = [backup.drill() for backup in backups]
    passed = [record.drilled_at.timestamp() for record in drills if record and record.passed]
    LAST_VERIFIED.set(max(passed, default=0))


# Exported only where a repository is configured (export_physical_backup_metrics), so their
# alerts stay silent on a job that takes dumps alone.
PHYSICAL_LAST_SUCCESS = Gauge(
    "physical_backup_last_success_timestamp_seconds",
    "When the newest pgBackRest backup in the repository finished.",
    multiprocess_mode="mostrecent",
    registry=None,
)
PHYSICAL_FAILURES = Counter(
    "physical_backup_failures",
    "pgBackRest backup runs (full or differential) that failed.",
    registry=None,
)


def export_physical_backup_metrics() -> None:
    """Adds the physical backups' metrics to what this process serves; once is enough."""
    for metric in (PHYSICAL_LAST_SUCCESS, PHYSICAL_FAILURES):
        with suppress(ValueError):  # registered already
            REGISTRY.register(metric)

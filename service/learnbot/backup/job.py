"""One backup run or restore drill, as the command and the schedule both perform it."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import psycopg

from learnbot.backup import metrics
from learnbot.backup.catalog import Backup, BackupBusy, exclusive, list_backups, remove_backup
from learnbot.backup.dump import take_backup
from learnbot.backup.manifest import DrillRecord
from learnbot.backup.offsite import OffsiteCopyFailed, copy_offsite
from learnbot.backup.postgres import DatabaseError, Interrupted
from learnbot.backup.retention import RetentionPolicy, backups_to_keep
from learnbot.backup.settings import BackupSettings
from learnbot.backup.verify import restore_drill

log = logging.getLogger("learnbot.backup")

_JOB_ERRORS = (DatabaseError, Interrupted, BackupBusy, OSError, psycopg.Error)


def backup_once(settings: BackupSettings, stop: threading.Event | None = None) -> bool:
    settings.require_database_url("'backup run'")
    metrics.LAST_ATTEMPT.set_to_current_time()
    started = time.monotonic()
    try:
        settings.backup_dir.mkdir(parents=True, exist_ok=True)
        with exclusive(settings.backup_dir):
            backup = take_backup(settings, stop)
            log.info(
                "backup %s written: %d bytes in %.1f s",
                backup.name,
                backup.size(),
                time.monotonic() - started,
            )
            prune(settings.backup_dir, settings.retention)
    except Interrupted as error:
        # A shutdown is not a failure to alert on: the next start catches the run up.
        log.warning("backup interrupted, no file was kept: %s", error)
        return False
    except _JOB_ERRORS as error:
        metrics.FAILURES.inc()
        log.error("backup failed: %s", error)
        return False
    finally:
        metrics.observe_backups(list_backups(settings.backup_dir))
    if settings.s3 is not None:
        try:
            copied = copy_offsite(backup, settings.s3, settings.s3_endpoint_url)
        except OffsiteCopyFailed as error:
            metrics.FAILURES.inc()
            log.error("backup %s is kept here but its off-host %s", backup.name, error)
            return False
        log.info("backup %s copied to %s", backup.name, copied[-1])
    return True


def prune(directory: Path, policy: RetentionPolicy) -> list[Backup]:
    """Removes the backups the policy does not keep; the caller holds `exclusive(directory)`."""
    backups = list_backups(directory)
    keep = backups_to_keep({backup.taken_at: backup.verified() for backup in backups}, policy)
    removed = [backup for backup in backups if backup.taken_at not in keep]
    for backup in removed:
        remove_backup(backup)
        log.info("pruned backup %s", backup.name)
    return removed


def drill_once(settings: BackupSettings, stop: threading.Event | None = None) -> DrillRecord | None:
    """Drills the newest backup; None when the drill could not run at all."""
    settings.require_database_url("'backup verify --restore-drill'")
    backups = list_backups(settings.backup_dir)
    if not backups:
        log.error("restore drill skipped: no backups in %s", settings.backup_dir)
        return None
    newest = backups[-1]
    try:
        record = restore_drill(settings, newest, stop)
    except _JOB_ERRORS as error:
        log.error("restore drill of %s could not run: %s", newest.name, error)
        return None
    finally:
        metrics.observe_backups(list_backups(settings.backup_dir))
    if record.passed:
        log.info("restore drill of %s passed", newest.name)
    else:
        log.error("restore drill of %s failed: %s", newest.name, "; ".join(record.problems))
    return record

"""Physical backups with pgBackRest, full or differential, as the command and the schedule
both take them; the WAL between them is archived by PostgreSQL's archive_command."""

from __future__ import annotations

import logging
import re
import time
from typing import Literal

from learnbot.backup import metrics, pgbackrest
from learnbot.backup.pgbackrest import PgBackRestFailed, Repository

log = logging.getLogger("learnbot.backup")

_VERIFY_ERROR = re.compile(r"^\s*status: error\b", re.MULTILINE)

BackupType = Literal["full", "diff"]
BACKUP_TYPES: tuple[BackupType, ...] = ("full", "diff")


def physical_backup_once(repository: Repository, backup_type: BackupType) -> bool:
    """One backup of the server into the repository; pgBackRest expires what retention drops."""
    started = time.monotonic()
    metrics.export_physical_backup_metrics()
    try:
        pgbackrest.write_config(repository)
        # Idempotent: a repository already set up for this server is left as it is.
        pgbackrest.run(repository, "stanza-create")
        pgbackrest.run(repository, "backup", f"--type={backup_type}")
    except (PgBackRestFailed, OSError) as error:
        metrics.PHYSICAL_FAILURES.inc()
        log.error("physical %s backup failed: %s", backup_type, error)
        return False
    log.info("physical %s backup taken in %.1f s", backup_type, time.monotonic() - started)
    observe_repository(repository)
    return True


def observe_repository(repository: Repository) -> None:
    """Sets the gauges from the repository itself, so a restart keeps them."""
    metrics.export_physical_backup_metrics()
    try:
        pgbackrest.write_config(repository)
        finished_at = pgbackrest.newest_backup_finished_at(repository)
    except (PgBackRestFailed, OSError, ValueError) as error:
        log.warning("cannot read the physical backups' repository: %s", error)
        return
    metrics.PHYSICAL_LAST_SUCCESS.set(0 if finished_at is None else finished_at.timestamp())


def verify_repository(repository: Repository) -> str:
    """Checks every backup and WAL file against its checksum; PgBackRestFailed names failures."""
    pgbackrest.write_config(repository)
    report = pgbackrest.run(repository, "verify", "--output=text")
    # pgBackRest 2.45 exits 0 after finding invalid files; its report says so per stanza.
    if _VERIFY_ERROR.search(report):
        raise PgBackRestFailed(f"pgbackrest verify found invalid files:\n{report.strip()}")
    return report

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from psycopg import IsolationLevel

from learnbot.backup.catalog import (
    Backup,
    checksum_line,
    fsync_directory,
    fsync_file,
    partial_path,
    remove_backup,
    remove_leftovers,
    sha256_of,
    write_atomically,
)
from learnbot.backup.manifest import Manifest
from learnbot.backup.postgres import Database, run_tool, table_contents
from learnbot.backup.settings import BackupSettings

log = logging.getLogger("learnbot.backup")


def take_backup(settings: BackupSettings, stop: threading.Event | None = None) -> Backup:
    """Writes a checked dump with its sidecars, or raises and leaves nothing behind.

    The caller holds `exclusive(settings.backup_dir)`.
    """
    database = Database.from_url(settings.require_database_url("'backup run'"))
    directory = settings.backup_dir
    for leftover in remove_leftovers(directory):
        log.warning("removed %s, left by an interrupted backup", leftover.name)
    backup = Backup.new(directory, datetime.now(UTC))
    try:
        _write(database, backup, stop)
    except BaseException:
        partial_path(backup.path).unlink(missing_ok=True)
        remove_backup(backup)
        raise
    fsync_directory(directory)
    return backup


def _write(database: Database, backup: Backup, stop: threading.Event | None) -> None:
    partial = partial_path(backup.path)
    with database.connect(autocommit=True) as connection:
        connection.isolation_level = IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        # pg_dump reads the exported snapshot only while this transaction stays open, and the
        # table contents come from the same snapshot, so the manifest describes the dump.
        with connection.transaction():
            row = connection.execute(
                "SELECT pg_export_snapshot(), current_setting('server_version')"
            ).fetchone()
            assert row is not None
            snapshot, server_version = str(row[0]), str(row[1])
            run_tool(
                "pg_dump",
                [
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    "--no-password",
                    "--lock-wait-timeout=120s",
                    f"--file={partial}",
                    f"--dbname={database.conninfo()}",
                ],
                database,
                stop,
            )
            tables = table_contents(connection)
    fsync_file(partial)
    digest = sha256_of(partial)
    run_tool("pg_restore", ["--list", str(partial)], stop=stop)
    manifest = Manifest(
        file=backup.name,
        started_at=backup.taken_at,
        finished_at=datetime.now(UTC),
        size_bytes=partial.stat().st_size,
        sha256=digest,
        server_version=server_version,
        tables=tables,
    )
    write_atomically(backup.manifest_path, manifest.to_json())
    write_atomically(backup.checksum_path, checksum_line(digest, backup.name))
    partial.replace(backup.path)

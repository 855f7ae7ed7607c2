from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime

from psycopg import sql

from learnbot.backup.catalog import (
    Backup,
    checksum_problem,
    exclusive,
    fsync_directory,
    write_atomically,
)
from learnbot.backup.manifest import DrillRecord, content_problems
from learnbot.backup.postgres import (
    Database,
    DatabaseError,
    TableContent,
    run_tool,
    table_contents,
)
from learnbot.backup.settings import BackupSettings

RESTORE_OPTIONS = ("--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction")


def restore_drill(
    settings: BackupSettings, backup: Backup, stop: threading.Event | None = None
) -> DrillRecord:
    """Restores the backup into a scratch database, compares it with the manifest, records it."""
    server = Database.from_url(settings.require_database_url("'backup verify --restore-drill'"))
    with exclusive(settings.backup_dir):
        problem = checksum_problem(backup.path)
        manifest = backup.manifest()
        if problem is not None:
            problems: tuple[str, ...] = (problem,)
        elif manifest is None:
            problems = (f"{backup.name}: no readable manifest beside it",)
        else:
            problems = _restore_and_compare(server, backup, manifest.tables, stop)
        record = DrillRecord(datetime.now(UTC), passed=not problems, problems=problems)
        write_atomically(backup.drill_path, record.to_json())
        fsync_directory(settings.backup_dir)
    return record


def _restore_and_compare(
    server: Database,
    backup: Backup,
    recorded: dict[str, TableContent],
    stop: threading.Event | None,
) -> tuple[str, ...]:
    scratch = server.with_name(f"learnbot_drill_{secrets.token_hex(6)}")
    with server.connect(autocommit=True) as connection:
        connection.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(scratch.name))
        )
    try:
        try:
            run_tool(
                "pg_restore",
                [*RESTORE_OPTIONS, f"--dbname={scratch.conninfo()}", str(backup.path)],
                scratch,
                stop,
            )
        except DatabaseError as error:
            return (f"{backup.name}: {error}",)
        with scratch.connect() as connection:
            restored = table_contents(connection)
    finally:
        with server.connect(autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(scratch.name)
                )
            )
    return content_problems(recorded, restored)

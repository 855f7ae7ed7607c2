from __future__ import annotations

import asyncio
from pathlib import Path

from learnbot.backup.catalog import checksum_problem
from learnbot.backup.postgres import Database, run_tool
from learnbot.backup.verify import RESTORE_OPTIONS
from learnbot.storage import MigrationState, open_store


class RestoreRefused(Exception):
    """The restore did not start: the file failed its check or the target holds data."""


def restore_backup(path: Path, target_url: str, *, force: bool) -> MigrationState:
    """Restores a checked dump into the target; returns the target's migration state after."""
    problem = checksum_problem(path)
    if problem is not None:
        raise RestoreRefused(problem)
    target = Database.from_url(target_url)
    with target.connect() as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()
    tables = 0 if row is None else int(row[0])
    if tables and not force:
        raise RestoreRefused(
            f"database {target.name!r} already has {tables} table(s) in schema public; "
            "pass --force to drop and replace the objects the backup holds"
        )
    replace = ["--clean", "--if-exists"] if force else []
    run_tool(
        "pg_restore",
        [*RESTORE_OPTIONS, *replace, f"--dbname={target.conninfo()}", str(path)],
        target,
    )
    return asyncio.run(_migration_state(target_url))


async def _migration_state(url: str) -> MigrationState:
    store = open_store(url, pool_size=1)
    await store.open()
    try:
        return await store.migration_state()
    finally:
        await store.close()

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import Any, Literal

from learnbot.storage.models import MigrationState

Dialect = Literal["sqlite", "postgresql"]

_FILE_NAME = re.compile(r"([0-9]{4})_([a-z0-9_]+)\.sql")
# Any fixed key works as long as every replica uses the same one; this spells "learnbot".
_ADVISORY_LOCK_KEY = 0x6C6561726E626F74


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


@cache
def discover(dialect: Dialect) -> tuple[Migration, ...]:
    folder = files("learnbot.storage") / "migrations" / dialect
    found: list[Migration] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.fullmatch(entry.name)
        if match is None:
            raise RuntimeError(f"migration {entry.name} is not named NNNN_description.sql")
        found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two {dialect} migrations share a version: {versions}")
    return tuple(found)


def latest_version(dialect: Dialect) -> int:
    return max((migration.version for migration in discover(dialect)), default=0)


def migrate_sqlite(connection: sqlite3.Connection) -> list[int]:
    """Expects a connection in autocommit mode (`isolation_level=None`)."""
    connection.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TEXT NOT NULL
        )
        """
    )
    applied: list[int] = []
    for migration in discover("sqlite"):
        with connection:
            # The write lock makes a second process wait here, then see the version as applied.
            connection.execute("BEGIN IMMEDIATE")
            done = connection.execute(
                "SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)
            ).fetchone()
            if done is None:
                for statement in _sqlite_statements(migration.sql):
                    connection.execute(statement)
                connection.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, _now().isoformat(timespec="microseconds")),
                )
                applied.append(migration.version)
    return applied


def sqlite_migration_state(connection: sqlite3.Connection) -> MigrationState:
    (tables,) = connection.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    applied = 0
    if tables:
        (applied,) = connection.execute(
            "SELECT coalesce(max(version), 0) FROM schema_migrations"
        ).fetchone()
    return MigrationState(applied=int(applied), latest=latest_version("sqlite"))


async def migrate_postgresql(connection: Any) -> list[int]:
    """Expects an asyncpg connection outside a transaction."""
    applied: list[int] = []
    for migration in discover("postgresql"):
        async with connection.transaction():
            # A migration, or waiting for another replica's, may outlast the per-statement limit.
            await connection.execute("SET LOCAL statement_timeout = 0")
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _ADVISORY_LOCK_KEY)
            await connection.execute(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    applied_at TIMESTAMPTZ NOT NULL
                )
                """
            )
            done = await connection.fetchval(
                "SELECT 1 FROM schema_migrations WHERE version = $1", migration.version
            )
            if done is None:
                # Without arguments asyncpg sends the file as one simple query: many statements.
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    _now(),
                )
                applied.append(migration.version)
    return applied


async def postgresql_migration_state(connection: Any) -> MigrationState:
    """Expects an asyncpg connection."""
    applied = 0
    if await connection.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
        applied = await connection.fetchval(
            "SELECT coalesce(max(version), 0) FROM schema_migrations"
        )
    return MigrationState(applied=int(applied), latest=latest_version("postgresql"))


def _sqlite_statements(script: str) -> Iterator[str]:
    # executescript() would commit the open transaction first, so run statements one by one.
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement
            statement = ""
    if statement.strip():
        yield statement


def _now() -> datetime:
    return datetime.now(UTC)

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from learnbot.storage import MigrationState, database_dialect, open_store
from learnbot.storage.migrations import Dialect, discover, latest_version


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_migrations_are_found_in_order(dialect: Dialect) -> None:
    found = discover(dialect)

    assert found[0].version == 1
    assert found[0].name == "initial"
    assert "CREATE TABLE users" in found[0].sql
    assert [m.version for m in found] == sorted(m.version for m in found)
    assert latest_version(dialect) == found[-1].version


def test_both_dialects_have_the_same_versions() -> None:
    sqlite_versions = [(m.version, m.name) for m in discover("sqlite")]
    postgresql_versions = [(m.version, m.name) for m in discover("postgresql")]
    assert sqlite_versions == postgresql_versions


def _rows(database_url: str, query: str) -> list[Any]:
    if database_dialect(database_url) == "sqlite":
        with sqlite3.connect(Path(database_url.removeprefix("sqlite:///"))) as connection:
            rows = connection.execute(query).fetchall()
        connection.close()
        return rows
    with psycopg.connect(database_url) as server:
        return server.execute(query.encode()).fetchall()


async def test_migrate_applies_once(database_url: str) -> None:
    store = open_store(database_url)
    await store.open()
    try:
        latest = latest_version(database_dialect(database_url))
        assert await store.migration_state() == MigrationState(applied=0, latest=latest)
        assert not (await store.migration_state()).current

        before = datetime.now(UTC)
        applied = await store.migrate()

        assert applied == [m.version for m in discover(database_dialect(database_url))]
        assert await store.migration_state() == MigrationState(applied=latest, latest=latest)
        assert (await store.migration_state()).current
        assert await store.migrate() == []
    finally:
        await store.close()

    rows = _rows(
        database_url, "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
    )
    assert [(version, name) for version, name, _ in rows] == [
        (1, "initial"),
        (2, "user_locale"),
        (3, "oauth_linking"),
        (5, "bot"),
    ]
    for _, _, applied_at in rows:
        moment = datetime.fromisoformat(applied_at) if isinstance(applied_at, str) else applied_at
        assert moment >= before


async def test_replicas_migrating_at_once_apply_each_version_once(database_url: str) -> None:
    stores = [open_store(database_url, pool_size=2) for _ in range(4)]
    for store in stores:
        await store.open()
    try:
        results = await asyncio.gather(*(store.migrate() for store in stores))
    finally:
        for store in stores:
            await store.close()

    applied = sorted(version for result in results for version in result)
    assert applied == [m.version for m in discover(database_dialect(database_url))]
    assert _rows(database_url, "SELECT count(*) FROM schema_migrations") == [(len(applied),)]


async def test_the_schema_has_the_tables_of_the_api(database_url: str) -> None:
    store = open_store(database_url)
    await store.open()
    try:
        await store.migrate()
    finally:
        await store.close()

    assert _rows(database_url, "SELECT count(*) FROM users") == [(0,)]
    assert _rows(database_url, "SELECT count(*) FROM linked_accounts") == [(0,)]


async def test_links_stored_before_providers_proved_them_become_unverified(
    database_url: str,
) -> None:
    _schema_of_version(database_url, 2)
    moment = "'2025-01-01T00:00:00+00:00'"
    _execute(
        database_url,
        "INSERT INTO users (telegram_id, first_name, created_at, last_seen_at) "
        f"VALUES (42, 'Ann', {moment}, {moment});"
        "INSERT INTO linked_accounts (user_id, provider, external_id, linked_at) "
        f"SELECT id, 'github', 'alice', {moment} FROM users",
    )

    store = open_store(database_url)
    await store.open()
    try:
        assert 3 in await store.migrate()
        found = await store.get_user_with_accounts(42)
    finally:
        await store.close()

    assert found is not None
    (account,) = found[1]
    assert (account.provider, account.external_id, account.verified) == ("github", "alice", False)


def _schema_of_version(database_url: str, version: int) -> None:
    """The schema as `learnbot migrate` of an older release left it."""
    dialect = database_dialect(database_url)
    moment = "TEXT" if dialect == "sqlite" else "TIMESTAMPTZ"
    script = [
        "CREATE TABLE schema_migrations "
        f"(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at {moment} NOT NULL);"
    ]
    for migration in discover(dialect):
        if migration.version <= version:
            script.append(migration.sql)
            script.append(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES "
                f"({migration.version}, '{migration.name}', '2025-01-01T00:00:00+00:00');"
            )
    _execute(database_url, "\n".join(script))


def _execute(database_url: str, script: str) -> None:
    if database_dialect(database_url) == "sqlite":
        connection = sqlite3.connect(Path(database_url.removeprefix("sqlite:///")))
        try:
            connection.executescript(script)
        finally:
            connection.close()
        return
    with psycopg.connect(database_url, autocommit=True) as postgres:
        # Without parameters psycopg sends the script as one simple query: many statements.
        postgres.execute(script.encode())

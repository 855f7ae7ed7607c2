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

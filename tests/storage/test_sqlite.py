from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from learnbot.storage import StorageError, TelegramProfile, UserStore, open_store

T0 = datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def _path(sqlite_url: str) -> Path:
    return Path(sqlite_url.removeprefix("sqlite:///"))


def _query(path: Path, query: str, *params: object) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(query, params).fetchall()
    finally:
        connection.close()


@pytest.fixture
async def sqlite_store(sqlite_url: str) -> AsyncIterator[UserStore]:
    store = open_store(sqlite_url)
    await store.open()
    await store.migrate()
    yield store
    await store.close()


async def test_open_creates_the_missing_parent_directory(tmp_path: Path) -> None:
    path = tmp_path / "var" / "data" / "learnbot.db"
    store = open_store(f"sqlite:///{path}")

    await store.open()
    await store.close()

    assert path.is_file()


async def test_a_relative_path_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///var/learnbot.db")

    await store.open()
    await store.migrate()
    await store.close()

    assert (tmp_path / "var" / "learnbot.db").is_file()


async def test_the_database_is_in_wal_mode(sqlite_store: UserStore, sqlite_url: str) -> None:
    assert _query(_path(sqlite_url), "PRAGMA journal_mode") == [("wal",)]


async def test_foreign_keys_are_enforced(sqlite_store: UserStore) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        await sqlite_store.link_account(404, "github", "gh-1", None, T0)


async def test_deleting_a_user_deletes_the_links(sqlite_store: UserStore, sqlite_url: str) -> None:
    user = (await sqlite_store.upsert_user(TelegramProfile(1, "Ada"), T0)).user
    await sqlite_store.link_account(user.id, "github", "gh-1", None, T0)
    connection = sqlite3.connect(_path(sqlite_url))
    try:
        connection.execute("PRAGMA foreign_keys = ON")
        with connection:
            connection.execute("DELETE FROM users WHERE id = ?", (user.id,))
    finally:
        connection.close()

    assert await sqlite_store.list_accounts(user.id) == []


async def test_timestamps_are_iso_utc_text_with_microseconds(
    sqlite_store: UserStore, sqlite_url: str
) -> None:
    await sqlite_store.upsert_user(TelegramProfile(1, "Ada"), T0.replace(microsecond=0))

    rows = _query(_path(sqlite_url), "SELECT created_at, last_seen_at FROM users")

    assert rows == [("2025-03-01T12:30:15.000000+00:00",) * 2]


async def test_two_workers_upserting_the_same_user_never_fail(sqlite_url: str) -> None:
    workers = [open_store(sqlite_url), open_store(sqlite_url)]
    for worker in workers:
        await worker.open()
    try:
        await workers[0].migrate()
        sign_ins = await asyncio.gather(
            *(
                workers[n % 2].upsert_user(
                    TelegramProfile(42, f"Ada {n}"), T0 + timedelta(microseconds=n)
                )
                for n in range(40)
            )
        )
    finally:
        for worker in workers:
            await worker.close()

    assert sum(sign_in.created for sign_in in sign_ins) == 1
    assert len({sign_in.user.id for sign_in in sign_ins}) == 1
    assert _query(_path(sqlite_url), "SELECT count(*) FROM users") == [(1,)]


async def test_a_locked_database_is_a_storage_error(sqlite_url: str) -> None:
    store = open_store(sqlite_url, timeout=0.2)
    await store.open()
    await store.migrate()
    locker = sqlite3.connect(_path(sqlite_url), isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with pytest.raises(StorageError, match="locked"):
            await store.upsert_user(TelegramProfile(1, "Ada"), T0)
        assert 0.15 < time.monotonic() - started < 2
    finally:
        locker.execute("ROLLBACK")
        locker.close()
        await store.close()


async def test_a_file_that_cannot_be_opened_is_a_storage_error(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}")  # a directory, not a database file

    with pytest.raises(StorageError, match="unable to open"):
        await store.open()


async def test_calls_before_open_are_a_programming_error(sqlite_url: str) -> None:
    store = open_store(sqlite_url)

    with pytest.raises(RuntimeError, match="not open"):
        await store.get_user(1)


async def test_an_interval_of_zero_writes_every_sign_in(sqlite_url: str) -> None:
    store = open_store(sqlite_url, last_seen_interval=timedelta(0))
    await store.open()
    try:
        await store.migrate()
        t0 = datetime(2025, 3, 1, tzinfo=UTC)
        await store.upsert_user(TelegramProfile(5, "Ada"), t0)
        later = t0 + timedelta(seconds=1)
        assert (
            await store.upsert_user(TelegramProfile(5, "Ada"), later)
        ).user.last_seen_at == later
    finally:
        await store.close()

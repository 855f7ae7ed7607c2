from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from learnbot.storage import AccountConflict, StorageError, TelegramProfile, open_store
from learnbot.storage.postgresql import FRESH_SECONDS, PostgresUserStore

T0 = datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
async def postgres_store(postgres_url: str) -> AsyncIterator[PostgresUserStore]:
    store = open_store(postgres_url, pool_size=10)
    assert isinstance(store, PostgresUserStore)
    await store.open()
    await store.migrate()
    yield store
    await store.close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_fifty_sign_ins_of_a_new_user_create_it_once(
    postgres_store: PostgresUserStore, postgres_url: str
) -> None:
    sign_ins = await asyncio.gather(
        *(
            postgres_store.upsert_user(TelegramProfile(42, f"Ada {n}"), T0 + timedelta(seconds=n))
            for n in range(50)
        )
    )

    assert sum(sign_in.created for sign_in in sign_ins) == 1
    assert len({sign_in.user.id for sign_in in sign_ins}) == 1
    with psycopg.connect(postgres_url) as connection:
        assert connection.execute("SELECT count(*) FROM users").fetchall() == [(1,)]


async def test_an_unchanged_returning_sign_in_leaves_the_row_untouched(
    postgres_store: PostgresUserStore, postgres_url: str
) -> None:
    """No write at all, not even a row lock: the row's version (xmin) stays."""
    await postgres_store.upsert_user(TelegramProfile(7, "Ada"), T0)

    def row_version() -> object:
        with psycopg.connect(postgres_url) as connection:
            return connection.execute("SELECT xmin, xmax FROM users").fetchall()

    before = row_version()
    for n in range(1, 6):
        await postgres_store.upsert_user(TelegramProfile(7, "Ada"), T0 + timedelta(seconds=n))
    assert row_version() == before
    await postgres_store.upsert_user(TelegramProfile(7, "Ada B"), T0 + timedelta(seconds=6))
    assert row_version() != before


async def test_racing_links_of_one_account_create_it_once(
    postgres_store: PostgresUserStore,
) -> None:
    user = (await postgres_store.upsert_user(TelegramProfile(1, "Ada"), T0)).user

    results = await asyncio.gather(
        *(postgres_store.link_account(user.id, "github", "gh-1", f"n{n}", T0) for n in range(20))
    )

    assert sum(new for _, new in results) == 1
    assert len(await postgres_store.list_accounts(user.id)) == 1


async def test_racing_links_of_one_provider_leave_one_link(
    postgres_store: PostgresUserStore,
) -> None:
    user = (await postgres_store.upsert_user(TelegramProfile(1, "Ada"), T0)).user

    results = await asyncio.gather(
        *(postgres_store.link_account(user.id, "github", f"gh-{n}", None, T0) for n in range(20)),
        return_exceptions=True,
    )

    conflicts = [r for r in results if isinstance(r, AccountConflict)]
    assert len(conflicts) == 19
    assert {(c.provider, c.reason) for c in conflicts} == {("github", "linked")}
    assert len(await postgres_store.list_accounts(user.id)) == 1


async def test_racing_verified_links_of_one_account_give_it_to_one_user(
    postgres_store: PostgresUserStore,
) -> None:
    users = [
        (await postgres_store.upsert_user(TelegramProfile(n, "Ada"), T0)).user for n in range(1, 12)
    ]
    squatter, claimants = users[0], users[1:]
    await postgres_store.link_account(squatter.id, "github", "583231", None, T0)

    results = await asyncio.gather(
        *(
            postgres_store.link_account(user.id, "github", "583231", None, T0, verified=True)
            for user in claimants
        ),
        return_exceptions=True,
    )

    conflicts = [r for r in results if isinstance(r, AccountConflict)]
    assert len(conflicts) == len(claimants) - 1
    assert {c.reason for c in conflicts} == {"taken"}
    assert await postgres_store.list_accounts(squatter.id) == []
    holders = [u for u in claimants if await postgres_store.list_accounts(u.id)]
    assert len(holders) == 1


async def test_the_schema_uses_bigint_ids_and_timestamptz(
    postgres_store: PostgresUserStore, postgres_url: str
) -> None:
    with psycopg.connect(postgres_url) as connection:
        types: dict[str, str] = dict(
            connection.execute(
                """
                SELECT table_name || '.' || column_name, data_type
                FROM information_schema.columns
                WHERE table_name IN ('users', 'linked_accounts', 'schema_migrations')
                """
            ).fetchall()
        )

    assert types["users.telegram_id"] == "bigint"
    assert types["users.created_at"] == "timestamp with time zone"
    assert types["users.last_seen_at"] == "timestamp with time zone"
    assert types["linked_accounts.linked_at"] == "timestamp with time zone"
    assert types["schema_migrations.applied_at"] == "timestamp with time zone"


async def test_deleting_a_user_deletes_the_links(
    postgres_store: PostgresUserStore, postgres_url: str
) -> None:
    user = (await postgres_store.upsert_user(TelegramProfile(1, "Ada"), T0)).user
    await postgres_store.link_account(user.id, "github", "gh-1", None, T0)

    with psycopg.connect(postgres_url) as connection:
        connection.execute("DELETE FROM users WHERE id = %s", (user.id,))

    assert await postgres_store.list_accounts(user.id) == []


async def test_the_postgres_scheme_is_an_alias(postgres_url: str) -> None:
    store = open_store(postgres_url.replace("postgresql://", "postgres://", 1))
    await store.open()
    try:
        assert (await store.migration_state()).applied == 0
    finally:
        await store.close()


async def test_pool_stats(postgres_store: PostgresUserStore) -> None:
    await postgres_store.get_user(1)

    stats = postgres_store.pool_stats()

    assert stats["max"] == 10
    assert stats["size"] >= 1
    assert 0 <= stats["available"] <= stats["size"]
    assert stats["waiting"] == 0


async def test_an_unreachable_server_is_a_storage_error_without_the_password() -> None:
    url = f"postgresql://learnbot:pa55-w0rd-s3cret@127.0.0.1:{_closed_port()}/learnbot"
    store = open_store(url, timeout=1)

    await store.open()  # the service starts while the database is down
    try:
        started = time.monotonic()
        with pytest.raises(StorageError) as caught:
            await store.migration_state()
        assert time.monotonic() - started < 2.5
    finally:
        await store.close()

    message = str(caught.value)
    assert "pa55-w0rd-s3cret" not in message
    assert url not in message
    cause = caught.value.__cause__
    while cause is not None:
        assert "pa55-w0rd-s3cret" not in str(cause)
        cause = cause.__cause__


async def test_calls_under_way_when_the_service_stops_end_within_the_time_it_leaves() -> None:
    store = open_store(f"postgresql://learnbot@127.0.0.1:{_closed_port()}/learnbot", timeout=30)
    await store.open()
    try:
        under_way = asyncio.ensure_future(store.migration_state())
        await asyncio.sleep(0.2)
        started = time.monotonic()
        store.end_calls_within(0.3)
        with pytest.raises(StorageError):
            await under_way
        assert 0.2 < time.monotonic() - started < 1
        started = time.monotonic()
        with pytest.raises(StorageError):
            await store.migration_state()
        assert time.monotonic() - started < 0.2
    finally:
        await store.close()


async def test_a_statement_that_outlasts_the_timeout_is_a_storage_error(
    postgres_url: str,
) -> None:
    store = open_store(postgres_url, timeout=1)
    await store.open()
    try:
        await store.migrate()
        await store.upsert_user(TelegramProfile(1, "Ada"), T0)
        with psycopg.connect(postgres_url) as locker:
            locker.execute("SELECT * FROM users WHERE telegram_id = 1 FOR UPDATE")
            started = time.monotonic()
            with pytest.raises(StorageError):
                await store.set_blocked(1, True)
            assert time.monotonic() - started < 2.5
        # The pool survives: once the lock is gone the same call works.
        blocked = await store.set_blocked(1, True)
        assert blocked is not None
        assert blocked.is_blocked
    finally:
        await store.close()


def _terminate_store_connections(postgres_url: str) -> int:
    """Ends the store's server processes, as a PostgreSQL restart would."""
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'learnbot' AND datname = current_database()"
        ).fetchone()
    assert row is not None
    ended: int = row[0]
    return ended


async def test_connections_in_steady_use_are_handed_out_without_a_check(
    postgres_store: PostgresUserStore,
) -> None:
    await postgres_store.get_user(1)
    checks = postgres_store.idle_check.checks

    for _ in range(50):
        await postgres_store.get_user(1)

    # The check is a round trip of its own: under load it would double every checkout's.
    assert postgres_store.idle_check.checks == checks


async def test_a_connection_that_sat_idle_is_checked_and_a_dead_one_replaced(
    postgres_store: PostgresUserStore, postgres_url: str
) -> None:
    await postgres_store.upsert_user(TelegramProfile(7, "Ada"), T0)
    assert _terminate_store_connections(postgres_url) >= 1
    checks = postgres_store.idle_check.checks
    await asyncio.sleep(FRESH_SECONDS + 0.2)

    user = await postgres_store.get_user(7)

    # No request fails for a connection that died while it sat in the pool.
    assert user is not None
    assert postgres_store.idle_check.checks > checks


async def test_a_connection_that_died_in_use_fails_one_request_then_is_replaced(
    postgres_store: PostgresUserStore, postgres_url: str
) -> None:
    """The price of skipping the check on fresh connections: a connection that died less than
    FRESH_SECONDS after its last request fails the next one, as a 503; the pool drops it, and
    every other connection is checked before its next use."""
    await postgres_store.upsert_user(TelegramProfile(8, "Bo"), T0)
    assert _terminate_store_connections(postgres_url) >= 1

    with pytest.raises(StorageError):
        await postgres_store.get_user(8)
    user = await postgres_store.get_user(8)
    assert user is not None

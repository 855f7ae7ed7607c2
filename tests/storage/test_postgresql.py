from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from asyncpg import exceptions as pg

from learnbot.storage import (
    AccountConflict,
    OAuthState,
    StorageError,
    TelegramProfile,
    migrations,
    open_store,
)
from learnbot.storage.postgresql import (
    FRESH_SECONDS,
    IdleConnectionCheck,
    IdleConnectionDead,
    PostgresUserStore,
    dead_peer_detection,
)

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
    async with _store_of_ada(postgres_url, timeout=1) as store:
        with _row_of_ada_locked(postgres_url):
            started = time.monotonic()
            with pytest.raises(StorageError):
                await store.set_blocked(1, True)
            assert time.monotonic() - started < 2.5
        # The pool survives: once the lock is gone the same call works.
        blocked = await store.set_blocked(1, True)
        assert blocked is not None
        assert blocked.is_blocked


@asynccontextmanager
async def _store_of_ada(postgres_url: str, **options: Any) -> AsyncIterator[PostgresUserStore]:
    """An open store whose one user, Telegram id 1, is Ada."""
    store = open_store(postgres_url, **options)
    assert isinstance(store, PostgresUserStore)
    await store.open()
    try:
        await store.migrate()
        await store.upsert_user(TelegramProfile(1, "Ada"), T0)
        yield store
    finally:
        await store.close()


@contextmanager
def _row_of_ada_locked(postgres_url: str) -> Iterator[psycopg.Connection[Any]]:
    """Another session holds Ada's row lock until the block ends or it rolls back."""
    with psycopg.connect(postgres_url) as locker:
        locker.execute("SELECT * FROM users WHERE telegram_id = 1 FOR UPDATE")
        yield locker


def _server_count(postgres_url: str, query: str) -> int:
    """The one number `query` answers, asked on a connection of its own."""
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        row = admin.execute(query.encode()).fetchone()
    assert row is not None
    count: int = row[0]
    return count


def _terminate_store_connections(postgres_url: str) -> int:
    """Ends the store's server processes, as a PostgreSQL restart would."""
    return _server_count(
        postgres_url,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name = 'learnbot' AND datname = current_database()",
    )


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


async def test_connections_detect_a_peer_gone_silent(postgres_store: PostgresUserStore) -> None:
    """TCP keepalives after `timeout` seconds idle, and tcp_user_timeout: a partition ends the
    connection instead of leaving a call waiting on it."""
    async with postgres_store._connection() as connection:
        sock = connection.tcp_socket()
        assert sock is not None, "the test database is reached over TCP"
        options = {
            "keepalive": sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            "idle": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
            "count": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
            "user timeout": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
        }
    assert options == {"keepalive": 1, "idle": 5, "count": 3, "user timeout": 5000}


async def test_sessions_run_in_utc_with_the_statement_timeout_and_the_services_name(
    postgres_store: PostgresUserStore,
) -> None:
    async with postgres_store._connection() as connection:
        settings = await connection.fetchrow(
            "SELECT current_setting('TimeZone'), current_setting('statement_timeout'), "
            "current_setting('application_name')"
        )
    assert tuple(settings) == ("UTC", "5s", "learnbot")


class _LateServer:
    """A port that refuses connections until `open()`, then forwards them to PostgreSQL."""

    def __init__(self, target_url: str) -> None:
        parts = urlsplit(target_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self.port = _closed_port()
        self.url = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{self.port}"))
        self._server: asyncio.Server | None = None

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except ConnectionError:
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


async def test_a_call_made_while_the_server_refuses_succeeds_once_it_answers_in_time(
    postgres_store: PostgresUserStore, postgres_url: str
) -> None:
    """A restart refuses connections for a moment: the call waits within its deadline."""
    await postgres_store.upsert_user(TelegramProfile(9, "Ada"), T0)
    late = _LateServer(postgres_url)
    store = open_store(late.url, timeout=5)
    await store.open()
    try:
        call = asyncio.ensure_future(store.get_user(9))
        await asyncio.sleep(0.8)
        assert not call.done()
        await late.open()
        user = await asyncio.wait_for(call, 4)
        assert user is not None
        assert user.first_name == "Ada"
    finally:
        await store.close()
        await late.close()


async def test_calls_waiting_for_a_connection_are_counted(postgres_url: str) -> None:
    async with _store_of_ada(postgres_url, pool_size=1, timeout=3) as store:
        with _row_of_ada_locked(postgres_url) as locker:
            holding = asyncio.ensure_future(store.set_blocked(1, True))
            await asyncio.sleep(0.3)
            waiting = asyncio.ensure_future(store.get_user(1))
            await asyncio.sleep(0.3)
            stats = store.pool_stats()
            locker.rollback()
        await holding
        await waiting
        assert stats == {"size": 1, "available": 0, "waiting": 1, "max": 1}
        assert store.pool_stats()["waiting"] == 0


def _committed_transactions(postgres_url: str) -> int:
    return _server_count(
        postgres_url, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    )


async def test_a_call_costs_its_statements_and_nothing_more(postgres_url: str) -> None:
    """A connection goes back to the pool without a reset query: a read by Telegram id is one
    statement on the server, not two."""
    store = open_store(postgres_url, pool_size=1)
    await store.open()
    await store.migrate()
    await store.get_user(1)
    await store.close()
    await asyncio.sleep(1.5)  # the server counts a session's transactions when it ends
    before = _committed_transactions(postgres_url)

    await store.open()
    for _ in range(100):
        await store.get_user(1)
    await store.close()
    await asyncio.sleep(1.5)
    after = _committed_transactions(postgres_url)

    # 100 reads, the new connection's idle check and the count's own reading session.
    assert 100 <= after - before <= 110


async def test_a_connection_lost_inside_a_transaction_is_a_storage_error(
    postgres_store: PostgresUserStore, postgres_url: str
) -> None:
    """asyncpg's ROLLBACK on the lost connection fails with "connection is closed": still the
    database being unavailable (503), not a fault of the service."""
    holder, claimant = [
        (await postgres_store.upsert_user(TelegramProfile(n, "Ada"), T0)).user for n in (1, 2)
    ]
    await postgres_store.link_account(holder.id, "github", "gh-1", None, T0)
    with psycopg.connect(postgres_url) as locker:
        locker.execute("SELECT * FROM linked_accounts WHERE external_id = 'gh-1' FOR UPDATE")
        # The verified link's DELETE waits for that lock, inside the store's transaction.
        linking = asyncio.ensure_future(
            postgres_store.link_account(claimant.id, "github", "gh-1", None, T0, verified=True)
        )
        await asyncio.sleep(0.5)
        assert _terminate_store_connections(postgres_url) >= 1
        with pytest.raises(StorageError):
            await linking
    assert [a.external_id for a in await postgres_store.list_accounts(holder.id)] == ["gh-1"]


async def test_a_deadlock_the_server_breaks_is_a_storage_error(
    postgres_store: PostgresUserStore, postgres_url: str
) -> None:
    """The server ends one side of a deadlock (40P01); for the store's side that is a retryable
    503, as psycopg reported it, not a 500."""
    user = (await postgres_store.upsert_user(TelegramProfile(1, "Ada"), T0)).user
    await postgres_store.save_oauth_state(
        OAuthState("h" * 64, user.id, "github", "v" * 43, None, T0, T0 + timedelta(minutes=10))
    )
    with psycopg.connect(postgres_url) as other:
        other.execute("SELECT * FROM oauth_states FOR UPDATE")
        # The block locks the user's row, then waits for the state the other session holds.
        blocking = asyncio.ensure_future(postgres_store.set_blocked(1, True))
        await asyncio.sleep(0.3)
        # The other session now waits for the user's row: a deadlock, which the store's side,
        # waiting longer, detects after deadlock_timeout (1 s) and is ended by.
        crossing = asyncio.ensure_future(
            asyncio.to_thread(other.execute, "UPDATE users SET locale = 'de' WHERE telegram_id = 1")
        )
        started = time.monotonic()
        with pytest.raises(StorageError) as caught:
            await blocking
        await crossing
        assert time.monotonic() - started < 3, "the deadline ended the call, not the server"
        assert "TransactionRollback" in str(caught.value) or "Deadlock" in str(caught.value)
        other.commit()


async def test_a_connection_that_ran_migrations_is_not_handed_to_a_request(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A migration may leave session state behind (here a setting): its connection goes."""
    found = migrations.discover("postgresql")
    leaves_state = migrations.Migration(
        found[-1].version + 1,
        "leaves_state",
        "SELECT set_config('application_name', 'left-behind', false)",
    )
    monkeypatch.setattr(migrations, "discover", lambda dialect: (*found, leaves_state))
    store = open_store(postgres_url, pool_size=1)
    assert isinstance(store, PostgresUserStore)
    await store.open()
    try:
        assert leaves_state.version in await store.migrate()
        async with store._connection() as connection:
            name = await connection.fetchval("SELECT current_setting('application_name')")
    finally:
        await store.close()
    assert name == "learnbot"


async def test_failed_connections_are_logged_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"postgresql://learnbot:pa55-w0rd-s3cret@127.0.0.1:{_closed_port()}/learnbot"
    store = open_store(url, timeout=1)
    await store.open()
    try:
        with caplog.at_level(logging.WARNING, logger="learnbot.storage.postgresql"):
            for _ in range(2):
                with pytest.raises(StorageError):
                    await store.get_user(1)
    finally:
        await store.close()

    # Every attempt failed, a few a second; one warning says why, the next within 10 s is held.
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "PostgreSQL connection failed" in warnings[0]
    assert "Connect call failed" in warnings[0] or "refused" in warnings[0].lower()
    assert "pa55-w0rd-s3cret" not in caplog.text


def test_socket_options_the_platform_lacks_are_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    everything = {option for _, option, _ in dead_peer_detection(5)}
    assert socket.TCP_USER_TIMEOUT in everything
    monkeypatch.delattr(socket, "TCP_USER_TIMEOUT")
    monkeypatch.delattr(socket, "TCP_KEEPIDLE")

    options = dead_peer_detection(5)

    assert len(options) == len(everything) - 2
    assert (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1) in options


async def test_a_host_that_never_answers_is_logged_as_a_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A partition or a firewall that drops packets: the connection attempt gives up inside the
    call's deadline, so the log says why the calls fail."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel completes the handshake; nothing ever answers
        port = silent.getsockname()[1]
        store = open_store(f"postgresql://learnbot@127.0.0.1:{port}/learnbot", timeout=1)
        await store.open()
        try:
            with caplog.at_level(logging.WARNING, logger="learnbot.storage.postgresql"):
                started = time.monotonic()
                with pytest.raises(StorageError):
                    await store.get_user(1)
                assert time.monotonic() - started < 1.5
        finally:
            await store.close()

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("PostgreSQL connection failed: TimeoutError")


async def test_a_connection_that_fails_its_idle_check_is_dead_not_a_failure_to_connect() -> None:
    class Dead:
        returned_at = 0.0

        async def execute(self, query: str) -> None:
            raise pg.ConnectionDoesNotExistError("connection was closed in the middle of operation")

    check = IdleConnectionCheck()

    with pytest.raises(IdleConnectionDead):
        await check.check(Dead())
    assert check.checks == 1

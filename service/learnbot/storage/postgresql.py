"""The PostgreSQL store, on asyncpg: a pool of connections, each call bounded by the Deadline."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
from asyncpg import exceptions as pg

from learnbot.storage import migrations
from learnbot.storage.base import (
    ACCOUNT_COLUMNS,
    LAST_SEEN_INTERVAL,
    OAUTH_STATE_COLUMNS,
    PROFILE_COLUMNS,
    PRUNE_EVERY,
    UPDATES_KEPT,
    USER_COLUMNS,
    AccountConflict,
    StorageError,
    UserStore,
    oauth_state,
    profile_values,
    sign_in_writes,
)
from learnbot.storage.cursor import decode_cursor, encode_cursor
from learnbot.storage.deadline import Deadline, within_deadline
from learnbot.storage.models import (
    LinkedAccount,
    MigrationState,
    OAuthState,
    SignIn,
    TelegramProfile,
    User,
    UserPage,
)

log = logging.getLogger(__name__)

# A connection back from a request this recently is handed out again without a check.
FRESH_SECONDS = 1.0
# An attempt to connect may take this share of the call's timeout.
CONNECT_SHARE = 0.8
# A checkout that could not connect tries again after these pauses (then every 0.5 s), until
# its deadline.
_RETRY_PAUSES = (0.0, 0.05, 0.1, 0.2, 0.4)
_RETRY_PAUSE_MAX = 0.5

# What says the database cannot be used right now, rather than that a statement was wrong:
# the connection broke or was refused, the server is starting, stopping or out of connections,
# the statement was cancelled (statement_timeout) or lost a deadlock, a lock or a limit was in
# the way (the SQLSTATE classes 08, 40, 53, 54, 55, 57 and 58).
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    pg.PostgresConnectionError,
    pg.TransactionRollbackError,
    pg.InsufficientResourcesError,
    pg.ProgramLimitExceededError,
    pg.ObjectNotInPrerequisiteStateError,
    pg.OperatorInterventionError,
    pg.PostgresSystemError,
)
# Opening a connection fails for these too: a wrong password, a missing database, a bad setting.
_CONNECT_FAILED: tuple[type[BaseException], ...] = (
    *_UNAVAILABLE,
    pg.PostgresError,
    pg.InterfaceError,
)

_USER_BY_TELEGRAM_ID = f"SELECT {USER_COLUMNS} FROM users WHERE telegram_id = $1"  # noqa: S608 - a constant column list


if TYPE_CHECKING:
    _AsyncpgConnection = asyncpg.Connection[asyncpg.Record]
else:
    _AsyncpgConnection = asyncpg.Connection


class Connection(_AsyncpgConnection):
    """An asyncpg connection that knows when it last went back to the pool."""

    returned_at = -math.inf

    def tcp_socket(self) -> Any:
        """The connection's socket when it is a TCP one (not a Unix socket), else None."""
        # asyncpg keeps its transport to itself; asyncio's transports all name their socket.
        sock = self._transport.get_extra_info("socket")  # type: ignore[attr-defined]
        if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
            return None
        return sock

    def detect_dead_peer(self, timeout: float) -> None:
        """TCP keepalives and a user timeout: a peer gone silent (a partition, a dead host)
        ends the connection instead of leaving it waiting."""
        sock = self.tcp_socket()
        if sock is None:
            return  # a Unix socket has no peer to lose
        for level, option, value in dead_peer_detection(timeout):
            sock.setsockopt(level, option, value)


class IdleConnectionDead(Exception):
    """A pooled connection failed its idle check: it died while it sat in the pool."""


class IdleConnectionCheck:
    """Checks a connection before the pool hands it out only when it sat idle for more than
    FRESH_SECONDS: a connection that died with the server is replaced instead of failing a
    request, and under load no checkout pays the extra round trip of the check."""

    def __init__(self, fresh_seconds: float = FRESH_SECONDS) -> None:
        self._fresh_seconds = fresh_seconds
        self._distrusted_at = -math.inf
        self.checks = 0

    async def returned(self, connection: Any) -> None:
        connection.returned_at = time.monotonic()

    def distrust_all(self) -> None:
        """After one connection broke, its neighbours likely did too (the server restarted):
        each is checked before its next use."""
        self._distrusted_at = time.monotonic()

    async def check(self, connection: Any) -> None:
        """Called with the pool's proxy of a Connection, which reads its attributes."""
        returned: float = connection.returned_at
        if returned > self._distrusted_at and time.monotonic() - returned < self._fresh_seconds:
            return
        self.checks += 1
        try:
            await connection.execute("SELECT 1")
        except _UNAVAILABLE as exc:
            # asyncpg closes the connection; the checkout then takes another one.
            raise IdleConnectionDead(type(exc).__name__) from exc


class ConnectFailureLog:
    """Logs why connections cannot be opened: a warning at the first failure and then at most
    every `every_seconds` while they go on, so an outage neither floods the log nor hides."""

    def __init__(self, every_seconds: float = 10.0) -> None:
        self._every_seconds = every_seconds
        self._last = -math.inf
        self.suppressed = 0

    def report(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._last < self._every_seconds:
            self.suppressed += 1
            return
        self._last = now
        code = getattr(exc, "sqlstate", None)
        # asyncpg's messages name the host, port, user and database, never the password.
        log.warning(
            "PostgreSQL connection failed: %s%s: %s (%d more since the last report)",
            type(exc).__name__,
            f" [{code}]" if code else "",
            str(exc)[:300],
            self.suppressed,
        )
        self.suppressed = 0


class PostgresUserStore(UserStore):
    def __init__(
        self,
        conninfo: str,
        *,
        pool_size: int = 10,
        timeout: float = 5.0,
        last_seen_interval: timedelta = LAST_SEEN_INTERVAL,
    ) -> None:
        self._conninfo = conninfo
        self._last_seen_interval = last_seen_interval
        self._pool_size = pool_size
        self._timeout = timeout
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None
        self._waiting = 0
        self._connect_failures = ConnectFailureLog()
        self.idle_check = IdleConnectionCheck()
        self.deadline = Deadline(timeout)

    async def open(self) -> None:
        # min_size 0: nothing connects here, so the service starts, and reports not ready,
        # while the database is down; connections open as requests need them.
        self._pool = await asyncpg.create_pool(
            self._conninfo,
            min_size=0,
            max_size=self._pool_size,
            connection_class=Connection,
            init=self._prepare,
            setup=self.idle_check.check,
            # Instead of asyncpg's reset query, a round trip on every release: the store's calls
            # leave no session state behind (a transaction is rolled back by asyncpg itself).
            reset=self.idle_check.returned,
            # Inside the call's own deadline, so that a host that does not answer is
            # reported (TimeoutError) instead of the attempt being cut off unseen.
            timeout=CONNECT_SHARE * self._timeout,
            server_settings={
                "application_name": "learnbot",
                "statement_timeout": str(round(self._timeout * 1000)),
                "TimeZone": "UTC",
            },
        )

    async def _prepare(self, connection: Any) -> None:
        connection.detect_dead_peer(self._timeout)

    def end_calls_within(self, seconds: float) -> None:
        self.deadline.end_within(seconds)

    async def close(self) -> None:
        await self.deadline.close()
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), self._timeout)
            except TimeoutError:
                pool.terminate()  # a connection still held by a call to a hung server

    def pool_stats(self) -> dict[str, int]:
        if self._pool is None:
            return {"size": 0, "available": 0, "waiting": 0, "max": self._pool_size}
        return {
            "size": self._pool.get_size(),
            "available": self._pool.get_idle_size(),
            "waiting": self._waiting,
            "max": self._pool.get_max_size(),
        }

    async def migrate(self) -> list[int]:
        async with self._connection() as connection:
            applied = await migrations.migrate_postgresql(connection)
        # A migration may leave session state behind (a SET, a lock): no request gets a
        # connection that ran one.
        if self._pool is not None:
            await self._pool.expire_connections()
        return applied

    @within_deadline
    async def migration_state(self) -> MigrationState:
        async with self._connection() as connection:
            return await migrations.postgresql_migration_state(connection)

    @within_deadline
    async def upsert_user(self, profile: TelegramProfile, seen_at: datetime) -> SignIn:
        async with self._connection() as connection:
            # Most sign-ins are a returning user whose profile has not changed: one read, no
            # write and no row lock, so one user's concurrent requests never queue on the row.
            stored = await connection.fetchrow(_USER_BY_TELEGRAM_ID, profile.telegram_id)
            user = None if stored is None else _user(stored)
            if user is not None and not sign_in_writes(
                user, profile, _utc(seen_at), self._last_seen_interval
            ):
                return SignIn(user=user, created=False)
            row = await connection.fetchrow(
                f"""
                INSERT INTO users ({PROFILE_COLUMNS}, created_at, last_seen_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
                ON CONFLICT (telegram_id) DO UPDATE SET
                    username = excluded.username,
                    first_name = excluded.first_name,
                    last_name = excluded.last_name,
                    language_code = excluded.language_code,
                    is_premium = excluded.is_premium,
                    photo_url = excluded.photo_url,
                    last_seen_at = excluded.last_seen_at
                WHERE NOT users.is_blocked
                RETURNING
                    {USER_COLUMNS}, (xmax = 0) AS created
                """,  # noqa: S608 - a constant column list
                *profile_values(profile),
                _utc(seen_at),
            )
            if row is None:
                # A blocked user's sign-in writes nothing; only then a second query reads them.
                row = await connection.fetchrow(
                    f"SELECT {USER_COLUMNS}, FALSE FROM users WHERE telegram_id = $1",  # noqa: S608 - a constant column list
                    profile.telegram_id,
                )
        assert row is not None
        return SignIn(user=_user(row), created=row[13])

    @within_deadline
    async def get_user(self, telegram_id: int) -> User | None:
        async with self._connection() as connection:
            row = await connection.fetchrow(_USER_BY_TELEGRAM_ID, telegram_id)
        return None if row is None else _user(row)

    @within_deadline
    async def get_user_with_accounts(
        self, telegram_id: int
    ) -> tuple[User, list[LinkedAccount]] | None:
        async with self._connection() as connection:
            row = await connection.fetchrow(
                f"""
                SELECT
                    {USER_COLUMNS},
                    (
                        SELECT coalesce(
                            json_agg(
                                json_build_array(
                                    provider, external_id, display_name, linked_at, verified
                                )
                                ORDER BY provider
                            ),
                            '[]'
                        )
                        FROM linked_accounts
                        WHERE user_id = users.id
                    )
                FROM users
                WHERE telegram_id = $1
                """,  # noqa: S608 - a constant column list
                telegram_id,
            )
        if row is None:
            return None
        # asyncpg hands json over as its text.
        accounts = [
            LinkedAccount(
                provider=provider,
                external_id=external_id,
                display_name=display_name,
                linked_at=datetime.fromisoformat(linked_at).astimezone(UTC),
                verified=verified,
            )
            for provider, external_id, display_name, linked_at, verified in json.loads(row[13])
        ]
        return _user(row), accounts

    @within_deadline
    async def list_accounts(self, user_id: int) -> list[LinkedAccount]:
        async with self._connection() as connection:
            rows = await connection.fetch(
                f"""
                SELECT {ACCOUNT_COLUMNS}
                FROM linked_accounts
                WHERE user_id = $1
                ORDER BY provider
                """,  # noqa: S608 - a constant column list
                user_id,
            )
        return [_account(row) for row in rows]

    @within_deadline
    async def link_account(
        self,
        user_id: int,
        provider: str,
        external_id: str,
        display_name: str | None,
        linked_at: datetime,
        *,
        verified: bool = False,
    ) -> tuple[LinkedAccount, bool]:
        linked = _utc(linked_at)
        for _ in range(3):
            try:
                row = await self._insert_or_rename_link(
                    user_id, provider, external_id, display_name, linked, verified
                )
            except pg.UniqueViolationError as exc:
                if exc.constraint_name != "linked_accounts_user_id_provider_key":
                    raise
                # A racing insert of this very link trips this index before the arbiter sees
                # it; once that insert has committed, the retry takes the relink path.
                continue
            if row is None:
                raise AccountConflict(provider, "taken")
            return _account(row), row[5]
        raise AccountConflict(provider, "linked")

    async def _insert_or_rename_link(
        self,
        user_id: int,
        provider: str,
        external_id: str,
        display_name: str | None,
        linked_at: datetime,
        verified: bool,
    ) -> asyncpg.Record | None:
        """Returns None when another user holds the account."""
        async with self._connection() as connection, connection.transaction():
            if verified:
                # Unverified links in the way of a verified one: the same account held by
                # another user, and another account of the provider held by this user.
                await connection.execute(
                    """
                    DELETE FROM linked_accounts
                    WHERE provider = $1 AND NOT verified
                        AND (
                            (external_id = $2 AND user_id <> $3)
                            OR (user_id = $3 AND external_id <> $2)
                        )
                    """,
                    provider,
                    external_id,
                    user_id,
                )
            row: asyncpg.Record | None = await connection.fetchrow(
                f"""
                INSERT INTO linked_accounts
                    (user_id, provider, external_id, display_name, linked_at, verified)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (provider, external_id) DO UPDATE
                    SET display_name = excluded.display_name,
                        verified = linked_accounts.verified OR excluded.verified
                    WHERE linked_accounts.user_id = excluded.user_id
                RETURNING {ACCOUNT_COLUMNS}, (xmax = 0) AS created
                """,  # noqa: S608 - a constant column list
                user_id,
                provider,
                external_id,
                display_name,
                linked_at,
                verified,
            )
            return row

    @within_deadline
    async def save_oauth_state(self, state: OAuthState) -> None:
        async with self._connection() as connection, connection.transaction():
            await connection.execute(
                "DELETE FROM oauth_states WHERE expires_at <= $1", _utc(state.created_at)
            )
            await connection.execute(
                f"""
                INSERT INTO oauth_states ({OAUTH_STATE_COLUMNS})
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                """,  # noqa: S608 - a constant column list
                state.state_hash,
                state.user_id,
                state.provider,
                state.code_verifier,
                state.nonce,
                _utc(state.created_at),
                _utc(state.expires_at),
            )

    @within_deadline
    async def take_oauth_state(self, state_hash: str) -> OAuthState | None:
        async with self._connection() as connection:
            row = await connection.fetchrow(
                f"DELETE FROM oauth_states WHERE state_hash = $1 RETURNING {OAUTH_STATE_COLUMNS}",  # noqa: S608 - a constant column list
                state_hash,
            )
        return None if row is None else oauth_state(row, _utc)

    @within_deadline
    async def unlink_account(self, user_id: int, provider: str) -> bool:
        async with self._connection() as connection:
            status = await connection.execute(
                "DELETE FROM linked_accounts WHERE user_id = $1 AND provider = $2",
                user_id,
                provider,
            )
        return _rows_affected(status) > 0

    @within_deadline
    async def list_users(self, limit: int, cursor: str | None) -> UserPage:
        before = None if cursor is None else decode_cursor(cursor)
        async with self._connection() as connection:
            if before is None:
                rows = await connection.fetch(
                    f"""
                    SELECT
                        {USER_COLUMNS}
                    FROM users
                    ORDER BY id DESC
                    LIMIT $1
                    """,  # noqa: S608 - a constant column list
                    limit + 1,
                )
            else:
                rows = await connection.fetch(
                    f"""
                    SELECT
                        {USER_COLUMNS}
                    FROM users
                    WHERE id < $1
                    ORDER BY id DESC
                    LIMIT $2
                    """,  # noqa: S608 - a constant column list
                    before,
                    limit + 1,
                )
        users = [_user(row) for row in rows[:limit]]
        more = len(rows) > limit
        return UserPage(users=users, next_cursor=encode_cursor(users[-1].id) if more else None)

    @within_deadline
    async def set_blocked(self, telegram_id: int, blocked: bool) -> User | None:
        async with self._connection() as connection:
            row = await connection.fetchrow(
                f"""
                WITH changed AS (
                    UPDATE users SET is_blocked = $1 WHERE telegram_id = $2
                    RETURNING {USER_COLUMNS}
                ),
                ended AS (
                    DELETE FROM oauth_states
                    WHERE $1 AND user_id IN (SELECT id FROM changed)
                )
                SELECT * FROM changed
                """,  # noqa: S608 - a constant column list
                blocked,
                telegram_id,
            )
        return None if row is None else _user(row)

    @within_deadline
    async def set_locale(self, user_id: int, locale: str | None) -> User | None:
        return await self._update_user("locale = $1", "id = $2", locale, user_id)

    @within_deadline
    async def set_source(self, user_id: int, source: str) -> User | None:
        return await self._update_user(
            "source = $1", "id = $2 AND source IS NULL AND NOT is_blocked", source, user_id
        )

    @within_deadline
    async def record_update(self, update_id: int, received_at: datetime) -> bool:
        async with self._connection() as connection:
            status = await connection.execute(
                "INSERT INTO bot_updates (update_id, received_at) VALUES ($1, $2) "
                "ON CONFLICT (update_id) DO NOTHING",
                update_id,
                _utc(received_at),
            )
            new = _rows_affected(status) > 0
            if new and update_id % PRUNE_EVERY == 0:
                await connection.execute(
                    "DELETE FROM bot_updates WHERE received_at < $1",
                    _utc(received_at) - UPDATES_KEPT,
                )
        return new

    async def _update_user(self, assignment: str, condition: str, *params: object) -> User | None:
        async with self._connection() as connection:
            row = await connection.fetchrow(
                f"UPDATE users SET {assignment} WHERE {condition} RETURNING {USER_COLUMNS}",  # noqa: S608 - constant SQL fragments
                *params,
            )
        return None if row is None else _user(row)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        pool = self._pool
        if pool is None:
            raise RuntimeError("the store is not open")
        try:
            connection = await self._checkout(pool)
            try:
                yield connection
            finally:
                # Bounded: a call abandoned by its deadline waits here for the server to
                # confirm the cancel; past the timeout asyncpg drops the connection instead.
                await pool.release(connection, timeout=self._timeout)
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        except pg.InterfaceError as exc:
            # A connection that broke inside a transaction fails the ROLLBACK with "the
            # underlying connection is closed", which takes the place of what broke it.
            broke = _while_handling_unavailable(exc)
            if broke is None:
                raise
            raise self._unavailable(broke) from exc

    def _unavailable(self, exc: BaseException) -> StorageError:
        self.idle_check.distrust_all()
        # Messages name host and port at most; the DSN stays out of the message.
        return StorageError(f"PostgreSQL unavailable: {type(exc).__name__}")

    async def _checkout(self, pool: asyncpg.Pool[asyncpg.Record]) -> Any:
        """A connection from the pool. While none can be opened (the server refuses, restarts,
        or a connection failed its idle check), the checkout tries again until the timeout: a
        database that comes back within it is met by the request, as by the next one."""
        self._waiting += 1
        failed: BaseException | None = None
        try:
            async with asyncio.timeout(self._timeout):
                for pause in itertools.chain(_RETRY_PAUSES, itertools.repeat(_RETRY_PAUSE_MAX)):
                    if pool.is_closing():
                        raise StorageError("PostgreSQL unavailable: the store is closing")
                    try:
                        return await pool.acquire()
                    except IdleConnectionDead:
                        # Replaced at once, and not reported: the server restarted meanwhile.
                        self.idle_check.distrust_all()
                        continue
                    except _CONNECT_FAILED as exc:
                        failed = exc
                        self.idle_check.distrust_all()
                        self._connect_failures.report(exc)
                    await asyncio.sleep(pause)
        except TimeoutError:
            if failed is None:
                raise  # every connection was in use until the timeout
            raise self._unavailable(failed) from failed
        finally:
            self._waiting -= 1
        raise AssertionError("the pauses never end")


def _while_handling_unavailable(exc: BaseException) -> BaseException | None:
    """The unavailable database's error that `exc` was raised while handling, if any."""
    context = exc.__context__
    for _ in range(10):
        if context is None or isinstance(context, _UNAVAILABLE):
            return context
        context = context.__context__
    return None


def dead_peer_detection(timeout: float) -> list[tuple[int, int, int]]:
    """Socket options (level, option, value) that end a connection whose peer went silent;
    those the platform lacks (macOS has no TCP_USER_TIMEOUT) are left out, as libpq does."""
    wanted = [
        (socket.SOL_SOCKET, "SO_KEEPALIVE", 1),
        (socket.IPPROTO_TCP, "TCP_KEEPIDLE", max(1, math.ceil(timeout))),
        (socket.IPPROTO_TCP, "TCP_KEEPINTVL", 1),
        (socket.IPPROTO_TCP, "TCP_KEEPCNT", 3),
        (socket.IPPROTO_TCP, "TCP_USER_TIMEOUT", round(timeout * 1000)),
    ]
    return [
        (level, option, value)
        for level, name, value in wanted
        if (option := getattr(socket, name, None)) is not None
    ]


def _rows_affected(status: str) -> int:
    """The row count of a command tag such as `INSERT 0 1` or `DELETE 3`."""
    return int(status.rsplit(" ", 1)[-1])


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC)


def _user(row: asyncpg.Record) -> User:
    return User(
        id=row[0],
        telegram_id=row[1],
        username=row[2],
        first_name=row[3],
        last_name=row[4],
        language_code=row[5],
        is_premium=row[6],
        photo_url=row[7],
        is_blocked=row[8],
        created_at=row[9].astimezone(UTC),
        last_seen_at=row[10].astimezone(UTC),
        locale=row[11],
        source=row[12],
    )


def _account(row: asyncpg.Record) -> LinkedAccount:
    return LinkedAccount(
        provider=row[0],
        external_id=row[1],
        display_name=row[2],
        linked_at=row[3].astimezone(UTC),
        verified=row[4],
    )

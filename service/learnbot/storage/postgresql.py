from __future__ import annotations

import math
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from learnbot.storage import migrations
from learnbot.storage.base import (
    ACCOUNT_COLUMNS,
    LAST_SEEN_INTERVAL,
    OAUTH_STATE_COLUMNS,
    PRUNE_EVERY,
    UPDATES_KEPT,
    USER_COLUMNS,
    AccountConflict,
    StorageError,
    UserStore,
    oauth_state,
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

_Connection = AsyncConnection[TupleRow]
# A connection back from a request this recently is handed out again without a check.
FRESH_SECONDS = 1.0


_USER_BY_TELEGRAM_ID = f"SELECT {USER_COLUMNS} FROM users WHERE telegram_id = %s"  # noqa: S608 - a constant column list


class IdleConnectionCheck:
    """Checks a connection before the pool hands it out only when it sat idle for more than
    FRESH_SECONDS: a connection that died with the server is replaced instead of failing a
    request, and under load no checkout pays the extra round trip of the check."""

    def __init__(self, fresh_seconds: float = FRESH_SECONDS) -> None:
        self._fresh_seconds = fresh_seconds
        self._returned: weakref.WeakKeyDictionary[_Connection, float] = weakref.WeakKeyDictionary()
        self.checks = 0

    async def returned(self, connection: _Connection) -> None:
        self._returned[connection] = time.monotonic()

    def distrust_all(self) -> None:
        """After one connection broke, its neighbours likely did too (the server restarted):
        each is checked before its next use."""
        self._returned.clear()

    async def check(self, connection: _Connection) -> None:
        returned = self._returned.get(connection)
        if returned is not None and time.monotonic() - returned < self._fresh_seconds:
            return
        self.checks += 1
        await AsyncConnectionPool.check_connection(connection)


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
        self._pool: AsyncConnectionPool[_Connection] | None = None
        self.idle_check = IdleConnectionCheck()
        self.deadline = Deadline(timeout)

    async def open(self) -> None:
        self._pool = AsyncConnectionPool(
            self._conninfo,
            kwargs={
                "autocommit": True,
                "connect_timeout": max(2, math.ceil(self._timeout)),
                "options": f"-c statement_timeout={round(self._timeout * 1000)} -c TimeZone=UTC",
                "application_name": "learnbot",
                **dead_peer_detection(self._timeout),
            },
            min_size=1,
            max_size=self._pool_size,
            timeout=self._timeout,
            check=self.idle_check.check,
            reset=self.idle_check.returned,
            # Give up a reconnection cycle quickly; the next request starts a fresh attempt, so
            # the pool finds a database that came back within seconds, not after a long backoff.
            reconnect_timeout=self._timeout,
            name="learnbot",
            open=False,
        )
        # Without waiting: the service starts, and reports not ready, while the database is down.
        await self._pool.open(wait=False)

    def end_calls_within(self, seconds: float) -> None:
        self.deadline.end_within(seconds)

    async def close(self) -> None:
        await self.deadline.close()
        if self._pool is not None:
            await self._pool.close(timeout=self._timeout)
            self._pool = None

    def pool_stats(self) -> dict[str, int]:
        if self._pool is None:
            return {"size": 0, "available": 0, "waiting": 0, "max": self._pool_size}
        stats = self._pool.get_stats()
        return {
            "size": stats.get("pool_size", 0),
            "available": stats.get("pool_available", 0),
            "waiting": stats.get("requests_waiting", 0),
            "max": stats.get("pool_max", self._pool_size),
        }

    async def migrate(self) -> list[int]:
        async with self._connection() as connection:
            return await migrations.migrate_postgresql(connection)

    @within_deadline
    async def migration_state(self) -> MigrationState:
        async with self._connection() as connection:
            return await migrations.postgresql_migration_state(connection)

    @within_deadline
    async def upsert_user(self, profile: TelegramProfile, seen_at: datetime) -> SignIn:
        async with self._connection() as connection:
            # Most sign-ins are a returning user whose profile has not changed: one read, no
            # write and no row lock, so one user's concurrent requests never queue on the row.
            cursor = await connection.execute(_USER_BY_TELEGRAM_ID, (profile.telegram_id,))
            stored = await cursor.fetchone()
            user = None if stored is None else _user(stored)
            if user is not None and not sign_in_writes(
                user, profile, _utc(seen_at), self._last_seen_interval
            ):
                return SignIn(user=user, created=False)
            cursor = await connection.execute(
                f"""
                INSERT INTO users (
                    telegram_id, username, first_name, last_name, language_code, is_premium,
                    photo_url, created_at, last_seen_at
                )
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
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
                (
                    profile.telegram_id,
                    profile.username,
                    profile.first_name,
                    profile.last_name,
                    profile.language_code,
                    profile.is_premium,
                    profile.photo_url,
                    _utc(seen_at),
                    _utc(seen_at),
                ),
            )
            row = await cursor.fetchone()
            if row is None:
                # A blocked user's sign-in writes nothing; only then a second query reads them.
                cursor = await connection.execute(
                    f"SELECT {USER_COLUMNS}, FALSE FROM users WHERE telegram_id = %s",  # noqa: S608 - a constant column list
                    (profile.telegram_id,),
                )
                row = await cursor.fetchone()
        assert row is not None
        return SignIn(user=_user(row), created=row[13])

    @within_deadline
    async def get_user(self, telegram_id: int) -> User | None:
        async with self._connection() as connection:
            cursor = await connection.execute(_USER_BY_TELEGRAM_ID, (telegram_id,))
            row = await cursor.fetchone()
        return None if row is None else _user(row)

    @within_deadline
    async def get_user_with_accounts(
        self, telegram_id: int
    ) -> tuple[User, list[LinkedAccount]] | None:
        async with self._connection() as connection:
            cursor = await connection.execute(
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
                WHERE telegram_id = %s
                """,  # noqa: S608 - a constant column list
                (telegram_id,),
            )
            row = await cursor.fetchone()
        if row is None:
            return None
        accounts = [
            LinkedAccount(
                provider=provider,
                external_id=external_id,
                display_name=display_name,
                linked_at=datetime.fromisoformat(linked_at).astimezone(UTC),
                verified=verified,
            )
            for provider, external_id, display_name, linked_at, verified in row[13]
        ]
        return _user(row), accounts

    @within_deadline
    async def list_accounts(self, user_id: int) -> list[LinkedAccount]:
        async with self._connection() as connection:
            cursor = await connection.execute(
                f"""
                SELECT {ACCOUNT_COLUMNS}
                FROM linked_accounts
                WHERE user_id = %s
                ORDER BY provider
                """,  # noqa: S608 - a constant column list
                (user_id,),
            )
            rows = await cursor.fetchall()
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
            except psycopg.errors.UniqueViolation as exc:
                if exc.diag.constraint_name != "linked_accounts_user_id_provider_key":
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
    ) -> TupleRow | None:
        """Returns None when another user holds the account."""
        async with self._connection() as connection, connection.transaction():
            if verified:
                # Unverified links in the way of a verified one: the same account held by
                # another user, and another account of the provider held by this user.
                await connection.execute(
                    """
                    DELETE FROM linked_accounts
                    WHERE provider = %(provider)s AND NOT verified
                        AND (
                            (external_id = %(external_id)s AND user_id <> %(user_id)s)
                            OR (user_id = %(user_id)s AND external_id <> %(external_id)s)
                        )
                    """,
                    {"provider": provider, "external_id": external_id, "user_id": user_id},
                )
            cursor = await connection.execute(
                f"""
                INSERT INTO linked_accounts
                    (user_id, provider, external_id, display_name, linked_at, verified)
                VALUES (%s, %s, %s, %s, %s, %s)
                ON CONFLICT (provider, external_id) DO UPDATE
                    SET display_name = excluded.display_name,
                        verified = linked_accounts.verified OR excluded.verified
                    WHERE linked_accounts.user_id = excluded.user_id
                RETURNING {ACCOUNT_COLUMNS}, (xmax = 0) AS created
                """,  # noqa: S608 - a constant column list
                (user_id, provider, external_id, display_name, linked_at, verified),
            )
            return await cursor.fetchone()

    @within_deadline
    async def save_oauth_state(self, state: OAuthState) -> None:
        async with self._connection() as connection, connection.transaction():
            await connection.execute(
                "DELETE FROM oauth_states WHERE expires_at <= %s", (_utc(state.created_at),)
            )
            await connection.execute(
                f"""
                INSERT INTO oauth_states ({OAUTH_STATE_COLUMNS})
                VALUES (%s, %s, %s, %s, %s, %s, %s)
                """,  # noqa: S608 - a constant column list
                (
                    state.state_hash,
                    state.user_id,
                    state.provider,
                    state.code_verifier,
                    state.nonce,
                    _utc(state.created_at),
                    _utc(state.expires_at),
                ),
            )

    @within_deadline
    async def take_oauth_state(self, state_hash: str) -> OAuthState | None:
        async with self._connection() as connection:
            cursor = await connection.execute(
                f"DELETE FROM oauth_states WHERE state_hash = %s RETURNING {OAUTH_STATE_COLUMNS}",  # noqa: S608 - a constant column list
                (state_hash,),
            )
            row = await cursor.fetchone()
        return None if row is None else oauth_state(row, _utc)

    @within_deadline
    async def unlink_account(self, user_id: int, provider: str) -> bool:
        async with self._connection() as connection:
            cursor = await connection.execute(
                "DELETE FROM linked_accounts WHERE user_id = %s AND provider = %s",
                (user_id, provider),
            )
            return cursor.rowcount > 0

    @within_deadline
    async def list_users(self, limit: int, cursor: str | None) -> UserPage:
        before = None if cursor is None else decode_cursor(cursor)
        async with self._connection() as connection:
            if before is None:
                result = await connection.execute(
                    f"""
                    SELECT
                        {USER_COLUMNS}
                    FROM users
                    ORDER BY id DESC
                    LIMIT %s
                    """,  # noqa: S608 - a constant column list
                    (limit + 1,),
                )
            else:
                result = await connection.execute(
                    f"""
                    SELECT
                        {USER_COLUMNS}
                    FROM users
                    WHERE id < %s
                    ORDER BY id DESC
                    LIMIT %s
                    """,  # noqa: S608 - a constant column list
                    (before, limit + 1),
                )
            rows = await result.fetchall()
        users = [_user(row) for row in rows[:limit]]
        more = len(rows) > limit
        return UserPage(users=users, next_cursor=encode_cursor(users[-1].id) if more else None)

    @within_deadline
    async def set_blocked(self, telegram_id: int, blocked: bool) -> User | None:
        async with self._connection() as connection:
            cursor = await connection.execute(
                f"""
                WITH changed AS (
                    UPDATE users SET is_blocked = %(blocked)s WHERE telegram_id = %(telegram_id)s
                    RETURNING {USER_COLUMNS}
                ),
                ended AS (
                    DELETE FROM oauth_states
                    WHERE %(blocked)s AND user_id IN (SELECT id FROM changed)
                )
                SELECT * FROM changed
                """,  # noqa: S608 - a constant column list
                {"blocked": blocked, "telegram_id": telegram_id},
            )
            row = await cursor.fetchone()
        return None if row is None else _user(row)

    @within_deadline
    async def set_locale(self, user_id: int, locale: str | None) -> User | None:
        return await self._update_user("locale = %s", "id = %s", (locale, user_id))

    @within_deadline
    async def set_source(self, user_id: int, source: str) -> User | None:
        return await self._update_user(
            "source = %s", "id = %s AND source IS NULL AND NOT is_blocked", (source, user_id)
        )

    @within_deadline
    async def record_update(self, update_id: int, received_at: datetime) -> bool:
        async with self._connection() as connection:
            cursor = await connection.execute(
                "INSERT INTO bot_updates (update_id, received_at) VALUES (%s, %s) "
                "ON CONFLICT (update_id) DO NOTHING",
                (update_id, _utc(received_at)),
            )
            new = cursor.rowcount > 0
            if new and update_id % PRUNE_EVERY == 0:
                await connection.execute(
                    "DELETE FROM bot_updates WHERE received_at < %s",
                    (_utc(received_at) - UPDATES_KEPT,),
                )
        return new

    async def _update_user(
        self, assignment: str, condition: str, params: tuple[object, ...]
    ) -> User | None:
        async with self._connection() as connection:
            cursor = await connection.execute(
                f"UPDATE users SET {assignment} WHERE {condition} RETURNING {USER_COLUMNS}",  # noqa: S608 - constant SQL fragments
                params,
            )
            row = await cursor.fetchone()
        return None if row is None else _user(row)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[_Connection]:
        if self._pool is None:
            raise RuntimeError("the store is not open")
        try:
            async with self._pool.connection() as connection:
                yield connection
        except (psycopg.OperationalError, PoolTimeout, TimeoutError) as exc:
            self.idle_check.distrust_all()
            # libpq messages name host and port at most; the DSN stays out of the message.
            raise StorageError(f"PostgreSQL unavailable: {type(exc).__name__}") from exc


def dead_peer_detection(timeout: float) -> dict[str, int]:
    """libpq settings that end a connection whose peer went silent (a partition, a dead host)."""
    return {
        "keepalives": 1,
        "keepalives_idle": max(1, math.ceil(timeout)),
        "keepalives_interval": 1,
        "keepalives_count": 3,
        "tcp_user_timeout": round(timeout * 1000),
    }


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC)


def _user(row: TupleRow) -> User:
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


def _account(row: TupleRow) -> LinkedAccount:
    return LinkedAccount(
        provider=row[0],
        external_id=row[1],
        display_name=row[2],
        linked_at=row[3].astimezone(UTC),
        verified=row[4],
    )

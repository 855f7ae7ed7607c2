from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

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
from learnbot.storage.models import (
    LinkedAccount,
    MigrationState,
    OAuthState,
    SignIn,
    TelegramProfile,
    User,
    UserPage,
)

T = TypeVar("T")

# Unverified links in the way of a verified one: the same account held by another user, and
# another account of the provider held by this user.
_YIELD_TO_PROOF = """
DELETE FROM linked_accounts
WHERE provider = ? AND NOT verified
    AND ((external_id = ? AND user_id <> ?) OR (user_id = ? AND external_id <> ?))
"""


_USER_BY_TELEGRAM_ID = f"SELECT {USER_COLUMNS} FROM users WHERE telegram_id = ?"  # noqa: S608 - a constant column list


class SQLiteUserStore(UserStore):
    """One connection owned by one thread, so the event loop never waits on the file."""

    def __init__(
        self,
        path: Path,
        *,
        timeout: float = 5.0,
        last_seen_interval: timedelta = LAST_SEEN_INTERVAL,
    ) -> None:
        self._path = path
        self._last_seen_interval = last_seen_interval
        self._timeout = timeout
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="learnbot-sqlite")
        try:
            await self._submit(self._connect)
        except BaseException:
            self._executor.shutdown()
            self._executor = None
            raise

    def end_calls_within(self, seconds: float) -> None:
        """A local file, waited for only while another process holds its lock (`timeout`)."""

    async def close(self) -> None:
        if self._executor is None:
            return
        await self._submit(self._disconnect)
        self._executor.shutdown()
        self._executor = None

    async def migrate(self) -> list[int]:
        return await self._run(migrations.migrate_sqlite)

    async def migration_state(self) -> MigrationState:
        return await self._run(migrations.sqlite_migration_state)

    async def upsert_user(self, profile: TelegramProfile, seen_at: datetime) -> SignIn:
        seen = _timestamp(seen_at)

        def upsert(connection: sqlite3.Connection) -> SignIn:
            # A returning user whose profile has not changed: one read, no write.
            stored = connection.execute(
                _USER_BY_TELEGRAM_ID,
                (profile.telegram_id,),
            ).fetchone()
            user = None if stored is None else _user(stored)
            if user is not None and not sign_in_writes(
                user, profile, seen_at, self._last_seen_interval
            ):
                return SignIn(user=user, created=False)
            row = connection.execute(
                f"""
                INSERT INTO users ({PROFILE_COLUMNS}, created_at, last_seen_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
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
                    {USER_COLUMNS}
                """,  # noqa: S608 - a constant column list
                (
                    *profile_values(profile),
                    seen,
                    seen,
                ),
            ).fetchone()
            if row is None:
                return SignIn(user=_blocked_user(connection, profile.telegram_id), created=False)
            # An update never touches created_at, so only an insert can leave it equal to now.
            return SignIn(user=_user(row), created=row[9] == seen)

        return await self._run(upsert)

    async def get_user(self, telegram_id: int) -> User | None:
        def get(connection: sqlite3.Connection) -> User | None:
            row = connection.execute(
                f"""
                SELECT
                    {USER_COLUMNS}
                FROM users
                WHERE telegram_id = ?
                """,  # noqa: S608 - a constant column list
                (telegram_id,),
            ).fetchone()
            return None if row is None else _user(row)

        return await self._run(get)

    async def list_accounts(self, user_id: int) -> list[LinkedAccount]:
        return await self._run(lambda connection: _accounts(connection, user_id))

    async def get_user_with_accounts(
        self, telegram_id: int
    ) -> tuple[User, list[LinkedAccount]] | None:
        def get(connection: sqlite3.Connection) -> tuple[User, list[LinkedAccount]] | None:
            row = connection.execute(
                _USER_BY_TELEGRAM_ID,
                (telegram_id,),
            ).fetchone()
            if row is None:
                return None
            user = _user(row)
            return user, _accounts(connection, user.id)

        return await self._run(get)

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
        linked = _timestamp(linked_at)

        def link(connection: sqlite3.Connection) -> tuple[LinkedAccount, bool]:
            # BEGIN IMMEDIATE takes the write lock first, so checking before writing cannot race.
            with connection:
                connection.execute("BEGIN IMMEDIATE")
                if verified:
                    connection.execute(
                        _YIELD_TO_PROOF, (provider, external_id, user_id, user_id, external_id)
                    )
                owner = connection.execute(
                    "SELECT user_id FROM linked_accounts WHERE provider = ? AND external_id = ?",
                    (provider, external_id),
                ).fetchone()
                if owner is not None and owner[0] != user_id:
                    raise AccountConflict(provider, "taken")
                if owner is not None:
                    (row,) = connection.execute(
                        f"""
                        UPDATE linked_accounts SET display_name = ?, verified = verified OR ?
                        WHERE provider = ? AND external_id = ?
                        RETURNING {ACCOUNT_COLUMNS}
                        """,  # noqa: S608 - a constant column list
                        (display_name, verified, provider, external_id),
                    ).fetchall()
                    return _account(row), False
                other = connection.execute(
                    "SELECT 1 FROM linked_accounts WHERE user_id = ? AND provider = ?",
                    (user_id, provider),
                ).fetchone()
                if other is not None:
                    raise AccountConflict(provider, "linked")
                (row,) = connection.execute(
                    f"""
                    INSERT INTO linked_accounts
                        (user_id, provider, external_id, display_name, linked_at, verified)
                    VALUES (?, ?, ?, ?, ?, ?)
                    RETURNING {ACCOUNT_COLUMNS}
                    """,  # noqa: S608 - a constant column list
                    (user_id, provider, external_id, display_name, linked, verified),
                ).fetchall()
                return _account(row), True

        return await self._run(link)

    async def save_oauth_state(self, state: OAuthState) -> None:
        def save(connection: sqlite3.Connection) -> None:
            with connection:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute(
                    "DELETE FROM oauth_states WHERE expires_at <= ?",
                    (_timestamp(state.created_at),),
                )
                connection.execute(
                    f"""
                    INSERT INTO oauth_states ({OAUTH_STATE_COLUMNS})
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,  # noqa: S608 - a constant column list
                    (
                        state.state_hash,
                        state.user_id,
                        state.provider,
                        state.code_verifier,
                        state.nonce,
                        _timestamp(state.created_at),
                        _timestamp(state.expires_at),
                    ),
                )

        await self._run(save)

    async def take_oauth_state(self, state_hash: str) -> OAuthState | None:
        def take(connection: sqlite3.Connection) -> OAuthState | None:
            row = connection.execute(
                f"DELETE FROM oauth_states WHERE state_hash = ? RETURNING {OAUTH_STATE_COLUMNS}",  # noqa: S608 - a constant column list
                (state_hash,),
            ).fetchone()
            return None if row is None else oauth_state(row, _from_timestamp)

        return await self._run(take)

    async def unlink_account(self, user_id: int, provider: str) -> bool:
        def unlink(connection: sqlite3.Connection) -> bool:
            cursor = connection.execute(
                "DELETE FROM linked_accounts WHERE user_id = ? AND provider = ?",
                (user_id, provider),
            )
            return cursor.rowcount > 0

        return await self._run(unlink)

    async def list_users(self, limit: int, cursor: str | None) -> UserPage:
        before = None if cursor is None else decode_cursor(cursor)

        def page(connection: sqlite3.Connection) -> UserPage:
            if before is None:
                rows = connection.execute(
                    f"""
                    SELECT
                        {USER_COLUMNS}
                    FROM users
                    ORDER BY id DESC
                    LIMIT ?
                    """,  # noqa: S608 - a constant column list
                    (limit + 1,),
                ).fetchall()
            else:
                rows = connection.execute(
                    f"""
                    SELECT
                        {USER_COLUMNS}
                    FROM users
                    WHERE id < ?
                    ORDER BY id DESC
                    LIMIT ?
                    """,  # noqa: S608 - a constant column list
                    (before, limit + 1),
                ).fetchall()
            users = [_user(row) for row in rows[:limit]]
            more = len(rows) > limit
            return UserPage(users=users, next_cursor=encode_cursor(users[-1].id) if more else None)

        return await self._run(page)

    async def set_blocked(self, telegram_id: int, blocked: bool) -> User | None:
        def update(connection: sqlite3.Connection) -> User | None:
            with connection:
                connection.execute("BEGIN IMMEDIATE")
                rows = connection.execute(
                    f"""
                    UPDATE users SET is_blocked = ? WHERE telegram_id = ?
                    RETURNING {USER_COLUMNS}
                    """,  # noqa: S608 - a constant column list
                    (blocked, telegram_id),
                ).fetchall()
                if not rows:
                    return None
                user = _user(rows[0])
                if blocked:
                    connection.execute("DELETE FROM oauth_states WHERE user_id = ?", (user.id,))
                return user

        return await self._run(update)

    async def set_locale(self, user_id: int, locale: str | None) -> User | None:
        return await self._update_user("locale = ?", "id = ?", (locale, user_id))

    async def set_source(self, user_id: int, source: str) -> User | None:
        return await self._update_user(
            "source = ?", "id = ? AND source IS NULL AND NOT is_blocked", (source, user_id)
        )

    async def record_update(self, update_id: int, received_at: datetime) -> bool:
        received = _timestamp(received_at)

        def record(connection: sqlite3.Connection) -> bool:
            cursor = connection.execute(
                "INSERT INTO bot_updates (update_id, received_at) VALUES (?, ?) "
                "ON CONFLICT (update_id) DO NOTHING",
                (update_id, received),
            )
            new = cursor.rowcount > 0
            if new and update_id % PRUNE_EVERY == 0:
                connection.execute(
                    "DELETE FROM bot_updates WHERE received_at < ?",
                    (_timestamp(received_at - UPDATES_KEPT),),
                )
            return new

        return await self._run(record)

    async def _update_user(
        self, assignment: str, condition: str, params: tuple[object, ...]
    ) -> User | None:
        def update(connection: sqlite3.Connection) -> User | None:
            rows = connection.execute(
                f"UPDATE users SET {assignment} WHERE {condition} RETURNING {USER_COLUMNS}",  # noqa: S608 - constant SQL fragments
                params,
            ).fetchall()
            return _user(rows[0]) if rows else None

        return await self._run(update)

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            if self._connection is None:
                raise RuntimeError("the store is not open")
            return work(self._connection)

        return await self._submit(call)

    async def _submit(self, call: Callable[[], T]) -> T:
        if self._executor is None:
            raise RuntimeError("the store is not open")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, call)
        except (sqlite3.OperationalError, OSError) as exc:
            raise StorageError(f"SQLite database unavailable: {exc}") from exc

    def _connect(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: sqlite3 must not open transactions behind our back.
        connection = sqlite3.connect(self._path, timeout=self._timeout, isolation_level=None)
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _from_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _accounts(connection: sqlite3.Connection, user_id: int) -> list[LinkedAccount]:
    rows = connection.execute(
        f"""
        SELECT {ACCOUNT_COLUMNS}
        FROM linked_accounts
        WHERE user_id = ?
        ORDER BY provider
        """,  # noqa: S608 - a constant column list
        (user_id,),
    ).fetchall()
    return [_account(row) for row in rows]


def _blocked_user(connection: sqlite3.Connection, telegram_id: int) -> User:
    """The stored user, read after an upsert that a block kept from writing."""
    row = connection.execute(
        _USER_BY_TELEGRAM_ID,
        (telegram_id,),
    ).fetchone()
    return _user(row)


def _user(row: Any) -> User:
    return User(
        id=row[0],
        telegram_id=row[1],
        username=row[2],
        first_name=row[3],
        last_name=row[4],
        language_code=row[5],
        is_premium=bool(row[6]),
        photo_url=row[7],
        is_blocked=bool(row[8]),
        created_at=_from_timestamp(row[9]),
        last_seen_at=_from_timestamp(row[10]),
        locale=row[11],
        source=row[12],
    )


def _account(row: Any) -> LinkedAccount:
    return LinkedAccount(
        provider=row[0],
        external_id=row[1],
        display_name=row[2],
        linked_at=_from_timestamp(row[3]),
        verified=bool(row[4]),
    )

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from time import perf_counter
from typing import TypeVar

from opentelemetry.trace import SpanKind, Tracer

from learnbot.observability.metrics import DB_POOL, DB_QUERY_DURATION
from learnbot.storage import (
    LinkedAccount,
    MigrationState,
    OAuthState,
    SignIn,
    TelegramProfile,
    User,
    UserPage,
    UserStore,
)

T = TypeVar("T")


class TimedStore(UserStore):
    """Wraps a store so that every operation lands in db_query_duration_seconds and, when
    tracing is on, is a span of its own named by the operation."""

    def __init__(self, inner: UserStore, tracer: Tracer | None = None, db_system: str = "") -> None:
        self.inner = inner
        self.tracer = tracer
        self.db_system = db_system

    async def _timed(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        started = perf_counter()
        try:
            if self.tracer is None:
                return await call()
            with self.tracer.start_as_current_span(
                operation,
                kind=SpanKind.CLIENT,
                attributes={"db.system": self.db_system, "db.operation.name": operation},
            ):
                return await call()
        finally:
            DB_QUERY_DURATION.labels(operation).observe(perf_counter() - started)

    def publish_pool_gauges(self) -> None:
        """Sets db_pool_connections from the pool, where the back end has one."""
        stats: Callable[[], dict[str, int]] | None = getattr(self.inner, "pool_stats", None)
        if stats is None:
            return
        current = stats()
        for state in ("size", "available", "waiting"):
            DB_POOL.labels(state).set(current.get(state, 0))

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    def end_calls_within(self, seconds: float) -> None:
        self.inner.end_calls_within(seconds)

    async def migrate(self) -> list[int]:
        return await self._timed("migrate", self.inner.migrate)

    async def migration_state(self) -> MigrationState:
        return await self._timed("migration_state", self.inner.migration_state)

    async def upsert_user(self, profile: TelegramProfile, seen_at: datetime) -> SignIn:
        return await self._timed("upsert_user", lambda: self.inner.upsert_user(profile, seen_at))

    async def get_user(self, telegram_id: int) -> User | None:
        return await self._timed("get_user", lambda: self.inner.get_user(telegram_id))

    async def get_user_with_accounts(
        self, telegram_id: int
    ) -> tuple[User, list[LinkedAccount]] | None:
        return await self._timed(
            "get_user_with_accounts", lambda: self.inner.get_user_with_accounts(telegram_id)
        )

    async def list_accounts(self, user_id: int) -> list[LinkedAccount]:
        return await self._timed("list_accounts", lambda: self.inner.list_accounts(user_id))

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
        return await self._timed(
            "link_account",
            lambda: self.inner.link_account(
                user_id, provider, external_id, display_name, linked_at, verified=verified
            ),
        )

    async def unlink_account(self, user_id: int, provider: str) -> bool:
        return await self._timed(
            "unlink_account", lambda: self.inner.unlink_account(user_id, provider)
        )

    async def save_oauth_state(self, state: OAuthState) -> None:
        await self._timed("save_oauth_state", lambda: self.inner.save_oauth_state(state))

    async def take_oauth_state(self, state_hash: str) -> OAuthState | None:
        return await self._timed(
            "take_oauth_state", lambda: self.inner.take_oauth_state(state_hash)
        )

    async def list_users(self, limit: int, cursor: str | None) -> UserPage:
        return await self._timed("list_users", lambda: self.inner.list_users(limit, cursor))

    async def set_blocked(self, telegram_id: int, blocked: bool) -> User | None:
        return await self._timed(
            "set_blocked", lambda: self.inner.set_blocked(telegram_id, blocked)
        )

    async def set_locale(self, user_id: int, locale: str | None) -> User | None:
        return await self._timed("set_locale", lambda: self.inner.set_locale(user_id, locale))

    async def set_source(self, user_id: int, source: str) -> User | None:
        return await self._timed("set_source", lambda: self.inner.set_source(user_id, source))

    async def record_update(self, update_id: int, received_at: datetime) -> bool:
        return await self._timed(
            "record_update", lambda: self.inner.record_update(update_id, received_at)
        )

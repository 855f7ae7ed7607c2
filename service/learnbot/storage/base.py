from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime, timedelta

from learnbot.storage.models import (
    LinkedAccount,
    MigrationState,
    SignIn,
    TelegramProfile,
    User,
    UserPage,
)

# The users columns in the order both back ends read them into a User.
USER_COLUMNS = (
    "id, telegram_id, username, first_name, last_name, language_code, is_premium, "
    "photo_url, is_blocked, created_at, last_seen_at, locale, source"
)

# Processed bot update ids are kept this long (Telegram redelivers for at most a day), pruned
# when an update id that is a multiple of PRUNE_EVERY is recorded.
UPDATES_KEPT = timedelta(days=7)
PRUNE_EVERY = 100


class StorageError(Exception):
    """The database could not be reached or did not answer in time."""


class AccountConflict(Exception):
    """A link would break `(provider, external_id)` or `(user, provider)` uniqueness."""

    def __init__(self, provider: str, reason: str) -> None:
        super().__init__(f"{provider}: {reason}")
        self.provider = provider
        self.reason = reason  # "taken" (linked to another user) or "linked" (user has another)


class InvalidCursor(ValueError):
    """A pagination cursor that this store did not hand out."""


class UserStore(ABC):
    """The one storage interface; SQLite and PostgreSQL implement it."""

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def end_calls_within(self, seconds: float) -> None:
        """The service is stopping: every call, those under way too, ends within `seconds`,
        with StorageError if the database has not answered by then."""

    @abstractmethod
    async def migrate(self) -> list[int]:
        """Applies pending migrations; returns the versions applied."""

    @abstractmethod
    async def migration_state(self) -> MigrationState: ...

    @abstractmethod
    async def upsert_user(self, profile: TelegramProfile, seen_at: datetime) -> SignIn:
        """Creates or refreshes the user in one statement; a blocked user is read, not written."""

    @abstractmethod
    async def get_user(self, telegram_id: int) -> User | None: ...

    @abstractmethod
    async def list_accounts(self, user_id: int) -> list[LinkedAccount]: ...

    @abstractmethod
    async def get_user_with_accounts(
        self, telegram_id: int
    ) -> tuple[User, list[LinkedAccount]] | None:
        """The user and their linked accounts (by provider), read together."""

    @abstractmethod
    async def link_account(
        self,
        user_id: int,
        provider: str,
        external_id: str,
        display_name: str | None,
        linked_at: datetime,
    ) -> tuple[LinkedAccount, bool]:
        """Returns the link and whether it is new; relinking the same id updates the name."""

    @abstractmethod
    async def unlink_account(self, user_id: int, provider: str) -> bool: ...

    @abstractmethod
    async def list_users(self, limit: int, cursor: str | None) -> UserPage:
        """Newest first; raises InvalidCursor for a cursor it did not issue."""

    @abstractmethod
    async def set_blocked(self, telegram_id: int, blocked: bool) -> User | None: ...

    @abstractmethod
    async def set_locale(self, user_id: int, locale: str | None) -> User | None:
        """Saves the user's preferred locale (None forgets it)."""

    @abstractmethod
    async def set_source(self, user_id: int, source: str) -> User | None:
        """Records where the user came from (their first /start payload) unless a source is
        recorded already or the user is blocked; returns the user only when it was written."""

    @abstractmethod
    async def record_update(self, update_id: int, received_at: datetime) -> bool:
        """Remembers a bot update id; False when it was recorded before (a redelivery)."""

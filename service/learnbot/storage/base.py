from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from learnbot.storage.models import (
    LinkedAccount,
    MigrationState,
    OAuthState,
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

# The columns a sign-in writes from its TelegramProfile, in the order of profile_values().
PROFILE_COLUMNS = (
    "telegram_id, username, first_name, last_name, language_code, is_premium, photo_url"
)


def profile_values(profile: TelegramProfile) -> tuple[object, ...]:
    """The profile's values for PROFILE_COLUMNS."""
    return (
        profile.telegram_id,
        profile.username,
        profile.first_name,
        profile.last_name,
        profile.language_code,
        profile.is_premium,
        profile.photo_url,
    )


# A returning user's sign-in writes when their profile changed or last_seen_at is older than
# this; otherwise it only reads, so last_seen_at is accurate to this interval.
LAST_SEEN_INTERVAL = timedelta(minutes=5)


def sign_in_writes(
    stored: User, profile: TelegramProfile, seen_at: datetime, interval: timedelta
) -> bool:
    """Whether a sign-in of a user who is already stored must write (never for a blocked one)."""
    if stored.is_blocked:
        return False
    changed = (
        stored.first_name,
        stored.last_name,
        stored.username,
        stored.language_code,
        stored.is_premium,
        stored.photo_url,
    ) != (
        profile.first_name,
        profile.last_name,
        profile.username,
        profile.language_code,
        profile.is_premium,
        profile.photo_url,
    )
    return changed or seen_at - stored.last_seen_at >= interval


# Processed bot update ids are kept this long (Telegram redelivers for at most a day), pruned
# when an update id that is a multiple of PRUNE_EVERY is recorded.
UPDATES_KEPT = timedelta(days=7)
PRUNE_EVERY = 100
# The linked_accounts columns in the order both back ends read them into a LinkedAccount.
ACCOUNT_COLUMNS = "provider, external_id, display_name, linked_at, verified"
OAUTH_STATE_COLUMNS = "state_hash, user_id, provider, code_verifier, nonce, created_at, expires_at"


def oauth_state(row: Sequence[Any], moment: Callable[[Any], datetime]) -> OAuthState:
    """An OAuthState from a row of OAUTH_STATE_COLUMNS; `moment` reads a stored timestamp."""
    return OAuthState(
        state_hash=row[0],
        user_id=row[1],
        provider=row[2],
        code_verifier=row[3],
        nonce=row[4],
        created_at=moment(row[5]),
        expires_at=moment(row[6]),
    )


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
        *,
        verified: bool = False,
    ) -> tuple[LinkedAccount, bool]:
        """Returns the link and whether it is new; relinking the same id updates the name.

        A verified link (the provider proved it) marks a relinked account verified, and
        takes the place of unverified links in its way: the same account held unverified by
        another user, and another account of the provider the user linked unverified. An
        unverified link never displaces anything, and leaves a verified one verified.
        """

    @abstractmethod
    async def unlink_account(self, user_id: int, provider: str) -> bool: ...

    @abstractmethod
    async def save_oauth_state(self, state: OAuthState) -> None:
        """Stores a pending authorization, and removes those expired before it was created."""

    @abstractmethod
    async def take_oauth_state(self, state_hash: str) -> OAuthState | None:
        """The pending authorization of this hash, removed in the same statement: of two
        concurrent calls, one gets it. None when there is none (or it was taken already)."""

    @abstractmethod
    async def list_users(self, limit: int, cursor: str | None) -> UserPage:
        """Newest first; raises InvalidCursor for a cursor it did not issue."""

    @abstractmethod
    async def set_blocked(self, telegram_id: int, blocked: bool) -> User | None:
        """A block also ends the user's pending OAuth authorizations: no callback links an
        account to a blocked user."""

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

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TelegramProfile:
    """What a verified Telegram sign-in tells about its user."""

    telegram_id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_premium: bool = False
    photo_url: str | None = None


@dataclass(frozen=True, slots=True)
class User:
    id: int
    telegram_id: int
    username: str | None
    first_name: str
    last_name: str | None
    language_code: str | None
    is_premium: bool
    photo_url: str | None
    is_blocked: bool
    created_at: datetime
    last_seen_at: datetime
    locale: str | None = None
    # The payload of the user's first /start that carried one (the bot's deep link).
    source: str | None = None


@dataclass(frozen=True, slots=True)
class LinkedAccount:
    provider: str
    external_id: str
    display_name: str | None
    linked_at: datetime
    # True when the provider proved the link (OAuth); False for a client-supplied one.
    verified: bool = False


@dataclass(frozen=True, slots=True)
class OAuthState:
    """A pending authorization: what the callback needs to finish it, stored under the hash
    of the `state` the provider hands back, used once."""

    state_hash: str
    user_id: int
    provider: str
    code_verifier: str = field(repr=False)
    nonce: str | None = field(repr=False)
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SignIn:
    user: User
    created: bool


@dataclass(frozen=True, slots=True)
class UserPage:
    users: list[User]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class MigrationState:
    applied: int
    latest: int

    @property
    def current(self) -> bool:
        return self.applied == self.latest

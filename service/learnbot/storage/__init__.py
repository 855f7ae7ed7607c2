from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from learnbot.storage.base import (
    LAST_SEEN_INTERVAL,
    AccountConflict,
    InvalidCursor,
    StorageError,
    UserStore,
)
from learnbot.storage.migrations import Dialect
from learnbot.storage.models import (
    LinkedAccount,
    MigrationState,
    OAuthState,
    SignIn,
    TelegramProfile,
    User,
    UserPage,
)

__all__ = [
    "AccountConflict",
    "InvalidCursor",
    "LinkedAccount",
    "MigrationState",
    "OAuthState",
    "SignIn",
    "StorageError",
    "TelegramProfile",
    "User",
    "UserPage",
    "UserStore",
    "database_dialect",
    "open_store",
]

_SQLITE_PREFIX = "sqlite:///"
_POSTGRESQL_PREFIXES = ("postgresql://", "postgres://")
# The URL may hold a password, so the message describes the forms instead of echoing it.
_UNSUPPORTED = (
    "unsupported database URL; use sqlite:///relative/path, sqlite:////absolute/path "
    "or postgresql://user:password@host:port/database"
)


def database_dialect(url: str) -> Dialect:
    if url.startswith(_SQLITE_PREFIX) and url.removeprefix(_SQLITE_PREFIX).strip("/"):
        return "sqlite"
    if url.startswith(_POSTGRESQL_PREFIXES) and _has_valid_port(url):
        return "postgresql"
    raise ValueError(_UNSUPPORTED)


def open_store(
    database_url: str,
    *,
    pool_size: int = 10,
    timeout: float = 5.0,
    last_seen_interval: timedelta = LAST_SEEN_INTERVAL,
) -> UserStore:
    """Returns the store for the URL, not yet opened: the caller awaits `open()`."""
    if database_dialect(database_url) == "sqlite":
        from learnbot.storage.sqlite import SQLiteUserStore

        return SQLiteUserStore(
            Path(database_url.removeprefix(_SQLITE_PREFIX)),
            timeout=timeout,
            last_seen_interval=last_seen_interval,
        )

    from learnbot.storage.postgresql import PostgresUserStore

    conninfo = "postgresql://" + database_url.split("://", 1)[1]
    return PostgresUserStore(
        conninfo, pool_size=pool_size, timeout=timeout, last_seen_interval=last_seen_interval
    )


def _has_valid_port(url: str) -> bool:
    try:
        port = urlsplit(url).port
    except ValueError:
        return False
    return port is None or port > 0

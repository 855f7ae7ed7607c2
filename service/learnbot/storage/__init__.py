from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

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


# Query keys that both drivers read as connection settings: asyncpg (the service) and libpq
# (backups, `learnbot doctor`, psql). asyncpg would send any other key to the server as a
# setting, which libpq refuses and the server may too.
POSTGRESQL_QUERY_KEYS = (
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "sslpassword",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "passfile",
    "target_session_attrs",
    "krbsrvname",
    "gsslib",
    "host",
    "port",
    "user",
    "password",
    "dbname",
    "options",
    "application_name",
)
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def database_dialect(url: str) -> Dialect:
    if url.startswith(_SQLITE_PREFIX) and url.removeprefix(_SQLITE_PREFIX).strip("/"):
        return "sqlite"
    if url.startswith(_POSTGRESQL_PREFIXES) and _has_valid_port(url):
        _check_postgresql_query(url)
        return "postgresql"
    raise ValueError(_UNSUPPORTED)


def _check_postgresql_query(url: str) -> None:
    """Names the query key that is not allowed; never the URL, which may hold a password."""
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key not in POSTGRESQL_QUERY_KEYS:
            shown = key if key.isidentifier() and len(key) <= 40 else "a key"
            raise ValueError(
                f"the query of the postgresql:// URL has {shown}, which the service's driver "
                f"would send to the server as a setting; allowed keys: "
                f"{', '.join(POSTGRESQL_QUERY_KEYS)} (server settings as options=-c name=value)"
            )
        if key == "sslmode" and value not in SSL_MODES:
            raise ValueError(f"sslmode in the postgresql:// URL: one of {', '.join(SSL_MODES)}")


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

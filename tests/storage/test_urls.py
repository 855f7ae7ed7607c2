from __future__ import annotations

import pytest

from learnbot.storage import database_dialect, open_store
from learnbot.storage.postgresql import PostgresUserStore
from learnbot.storage.sqlite import SQLiteUserStore


@pytest.mark.parametrize(
    ("url", "dialect"),
    [
        ("sqlite:///var/learnbot.db", "sqlite"),
        ("sqlite:////tmp/learnbot.db", "sqlite"),
        ("postgresql://learnbot:pw@db:5432/learnbot", "postgresql"),
        ("postgres://learnbot:pw@db:5432/learnbot", "postgresql"),
        ("postgresql://learnbot@db/learnbot", "postgresql"),
    ],
)
def test_known_forms_name_their_dialect(url: str, dialect: str) -> None:
    assert database_dialect(url) == dialect


@pytest.mark.parametrize(
    "url",
    [
        "",
        "learnbot.db",
        "sqlite://",
        "sqlite:///",
        "sqlite://host/learnbot.db",
        "mysql://learnbot:hunter2@db/learnbot",
        "postgresql+psycopg://learnbot:hunter2@db/learnbot",
        "postgresql://learnbot:hunter2@db:port/learnbot",
        "postgresql://learnbot:hunter2@db:99999/learnbot",
        "http://learnbot:hunter2@db/learnbot",
    ],
)
def test_other_urls_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(ValueError, match="sqlite:///relative/path") as caught:
        database_dialect(url)
    message = str(caught.value)
    assert "sqlite:////absolute/path" in message
    assert "postgresql://user:password@host:port/database" in message
    assert "hunter2" not in message
    # The same words whatever the input: nothing of the URL leaks into the message.
    with pytest.raises(ValueError, match="unsupported database URL") as other:
        database_dialect("nothing://like/it")
    assert str(other.value) == message


def test_open_store_refuses_what_database_dialect_refuses() -> None:
    with pytest.raises(ValueError, match="postgresql://user:password@host:port/database"):
        open_store("mysql://learnbot:hunter2@db/learnbot")


def test_open_store_picks_the_back_end_without_connecting() -> None:
    assert isinstance(open_store("sqlite:///var/learnbot.db"), SQLiteUserStore)
    assert isinstance(open_store("postgres://learnbot:pw@127.0.0.1:1/x"), PostgresUserStore)
    assert isinstance(open_store("postgresql://learnbot:pw@127.0.0.1:1/x"), PostgresUserStore)


@pytest.mark.parametrize(
    "query",
    [
        "sslmode=require",
        "sslmode=verify-full&sslrootcert=/etc/ssl/ca.pem",
        "options=-c%20search_path%3Dlearnbot",
        "target_session_attrs=read-write&application_name=api",
    ],
)
def test_query_keys_both_drivers_read_are_accepted(query: str) -> None:
    assert database_dialect(f"postgresql://learnbot:hunter2@db:5432/learnbot?{query}") == (
        "postgresql"
    )


@pytest.mark.parametrize(
    ("query", "named"),
    [
        # libpq's own: asyncpg would send it to the server, which refuses every connection.
        ("connect_timeout=5", "connect_timeout"),
        ("keepalives=1", "keepalives"),
        # A server setting as a key: asyncpg sends it, libpq (backups, doctor) refuses it.
        ("search_path=learnbot", "search_path"),
        ("sslmode=sometimes", "sslmode"),
    ],
)
def test_other_query_keys_are_refused_by_name_without_the_password(query: str, named: str) -> None:
    with pytest.raises(ValueError, match="postgresql:// URL") as caught:
        database_dialect(f"postgresql://learnbot:hunter2@db:5432/learnbot?{query}")
    message = str(caught.value)
    assert named in message
    assert "hunter2" not in message
    # What is allowed: the keys, or the modes.
    assert "sslrootcert" in message or "verify-full" in message

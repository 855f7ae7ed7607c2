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

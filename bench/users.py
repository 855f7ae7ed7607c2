"""Distinct users' Mini App init data, signed as Telegram signs it; which of them are stored."""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import psycopg

from learnbot.auth import sign_init_data

# What a Mini App user's profile carries; languages vary so locale negotiation varies too.
LANGUAGES = ("en", "ru", "de", "es", "pt-br", "uk", "fr")


def bot_token() -> str:
    """A fresh token of BotFather's shape, `<bot id>:<secret>`, for this run only."""
    return "123456:ABC" + secrets.token_urlsafe(30)


@dataclass(frozen=True, slots=True)
class SignedUsers:
    telegram_ids: list[int]
    init_data: list[str]

    def __len__(self) -> int:
        return len(self.telegram_ids)

    def only(self, telegram_ids: set[int]) -> SignedUsers:
        kept = [i for i, telegram_id in enumerate(self.telegram_ids) if telegram_id in telegram_ids]
        return SignedUsers([self.telegram_ids[i] for i in kept], [self.init_data[i] for i in kept])

    def write_shares(self, prefix: Path, threads: int) -> Path:
        """One file per wrk thread (`prefix.0`, `prefix.1`, ...), users dealt out in turn."""
        for thread in range(threads):
            lines = self.init_data[thread::threads]
            Path(f"{prefix}.{thread}").write_text("\n".join(lines) + "\n")
        return prefix


def sign_users(token: str, count: int, first_id: int) -> SignedUsers:
    auth_date = int(time.time())
    ids = list(range(first_id, first_id + count))
    init_data = [
        sign_init_data(
            token,
            {
                "id": telegram_id,
                "first_name": "Bench",
                "last_name": f"User {telegram_id % 1000}",
                "username": f"bench_{telegram_id}",
                "language_code": LANGUAGES[telegram_id % len(LANGUAGES)],
                "allows_write_to_pm": True,
                "photo_url": f"https://t.me/i/userpic/320/{telegram_id}.svg",
            },
            auth_date=auth_date,
            query_id="AAH" + secrets.token_urlsafe(15),
            # Telegram adds its Ed25519 signature too; with a token only the hash decides.
            extra={"signature": secrets.token_urlsafe(66)[:86]},
        )
        for telegram_id in ids
    ]
    return SignedUsers(ids, init_data)


def fresh_first_id() -> int:
    """Ids from a random range, so the users of one run are new to any database."""
    return 10**9 + secrets.randbelow(2**50)


def stored_telegram_ids(database_url: str, among: Sequence[int]) -> set[int]:
    bounds = (min(among), max(among))
    if database_url.startswith("sqlite:///"):
        path = database_url.removeprefix("sqlite:///")
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as lite:
            rows = lite.execute(
                "SELECT telegram_id FROM users WHERE telegram_id BETWEEN ? AND ?", bounds
            ).fetchall()
    else:
        with psycopg.connect(database_url, autocommit=True) as connection:
            rows = connection.execute(
                "SELECT telegram_id FROM users WHERE telegram_id BETWEEN %s AND %s", bounds
            ).fetchall()
    return {row[0] for row in rows}

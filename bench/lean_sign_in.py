"""The floor for a sign-in: a lean Sanic handler that does only what a Telegram sign-in needs.

It verifies the Mini App init data's HMAC as Telegram specifies, reads the user by Telegram id
and writes (the same race-safe upsert as learnbot) only when the profile changed or the user
was not seen for LAST_SEEN_SECONDS. No metrics, logs, locale, limits or problem documents:
what `make bench` sets learnbot's sign-in rows against, on the same database and users.

LEAN_DRIVER picks the PostgreSQL driver: `psycopg` (a psycopg pool, the reference the targets
were set against) or `asyncpg` (the driver learnbot uses, the like-for-like floor).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import asyncpg
from psycopg_pool import AsyncConnectionPool
from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from bench.serving import serve

LAST_SEEN = timedelta(seconds=300)
MAX_AGE_SECONDS = 86400
PROFILE = ("username", "first_name", "last_name", "language_code", "is_premium", "photo_url")
COLUMNS = "id, telegram_id, " + ", ".join(PROFILE) + ", last_seen_at"
SELECT = f"SELECT {COLUMNS} FROM users WHERE telegram_id = $1"  # noqa: S608 - constant columns
UPSERT = f"""
    INSERT INTO users (telegram_id, {", ".join(PROFILE)}, created_at, last_seen_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
    ON CONFLICT (telegram_id) DO UPDATE SET
        username = excluded.username, first_name = excluded.first_name,
        last_name = excluded.last_name, language_code = excluded.language_code,
        is_premium = excluded.is_premium, photo_url = excluded.photo_url,
        last_seen_at = excluded.last_seen_at
    WHERE NOT users.is_blocked
    RETURNING {COLUMNS}
"""  # noqa: S608 - constant column lists
DRIVER = os.environ.get("LEAN_DRIVER", "psycopg")
# psycopg's placeholders; $8 is used twice, so it is given twice.
PSYCOPG_SELECT = SELECT.replace("$1", "%s")
PSYCOPG_UPSERT = re.sub(r"\$[0-9]", "%s", UPSERT)

app = Sanic("learnbot_bench_lean_sign_in")
app.config.AUTO_EXTEND = False
SECRET = hmac.new(b"WebAppData", os.environ["TELEGRAM_BOT_TOKEN"].encode(), hashlib.sha256).digest()


def verified_user(raw: str) -> dict[str, object] | None:
    fields = dict(parse_qsl(raw, strict_parsing=True))
    received = fields.pop("hash", "")
    checked = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    expected = hmac.new(SECRET, checked.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, received):
        return None
    if time.time() - int(fields["auth_date"]) > MAX_AGE_SECONDS:
        return None
    user: dict[str, object] = json.loads(fields["user"])
    return user


@app.before_server_start
async def open_pool(app: Sanic[Any, Any]) -> None:
    size = int(os.environ.get("DATABASE_POOL_SIZE", "10"))
    url = os.environ["DATABASE_URL"]
    if DRIVER == "asyncpg":
        # learnbot's driver, without its idle check or deadlines; no reset query on release.
        app.ctx.pool = await asyncpg.create_pool(url, min_size=size, max_size=size, reset=_no_reset)
    else:
        app.ctx.pool = AsyncConnectionPool(url, min_size=size, max_size=size, open=False)
        await app.ctx.pool.open(wait=True)


async def _no_reset(connection: object) -> None:
    pass


@app.after_server_stop
async def close_pool(app: Sanic[Any, Any]) -> None:
    await app.ctx.pool.close()


async def stored_user(user: dict[str, Any], profile: tuple[object, ...]) -> Any:
    """The user's row, written first when it is new, changed or not seen for LAST_SEEN."""
    now = datetime.now(UTC)
    if DRIVER == "asyncpg":
        async with app.ctx.pool.acquire() as connection:
            row = await connection.fetchrow(SELECT, user["id"])
            if row is None or tuple(row[2:8]) != profile or now - row[8] >= LAST_SEEN:
                row = await connection.fetchrow(UPSERT, user["id"], *profile, now) or row
        return row
    async with app.ctx.pool.connection() as connection:
        cursor = await connection.execute(PSYCOPG_SELECT, (user["id"],))
        row = await cursor.fetchone()
        if row is None or tuple(row[2:8]) != profile or now - row[8] >= LAST_SEEN:
            cursor = await connection.execute(PSYCOPG_UPSERT, (user["id"], *profile, now, now))
            row = await cursor.fetchone() or row
    return row


@app.post("/auth/telegram")
async def sign_in(request: Request) -> HTTPResponse:
    user = verified_user(request.json["init_data"])
    if user is None:
        return json_response({"error": "invalid init data"}, status=401)
    profile = tuple(user.get(key, False if key == "is_premium" else None) for key in PROFILE)
    row = await stored_user(user, profile)
    assert row is not None
    return json_response({"user": {"id": row[0], "telegram_id": row[1], "first_name": row[3]}})


@app.get("/health")
async def health(request: Request) -> HTTPResponse:
    return json_response({"status": "ok"})


if __name__ == "__main__":
    serve(app)

"""What the pieces of one request cost on their own: CPU microseconds per call, measured in one
process with nothing else in flight. Evidence for bench/README.md's findings, not a load test.

    .venv/bin/python -m bench.unit_costs      # PostgreSQL parts need BENCH_POSTGRES_URL's server
"""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from bench.run import Options, bench_database, postgres_refusal
from bench.users import bot_token, fresh_first_id, sign_users
from learnbot.auth import verify_init_data
from learnbot.i18n.negotiation import accept_language, negotiate_locale
from learnbot.observability.logs import JsonFormatter, RequestIdFilter, accept_request_id
from learnbot.storage import TelegramProfile, open_store
from learnbot.storage.base import USER_COLUMNS

LOCALES = ("de", "en", "es", "pt_BR", "ru", "uk")


def cpu_us(call: Callable[[], object], repeat: int = 20000) -> float:
    started = time.process_time()
    for _ in range(repeat):
        call()
    return (time.process_time() - started) / repeat * 1e6


async def async_cpu_us(call: Callable[[], Awaitable[object]], repeat: int = 3000) -> float:
    for _ in range(100):
        await call()
    started = time.process_time()
    for _ in range(repeat):
        await call()
    return (time.process_time() - started) / repeat * 1e6


def in_process() -> list[tuple[str, float]]:
    # Imported here: prometheus_client picks its multiprocess mode at import, once main() set it.
    from learnbot.observability.metrics import DB_QUERY_DURATION, HTTP_DURATION, HTTP_REQUESTS

    token = bot_token()
    signed = sign_users(token, 1, fresh_first_id()).init_data[0]
    now = time.time()

    def verify() -> object:
        return verify_init_data(signed, bot_token=token, bot_id=None, max_age=86400, now=now)

    access_log = logging.getLogger("bench.access")
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    access_log.addHandler(handler)
    access_log.propagate = False
    access_log.setLevel(logging.INFO)
    fields = {
        "request_id": accept_request_id(None),
        "method": "GET",
        "route": "/me",
        "status": 200,
        "duration_ms": 1.23,
        "telegram_id": 123456789,
    }

    def log_line() -> None:
        access_log.info("request", extra=fields)

    def metrics() -> None:
        HTTP_REQUESTS.labels("GET", "/me", "200").inc()
        HTTP_DURATION.labels("GET", "/me").observe(0.004)

    def negotiation() -> str:
        return negotiate_locale(
            query=None,
            saved=None,
            telegram="pt-br",
            accept=accept_language("de-AT,de;q=0.9,en;q=0.8"),
            supported=LOCALES,
            default="en",
        )

    return [
        ("verify_init_data (HMAC-SHA256, ~520-byte init data)", cpu_us(verify)),
        ("one JSON access-log line (LOG_LEVEL=INFO), formatted into memory", cpu_us(log_line)),
        ("http_requests_total + http_request_duration_seconds, multiprocess", cpu_us(metrics)),
        (
            "one db_query_duration_seconds observation",
            cpu_us(lambda: DB_QUERY_DURATION.labels("get_user").observe(0.001)),
        ),
        ("locale negotiation (one call; a request makes two)", cpu_us(negotiation)),
        ("accept_request_id(None), a new request id", cpu_us(lambda: accept_request_id(None))),
    ]


async def postgres(database_url: str) -> list[tuple[str, float]]:
    store = open_store(database_url)
    await store.open()
    await store.migrate()
    telegram_id = fresh_first_id()
    profile = TelegramProfile(telegram_id, "Bench", None, None, "en", False, None)
    user = (await store.upsert_user(profile, datetime.now(UTC))).user
    results = [
        (
            "the store's get_user (checkout, idle rule, deadline)",
            await async_cpu_us(lambda: store.get_user(telegram_id)),
        ),
    ]
    await store.close()
    conninfo = "postgresql://" + database_url.split("://", 1)[1]

    async def check(connection: object) -> None:
        await connection.execute("SELECT 1")  # type: ignore[attr-defined]

    async def no_reset(connection: object) -> None:
        pass

    for label, setup in (
        ("with a check on every checkout", check),
        ("without a check (as the service under load)", None),
    ):
        pool = await asyncpg.create_pool(
            conninfo, min_size=1, max_size=1, setup=setup, reset=no_reset
        )
        results += [
            (f"{name}, {label}", us) for name, us in await _round_trips(pool, telegram_id, user.id)
        ]
        await pool.close()
    return results


async def _round_trips(
    pool: asyncpg.Pool[asyncpg.Record], telegram_id: int, user_id: int
) -> list[tuple[str, float]]:
    async def get_user() -> object:
        async with pool.acquire() as connection:
            return await connection.fetchrow(
                f"SELECT {USER_COLUMNS} FROM users WHERE telegram_id = $1",  # noqa: S608
                telegram_id,
            )

    async def me_two_checkouts() -> object:
        await get_user()
        async with pool.acquire() as connection:
            return await connection.fetch(
                "SELECT provider, external_id, display_name, linked_at FROM linked_accounts "
                "WHERE user_id = $1 ORDER BY provider",
                user_id,
            )

    async def me_one_query() -> object:
        async with pool.acquire() as connection:
            return await connection.fetchrow(
                f"SELECT {', '.join('u.' + c.strip() for c in USER_COLUMNS.split(','))}, "  # noqa: S608
                "coalesce(json_agg(json_build_array(a.provider, a.external_id, "
                "a.display_name, a.linked_at) ORDER BY a.provider) "
                "FILTER (WHERE a.id IS NOT NULL), '[]') "
                "FROM users u LEFT JOIN linked_accounts a ON a.user_id = u.id "
                "WHERE u.telegram_id = $1 GROUP BY u.id",
                telegram_id,
            )

    async def update() -> object:
        async with pool.acquire() as connection:
            return await connection.fetchrow(
                "UPDATE users SET last_seen_at = now() WHERE telegram_id = $1 RETURNING id",
                telegram_id,
            )

    return [
        ("get_user, one checkout", await async_cpu_us(get_user)),
        ("GET /me's reads as today (2 checkouts)", await async_cpu_us(me_two_checkouts)),
        ("GET /me's reads as one query", await async_cpu_us(me_one_query)),
        ("a committed one-row update", await async_cpu_us(update)),
    ]


async def rate_limits() -> list[tuple[str, float]]:
    limiter = MovingWindowRateLimiter(MemoryStorage())
    per_address = parse("300/minute")
    addresses = itertools.cycle(f"10.0.{i // 256}.{i % 256}" for i in range(5000))

    async def hit() -> object:
        return await limiter.hit(per_address, "address", next(addresses))

    return [
        (
            "one in-memory moving-window hit (a request makes two when enabled)",
            await async_cpu_us(hit, repeat=20000),
        )
    ]


def main() -> int:
    metrics_dir = tempfile.mkdtemp(prefix="learnbot-costs-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        return _report()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _report() -> int:
    rows = in_process()
    rows += asyncio.run(rate_limits())
    url = Options.from_env().postgres_url
    refusal = postgres_refusal(url)
    if refusal is None:
        with bench_database(url) as database_url:
            rows += asyncio.run(postgres(database_url))
    else:
        print(refusal, file=sys.stderr)
    width = max(len(name) for name, _ in rows)
    print(f"{'piece of a request':{width}}  client-process CPU µs per call")
    for name, us in rows:
        print(f"{name:{width}}  {us:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import httpx
import pytest
import redis

from asgi_app import app_client
from redis_server import private_redis
from service_process import (
    Server,
    assert_recovered_within,
    free_port,
    init_data,
    new_telegram_id,
    server_env,
    start_server,
    steady_sign_ins,
)

PROBLEM = "application/problem+json"
REDIS_URL = "redis://127.0.0.1:6379/15"
# Two checks per sign-in (address, Telegram id), each given up after 0.5 s, and a margin.
FROZEN_REDIS_BOUND_SECONDS = 2.0


def limits_env(tmp_path: Path, **env: str) -> dict[str, str]:
    return server_env(f"sqlite:///{tmp_path}/limits.db", PROXIES_COUNT="1", **env)


def serve(tmp_path: Path, **env: str) -> Server:
    return start_server(limits_env(tmp_path, **env), tmp_path / "server.log")


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis server at 127.0.0.1:6379: install Debian's redis-server")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def assert_limited(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 429
    assert response.headers["content-type"] == PROBLEM
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.headers["ratelimit-limit"] == str(limit)
    assert response.headers["ratelimit-remaining"] == "0"
    assert response.json()["status"] == 429


async def test_sign_in_is_limited_per_client_address(tmp_path: Path) -> None:
    async with app_client(limits_env(tmp_path, RATE_LIMIT_ADDRESS="5/minute")) as http:
        one = {"X-Forwarded-For": "203.0.113.7"}
        statuses = []
        for _ in range(5):
            response = await http.post(
                "/auth/telegram", json={"init_data": init_data(new_telegram_id())}, headers=one
            )
            statuses.append(response.status_code)
        assert statuses == [200] * 5
        sixth = await http.post(
            "/auth/telegram", json={"init_data": init_data(new_telegram_id())}, headers=one
        )
        assert_limited(sixth, 5)
        assert sixth.json()["key"] == "address"
        other = {"X-Forwarded-For": "198.51.100.9"}
        fresh = await http.post(
            "/auth/telegram", json={"init_data": init_data(new_telegram_id())}, headers=other
        )
        assert fresh.status_code == 200
        # Unauthenticated endpoints are not limited.
        assert (await http.get("/health", headers=one)).status_code == 200


async def test_authenticated_requests_are_limited_per_telegram_id(tmp_path: Path) -> None:
    env = limits_env(tmp_path, RATE_LIMIT_TELEGRAM_ID="3/minute", RATE_LIMIT_ADDRESS="1000/minute")
    async with app_client(env) as http:
        limited_id = new_telegram_id()
        headers = {"Authorization": "tma " + init_data(limited_id)}
        assert [(await http.get("/me", headers=headers)).status_code for _ in range(3)] == [200] * 3
        fourth = await http.get("/me", headers=headers)
        assert_limited(fourth, 3)
        assert fourth.json()["key"] == "telegram_id"
        # From another address the same user is still limited; another user is not.
        moved = await http.get("/me", headers={**headers, "X-Forwarded-For": "192.0.2.1"})
        assert moved.status_code == 429
        other = {"Authorization": "tma " + init_data(new_telegram_id())}
        assert (await http.get("/me", headers=other)).status_code == 200
        # Sign-in counts against the same budget.
        signed = await http.post("/auth/telegram", json={"init_data": init_data(limited_id)})
        assert signed.status_code == 429


async def test_a_forged_id_cannot_spend_someone_elses_budget(tmp_path: Path) -> None:
    env = limits_env(tmp_path, RATE_LIMIT_TELEGRAM_ID="2/minute", RATE_LIMIT_ADDRESS="1000/minute")
    async with app_client(env) as http:
        victim = new_telegram_id()
        forged = init_data(victim, token="1:not-the-bot-token")
        for _ in range(5):
            assert (
                await http.get("/me", headers={"Authorization": f"tma {forged}"})
            ).status_code == 401
        genuine = {"Authorization": "tma " + init_data(victim)}
        assert (await http.get("/me", headers=genuine)).status_code == 200


def test_limits_are_shared_through_redis_across_workers(
    tmp_path: Path, redis_db: redis.Redis
) -> None:
    server = serve(
        tmp_path,
        WORKERS="2",
        RATE_LIMIT_ADDRESS="8/minute",
        RATE_LIMIT_STORAGE_URL=REDIS_URL,
    )
    try:
        statuses = []
        for _ in range(12):
            # A new connection each time, so that both workers take requests.
            with httpx.Client(base_url=server.url, headers={"Connection": "close"}) as http:
                response = http.get(
                    "/me",
                    headers={
                        "Authorization": "tma " + init_data(new_telegram_id()),
                        "X-Forwarded-For": "203.0.113.50",
                    },
                )
                statuses.append(response.status_code)
        assert statuses.count(200) == 8
        assert statuses.count(429) == 4
        # redis-py types a reply as the sync or the async client's.
        keys = cast("list[bytes]", redis_db.keys("*"))
        assert any(b"203.0.113.50" in key for key in keys)
    finally:
        server.stop()


def test_an_unreachable_redis_lets_requests_through_quickly(tmp_path: Path) -> None:
    server = serve(
        tmp_path,
        RATE_LIMIT_ADDRESS="1/minute",
        RATE_LIMIT_STORAGE_URL=f"redis://127.0.0.1:{free_port()}/0",
    )
    try:
        with httpx.Client(base_url=server.url) as http:
            for _ in range(3):
                started = time.monotonic()
                response = http.get(
                    "/me", headers={"Authorization": "tma " + init_data(new_telegram_id())}
                )
                assert response.status_code == 200
                assert time.monotonic() - started < 2
        assert "rate limit storage unavailable" in server.log()
    finally:
        server.stop()


@pytest.mark.slow
def test_a_frozen_redis_lets_sign_ins_through_within_a_bounded_wait(tmp_path: Path) -> None:
    with private_redis(tmp_path) as frozen:
        server = serve(tmp_path, RATE_LIMIT_STORAGE_URL=frozen.url)
        try:
            with steady_sign_ins(server.url) as answers:
                time.sleep(2)
                frozen.freeze()
                frozen_at = time.monotonic()
                try:
                    time.sleep(8)
                finally:
                    frozen.thaw()
                thawed_at = time.monotonic()
                time.sleep(7)
        finally:
            server.stop()
        counted_after_thaw = [
            a.telegram_id
            for a in answers
            if a.started > thawed_at + 5
            and redis.Redis.from_url(frozen.url).keys(f"*{a.telegram_id}*")
        ]

    during = [a for a in answers if frozen_at < a.started < thawed_at]
    assert during, "no sign-in was sent while Redis was frozen"
    assert {a.status for a in answers} == {200}, server.log()
    slow = [a for a in answers if a.seconds >= FROZEN_REDIS_BOUND_SECONDS]
    assert not slow, [(round(a.started - frozen_at, 1), round(a.seconds, 1)) for a in slow]
    assert "rate limit storage unavailable" in server.log()
    assert_recovered_within(5, answers, thawed_at)
    assert counted_after_thaw, "the limits were not counted in Redis again after the thaw"

from __future__ import annotations

import time
from pathlib import Path

import httpx
import psycopg
import pytest

from postgres_cluster import private_cluster
from service_process import (
    Answer,
    assert_recovered_within,
    init_data,
    server_env,
    start_server,
    steady_sign_ins,
)

TIMEOUT_SECONDS = 3  # DATABASE_TIMEOUT_SECONDS, the service's default
FROZEN_TIMEOUT_SECONDS = 2
FREEZE_SECONDS = 8


def check_ready(url: str, seconds: float) -> list[tuple[httpx.Response, float]]:
    """/ready twice a second for `seconds`: each answer and how long it took."""
    checks = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        started = time.monotonic()
        ready = httpx.get(url + "/ready", timeout=30)
        checks.append((ready, time.monotonic() - started))
        time.sleep(0.5)
    return checks


def assert_acknowledged_sign_ins_stored(database_url: str, answers: list[Answer]) -> None:
    acknowledged = {a.telegram_id for a in answers if a.status == 200}
    with psycopg.connect(database_url) as connection:
        stored = {
            row[0]
            for row in connection.execute(
                "SELECT telegram_id FROM users WHERE telegram_id = ANY(%s)",
                (list(acknowledged),),
            )
        }
    assert stored == acknowledged


@pytest.mark.slow
def test_the_service_rides_out_a_database_outage(tmp_path: Path) -> None:
    with private_cluster() as cluster:
        server = start_server(
            server_env(cluster.url, WORKERS="2"), tmp_path / "server.log", timeout=60
        )
        try:
            with steady_sign_ins(server.url) as answers:
                time.sleep(2)

                cluster.stop()
                down_at = time.monotonic()
                ready_checks = [
                    (ready.status_code, seconds) for ready, seconds in check_ready(server.url, 10)
                ]
                restarting_at = time.monotonic()
                cluster.start()
                back_at = time.monotonic()
                time.sleep(8)
        finally:
            server.stop()

        statuses = {answer.status for answer in answers}
        assert statuses <= {200, 503}, server.log()
        assert 500 not in statuses
        # Requests that ended before the restart began; later ones may rightly succeed.
        during = [
            a for a in answers if down_at + 1 < a.started and a.started + a.seconds < restarting_at
        ]
        assert during, "no request was sent while the database was down"
        assert all(a.status == 503 for a in during)
        for refused in (a for a in answers if a.status == 503):
            assert refused.content_type == "application/problem+json"
            assert refused.retry_after is not None
        slowest = max(answer.seconds for answer in answers)
        assert slowest < TIMEOUT_SECONDS + 1.5, f"a request took {slowest:.1f} s"

        assert ready_checks
        assert all(status == 503 for status, _ in ready_checks[2:])
        assert max(seconds for _, seconds in ready_checks) < 5

        assert_recovered_within(5, answers, back_at)

        assert_acknowledged_sign_ins_stored(cluster.url, answers)


@pytest.mark.slow
def test_a_frozen_database_answers_503_within_the_timeout(tmp_path: Path) -> None:
    with private_cluster() as cluster:
        server = start_server(
            server_env(cluster.url, DATABASE_TIMEOUT_SECONDS=str(FROZEN_TIMEOUT_SECONDS)),
            tmp_path / "server.log",
            timeout=60,
        )
        try:
            with steady_sign_ins(server.url) as answers:
                time.sleep(2)
                cluster.freeze()
                frozen_at = time.monotonic()
                try:
                    ready_checks = check_ready(server.url, FREEZE_SECONDS)
                finally:
                    cluster.thaw()
                thawed_at = time.monotonic()
                time.sleep(7)
        finally:
            server.stop()

        bound = FROZEN_TIMEOUT_SECONDS + 1
        during = [a for a in answers if frozen_at < a.started < thawed_at - bound]
        assert during, "no sign-in was sent while the database was frozen"
        for answer in during:
            assert answer.status == 503, server.log()
            assert answer.content_type == "application/problem+json"
            assert answer.retry_after is not None
        slow = [a for a in answers if a.seconds >= bound]
        assert not slow, [(a.started - frozen_at, a.seconds, a.status) for a in slow]

        assert all(ready.status_code == 503 for ready, _ in ready_checks)
        assert all(
            ready.headers["content-type"] == "application/problem+json" for ready, _ in ready_checks
        )
        ready_seconds = [round(seconds, 2) for _, seconds in ready_checks]
        assert max(ready_seconds) < bound, ready_seconds

        assert_recovered_within(5, answers, thawed_at)
        assert_acknowledged_sign_ins_stored(cluster.url, answers)


@pytest.mark.slow
def test_a_request_over_the_response_timeout_answers_503_problem(tmp_path: Path) -> None:
    """RESPONSE_TIMEOUT_SECONDS shorter than the database deadline: Sanic's timeout answers."""
    with private_cluster() as cluster:
        server = start_server(
            server_env(cluster.url, DATABASE_TIMEOUT_SECONDS="10", RESPONSE_TIMEOUT_SECONDS="1"),
            tmp_path / "server.log",
            timeout=60,
        )
        try:
            assert httpx.get(server.url + "/ready", timeout=10).status_code == 200
            cluster.freeze()
            try:
                started = time.monotonic()
                answer = httpx.post(
                    server.url + "/auth/telegram", json={"init_data": init_data(1)}, timeout=30
                )
                seconds = time.monotonic() - started
            finally:
                cluster.thaw()
        finally:
            server.stop()
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"] == "urn:learnbot:problem:response-timeout"
        assert answer.headers["retry-after"]
        assert seconds < 3
        assert "unhandled error" not in server.log()

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from postgres_cluster import private_cluster
from service_process import init_data, new_telegram_id, server_env, start_server

TIMEOUT_SECONDS = 3  # DATABASE_TIMEOUT_SECONDS, the service's default


@dataclass
class Answer:
    telegram_id: int
    status: int
    content_type: str
    retry_after: str | None
    started: float
    seconds: float


def sign_in_traffic(url: str, stop: threading.Event, answers: list[Answer]) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        while not stop.is_set():
            telegram_id = new_telegram_id()
            started = time.monotonic()
            response = http.post("/auth/telegram", json={"init_data": init_data(telegram_id)})
            answers.append(
                Answer(
                    telegram_id,
                    response.status_code,
                    response.headers.get("content-type", ""),
                    response.headers.get("retry-after"),
                    started,
                    time.monotonic() - started,
                )
            )
            time.sleep(0.02)


@pytest.mark.slow
def test_the_service_rides_out_a_database_outage(tmp_path: Path) -> None:
    with private_cluster() as cluster:
        server = start_server(
            server_env(cluster.url, WORKERS="2"), tmp_path / "server.log", timeout=60
        )
        try:
            answers: list[Answer] = []
            stop = threading.Event()
            clients = [
                threading.Thread(target=sign_in_traffic, args=(server.url, stop, answers))
                for _ in range(4)
            ]
            for client in clients:
                client.start()
            time.sleep(2)

            cluster.stop()
            down_at = time.monotonic()
            ready_checks = []
            while time.monotonic() - down_at < 10:
                started = time.monotonic()
                ready = httpx.get(server.url + "/ready", timeout=30)
                ready_checks.append((ready.status_code, time.monotonic() - started))
                time.sleep(0.5)
            restarting_at = time.monotonic()
            cluster.start()
            back_at = time.monotonic()
            time.sleep(8)
            stop.set()
            for client in clients:
                client.join()
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

        recovered = [a for a in answers if a.status == 200 and a.started > back_at]
        assert recovered, "no sign-in succeeded after the database came back"
        first_success = min(a.started + a.seconds for a in recovered) - back_at
        assert first_success < 5, f"recovered {first_success:.1f} s after the restart"
        late = [a for a in answers if a.started > back_at + 5]
        assert late
        assert all(a.status == 200 for a in late)

        acknowledged = {a.telegram_id for a in answers if a.status == 200}
        with psycopg.connect(cluster.url) as connection:
            stored = {
                row[0]
                for row in connection.execute(
                    "SELECT telegram_id FROM users WHERE telegram_id = ANY(%s)",
                    (list(acknowledged),),
                )
            }
        assert stored == acknowledged

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from service_process import (
    Server,
    begin_sign_in,
    free_port,
    init_data,
    launch_server,
    new_telegram_id,
    server_env,
    start_server,
)

GRACE_SECONDS = 4
# From the signal to the last process gone: the grace period, and the kernel reaping them.
GONE_WITHIN = GRACE_SECONDS + 0.5


def sqlite_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    return server_env(
        f"sqlite:///{tmp_path}/shutdown.db",
        WORKERS="2",
        SHUTDOWN_GRACE_SECONDS=str(GRACE_SECONDS),
        **overrides,
    )


def sign_ins_until(url: str, stop: threading.Event, outcomes: list[tuple[float, object]]) -> None:
    """A new connection per sign-in, so that no answer is lost to an idle keep-alive."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            response = httpx.post(
                url + "/auth/telegram",
                json={"init_data": init_data(new_telegram_id())},
                headers={"Connection": "close"},
                timeout=30,
            )
            outcomes.append((started, response.status_code))
        except httpx.TransportError as error:
            outcomes.append((started, error))


@pytest.mark.slow
def test_sigterm_under_load_answers_accepted_requests_and_stops_within_the_grace_period(
    tmp_path: Path,
) -> None:
    server = start_server(sqlite_env(tmp_path), tmp_path / "server.log", timeout=60)
    try:
        outcomes: list[tuple[float, object]] = []
        stop = threading.Event()
        clients = [
            threading.Thread(target=sign_ins_until, args=(server.url, stop, outcomes))
            for _ in range(3)
        ]
        for client in clients:
            client.start()
        # Accepted and in the middle of their bodies when the signal comes.
        in_flight = [begin_sign_in(server.url, sent=20) for _ in range(4)]
        time.sleep(2)
        server.process.send_signal(signal.SIGTERM)
        signalled_at = time.monotonic()
        time.sleep(0.5)
        answers = [request.finish() for request in in_flight]
        gone_after = server.wait_until_gone(timeout=30)
        stop.set()
        for client in clients:
            client.join()
    finally:
        server.kill_process_group()

    for status, _, body in answers:
        assert status == 200, body
        assert json.loads(body)["user"]
    answered = [outcome for _, outcome in outcomes if isinstance(outcome, int)]
    assert answered, "no sign-in was answered before the signal"
    assert set(answered) == {200}, server.log()
    refused_before = [
        o for started, o in outcomes if started < signalled_at - 1 and not isinstance(o, int)
    ]
    assert not refused_before, refused_before
    assert gone_after < GONE_WITHIN, f"the service took {gone_after:.1f} s to stop"


# The main process, multiprocessing's resource tracker, and Sanic's shared-state manager.
MANAGER_STARTING = 3
# ... and the two workers.
WORKERS_STARTING = 5


def launched_until(tmp_path: Path, processes: int) -> Server:
    """A service with `processes` processes, before it answers anything."""
    server = launch_server(sqlite_env(tmp_path), tmp_path / "server.log")
    deadline = time.monotonic() + 60
    while len(server.process_group()) < processes:
        assert server.process.poll() is None, server.log()
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.02)
    return server


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize(
    "processes", [MANAGER_STARTING, WORKERS_STARTING], ids=["manager-starting", "workers-starting"]
)
def test_a_stop_signal_during_start_up_stops_the_service_within_the_grace_period(
    tmp_path: Path, signum: signal.Signals, processes: int
) -> None:
    server = launched_until(tmp_path, processes)
    try:
        server.process.send_signal(signum)
        gone_after = server.wait_until_gone(timeout=30)
    finally:
        server.kill_process_group()
    assert gone_after < GONE_WITHIN, f"the service took {gone_after:.1f} s to stop"
    # It stopped by itself, not by being killed at the end of the grace period.
    assert "did not stop within" not in server.log(), server.log()


@pytest.mark.slow
def test_no_worker_outlives_a_killed_main_process(tmp_path: Path) -> None:
    server = start_server(sqlite_env(tmp_path), tmp_path / "server.log", timeout=60)
    try:
        server.process.kill()
        server.process.wait()
        gone_after = server.wait_until_gone(timeout=30)
    finally:
        server.kill_process_group()
    assert gone_after < GONE_WITHIN, f"the workers took {gone_after:.1f} s to stop"


@pytest.mark.slow
def test_the_service_stops_within_the_grace_period_with_its_dependencies_unreachable(
    tmp_path: Path,
) -> None:
    unreachable = f"127.0.0.1:{free_port()}"
    server = start_server(
        server_env(
            f"postgresql://postgres@{unreachable}/learnbot",
            APP_ENV="production",
            WORKERS="2",
            SHUTDOWN_GRACE_SECONDS=str(GRACE_SECONDS),
            RATE_LIMIT_STORAGE_URL=f"redis://{unreachable}/0",
        ),
        tmp_path / "server.log",
        timeout=60,
    )
    try:
        in_flight = [begin_sign_in(server.url, sent=20) for _ in range(2)]
        time.sleep(1)
        server.process.send_signal(signal.SIGTERM)
        answers = [request.finish() for request in in_flight]
        gone_after = server.wait_until_gone(timeout=30)
    finally:
        server.kill_process_group()
    assert [status for status, _, _ in answers] == [503, 503]
    assert gone_after < GONE_WITHIN, f"the service took {gone_after:.1f} s to stop"

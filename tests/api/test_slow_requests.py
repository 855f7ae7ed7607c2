from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from service_process import PartialRequest, Server, begin_sign_in, server_env, start_server

TIMEOUT_SECONDS = 1


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("slow")
    started = start_server(
        server_env(
            f"sqlite:///{directory}/slow.db",
            REQUEST_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
            RESPONSE_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
        ),
        directory / "server.log",
        timeout=60,
    )
    yield started
    started.stop()


def assert_request_timeout(answer: tuple[int, dict[str, str], bytes]) -> None:
    status, headers, body = answer
    assert status == 408, body
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["type"] == "urn:learnbot:problem:request-timeout"
    assert problem["status"] == 408
    assert problem["detail"]


def test_a_stalled_head_answers_408_problem(server: Server) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    connection = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_SECONDS + 10)
    connection.sendall(b"POST /auth/telegram HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    assert_request_timeout(PartialRequest(connection, b"").answer())


def test_a_stalled_body_answers_408_problem(server: Server) -> None:
    started = time.monotonic()
    assert_request_timeout(begin_sign_in(server.url, sent=6, timeout=TIMEOUT_SECONDS + 10).answer())
    assert time.monotonic() - started < TIMEOUT_SECONDS + 5
    assert "unhandled error" not in server.log()

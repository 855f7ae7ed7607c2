from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from service_process import (
    Server,
    free_port,
    new_telegram_id,
    send_json,
    server_env,
    signed_init_data,
    signed_widget,
    start_server,
    tma,
)

PROBLEM = "application/problem+json"
# What JSON escapes and percent-decoding can produce but no stored text may hold: a lone
# surrogate (UTF-8 cannot encode it) and NUL (PostgreSQL's text refuses it).
NOT_TEXT = ["\ud800", "a\udfffb", "\x00", "a\x00b"]
PROFILE_FIELDS = ["first_name", "last_name", "username", "language_code", "photo_url"]


def test_body_over_64_kib_is_413(client: httpx.Client) -> None:
    response = client.post("/auth/telegram", content=b"{" + b" " * (64 * 1024) + b"}")
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 413


def test_chunked_body_over_64_kib_is_413(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(80):
            yield b" " * 1024

    response = client.post("/me/accounts", content=chunks(), headers=tma(new_telegram_id()))
    assert response.status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'"string"',
        b"null",
        b"{",
        b"[" * 20000 + b"]" * 20000,
        b'{"init_data": "\\ud800"}',
        '{"init_data": "\u0000"}'.encode(),
        b"\xff\xfe\x00",
        b'{"id": 1e400, "hash": "x", "auth_date": 1, "first_name": "a"}',
        b'{"id": true, "hash": "x", "auth_date": 1, "first_name": "a"}',
        b'{"id": 1, "hash": {"x": 1}, "auth_date": [1], "first_name": null}',
        b'{"init_data": "' + b"a=b&" * 5000 + b'"}',
    ],
)
def test_hostile_sign_in_bodies_never_500(client: httpx.Client, body: bytes) -> None:
    response = client.post(
        "/auth/telegram", content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == PROBLEM
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "value",
    [
        "tma",
        "tma ?",
        "tma %",
        "tma %ZZ",
        "tma hash=",
        "tma user=%7B&hash=1",
        "tma " + "x" * 7000,
        "tma user=%7B%22id%22%3A%22abc%22%7D&auth_date=1&hash=0",
    ],
)
def test_hostile_authorization_headers_are_401(client: httpx.Client, value: str) -> None:
    response = client.get("/me", headers={"Authorization": value})
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM


def test_oversized_headers_are_a_problem_document(client: httpx.Client) -> None:
    response = client.get("/me", headers={"Authorization": "tma " + "x" * 30000})
    assert response.status_code == 431
    assert response.headers["content-type"] == PROBLEM


def test_malformed_http_is_answered_not_crashed(server: Server) -> None:
    parts = urlsplit(server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(b"GARBAGE / HTTP/9.9\r\nHost: x\r\n\r\n")
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 4")
    assert httpx.get(server.url + "/health").status_code == 200


def test_a_client_that_goes_away_is_not_a_server_error(tmp_path: Path) -> None:
    # With the database unreachable each request waits out the pool timeout, so the client
    # gives up first, as an impatient user or a proxy timeout would.
    env = server_env(f"postgresql://postgres@127.0.0.1:{free_port()}/gone", APP_ENV="production")
    server = start_server(env, tmp_path / "server.log")
    try:
        headers = tma(new_telegram_id())
        for _ in range(3):
            with pytest.raises(httpx.ReadTimeout):
                httpx.get(server.url + "/me", headers=headers, timeout=0.3)
        time.sleep(0.5)
        text = httpx.get(server.url + "/metrics", timeout=10).text
    finally:
        server.stop()
    assert 'http_requests_total{method="GET",route="/me",status="499"} 3.0' in text
    assert 'status="500"' not in text
    levels = [json.loads(line)["level"] for line in server.log().splitlines() if line[:1] == "{"]
    assert levels
    assert "ERROR" not in levels


def assert_problem(response: httpx.Response, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == f"urn:learnbot:problem:{slug}"


@pytest.mark.parametrize(
    "fields",
    [
        {"id": 1, "first_name": "x", "auth_date": 1, "hash": "\ud800"},
        {"id": 1, "first_name": "\ud800", "auth_date": 1, "hash": "0" * 64},
        {"id": 1, "first_name": "x\x00", "auth_date": 1, "hash": "0" * 64},
        {"id": 1, "first_name": "x", "auth_date": 1, "hash": "0" * 64, "\ud800": "x"},
    ],
)
def test_unsigned_widget_text_that_is_not_text_is_401(
    client: httpx.Client, fields: dict[str, object]
) -> None:
    assert_problem(send_json(client, "POST", "/auth/telegram", fields), 401, "sign-in-rejected")


@pytest.mark.parametrize("bad", NOT_TEXT)
@pytest.mark.parametrize("field", PROFILE_FIELDS)
def test_signed_profile_text_that_is_not_text_is_401(
    client: httpx.Client, field: str, bad: str
) -> None:
    raw = signed_init_data(json.dumps({"id": new_telegram_id(), "first_name": "Ann", field: bad}))
    body = send_json(client, "POST", "/auth/telegram", {"init_data": raw})
    assert_problem(body, 401, "sign-in-rejected")
    header = client.get("/me", headers={"Authorization": "tma " + raw})
    assert_problem(header, 401, "not-signed-in")
    login = {"id": new_telegram_id(), "first_name": "Ann", "auth_date": int(time.time())}
    widget = send_json(client, "POST", "/auth/telegram", signed_widget({**login, field: bad}))
    assert_problem(widget, 401, "sign-in-rejected")


@pytest.mark.parametrize("field", ["query_id", "start_param", "chat_instance"])
def test_signed_init_data_fields_with_nul_are_401(client: httpx.Client, field: str) -> None:
    user = json.dumps({"id": new_telegram_id(), "first_name": "Ann"})
    raw = signed_init_data(user, **{field: "a\x00b"})
    response = send_json(client, "POST", "/auth/telegram", {"init_data": raw})
    assert_problem(response, 401, "sign-in-rejected")


@pytest.mark.parametrize("bad", NOT_TEXT)
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider": "github", "external_id": "{bad}"}, "external_id"),
        ({"provider": "github", "external_id": "1", "display_name": "{bad}"}, "display_name"),
        ({"provider": "{bad}", "external_id": "1"}, "provider"),
        ({"provider": "github", "external_id": "1", "display_name": ["{bad}"]}, "display_name"),
    ],
)
def test_account_text_that_is_not_text_is_422_naming_the_field(
    client: httpx.Client, body: dict[str, object], field: str, bad: str
) -> None:
    hostile = json.loads(json.dumps(body).replace("{bad}", json.dumps(bad)[1:-1]))
    headers = tma(new_telegram_id())
    response = send_json(client, "POST", "/me/accounts", hostile, headers)
    assert_problem(response, 422, "invalid-input")
    assert response.json()["field"] == field
    assert client.get("/me", headers=headers).json()["accounts"] == []


@pytest.mark.parametrize("bad", NOT_TEXT)
def test_undocumented_fields_are_ignored_whatever_they_hold(client: httpx.Client, bad: str) -> None:
    telegram_id = new_telegram_id()
    body = {"provider": "github", "external_id": str(telegram_id), bad: "x", "note": [bad]}
    response = send_json(client, "POST", "/me/accounts", body, tma(telegram_id))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("bad", NOT_TEXT)
def test_a_locale_that_is_not_text_is_422(client: httpx.Client, bad: str) -> None:
    response = send_json(client, "PUT", "/me/locale", {"locale": bad}, tma(new_telegram_id()))
    assert_problem(response, 422, "invalid-input")
    assert response.json()["field"] == "locale"

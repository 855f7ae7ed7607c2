from __future__ import annotations

import secrets
import time
from pathlib import Path

import httpx
import pytest

from service_process import init_data, new_telegram_id, server_env, start_server, tma

PROBLEM = "application/problem+json"


def test_me_needs_the_tma_header(client: httpx.Client) -> None:
    for headers in ({}, {"Authorization": "Bearer abc"}, {"Authorization": "tma"}):
        response = client.get("/me", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["www-authenticate"] == "tma"


def test_me_rejects_forged_init_data(client: httpx.Client) -> None:
    raw = init_data(new_telegram_id()).replace("Ann", "Eve")
    assert client.get("/me", headers={"Authorization": f"tma {raw}"}).status_code == 401


def test_me_returns_the_user_and_accounts(client: httpx.Client) -> None:
    telegram_id = new_telegram_id()
    headers = tma(telegram_id, first_name="Ann", language_code="de")
    response = client.get("/me", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["telegram_id"] == telegram_id
    assert body["user"]["language_code"] == "de"
    assert body["accounts"] == []
    assert body["is_admin"] is False


def test_scheme_is_case_insensitive(client: httpx.Client) -> None:
    raw = init_data(new_telegram_id())
    assert client.get("/me", headers={"Authorization": f"TMA {raw}"}).status_code == 200


def test_link_list_and_unlink_an_account(client: httpx.Client) -> None:
    headers = tma(new_telegram_id())
    external_id = secrets.token_hex(6)
    body = {"provider": "github", "external_id": external_id, "display_name": "ann-gh"}
    created = client.post("/me/accounts", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["provider"] == "github"
    assert created.json()["display_name"] == "ann-gh"
    # The development path: what the client says, unverified.
    assert created.json()["verified"] is False

    again = client.post("/me/accounts", json={**body, "display_name": "ann"}, headers=headers)
    assert again.status_code == 200
    assert again.json()["display_name"] == "ann"

    accounts = client.get("/me", headers=headers).json()["accounts"]
    assert [(a["provider"], a["external_id"]) for a in accounts] == [("github", external_id)]

    assert client.delete("/me/accounts/github", headers=headers).status_code == 204
    assert client.get("/me", headers=headers).json()["accounts"] == []
    missing = client.delete("/me/accounts/github", headers=headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM


def test_second_account_of_a_provider_conflicts(client: httpx.Client) -> None:
    headers = tma(new_telegram_id())
    first = {"provider": "duolingo", "external_id": secrets.token_hex(6)}
    assert client.post("/me/accounts", json=first, headers=headers).status_code == 201
    other = {"provider": "duolingo", "external_id": secrets.token_hex(6)}
    response = client.post("/me/accounts", json=other, headers=headers)
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM


def test_account_of_another_user_conflicts(client: httpx.Client) -> None:
    account = {"provider": "google", "external_id": secrets.token_hex(6)}
    owner = tma(new_telegram_id())
    assert client.post("/me/accounts", json=account, headers=owner).status_code == 201
    thief = tma(new_telegram_id())
    response = client.post("/me/accounts", json=account, headers=thief)
    assert response.status_code == 409
    assert "another" in response.json()["detail"]


def test_invalid_account_fields_are_422(client: httpx.Client) -> None:
    headers = tma(new_telegram_id())
    bad_bodies = [
        {"external_id": "1"},
        {"provider": "GitHub", "external_id": "1"},
        {"provider": "github", "external_id": ""},
        {"provider": "github", "external_id": 5},
        {"provider": "github", "external_id": "x" * 257},
        {"provider": "github", "external_id": "a\nb"},
        {"provider": "github", "external_id": "1", "display_name": ["x"]},
    ]
    for body in bad_bodies:
        response = client.post("/me/accounts", json=body, headers=headers)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["field"] in {"provider", "external_id", "display_name"}


@pytest.mark.slow
def test_init_data_verified_before_still_expires(api_database_url: str, tmp_path: Path) -> None:
    """A verified header is remembered, so its signature is not checked again, but its age is
    checked on every request."""
    running = start_server(
        server_env(api_database_url, AUTH_MAX_AGE_SECONDS="2", WORKERS="1"), tmp_path / "server.log"
    )
    try:
        with httpx.Client(base_url=running.url, timeout=10) as http:
            headers = {"Authorization": "tma " + init_data(new_telegram_id())}
            assert http.get("/me", headers=headers).status_code == 200
            assert http.get("/me", headers=headers).status_code == 200
            time.sleep(3.2)
            expired = http.get("/me", headers=headers)
            assert expired.status_code == 401
            assert expired.json()["detail"] == "The sign-in data is too old."
            forged = headers["Authorization"][:-1] + (
                "0" if headers["Authorization"][-1] != "0" else "1"
            )
            assert http.get("/me", headers={"Authorization": forged}).status_code == 401
    finally:
        running.stop()

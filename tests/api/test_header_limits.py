from __future__ import annotations

import time

import httpx

from learnbot.auth import sign_init_data
from learnbot.auth.init_data import MAX_INIT_DATA_BYTES
from service_process import BOT_TOKEN, new_telegram_id

PROBLEM = "application/problem+json"


def init_data_of_size(telegram_id: int, size: int) -> str:
    """Signed init data exactly `size` characters long, padded by a field the service ignores."""

    def signed(padding: str) -> str:
        return sign_init_data(
            BOT_TOKEN,
            {"id": telegram_id, "first_name": "Ann"},
            auth_date=int(time.time()),
            extra={"padding": padding},
        )

    unpadded = len(signed(""))
    raw = signed("x" * (size - unpadded))
    assert len(raw) == size
    return raw


def test_the_largest_init_data_signs_in_through_the_header_as_through_the_body(
    client: httpx.Client,
) -> None:
    telegram_id = new_telegram_id()
    raw = init_data_of_size(telegram_id, MAX_INIT_DATA_BYTES)
    assert client.post("/auth/telegram", json={"init_data": raw}).status_code == 200
    me = client.get("/me", headers={"Authorization": f"tma {raw}", "Accept-Language": "en"})
    assert me.status_code == 200, me.text
    assert me.json()["user"]["telegram_id"] == telegram_id


def test_too_large_headers_say_so(client: httpx.Client) -> None:
    response = client.get("/me", headers={"Authorization": "tma " + "x" * (40 * 1024)})
    assert response.status_code == 431
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "urn:learnbot:problem:headers-too-large"
    assert "header" in body["detail"]
    assert "64 KiB" not in body["detail"]

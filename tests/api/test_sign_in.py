from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

import httpx
import pytest

from service_process import ADMIN_ID, BOT_TOKEN, init_data, new_telegram_id, signed_widget

PROBLEM = "application/problem+json"


def test_first_sign_in_creates_the_user(client: httpx.Client) -> None:
    telegram_id = new_telegram_id()
    raw = init_data(
        telegram_id,
        first_name="Анна",
        last_name="Smith 🎓",
        username="anna_s",
        language_code="ru",
        is_premium=True,
        photo_url="https://t.me/i/userpic/320/anna.jpg",
    )
    response = client.post("/auth/telegram", json={"init_data": raw})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Добро пожаловать, Анна!"
    assert body["is_admin"] is False
    user = body["user"]
    assert user["telegram_id"] == telegram_id
    assert user["first_name"] == "Анна"
    assert user["last_name"] == "Smith 🎓"
    assert user["username"] == "anna_s"
    assert user["language_code"] == "ru"
    assert user["is_premium"] is True
    assert user["photo_url"] == "https://t.me/i/userpic/320/anna.jpg"
    assert isinstance(user["id"], int)
    assert user["created_at"]


def test_returning_sign_in_updates_the_profile(client: httpx.Client) -> None:
    telegram_id = new_telegram_id()
    first = client.post("/auth/telegram", json={"init_data": init_data(telegram_id)}).json()
    raw = init_data(telegram_id, first_name="Annie", username="annie")
    second = client.post("/auth/telegram", json={"init_data": raw}).json()
    assert second["message"] == "Welcome back, Annie!"
    assert second["user"]["id"] == first["user"]["id"]
    assert second["user"]["created_at"] == first["user"]["created_at"]
    assert second["user"]["username"] == "annie"


def test_largest_telegram_id_fits(client: httpx.Client) -> None:
    telegram_id = 2**52 + 12345
    response = client.post("/auth/telegram", json={"init_data": init_data(telegram_id)})
    assert response.status_code == 200
    assert response.json()["user"]["telegram_id"] == telegram_id


def test_admin_is_flagged(client: httpx.Client) -> None:
    response = client.post("/auth/telegram", json={"init_data": init_data(ADMIN_ID)})
    assert response.json()["is_admin"] is True


def test_wrong_token_is_401(client: httpx.Client) -> None:
    raw = init_data(new_telegram_id(), token="987654321:AAsome-other-bots-token")
    response = client.post("/auth/telegram", json={"init_data": raw})
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 401


def test_tampered_user_is_401(client: httpx.Client) -> None:
    raw = init_data(new_telegram_id(), first_name="Ann")
    response = client.post("/auth/telegram", json={"init_data": raw.replace("Ann", "Bob")})
    assert response.status_code == 401


def test_expired_init_data_is_401(client: httpx.Client) -> None:
    raw = init_data(new_telegram_id(), auth_date=int(time.time()) - 86400 - 60)
    response = client.post("/auth/telegram", json={"init_data": raw})
    assert response.status_code == 401
    assert response.json()["detail"]


def test_future_init_data_is_401(client: httpx.Client) -> None:
    raw = init_data(new_telegram_id(), auth_date=int(time.time()) + 600)
    response = client.post("/auth/telegram", json={"init_data": raw})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"init_data": 12}, 422),
        ({"init_data": None}, 422),
        ({"nothing": "useful"}, 422),
        ({"id": "+12", "first_name": "A", "auth_date": 1, "hash": "x"}, 422),
        # The widget's redirect URL hands over digit strings: the shape is right, the hash not.
        ({"id": "12", "first_name": "A", "auth_date": "1", "hash": "x"}, 401),
        ({"id": 12, "first_name": "A", "auth_date": -1, "hash": "x"}, 422),
        ({"id": 12, "first_name": "A", "auth_date": 1, "hash": "x", "username": 5}, 422),
        # The body has the documented shape; what is inside cannot be verified.
        ({"init_data": ""}, 401),
        ({"init_data": "user=%7B%7D&auth_date=1"}, 401),
        ({"init_data": "a=1&a=2&hash=00"}, 401),
        ({"id": 12, "first_name": "A", "auth_date": 1, "hash": "x", "extra": {"a": 1}}, 401),
    ],
)
def test_malformed_sign_in_is_rejected(
    client: httpx.Client, body: dict[str, object], status: int
) -> None:
    response = client.post("/auth/telegram", json=body)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"]


def test_login_widget_sign_in(client: httpx.Client) -> None:
    telegram_id = new_telegram_id()
    fields: dict[str, object] = {
        "id": telegram_id,
        "first_name": "Widget",
        "username": "widget_user",
        "auth_date": int(time.time()),
    }
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    secret = hashlib.sha256(BOT_TOKEN.encode()).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    response = client.post("/auth/telegram", json=fields)
    assert response.status_code == 200, response.text
    assert response.json()["user"]["username"] == "widget_user"

    fields["first_name"] = "Forged"
    assert client.post("/auth/telegram", json=fields).status_code == 401


@pytest.mark.parametrize(
    "form",
    [lambda number: number, str],
    ids=["javascript-callback-numbers", "redirect-url-digit-strings"],
)
def test_login_widget_takes_numbers_and_digit_strings(
    client: httpx.Client, form: Callable[[int], object]
) -> None:
    telegram_id = new_telegram_id()
    auth_date = int(time.time())
    fields = {"id": telegram_id, "first_name": "Widget", "auth_date": auth_date}
    # Telegram signs `id=123` either way, so one hash serves both forms.
    signed = signed_widget(fields)
    as_sent = {**signed, "id": form(telegram_id), "auth_date": form(auth_date)}
    response = client.post("/auth/telegram", json=as_sent)
    assert response.status_code == 200, response.text
    assert response.json()["user"]["telegram_id"] == telegram_id


@pytest.mark.parametrize(
    "value",
    [
        "+5",
        "-5",
        " 5",
        "5 ",
        "5\n",
        "05",
        "5.0",
        "1e3",
        "0x5",
        "\uff15",
        "",
        "five",
        5.0,
        True,
        None,
    ],
)
@pytest.mark.parametrize("name", ["id", "auth_date"])
def test_login_widget_numbers_in_any_other_form_are_422(
    client: httpx.Client, name: str, value: object
) -> None:
    fields = signed_widget({"id": new_telegram_id(), "first_name": "W", "auth_date": 5})
    response = client.post("/auth/telegram", json={**fields, name: value})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["field"] == name


def test_blocked_user_cannot_sign_in(client: httpx.Client) -> None:
    telegram_id = new_telegram_id()
    client.post("/auth/telegram", json={"init_data": init_data(telegram_id)})
    admin = {"Authorization": "tma " + init_data(ADMIN_ID)}
    assert client.post(f"/admin/users/{telegram_id}/block", headers=admin).status_code == 200
    response = client.post("/auth/telegram", json={"init_data": init_data(telegram_id)})
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM

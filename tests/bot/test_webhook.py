"""The bot's webhook against a real `learnbot serve` (SQLite and PostgreSQL), with the Bot API
played by a local stand-in that records the calls."""

from __future__ import annotations

import itertools
import secrets
import time
from typing import Any

import httpx
import pytest

from bot.conftest import MINIAPP_URL, WEBHOOK_SECRET
from bot_api_standin import BotApiStandIn
from learnbot.bot import updates
from learnbot.i18n.catalogs import load_catalog
from service_process import ADMIN_ID, Server, new_telegram_id, tma

_update_ids = itertools.count(secrets.randbelow(2**40))
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}


def message(telegram_id: int, text: str, *, lang: str = "en", name: str = "Ann") -> dict[str, Any]:
    return {
        "update_id": next(_update_ids),
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": telegram_id, "type": "private", "first_name": name},
            "from": {"id": telegram_id, "is_bot": False, "first_name": name, "language_code": lang},
            "text": text,
        },
    }


def callback(telegram_id: int, data: str, *, lang: str = "en") -> dict[str, Any]:
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": str(next(_update_ids)),
            "from": {
                "id": telegram_id,
                "is_bot": False,
                "first_name": "Ann",
                "language_code": lang,
            },
            "chat_instance": "1",
            "data": data,
        },
    }


def post(client: httpx.Client, update: object) -> httpx.Response:
    response = client.post("/telegram/webhook", json=update, headers=HEADERS)
    assert response.status_code == 200, response.text
    return response


def text(locale: str, message_id: str, **params: str) -> str:
    translated = load_catalog(locale).gettext(message_id)
    return translated % params if params else translated


def sent_to(standin: BotApiStandIn, chat_id: int) -> list[dict[str, Any]]:
    return [
        c.params for c in standin.calls_of("sendMessage") if int(c.params["chat_id"]) == chat_id
    ]


def admin_row(client: httpx.Client, telegram_id: int) -> dict[str, Any]:
    users = client.get("/admin/users", params={"limit": 100}, headers=tma(ADMIN_ID)).json()["users"]
    return next(user for user in users if user["telegram_id"] == telegram_id)


def test_the_secret_token_is_required(
    client: httpx.Client, bot_server: Server, standin: BotApiStandIn
) -> None:
    update = message(new_telegram_id(), "/start")
    for headers in (
        {},
        {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET[:-1] + "x"},
        {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET + "x"},
    ):
        response = client.post("/telegram/webhook", json=update, headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "urn:learnbot:problem:webhook-rejected"
    assert standin.calls == []
    assert WEBHOOK_SECRET not in bot_server.log()


@pytest.mark.parametrize("locale", ["ru", "de"])
def test_start_creates_the_user_and_answers_with_the_mini_app_button(
    client: httpx.Client, standin: BotApiStandIn, locale: str
) -> None:
    telegram_id = new_telegram_id()
    post(client, message(telegram_id, "/start", lang=locale, name="Olga"))

    (reply,) = sent_to(standin, telegram_id)
    assert reply["text"] == text(locale, updates.WELCOME, name="Olga")
    (row,) = reply["reply_markup"]["inline_keyboard"]
    assert row == [{"text": text(locale, updates.OPEN_APP), "web_app": {"url": MINIAPP_URL}}]
    user = admin_row(client, telegram_id)
    assert user["first_name"] == "Olga"
    assert user["language_code"] == locale
    assert user["source"] is None


def test_start_with_a_payload_records_the_first_one_as_the_source(
    client: httpx.Client, standin: BotApiStandIn
) -> None:
    telegram_id = new_telegram_id()
    post(client, message(telegram_id, "/start spring-campaign_2", lang="de"))
    post(client, message(telegram_id, "/start other"))

    assert admin_row(client, telegram_id)["source"] == "spring-campaign_2"
    assert len(sent_to(standin, telegram_id)) == 2
    # A payload Telegram would not carry is not stored.
    other = new_telegram_id()
    post(client, message(other, "/start <script>"))
    assert admin_row(client, other)["source"] is None


def test_language_then_the_callback_saves_the_preference(
    client: httpx.Client, standin: BotApiStandIn
) -> None:
    telegram_id = new_telegram_id()
    post(client, message(telegram_id, "/language", lang="ru"))
    (menu,) = sent_to(standin, telegram_id)
    assert menu["text"] == text("ru", updates.CHOOSE_LANGUAGE)
    buttons = [row[0] for row in menu["reply_markup"]["inline_keyboard"]]
    assert [b["callback_data"] for b in buttons] == [
        f"locale:{code}" for code in ("de", "en", "es", "pt_BR", "ru", "uk")
    ]

    post(client, callback(telegram_id, "locale:uk", lang="ru"))

    assert (
        client.get("/me", headers=tma(telegram_id, language_code="ru")).json()["user"]["locale"]
        == "uk"
    )
    (answered,) = standin.calls_of("answerCallbackQuery")
    confirmation = text("uk", updates.LANGUAGE_SET, language=load_catalog("uk").native_name)
    assert answered.params["text"] == confirmation
    assert sent_to(standin, telegram_id)[-1]["text"] == confirmation
    # Later answers are in the saved language, whatever Telegram's language_code says.
    post(client, message(telegram_id, "/help", lang="ru"))
    assert sent_to(standin, telegram_id)[-1]["text"] == text("uk", updates.HELP)


def test_a_redelivered_update_acts_once(client: httpx.Client, standin: BotApiStandIn) -> None:
    telegram_id = new_telegram_id()
    update = message(telegram_id, "hello there", lang="de")
    post(client, update)
    post(client, update)
    assert [m["text"] for m in sent_to(standin, telegram_id)] == [text("de", updates.FALLBACK)]


def test_a_blocked_user_gets_one_refusal_and_nothing_is_written(
    client: httpx.Client, standin: BotApiStandIn
) -> None:
    telegram_id = new_telegram_id()
    post(client, message(telegram_id, "/start", name="Ann"))
    assert (
        client.post(f"/admin/users/{telegram_id}/block", headers=tma(ADMIN_ID)).status_code == 200
    )
    before = admin_row(client, telegram_id)
    standin.clear()

    post(client, message(telegram_id, "/start campaign", lang="ru", name="Changed"))
    post(client, callback(telegram_id, "locale:de", lang="ru"))

    (refusal,) = sent_to(standin, telegram_id)
    assert refusal["text"] == text("ru", updates.BLOCKED)
    assert "reply_markup" not in refusal
    (answered,) = standin.calls_of("answerCallbackQuery")
    assert answered.params["text"] == text("ru", updates.BLOCKED)
    assert admin_row(client, telegram_id) == before


def _message_from(telegram_id: int, first_name_json: str) -> bytes:
    """A message update whose sender has this id and this first name (as JSON text)."""
    sender = f'{{"id": {telegram_id}, "is_bot": false, "first_name": "{first_name_json}"}}'
    chat = f'{{"id": {telegram_id}, "type": "private"}}'
    return (
        f'{{"update_id": 6, "message": {{"message_id": 1, "date": 1, "chat": {chat}, '
        f'"from": {sender}, "text": "/start"}}}}'
    ).encode()


MALFORMED: list[bytes] = [
    b"",
    b"not json",
    b"[1, 2]",
    b'{"message": {"text": "/start"}}',
    b'{"update_id": "7"}',
    b'{"update_id": true}',
    b'{"update_id": -1}',
    b'{"update_id": 5, "message": {"text": "/start"}}',
    _message_from(99999999999999999999, "A"),
    _message_from(5, "\\ud800"),
    _message_from(5, "\\u0000"),
    b"[" * 5000,
]


def test_malformed_updates_get_200_do_nothing_and_are_counted(
    client: httpx.Client, standin: BotApiStandIn
) -> None:
    before = _malformed_count(client)
    for body in MALFORMED:
        response = client.post(
            "/telegram/webhook",
            content=body,
            headers={**HEADERS, "content-type": "application/json"},
        )
        assert response.status_code == 200, (body[:60], response.text)
    assert standin.calls == []
    assert _malformed_count(client) == before + len(MALFORMED)


def _malformed_count(client: httpx.Client) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith('bot_updates_total{outcome="malformed",type="unknown"}'):
            return float(line.split()[-1])
    return 0.0


def test_a_retry_after_is_honoured(client: httpx.Client, standin: BotApiStandIn) -> None:
    telegram_id = new_telegram_id()
    standin.retry_after("sendMessage", 1)
    post(client, message(telegram_id, "/help"))

    first, second = standin.calls_of("sendMessage")
    assert second.at - first.at >= 1.0
    assert second.params["text"] == text("en", updates.HELP)
    metrics = client.get("/metrics").text
    assert 'bot_api_requests_total{method="sendMessage",outcome="retry_after"}' in metrics

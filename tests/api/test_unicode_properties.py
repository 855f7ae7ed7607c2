"""Any text in any field, signed where the field is signed: never a 5xx, always a problem document
or a success, on both back ends."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile_text import any_text
from service_process import (
    ADMIN_ID,
    Server,
    new_telegram_id,
    send_json,
    signed_init_data,
    signed_widget,
    tma,
)

pytestmark = pytest.mark.slow

PROBLEM = "application/problem+json"
# A few dozen requests per test and back end: enough to reach every field, cheap enough for CI.
BOUNDED = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def assert_answered(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM, response.text
        assert response.json()["status"] == response.status_code


def percent(text: str) -> str:
    """Text as a URL carries it; a lone surrogate goes as its (invalid) UTF-8 bytes."""
    return quote(text, safe="", errors="surrogatepass")


# Each endpoint's body with valid values, so that the one hostile field is what gets tested.
BODIES = [
    ("POST", "/me/accounts", {"provider": "github", "external_id": "1", "display_name": "x"}),
    ("PUT", "/me/locale", {"locale": "ru"}),
    ("POST", "/auth/telegram", {"init_data": ""}),
]


@BOUNDED
@given(st.sampled_from(BODIES), st.data())
def test_any_text_in_any_body_field(
    server: Server, endpoint: tuple[str, str, dict[str, str]], data: st.DataObject
) -> None:
    method, path, valid = endpoint
    name = data.draw(st.one_of(st.sampled_from(sorted(valid)), any_text), label="field")
    body = {**valid, name: data.draw(any_text, label="value")}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert_answered(send_json(client, method, path, body, tma(new_telegram_id())))


@BOUNDED
@given(any_text, st.sampled_from(["limit", "cursor", "lang"]))
def test_any_text_in_any_query_parameter_or_path(server: Server, text: str, name: str) -> None:
    value = percent(text)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert_answered(client.get(f"/admin/users?{name}={value}", headers=tma(ADMIN_ID)))
        assert_answered(client.get(f"/i18n/locales?lang={value}"))
        assert_answered(client.get(f"/i18n/{value}"))
        assert_answered(client.delete(f"/me/accounts/{value}", headers=tma(new_telegram_id())))


@BOUNDED
@given(
    st.sampled_from(
        [
            *("user." + name for name in ("first_name", "last_name", "username")),
            *("user." + name for name in ("language_code", "photo_url")),
            "query_id",
            "start_param",
            "chat_instance",
        ]
    ),
    any_text,
)
def test_any_text_in_signed_init_data(server: Server, field: str, text: str) -> None:
    user = {"id": new_telegram_id(), "first_name": "Ann"}
    extra = {}
    if field.startswith("user."):
        user[field.removeprefix("user.")] = text
    else:
        extra[field] = text
    # ASCII JSON, so that a lone surrogate passes the signature as the escape \ud800.
    raw = signed_init_data(json.dumps(user), **extra)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert_answered(send_json(client, "POST", "/auth/telegram", {"init_data": raw}))
        assert_answered(client.get("/me", headers={"Authorization": "tma " + raw}))


@BOUNDED
@given(
    st.one_of(
        st.sampled_from(["first_name", "last_name", "username", "photo_url", "hash"]), any_text
    ),
    any_text,
    st.booleans(),
)
def test_any_text_in_signed_widget_fields(
    server: Server, field: str, text: str, as_strings: bool
) -> None:
    telegram_id, auth_date = new_telegram_id(), int(time.time())
    fields: dict[str, object] = {"id": telegram_id, "first_name": "Ann", "auth_date": auth_date}
    signed = signed_widget({**fields, field: text}) if field != "hash" else signed_widget(fields)
    if field == "hash":
        signed["hash"] = text
    if as_strings:
        signed.update(id=str(signed["id"]), auth_date=str(signed["auth_date"]))
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert_answered(send_json(client, "POST", "/auth/telegram", signed))

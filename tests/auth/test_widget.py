from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostile_text import any_text
from learnbot.auth import AuthError, AuthOutcome, VerifiedLogin, verify_login_widget
from learnbot.storage.models import TelegramProfile
from learnbot.text import is_text
from service_process import telegram_hash

TOKEN = "7312345678:AAH3kz-Test_Token_for_learnbot_0123456"
NOW = 1_750_000_000.0
MAX_AGE = 86_400
FRESH = int(NOW) - 30


def _login(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "id": 279058397,
        "first_name": "Анна",
        "last_name": "Смирнова 🌸",
        "username": "anna_s",
        "photo_url": "https://t.me/i/userpic/320/anna_s.jpg",
        "auth_date": FRESH,
    }
    fields.update(overrides)
    return {key: value for key, value in fields.items() if value is not None}


def _widget_hash(fields: Mapping[str, object], token: str = TOKEN) -> str:
    secret = hashlib.sha256(token.encode()).digest()
    lines = sorted(f"{key}={value}" for key, value in fields.items() if key != "hash")
    check_string = "\n".join(lines).encode()
    return hmac.new(secret, check_string, hashlib.sha256).hexdigest()


def _signed(fields: Mapping[str, object], token: str = TOKEN) -> dict[str, object]:
    return {**fields, "hash": _widget_hash(fields, token)}


def _verify(fields: Mapping[str, object], *, max_age: int = MAX_AGE) -> VerifiedLogin:
    return verify_login_widget(fields, bot_token=TOKEN, max_age=max_age, now=NOW)


def _rejected(
    outcome: AuthOutcome, call: Callable[[], object], fields: Mapping[str, object]
) -> AuthError:
    with pytest.raises(AuthError) as caught:
        call()
    error = caught.value
    assert error.outcome == outcome
    assert error.detail.endswith(".")
    assert TOKEN not in error.detail
    for value in fields.values():
        if len(str(value)) >= 8:
            assert str(value) not in error.detail
    return error


def _tamper(value: object) -> object:
    text = str(value)
    ch = text[-1]
    replacement = next(c for c in "01ab" if c != ch and c.isdigit() == ch.isdigit())
    tampered = text[:-1] + replacement
    return int(tampered) if isinstance(value, int) else tampered


def test_accepts_a_valid_login() -> None:
    verified = _verify(_signed(_login()))

    assert verified.profile == TelegramProfile(
        telegram_id=279058397,
        first_name="Анна",
        last_name="Смирнова 🌸",
        username="anna_s",
        photo_url="https://t.me/i/userpic/320/anna_s.jpg",
    )
    assert verified.auth_date == datetime.fromtimestamp(FRESH, tz=UTC)


def test_int_and_str_values_sign_the_same() -> None:
    signed = _signed(_login())
    as_strings = {key: str(value) for key, value in signed.items()}

    assert _verify(as_strings).profile.telegram_id == 279058397
    assert _verify(signed).profile == _verify(as_strings).profile


def test_accepts_minimal_fields() -> None:
    verified = _verify(_signed({"id": 1, "first_name": "Bo", "auth_date": FRESH}))

    assert verified.profile == TelegramProfile(telegram_id=1, first_name="Bo")


def test_unknown_fields_are_signed_too() -> None:
    signed = _signed(_login(note="hello=world"))
    assert _verify(signed).profile.first_name == "Анна"

    tampered = {**signed, "note": "hello=World"}
    _rejected("bad_signature", lambda: _verify(tampered), tampered)


@pytest.mark.parametrize(
    "name", ["id", "first_name", "last_name", "username", "photo_url", "auth_date", "hash"]
)
def test_rejects_a_tampered_field(name: str) -> None:
    signed = _signed(_login())
    tampered = {**signed, name: _tamper(signed[name])}
    assert tampered != signed

    _rejected("bad_signature", lambda: _verify(tampered), tampered)


def test_rejects_the_wrong_token() -> None:
    signed = _signed(_login(), token=TOKEN + "x")

    _rejected("bad_signature", lambda: _verify(signed), signed)


def test_rejects_an_init_data_style_secret() -> None:
    secret = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    lines = sorted(f"{key}={value}" for key, value in _login().items())
    forged = {**_login(), "hash": hmac.new(secret, "\n".join(lines).encode(), "sha256").hexdigest()}

    _rejected("bad_signature", lambda: _verify(forged), forged)


def test_rejects_an_expired_login() -> None:
    signed = _signed(_login(auth_date=int(NOW) - MAX_AGE - 1))

    _rejected("expired", lambda: _verify(signed), signed)


def test_accepts_a_login_exactly_max_age_old() -> None:
    auth_date = int(NOW) - MAX_AGE

    assert _verify(_signed(_login(auth_date=auth_date))).auth_date == datetime.fromtimestamp(
        auth_date, tz=UTC
    )


def test_rejects_a_login_from_the_future() -> None:
    signed = _signed(_login(auth_date=int(NOW) + 61))

    _rejected("expired", lambda: _verify(signed), signed)
    assert _verify(_signed(_login(auth_date=int(NOW) + 60))).profile


def test_rejects_a_missing_hash() -> None:
    fields = _login()

    _rejected("malformed", lambda: _verify(fields), fields)


def test_rejects_empty_fields() -> None:
    _rejected("malformed", lambda: _verify({}), {})


@pytest.mark.parametrize(
    "value",
    [{"nested": 1}, [1, 2], True, False, 1.5, None],
    ids=["object", "list", "true", "false", "float", "null"],
)
@pytest.mark.parametrize("name", ["id", "username", "hash"])
def test_rejects_values_that_are_not_int_or_str(name: str, value: object) -> None:
    fields = {**_signed(_login()), name: value}

    _rejected("malformed", lambda: _verify(fields), fields)


@pytest.mark.parametrize(
    "overrides",
    [
        {"id": "abc"},
        {"id": "-5"},
        {"id": -5},
        {"id": 0},
        {"id": 2**53},
        {"id": "9" * 30},
        {"id": None},
        {"first_name": ""},
        {"first_name": None},
        {"auth_date": "soon"},
        {"auth_date": -1},
        {"auth_date": None},
    ],
)
def test_rejects_signed_but_invalid_fields(overrides: dict[str, object]) -> None:
    signed = _signed(_login(**overrides))

    _rejected("malformed", lambda: _verify(signed), signed)


def test_accepts_the_largest_telegram_id() -> None:
    assert _verify(_signed(_login(id=2**53 - 1))).profile.telegram_id == 2**53 - 1


def test_invalid_fields_lose_to_a_bad_signature() -> None:
    signed = _signed(_login(id="abc", auth_date=1), token="other:token")

    _rejected("bad_signature", lambda: _verify(signed), signed)


@pytest.mark.parametrize("bad", ["\ud800", "a\udfffb", "\x00", "a\x00b"])
@pytest.mark.parametrize("name", ["first_name", "last_name", "username", "photo_url", "note"])
def test_rejects_signed_text_that_is_not_text(name: str, bad: str) -> None:
    fields = _login(**{name: bad})
    signed = {**fields, "hash": telegram_hash(hashlib.sha256(TOKEN.encode()).digest(), fields)}

    _rejected("malformed", lambda: _verify(signed), signed)


@pytest.mark.parametrize("bad", ["\ud800", "a\x00"])
def test_rejects_a_hash_or_a_field_name_that_is_not_text(bad: str) -> None:
    for fields in ({**_signed(_login()), "hash": bad}, {**_signed(_login()), bad: "x"}):
        _rejected("malformed", partial(_verify, fields), fields)


@given(
    st.dictionaries(
        st.sampled_from(["first_name", "last_name", "username", "photo_url", "note"]),
        any_text,
    )
)
@settings(max_examples=200, deadline=None)
def test_signed_text_of_any_kind_verifies_only_when_it_is_text(text: dict[str, str]) -> None:
    fields = {**_login(), **text}
    signed = {**fields, "hash": telegram_hash(hashlib.sha256(TOKEN.encode()).digest(), fields)}
    if not all(map(is_text, text.values())) or not fields["first_name"]:
        _rejected("malformed", lambda: _verify(signed), signed)
        return
    assert _verify(signed).profile.first_name == fields["first_name"]

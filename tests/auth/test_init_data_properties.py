"""Property-based checks: no mutation of signed init data passes, no string raises oddly."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile_text import any_text
from learnbot.auth import AuthError, verify_init_data
from learnbot.text import is_text
from service_process import signed_init_data

TOKEN = "123456:AAproperty-test-token_0123456789"
NOW = time.time()


def signed(user: dict[str, object], extra: dict[str, str]) -> str:
    """Init data signed the way Telegram does, computed here from the specification."""
    fields = {
        "user": json.dumps(user, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/"),
        "auth_date": str(int(NOW)),
        **extra,
    }
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    secret = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in fields.items())


def verify(raw: str) -> object:
    return verify_init_data(raw, bot_token=TOKEN, bot_id=None, max_age=3600, now=NOW)


# Text as Telegram sends it: any character of any plane that UTF-8 encodes, but NUL.
telegram_characters = st.characters(codec="utf-8", exclude_characters=["\x00"])

users = st.fixed_dictionaries(
    {
        "id": st.integers(min_value=1, max_value=2**53 - 1),
        "first_name": st.text(telegram_characters, min_size=1, max_size=30),
    },
    optional={
        "last_name": st.text(telegram_characters, max_size=30),
        "username": st.from_regex(r"[A-Za-z0-9_]{5,20}", fullmatch=True),
        "language_code": st.sampled_from(["en", "ru", "pt-br", "de"]),
        "is_premium": st.booleans(),
        "photo_url": st.just("https://t.me/i/userpic/320/a.jpg"),
    },
)
extras = st.dictionaries(
    st.sampled_from(["query_id", "start_param", "chat_type", "chat_instance", "signature"]),
    st.text(telegram_characters, min_size=1, max_size=40),
    max_size=3,
)


@given(users, extras)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_genuine_init_data_verifies(user: dict[str, object], extra: dict[str, str]) -> None:
    verified = verify(signed(user, extra))
    assert verified.profile.telegram_id == user["id"]  # type: ignore[attr-defined]
    assert verified.profile.first_name == user["first_name"]  # type: ignore[attr-defined]


@given(users, extras, st.data())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_mutation_is_rejected(
    user: dict[str, object], extra: dict[str, str], data: st.DataObject
) -> None:
    raw = signed(user, extra)
    position = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    kind = data.draw(st.sampled_from(["replace", "delete", "insert"]))
    char = data.draw(st.characters(codec="utf-8"))
    if kind == "replace":
        mutated = raw[:position] + char + raw[position + 1 :]
    elif kind == "delete":
        mutated = raw[:position] + raw[position + 1 :]
    else:
        mutated = raw[:position] + char + raw[position:]
    try:
        result = verify(mutated)
    except AuthError:
        return
    # Only a change that decodes to the same fields may pass (e.g. %41 for A, or + for %20).
    assert result == verify(raw)


@given(st.text(max_size=2000))
@settings(max_examples=500, deadline=None)
def test_arbitrary_strings_raise_only_auth_error(raw: str) -> None:
    with pytest.raises(AuthError) as caught:
        verify(raw)
    assert caught.value.outcome in {"malformed", "bad_signature"}


@given(st.lists(st.tuples(st.text(max_size=20), st.text(max_size=60)), max_size=12))
@settings(max_examples=300, deadline=None)
def test_arbitrary_query_strings_raise_only_auth_error(pairs: list[tuple[str, str]]) -> None:
    raw = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
    with pytest.raises(AuthError) as caught:
        verify(raw)
    assert caught.value.outcome in {"malformed", "bad_signature"}


PROFILE_TEXT = ["first_name", "last_name", "username", "language_code", "photo_url"]


@given(
    st.dictionaries(st.sampled_from(PROFILE_TEXT), any_text),
    st.dictionaries(st.sampled_from(["query_id", "start_param", "chat_instance"]), any_text),
)
@settings(max_examples=300, deadline=None)
def test_signed_text_of_any_kind_verifies_only_when_it_is_text(
    text: dict[str, str], extra: dict[str, str]
) -> None:
    # ASCII JSON, so that a lone surrogate reaches the verifier as the escape \ud800; what the
    # verifier reads is the JSON decoded, where an escaped pair such as \ud800\udfff is one
    # character.
    raw = signed_init_data(
        json.dumps({"id": 5, "first_name": "Ann", **text}),
        token=TOKEN,
        auth_date=str(int(NOW)),
        **extra,
    )
    user = json.loads(json.dumps({"id": 5, "first_name": "Ann", **text}))
    strings = [*(user[key] for key in text), *extra.values()]
    if not all(map(is_text, strings)) or not user["first_name"]:
        with pytest.raises(AuthError) as caught:
            verify(raw)
        assert caught.value.outcome == "malformed"
        return
    verified = verify(raw)
    assert verified.profile.first_name == user["first_name"]  # type: ignore[attr-defined]
    assert verified.profile.language_code == user.get("language_code")  # type: ignore[attr-defined]

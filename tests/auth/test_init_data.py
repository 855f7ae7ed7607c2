from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from urllib.parse import quote, unquote_plus

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

import learnbot.auth.init_data as init_data_module
from learnbot.auth import (
    TELEGRAM_PUBLIC_KEY_PRODUCTION,
    TELEGRAM_PUBLIC_KEY_TEST,
    AuthError,
    AuthOutcome,
    VerifiedInitData,
    parse_init_data,
    sign_init_data,
    verify_init_data,
)
from learnbot.storage.models import TelegramProfile

TOKEN = "7312345678:AAH3kz-Test_Token_for_learnbot_0123456"
BOT_ID = 7312345678
NOW = 1_750_000_000.0
MAX_AGE = 86_400
FRESH = str(int(NOW) - 30)

# As Telegram sends it: compact, unicode kept, "/" escaped as "\/".
USER_JSON = (
    '{"id":279058397,"first_name":"Анна","last_name":"Смирнова 🌸","username":"anna_s",'
    '"language_code":"ru","is_premium":true,"allows_write_to_pm":true,'
    '"photo_url":"https:\\/\\/t.me\\/i\\/userpic\\/320\\/anna_s.svg"}'
)
SIGNATURE = base64.urlsafe_b64encode(bytes(range(64))).rstrip(b"=").decode()

Fields = list[tuple[str, str]]


def _payload(**overrides: str | None) -> Fields:
    fields: dict[str, str | None] = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": USER_JSON,
        "auth_date": FRESH,
        "signature": SIGNATURE,
    }
    fields.update(overrides)
    return [(key, value) for key, value in fields.items() if value is not None]


def _check_string(fields: Fields, *, without: set[str]) -> bytes:
    return "\n".join(f"{k}={v}" for k, v in sorted(fields) if k not in without).encode()


def _hmac_hash(fields: Fields, token: str = TOKEN) -> str:
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    return hmac.new(secret, _check_string(fields, without={"hash"}), hashlib.sha256).hexdigest()


def _encode(fields: Fields) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in fields)


def _signed(fields: Fields, token: str = TOKEN) -> str:
    return _encode([*fields, ("hash", _hmac_hash(fields, token))])


def _ed25519_signed(
    fields: Fields, key: Ed25519PrivateKey, bot_id: int = BOT_ID, hash_value: str = "ab" * 32
) -> str:
    message = f"{bot_id}:WebAppData\n".encode() + _check_string(
        fields, without={"hash", "signature"}
    )
    signature = base64.urlsafe_b64encode(key.sign(message)).rstrip(b"=").decode()
    return _encode([*fields, ("signature", signature), ("hash", hash_value)])


def _verify(
    raw: str,
    *,
    bot_token: str | None = TOKEN,
    bot_id: int | None = None,
    max_age: int = MAX_AGE,
    now: float = NOW,
    test_env: bool = False,
    public_key: Ed25519PublicKey | None = None,
) -> VerifiedInitData:
    return verify_init_data(
        raw,
        bot_token=bot_token,
        bot_id=bot_id,
        max_age=max_age,
        now=now,
        test_env=test_env,
        public_key=public_key,
    )


def _input_values(raw: str) -> Iterator[str]:
    for pair in raw.split("&"):
        _, _, value = pair.partition("=")
        yield value
        yield unquote_plus(value, errors="replace")


def _rejected(outcome: AuthOutcome, call: Callable[[], object], raw: str = "") -> AuthError:
    with pytest.raises(AuthError) as caught:
        call()
    error = caught.value
    assert error.outcome == outcome
    shown = str(error)
    assert shown.endswith(".")
    assert shown == error.detail % error.params if error.params else error.detail
    assert TOKEN not in shown
    for value in _input_values(raw):
        if len(value) >= 8:
            assert value not in shown
    return error


def _tamper(value: str, *, last: bool = True) -> str:
    indexes = [i for i, ch in enumerate(value) if ch.isascii() and ch.isalnum()]
    index = indexes[-1] if last else indexes[0]
    ch = value[index]
    replacement = next(c for c in "01ab" if c != ch and c.isdigit() == ch.isdigit())
    return value[:index] + replacement + value[index + 1 :]


def _tampered(fields: Fields, name: str, *, last: bool = True) -> Fields:
    return [(k, _tamper(v, last=last) if k == name else v) for k, v in fields]


def test_accepts_a_real_looking_payload() -> None:
    verified = _verify(_signed(_payload()))

    assert verified.profile == TelegramProfile(
        telegram_id=279058397,
        first_name="Анна",
        last_name="Смирнова 🌸",
        username="anna_s",
        language_code="ru",
        is_premium=True,
        photo_url="https://t.me/i/userpic/320/anna_s.svg",
    )
    assert verified.auth_date == datetime.fromtimestamp(int(FRESH), tz=UTC)
    assert verified.auth_date.tzinfo is not None
    assert verified.query_id == "AAHdF6IQAAAAAN0XohDhrOrc"
    assert verified.start_param is None


def test_minimal_user_defaults() -> None:
    verified = _verify(_signed(_payload(user='{"id":1,"first_name":"Bo"}')))

    assert verified.profile == TelegramProfile(telegram_id=1, first_name="Bo")


def test_user_json_is_checked_byte_exact() -> None:
    reserialized = json.dumps(json.loads(USER_JSON), ensure_ascii=False, separators=(",", ":"))
    assert reserialized != USER_JSON
    forged_hash = _hmac_hash(_payload(user=reserialized))
    raw = _encode([*_payload(), ("hash", forged_hash)])

    _rejected("bad_signature", lambda: _verify(raw), raw)


def test_signature_field_is_inside_the_hmac_check_string() -> None:
    without_signature = _hmac_hash(_payload(signature=None))
    raw = _encode([*_payload(), ("hash", without_signature)])

    _rejected("bad_signature", lambda: _verify(raw), raw)


def test_values_keep_equals_plus_and_encoded_plus() -> None:
    fields = [*_payload(), ("start_param", "ref=42=x"), ("note", "1 + 1 = 2")]
    raw = (
        _encode(_payload()) + "&start_param=ref=42=x&note=1+%2B+1+%3D+2&hash=" + _hmac_hash(fields)
    )

    verified = _verify(raw)

    assert verified.start_param == "ref=42=x"
    assert parse_init_data(raw)[-3:-1] == [("start_param", "ref=42=x"), ("note", "1 + 1 = 2")]


@pytest.mark.parametrize("name", ["query_id", "user", "auth_date", "signature", "hash"])
def test_rejects_a_tampered_field(name: str) -> None:
    raw = _signed(_payload())
    fields = [(k, unquote_plus(v)) for k, _, v in (p.partition("=") for p in raw.split("&"))]
    tampered = _encode(_tampered(fields, name))
    assert tampered != raw

    _rejected("bad_signature", lambda: _verify(tampered), tampered)


def test_rejects_the_wrong_token() -> None:
    raw = _signed(_payload(), token=TOKEN + "x")

    _rejected("bad_signature", lambda: _verify(raw), raw)


def test_rejects_a_missing_hash() -> None:
    raw = _encode(_payload())

    _rejected("malformed", lambda: _verify(raw), raw)


def test_rejects_a_missing_user() -> None:
    raw = _signed(_payload(user=None))

    _rejected("malformed", lambda: _verify(raw), raw)


@pytest.mark.parametrize("duplicate", ["auth_date=" + FRESH, "%61uth_date=1", "hash=00"])
def test_rejects_duplicate_keys(duplicate: str) -> None:
    raw = _signed(_payload()) + "&" + duplicate

    _rejected("malformed", lambda: _verify(raw), raw)


@pytest.mark.parametrize(
    "user",
    [
        '{"id":"279058397","first_name":"Анна"}',
        '{"id":"abc","first_name":"Анна"}',
        '{"id":true,"first_name":"Анна"}',
        '{"id":9007199254740992,"first_name":"Анна"}',
        '{"id":0,"first_name":"Анна"}',
        '{"id":-5,"first_name":"Анна"}',
        '{"id":2.5e3,"first_name":"Анна"}',
        '{"first_name":"Анна"}',
        '{"id":1}',
        '{"id":1,"first_name":""}',
        '{"id":1,"first_name":7}',
        '{"id":1,"first_name":"A","username":7}',
        '{"id":1,"first_name":"A","is_premium":"yes"}',
        '[{"id":1,"first_name":"A"}]',
        '"id"',
        '{"id":1,"first_name":"A"',
        "not json",
    ],
)
def test_rejects_a_signed_but_invalid_user(user: str) -> None:
    raw = _signed(_payload(user=user))

    _rejected("malformed", lambda: _verify(raw), raw)


def test_accepts_the_largest_telegram_id() -> None:
    raw = _signed(_payload(user='{"id":9007199254740991,"first_name":"A"}'))

    assert _verify(raw).profile.telegram_id == 2**53 - 1


@pytest.mark.parametrize("auth_date", ["17500x0000", "-1750000000", "1.75e9", " 1750000000", ""])
def test_rejects_a_non_numeric_auth_date(auth_date: str) -> None:
    raw = _signed(_payload(auth_date=auth_date))

    _rejected("malformed", lambda: _verify(raw), raw)


def test_rejects_a_missing_auth_date() -> None:
    raw = _signed(_payload(auth_date=None))

    _rejected("malformed", lambda: _verify(raw), raw)


def test_invalid_user_and_auth_date_lose_to_a_bad_signature() -> None:
    raw = _signed(_payload(user='{"id":true}', auth_date="x"), token="other:token")

    _rejected("bad_signature", lambda: _verify(raw), raw)


def test_rejects_auth_date_one_second_past_max_age() -> None:
    raw = _signed(_payload(auth_date=str(int(NOW) - MAX_AGE - 1)))

    _rejected("expired", lambda: _verify(raw), raw)


def test_accepts_auth_date_exactly_max_age_old() -> None:
    auth_date = int(NOW) - MAX_AGE

    verified = _verify(_signed(_payload(auth_date=str(auth_date))))

    assert verified.auth_date == datetime.fromtimestamp(auth_date, tz=UTC)


def test_expired_loses_to_a_bad_signature() -> None:
    raw = _signed(_payload(auth_date="1"), token="other:token")

    _rejected("bad_signature", lambda: _verify(raw), raw)


@pytest.mark.parametrize("auth_date", [str(int(NOW) + 61), "9" * 20, "9" * 5000])
def test_rejects_auth_date_beyond_60_seconds_in_the_future(auth_date: str) -> None:
    raw = _signed(_payload(auth_date=auth_date))

    _rejected("expired", lambda: _verify(raw), raw)


def test_accepts_auth_date_60_seconds_in_the_future() -> None:
    auth_date = int(NOW) + 60

    verified = _verify(_signed(_payload(auth_date=str(auth_date))))

    assert verified.auth_date == datetime.fromtimestamp(auth_date, tz=UTC)


def test_accepts_a_payload_without_query_id() -> None:
    verified = _verify(_signed(_payload(query_id=None, signature=None)))

    assert verified.query_id is None
    assert verified.profile.telegram_id == 279058397


def test_accepts_16_kib_and_rejects_one_byte_more() -> None:
    overhead = len(_signed([*_payload(), ("start_param", "")]))
    at_limit = _signed([*_payload(), ("start_param", "x" * (16 * 1024 - overhead))])
    assert len(at_limit) == 16 * 1024
    over_limit = _signed([*_payload(), ("start_param", "x" * (16 * 1024 - overhead + 1))])

    assert _verify(at_limit).start_param is not None
    _rejected("malformed", lambda: _verify(over_limit), over_limit)


def test_rejects_oversized_multibyte_input() -> None:
    raw = _signed(_payload()) + "&note=" + "я" * (8 * 1024)

    _rejected("malformed", lambda: _verify(raw), raw)


@pytest.mark.parametrize("escape", ["%zz", "%4", "%", "%ff", "%C3%28", "%ED%A0%80"])
def test_rejects_invalid_percent_encoding_or_utf8(escape: str) -> None:
    raw = _signed(_payload()) + "&note=abc" + escape

    _rejected("malformed", lambda: _verify(raw), raw)


def test_rejects_a_lone_surrogate() -> None:
    raw = _signed(_payload()) + "&note=\ud800"

    _rejected("malformed", lambda: _verify(raw), raw)


@pytest.mark.parametrize(
    "make_raw",
    [
        lambda raw: raw + "&note",
        lambda raw: raw + "&",
        lambda raw: "&" + raw,
        lambda raw: raw.replace("&", "&&", 1),
        lambda raw: raw + "&=value",
    ],
    ids=["no-equals", "trailing-amp", "leading-amp", "empty-pair", "empty-key"],
)
def test_rejects_a_pair_without_name_or_equals(make_raw: Callable[[str], str]) -> None:
    raw = make_raw(_signed(_payload()))

    _rejected("malformed", lambda: _verify(raw), raw)


def test_rejects_empty_input() -> None:
    _rejected("malformed", lambda: _verify(""))


def test_needs_a_token_or_a_bot_id() -> None:
    with pytest.raises(ValueError, match="bot"):
        _verify(_signed(_payload()), bot_token=None, bot_id=None)


def test_sign_init_data_matches_an_independent_computation() -> None:
    user = {"id": 42, "first_name": "Анна Мария", "photo_url": "https://t.me/a+b.jpg"}
    raw = sign_init_data(
        TOKEN,
        user,
        auth_date=int(FRESH),
        query_id="AAH q+",
        extra={"start_param": "ref=1 2+3", "signature": SIGNATURE},
    )

    assert " " not in raw
    assert "+" not in raw
    pairs = [pair.split("=", 1) for pair in raw.split("&")]
    fields = [(unquote_plus(k), unquote_plus(v)) for k, v in pairs]
    received = dict(fields)
    assert received["user"] == (
        '{"id":42,"first_name":"Анна Мария","photo_url":"https:\\/\\/t.me\\/a+b.jpg"}'
    )
    assert received["auth_date"] == FRESH
    assert received["query_id"] == "AAH q+"
    assert received["start_param"] == "ref=1 2+3"
    assert received["hash"] == _hmac_hash([f for f in fields if f[0] != "hash"])
    assert "%20" in raw
    assert "%2B" in raw

    verified = _verify(raw)
    assert verified.profile == TelegramProfile(
        telegram_id=42, first_name="Анна Мария", photo_url="https://t.me/a+b.jpg"
    )
    assert verified.start_param == "ref=1 2+3"


def test_sign_init_data_refuses_to_repeat_a_field() -> None:
    with pytest.raises(ValueError, match="hash"):
        sign_init_data(TOKEN, {"id": 1, "first_name": "A"}, auth_date=1, extra={"hash": "0"})


def test_third_party_accepts_a_valid_signature() -> None:
    key = Ed25519PrivateKey.generate()
    raw = _ed25519_signed(_payload(signature=None), key)

    verified = _verify(raw, bot_token=None, bot_id=BOT_ID, public_key=key.public_key())

    assert verified.profile.first_name == "Анна"
    assert verified.query_id == "AAHdF6IQAAAAAN0XohDhrOrc"


def test_third_party_rejects_the_wrong_bot_id() -> None:
    key = Ed25519PrivateKey.generate()
    raw = _ed25519_signed(_payload(signature=None), key, bot_id=BOT_ID + 1)

    _rejected(
        "bad_signature",
        lambda: _verify(raw, bot_token=None, bot_id=BOT_ID, public_key=key.public_key()),
        raw,
    )


@pytest.mark.parametrize("name", ["query_id", "user", "auth_date", "signature"])
@pytest.mark.parametrize("last", [False, True], ids=["first-char", "last-char"])
def test_third_party_rejects_a_tampered_field(name: str, last: bool) -> None:
    key = Ed25519PrivateKey.generate()
    raw = _ed25519_signed(_payload(signature=None), key)
    fields = [(k, unquote_plus(v)) for k, _, v in (p.partition("=") for p in raw.split("&"))]
    tampered = _encode(_tampered(fields, name, last=last))
    assert tampered != raw

    _rejected(
        "bad_signature",
        lambda: _verify(tampered, bot_token=None, bot_id=BOT_ID, public_key=key.public_key()),
        tampered,
    )


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s + "==",
        lambda s: s + "A",
        lambda s: s[:-1],
        lambda s: s.replace("-", "+").replace("_", "/") + "+/",
        lambda s: "!" + s[1:],
        lambda s: "not a signature",
        lambda s: "",
    ],
    ids=["padded", "too-long", "too-short", "standard-alphabet", "garbage-char", "text", "empty"],
)
def test_third_party_rejects_a_malformed_signature(mangle: Callable[[str], str]) -> None:
    key = Ed25519PrivateKey.generate()
    raw = _ed25519_signed(_payload(signature=None), key)
    fields = [(k, unquote_plus(v)) for k, _, v in (p.partition("=") for p in raw.split("&"))]
    mangled = _encode([(k, mangle(v) if k == "signature" else v) for k, v in fields])

    _rejected(
        "bad_signature",
        lambda: _verify(mangled, bot_token=None, bot_id=BOT_ID, public_key=key.public_key()),
        mangled,
    )


def test_third_party_requires_a_signature() -> None:
    raw = _encode([*_payload(signature=None), ("hash", "ab" * 32)])

    _rejected("malformed", lambda: _verify(raw, bot_token=None, bot_id=BOT_ID), raw)


def test_third_party_ignores_the_hash_value_but_requires_it() -> None:
    key = Ed25519PrivateKey.generate()
    fields = _payload(signature=None)
    public_key = key.public_key()

    for hash_value in ["00", "ab" * 32, "anything"]:
        raw = _ed25519_signed(fields, key, hash_value=hash_value)
        assert _verify(raw, bot_token=None, bot_id=BOT_ID, public_key=public_key).profile
    without_hash = "&".join(
        p for p in _ed25519_signed(fields, key).split("&") if not p.startswith("hash=")
    )
    _rejected(
        "malformed",
        lambda: _verify(without_hash, bot_token=None, bot_id=BOT_ID, public_key=public_key),
        without_hash,
    )


def test_a_configured_token_makes_hmac_decide() -> None:
    key = Ed25519PrivateKey.generate()
    raw = _ed25519_signed(_payload(signature=None), key)

    _rejected(
        "bad_signature",
        lambda: _verify(raw, bot_token=TOKEN, bot_id=BOT_ID, public_key=key.public_key()),
        raw,
    )


def test_telegram_public_keys_are_the_published_ones() -> None:
    production = "e7bf03a2fa4602af4580703d88dda5bb59f32ed8b02a56c187fe7d34caed242d"
    test = "40055058a4ee38156a06562e52eece92a771bcd8346a8c4615cb7376eddf72ec"

    assert production == TELEGRAM_PUBLIC_KEY_PRODUCTION
    assert test == TELEGRAM_PUBLIC_KEY_TEST
    assert production != test
    for hex_key in (production, test):
        loaded = Ed25519PublicKey.from_public_bytes(bytes.fromhex(hex_key))
        assert loaded.public_bytes_raw() == bytes.fromhex(hex_key)


def test_test_env_selects_the_test_key() -> None:
    production = init_data_module.telegram_public_key(False)
    test = init_data_module.telegram_public_key(True)

    assert production.public_bytes_raw() == bytes.fromhex(TELEGRAM_PUBLIC_KEY_PRODUCTION)
    assert test.public_bytes_raw() == bytes.fromhex(TELEGRAM_PUBLIC_KEY_TEST)


@pytest.mark.parametrize("test_env", [False, True])
def test_telegram_keys_reject_an_unrelated_signature(test_env: bool) -> None:
    raw = _ed25519_signed(_payload(signature=None), Ed25519PrivateKey.generate())

    _rejected(
        "bad_signature", lambda: _verify(raw, bot_token=None, bot_id=BOT_ID, test_env=test_env), raw
    )


def test_verify_uses_the_key_test_env_selects(monkeypatch: pytest.MonkeyPatch) -> None:
    test_key = Ed25519PrivateKey.generate()
    production_key = Ed25519PrivateKey.generate()
    keys = {True: test_key.public_key(), False: production_key.public_key()}
    monkeypatch.setattr(init_data_module, "telegram_public_key", keys.__getitem__)
    raw = _ed25519_signed(_payload(signature=None), test_key)

    assert _verify(raw, bot_token=None, bot_id=BOT_ID, test_env=True).profile
    _rejected(
        "bad_signature", lambda: _verify(raw, bot_token=None, bot_id=BOT_ID, test_env=False), raw
    )


def test_third_party_rejects_a_non_canonical_signature_spelling() -> None:
    key = Ed25519PrivateKey.generate()
    raw = _ed25519_signed(_payload(signature=None), key)
    fields = [(k, unquote_plus(v)) for k, _, v in (p.partition("=") for p in raw.split("&"))]
    signature = dict(fields)["signature"]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # The last of 86 characters carries 2 bits of the signature; its low 4 bits are filler.
    last = alphabet.index(signature[-1])
    respelled = signature[:-1] + alphabet[(last & 0b110000) | ((last + 1) & 0b001111)]
    assert respelled != signature
    assert base64.urlsafe_b64decode(respelled + "==") == base64.urlsafe_b64decode(signature + "==")
    mangled = _encode([(k, respelled if k == "signature" else v) for k, v in fields])

    _rejected(
        "bad_signature",
        lambda: _verify(mangled, bot_token=None, bot_id=BOT_ID, public_key=key.public_key()),
        mangled,
    )

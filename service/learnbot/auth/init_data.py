from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Final, TypeGuard
from urllib.parse import quote, unquote_plus

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from learnbot.auth.errors import NOT_TEXT, AuthError
from learnbot.i18n.markers import N_
from learnbot.storage.models import TelegramProfile
from learnbot.text import is_json_text, is_text

TELEGRAM_PUBLIC_KEY_PRODUCTION: Final[str] = (
    "e7bf03a2fa4602af4580703d88dda5bb59f32ed8b02a56c187fe7d34caed242d"
)
TELEGRAM_PUBLIC_KEY_TEST: Final[str] = (
    "40055058a4ee38156a06562e52eece92a771bcd8346a8c4615cb7376eddf72ec"
)

MAX_INIT_DATA_BYTES: Final = 16 * 1024
MAX_FUTURE_SKEW_SECONDS: Final = 60
TELEGRAM_ID_LIMIT: Final = 2**53

_INVALID_PERCENT_ESCAPE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DIGITS: Final = re.compile(r"[0-9]+")
# An Ed25519 signature is 64 bytes: 86 characters of unpadded base64url.
_SIGNATURE: Final = re.compile(r"[A-Za-z0-9_-]{86}")
# int() refuses strings over 4300 digits; 12 digits already reach past the year 9999.
_MAX_TIMESTAMP_DIGITS: Final = 12


@dataclass(frozen=True, slots=True)
class VerifiedInitData:
    profile: TelegramProfile
    auth_date: datetime
    query_id: str | None
    start_param: str | None


def parse_init_data(raw: str) -> list[tuple[str, str]]:
    if not raw or len(raw) > MAX_INIT_DATA_BYTES:
        raise AuthError("malformed", N_("The init data is empty or too long."))
    try:
        size = len(raw.encode("utf-8"))
    except UnicodeEncodeError:
        raise AuthError("malformed", N_("The init data is not valid UTF-8.")) from None
    if size > MAX_INIT_DATA_BYTES:
        raise AuthError("malformed", N_("The init data is empty or too long."))

    fields: list[tuple[str, str]] = []
    seen: set[str] = set()
    for pair in raw.split("&"):
        raw_key, separator, raw_value = pair.partition("=")
        if not separator or not raw_key:
            raise AuthError("malformed", N_("The init data has a field without a name or value."))
        if _INVALID_PERCENT_ESCAPE.search(pair):
            raise AuthError("malformed", N_("The init data has an invalid percent escape."))
        try:
            key = unquote_plus(raw_key, errors="strict")
            value = unquote_plus(raw_value, errors="strict")
        except UnicodeDecodeError:
            raise AuthError("malformed", N_("The init data is not valid UTF-8.")) from None
        if not is_text(key) or not is_text(value):
            raise AuthError("malformed", NOT_TEXT)
        if key in seen:
            raise AuthError("malformed", N_("The init data repeats a field."))
        seen.add(key)
        fields.append((key, value))
    return fields


def verify_init_data(
    raw: str,
    *,
    bot_token: str | None,
    bot_id: int | None,
    max_age: int,
    now: float,
    test_env: bool = False,
    public_key: Ed25519PublicKey | None = None,
) -> VerifiedInitData:
    if bot_token is None and bot_id is None:
        raise ValueError("verify_init_data needs a bot token or a bot id.")
    if bot_token == "":
        raise ValueError("The bot token must not be empty.")

    fields = parse_init_data(raw)
    received = dict(fields)
    if "hash" not in received:
        raise AuthError("malformed", N_("The init data has no hash."))
    if "user" not in received:
        raise AuthError("malformed", N_("The init data has no user."))

    if bot_token is not None:
        signed = [(key, value) for key, value in fields if key != "hash"]
        if not hash_matches(_web_app_secret(bot_token), signed, received["hash"]):
            raise AuthError("bad_signature", N_("The init data's signature does not match."))
    elif bot_id is not None:
        _verify_third_party(
            fields,
            bot_id=bot_id,
            public_key=public_key if public_key is not None else telegram_public_key(test_env),
        )

    auth_date = check_auth_date(received.get("auth_date"), max_age=max_age, now=now)
    return VerifiedInitData(
        profile=_profile_from_user_json(received["user"]),
        auth_date=auth_date,
        query_id=received.get("query_id"),
        start_param=received.get("start_param"),
    )


def sign_init_data(
    bot_token: str,
    user: Mapping[str, object],
    *,
    auth_date: int,
    query_id: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> str:
    fields: dict[str, str] = {}
    if query_id is not None:
        fields["query_id"] = query_id
    fields["user"] = _telegram_json(user)
    fields["auth_date"] = str(auth_date)
    for key, value in (extra or {}).items():
        if key in fields or key == "hash":
            raise ValueError(f"extra must not repeat the field {key!r}.")
        fields[key] = value
    check_string = data_check_string(fields.items())
    fields["hash"] = hmac.new(_web_app_secret(bot_token), check_string, hashlib.sha256).hexdigest()
    return "&".join(
        f"{quote(key, safe='')}={quote(value, safe='')}" for key, value in fields.items()
    )


def data_check_string(fields: Iterable[tuple[str, str]]) -> bytes:
    ordered = sorted(fields, key=lambda field: field[0])
    return "\n".join(f"{key}={value}" for key, value in ordered).encode("utf-8")


def hash_matches(secret: bytes, signed: Iterable[tuple[str, str]], received_hash: str) -> bool:
    expected = hmac.new(secret, data_check_string(signed), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), received_hash.encode("utf-8"))


def check_auth_date(raw: str | None, *, max_age: int, now: float) -> datetime:
    if raw is None or _DIGITS.fullmatch(raw) is None:
        raise AuthError("malformed", N_("The auth date is missing or not a number."))
    if len(raw) > _MAX_TIMESTAMP_DIGITS or int(raw) > now + MAX_FUTURE_SKEW_SECONDS:
        raise AuthError("expired", N_("The auth date is in the future."))
    auth_date = int(raw)
    if now - auth_date > max_age:
        raise AuthError("expired", N_("The sign-in data is too old."))
    return datetime.fromtimestamp(auth_date, tz=UTC)


def is_telegram_id(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value < TELEGRAM_ID_LIMIT


@cache
def telegram_public_key(test_env: bool) -> Ed25519PublicKey:
    key = TELEGRAM_PUBLIC_KEY_TEST if test_env else TELEGRAM_PUBLIC_KEY_PRODUCTION
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(key))


@lru_cache(maxsize=4)
def _web_app_secret(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode("utf-8"), hashlib.sha256).digest()


def _verify_third_party(
    fields: list[tuple[str, str]], *, bot_id: int, public_key: Ed25519PublicKey
) -> None:
    received = dict(fields)
    if "signature" not in received:
        raise AuthError("malformed", N_("The init data has no signature."))
    signature = _decode_signature(received["signature"])
    signed = [(key, value) for key, value in fields if key not in {"hash", "signature"}]
    message = f"{bot_id}:WebAppData\n".encode() + data_check_string(signed)
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        raise AuthError("bad_signature", N_("The init data's signature does not match.")) from None


def _decode_signature(signature: str) -> bytes:
    invalid = AuthError("bad_signature", N_("The init data's signature is not valid base64url."))
    if _SIGNATURE.fullmatch(signature) is None:
        raise invalid
    decoded = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    # Only the canonical spelling counts, so a signature cannot be altered and still pass.
    if base64.urlsafe_b64encode(decoded).rstrip(b"=").decode("ascii") != signature:
        raise invalid
    return decoded


def _telegram_json(value: Mapping[str, object]) -> str:
    # Telegram escapes "/" in its JSON, and the hash covers those exact bytes.
    return json.dumps(dict(value), ensure_ascii=False, separators=(",", ":")).replace("/", "\\/")


def _profile_from_user_json(raw_user: str) -> TelegramProfile:
    try:
        user = json.loads(raw_user)
    except (ValueError, RecursionError):
        raise AuthError("malformed", N_("The init data's user is not valid JSON.")) from None
    if not isinstance(user, dict):
        raise AuthError("malformed", N_("The init data's user is not a JSON object."))
    if not is_json_text(user):
        raise AuthError("malformed", NOT_TEXT)
    telegram_id = user.get("id")
    if not is_telegram_id(telegram_id):
        raise AuthError("malformed", N_("The user's id is not a valid Telegram id."))
    first_name = user.get("first_name")
    if not isinstance(first_name, str) or not first_name:
        raise AuthError("malformed", N_("The user has no first name."))
    is_premium = user.get("is_premium", False)
    if not isinstance(is_premium, bool):
        raise AuthError("malformed", N_("The user's is_premium is not a boolean."))
    return TelegramProfile(
        telegram_id=telegram_id,
        first_name=first_name,
        last_name=_optional_text(user, "last_name"),
        username=_optional_text(user, "username"),
        language_code=_optional_text(user, "language_code"),
        is_premium=is_premium,
        photo_url=_optional_text(user, "photo_url"),
    )


def _optional_text(user: Mapping[str, object], key: str) -> str | None:
    value = user.get(key)
    if value is None or isinstance(value, str):
        return value
    raise AuthError("malformed", N_("The user's %(field)s is not a string."), {"field": key})

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from learnbot.auth.errors import NOT_TEXT, AuthError
from learnbot.auth.init_data import (
    MAX_INIT_DATA_BYTES,
    check_auth_date,
    hash_matches,
    is_telegram_id,
)
from learnbot.i18n.markers import N_
from learnbot.storage.models import TelegramProfile
from learnbot.text import is_text

MAX_WIDGET_FIELDS: Final = 32

_DIGITS: Final = re.compile(r"[0-9]{1,16}")


@dataclass(frozen=True, slots=True)
class VerifiedLogin:
    profile: TelegramProfile
    auth_date: datetime


def verify_login_widget(
    fields: Mapping[str, object], *, bot_token: str, max_age: int, now: float
) -> VerifiedLogin:
    received = _as_text(fields)
    received_hash = received.pop("hash", None)
    if received_hash is None:
        raise AuthError("malformed", N_("The login has no hash."))
    secret = hashlib.sha256(bot_token.encode("utf-8")).digest()
    if not hash_matches(secret, received.items(), received_hash):
        raise AuthError("bad_signature", N_("The login's signature does not match."))

    auth_date = check_auth_date(received.get("auth_date"), max_age=max_age, now=now)
    return VerifiedLogin(profile=_profile(received), auth_date=auth_date)


def _as_text(fields: Mapping[str, object]) -> dict[str, str]:
    if not fields or len(fields) > MAX_WIDGET_FIELDS:
        raise AuthError("malformed", N_("The login has no fields or too many."))
    received: dict[str, str] = {}
    size = 0
    for key, value in fields.items():
        if not isinstance(key, str) or not key:
            raise AuthError("malformed", N_("The login has a field without a name."))
        # bool is a subclass of int, but Telegram signs only numbers and strings here.
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise AuthError(
                "malformed", N_("The login has a field that is not a number or string.")
            )
        try:
            text = value if isinstance(value, str) else str(value)
        except ValueError:
            raise AuthError("malformed", N_("The login has a number that is too large.")) from None
        if not is_text(key) or not is_text(text):
            raise AuthError("malformed", NOT_TEXT)
        size += len(key) + len(text)
        if size > MAX_INIT_DATA_BYTES:
            raise AuthError("malformed", N_("The login is too long."))
        received[key] = text
    return received


def _profile(received: Mapping[str, str]) -> TelegramProfile:
    raw_id = received.get("id")
    telegram_id = int(raw_id) if raw_id is not None and _DIGITS.fullmatch(raw_id) else None
    if not is_telegram_id(telegram_id):
        raise AuthError("malformed", N_("The login's id is not a valid Telegram id."))
    first_name = received.get("first_name")
    if not first_name:
        raise AuthError("malformed", N_("The login has no first name."))
    return TelegramProfile(
        telegram_id=telegram_id,
        first_name=first_name,
        last_name=received.get("last_name"),
        username=received.get("username"),
        photo_url=received.get("photo_url"),
    )

from __future__ import annotations

from learnbot.auth.errors import AuthError, AuthOutcome
from learnbot.auth.init_data import (
    TELEGRAM_PUBLIC_KEY_PRODUCTION,
    TELEGRAM_PUBLIC_KEY_TEST,
    VerifiedInitData,
    parse_init_data,
    sign_init_data,
    verify_init_data,
)
from learnbot.auth.widget import VerifiedLogin, verify_login_widget

__all__ = [
    "TELEGRAM_PUBLIC_KEY_PRODUCTION",
    "TELEGRAM_PUBLIC_KEY_TEST",
    "AuthError",
    "AuthOutcome",
    "VerifiedInitData",
    "VerifiedLogin",
    "parse_init_data",
    "sign_init_data",
    "verify_init_data",
    "verify_login_widget",
]

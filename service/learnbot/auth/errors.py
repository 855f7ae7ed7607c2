from __future__ import annotations

from typing import Literal

AuthOutcome = Literal["bad_signature", "expired", "malformed"]


class AuthError(Exception):
    """A Telegram sign-in was refused; `detail` is safe to show and to log."""

    def __init__(self, outcome: AuthOutcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome: AuthOutcome = outcome
        self.detail = detail

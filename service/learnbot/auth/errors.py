from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

AuthOutcome = Literal["bad_signature", "expired", "malformed"]


class AuthError(Exception):
    """A Telegram sign-in was refused; `detail` is safe to show and to log.

    `detail` is a message id whose `%(name)s` placeholders `params` fill.
    """

    def __init__(
        self, outcome: AuthOutcome, detail: str, params: Mapping[str, object] | None = None
    ) -> None:
        super().__init__(detail % params if params else detail)
        self.outcome: AuthOutcome = outcome
        self.detail = detail
        self.params = dict(params or {})

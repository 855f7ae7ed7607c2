from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

from learnbot.i18n.markers import N_

AuthOutcome = Literal["bad_signature", "expired", "malformed"]

# Signed content is refused as a whole when a string in it could not be stored or logged.
NOT_TEXT: Final = N_(
    "The sign-in data has characters that are not allowed (NUL or a lone surrogate)."
)


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

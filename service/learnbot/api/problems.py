from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import ClassVar

PROBLEM_CONTENT_TYPE = "application/problem+json"


class Problem(Exception):
    """An error the API answers with an RFC 9457 problem document; one subclass per failure."""

    status: int = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"
    retry_after: ClassVar[int | None] = None
    # Sentry's Sanic integration skips quiet exceptions: a refused request is not a bug.
    quiet: ClassVar[bool] = True

    def __init__(
        self,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = dict(headers or {})
        if self.retry_after is not None:
            self.headers.setdefault("Retry-After", str(self.retry_after))
        self.extensions = dict(extensions or {})

    @property
    def type(self) -> str:
        return f"urn:learnbot:problem:{self.slug}"

    def document(self) -> dict[str, object]:
        return {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extensions,
        }


class RequestRejected(Problem):
    """A protocol-level refusal by the HTTP server (a malformed request line, a timeout)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status

    @property
    def type(self) -> str:
        return "about:blank"

    def document(self) -> dict[str, object]:
        return {**super().document(), "title": HTTPStatus(self.status).phrase}


class InvalidBody(Problem):
    status, slug, title = 400, "invalid-body", "The request body is not a JSON object"


class InvalidInput(Problem):
    status, slug, title = 422, "invalid-input", "The request has invalid fields"


class SignInRejected(Problem):
    status, slug, title = 401, "sign-in-rejected", "Telegram sign-in was rejected"


class NotSignedIn(Problem):
    status, slug, title = 401, "not-signed-in", "Sign-in required"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "tma"})


class UserBlocked(Problem):
    status, slug, title = 403, "user-blocked", "This account is blocked"


class NotAdmin(Problem):
    status, slug, title = 403, "not-admin", "Administrators only"


class NotFound(Problem):
    status, slug, title = 404, "not-found", "Not found"


class MethodNotAllowed(Problem):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"


class AccountConflict(Problem):
    status, slug, title = 409, "account-conflict", "The account cannot be linked"


class BodyTooLarge(Problem):
    status, slug, title = 413, "body-too-large", "The request body is too large"


class DatabaseUnavailable(Problem):
    status, slug, title = 503, "database-unavailable", "The service is temporarily unavailable"
    retry_after = 5


class InternalError(Problem):
    status, slug, title = 500, "internal-error", "Internal server error"

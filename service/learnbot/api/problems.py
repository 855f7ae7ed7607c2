from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import ClassVar, Protocol

from learnbot.i18n.markers import N_

PROBLEM_CONTENT_TYPE = "application/problem+json"


class Translator(Protocol):
    def gettext(self, message: str) -> str: ...


class Problem(Exception):
    """An error the API answers with an RFC 9457 problem document; one subclass per failure.

    `detail` is a message id with named `%(placeholders)s` filled from `params`; title and
    detail are translated when the document is written, in the request's locale.
    """

    status: int = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = N_("Bad request")
    retry_after: ClassVar[int | None] = None
    # Sentry's Sanic integration skips quiet exceptions: a refused request is not a bug.
    quiet: ClassVar[bool] = True

    def __init__(
        self,
        detail: str,
        *,
        params: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.params = dict(params or {})
        self.headers = dict(headers or {})
        if self.retry_after is not None:
            self.headers.setdefault("Retry-After", str(self.retry_after))
        self.extensions = dict(extensions or {})

    @property
    def type(self) -> str:
        return f"urn:learnbot:problem:{self.slug}"

    def document(self, translator: Translator) -> dict[str, object]:
        detail = translator.gettext(self.detail)
        return {
            "type": self.type,
            "title": translator.gettext(self.title),
            "status": self.status,
            "detail": detail % self.params if self.params else detail,
            **self.extensions,
        }


class RequestRejected(Problem):
    """A protocol-level refusal by the HTTP server (a malformed request line, a timeout)."""

    def __init__(self, status: int) -> None:
        super().__init__(HTTPStatus(status).description)
        self.status = status

    @property
    def type(self) -> str:
        return "about:blank"

    def document(self, translator: Translator) -> dict[str, object]:
        return {**super().document(translator), "title": HTTPStatus(self.status).phrase}


class InvalidBody(Problem):
    status, slug, title = 400, "invalid-body", N_("The request body is not a JSON object")


class InvalidInput(Problem):
    status, slug, title = 422, "invalid-input", N_("The request has invalid fields")


class SignInRejected(Problem):
    status, slug, title = 401, "sign-in-rejected", N_("Telegram sign-in was rejected")


class WebhookRejected(Problem):
    status, slug, title = 401, "webhook-rejected", N_("Not a call from Telegram")


class NotSignedIn(Problem):
    status, slug, title = 401, "not-signed-in", N_("Sign-in required")

    def __init__(self, detail: str, *, params: Mapping[str, object] | None = None) -> None:
        super().__init__(detail, params=params, headers={"WWW-Authenticate": "tma"})


class UserBlocked(Problem):
    status, slug, title = 403, "user-blocked", N_("This account is blocked")


class NotAdmin(Problem):
    status, slug, title = 403, "not-admin", N_("Administrators only")


class MetricsNotPublic(Problem):
    status, slug, title = 403, "metrics-not-public", N_("Metrics are not served here")


class NotFound(Problem):
    status, slug, title = 404, "not-found", N_("Not found")


class MethodNotAllowed(Problem):
    status, slug, title = 405, "method-not-allowed", N_("Method not allowed")


class RequestTimedOut(Problem):
    status, slug, title = 408, "request-timeout", N_("The request was not received in time")


class AccountConflict(Problem):
    status, slug, title = 409, "account-conflict", N_("The account cannot be linked")


class UnverifiedLinkRefused(Problem):
    status, slug = 403, "link-unverified-refused"
    title = N_("Accounts are linked through their provider")


class LinkStateUnknown(Problem):
    status, slug, title = 400, "link-state-unknown", N_("The link request is unknown")


class LinkStateExpired(Problem):
    status, slug, title = 400, "link-state-expired", N_("The link request expired")


class LinkStateMismatch(Problem):
    status, slug = 400, "link-state-mismatch"
    title = N_("The link request is for another provider")


class LinkDenied(Problem):
    status, slug, title = 403, "link-denied", N_("The provider did not authorize the link")


class LinkCodeRejected(Problem):
    status, slug = 400, "link-code-rejected"
    title = N_("The provider refused the authorization code")


class LinkIdTokenRejected(Problem):
    status, slug = 502, "link-id-token-rejected"
    title = N_("The provider's ID token was rejected")


class LinkProviderError(Problem):
    status, slug = 502, "link-provider-error"
    title = N_("The provider's answer cannot be used")


class ProviderUnavailable(Problem):
    status, slug = 503, "provider-unavailable"
    title = N_("The provider is unavailable")
    retry_after = 5


class AdminNotBlockable(Problem):
    status, slug, title = 409, "admin-not-blockable", N_("Administrators cannot be blocked")


class BodyTooLarge(Problem):
    status, slug, title = 413, "body-too-large", N_("The request body is too large")


class HeadersTooLarge(Problem):
    status, slug, title = 431, "headers-too-large", N_("The request headers are too large")


class TooManyRequests(Problem):
    status, slug, title = 429, "rate-limited", N_("Too many requests")


class DatabaseUnavailable(Problem):
    status, slug = 503, "database-unavailable"
    title = N_("The service is temporarily unavailable")
    retry_after = 5


class ResponseTimedOut(Problem):
    """A request that ran past RESPONSE_TIMEOUT_SECONDS: the service, not the client, was slow."""

    status, slug = 503, "response-timeout"
    title = N_("The service is temporarily unavailable")
    retry_after = 5


class ClientClosedRequest(Problem):
    """The client went away before the answer (nginx's 499): not the service's failure."""

    status, slug, title = 499, "client-closed-request", N_("The client closed the request")


class InternalError(Problem):
    status, slug, title = 500, "internal-error", N_("Internal server error")

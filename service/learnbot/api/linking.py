"""Linking an account through its provider: the authorization URL for a signed-in user, and
the callback where the provider sends the browser back with a code to prove the account."""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit, urlunsplit

from sanic import Blueprint
from sanic.response import HTTPResponse, json, redirect
from sanic.response import html as html_response
from sanic_ext import openapi
from sanic_ext.extensions.openapi.definitions import Response

from learnbot.api import schemas
from learnbot.api.auth import current_user
from learnbot.api.bodies import text_query
from learnbot.api.locale import catalog_of
from learnbot.api.problems import (
    PROBLEM_CONTENT_TYPE,
    AccountConflict,
    DatabaseUnavailable,
    InvalidInput,
    LinkCodeRejected,
    LinkDenied,
    LinkIdTokenRejected,
    LinkProviderError,
    LinkStateExpired,
    LinkStateMismatch,
    LinkStateUnknown,
    NotFound,
    Problem,
    ProviderUnavailable,
)
from learnbot.api.views import account_view
from learnbot.context import AppRequest
from learnbot.i18n.catalogs import LocaleCatalog
from learnbot.i18n.markers import N_
from learnbot.oauth import providers
from learnbot.oauth.providers import LinkFailure, ProviderClient, state_hash
from learnbot.oauth.settings import ProviderSettings
from learnbot.observability.metrics import ACCOUNT_LINKS
from learnbot.storage import AccountConflict as StoredAccountConflict
from learnbot.storage import LinkedAccount, OAuthState, StorageError

bp = Blueprint("linking")
log = logging.getLogger("learnbot.linking")

# The page holds no script and loads nothing; the callback's URL (with its code) is not sent on.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}
_PAGE = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;\
line-height:1.5}}</style>
</head>
<body>
<h1>{title}</h1>
<p>{detail}</p>
<p>{hint}</p>
</body>
</html>
"""


class LinkRefused(Exception):
    """A callback that links nothing: its account_links_total outcome and its problem."""

    def __init__(self, outcome: str, problem: Problem, reason: str = "") -> None:
        super().__init__(outcome)
        self.outcome = outcome
        self.problem = problem
        self.reason = reason


@bp.get("/auth/oauth/providers")
@openapi.definition(
    summary="The providers accounts can be linked through",
    response=schemas.responses(200, schemas.PROVIDERS),
)
async def list_providers(request: AppRequest) -> HTTPResponse:
    configured = request.app.ctx.settings.oauth.providers
    return json(
        {"providers": [{"id": p.id, "name": p.name, "kind": p.kind} for p in configured]},
        headers={"Cache-Control": "public, max-age=300"},
    )


@bp.post("/me/accounts/<provider:str>/authorize")
@openapi.definition(
    summary="Start linking an account through its provider",
    description="Answers the provider's authorization URL (with state, a PKCE S256 challenge "
    "and, for OpenID Connect, a nonce) for the Mini App to open; the provider sends the browser "
    "back to `GET /auth/oauth/{provider}/callback`. The authorization is valid for "
    "OAUTH_STATE_TTL_SECONDS and can be used once.",
    secured=schemas.SIGNED_IN,
    response=schemas.responses(200, schemas.AUTHORIZATION, 401, 403, 404, 502, 503),
)
async def authorize(request: AppRequest, provider: str) -> HTTPResponse:
    user = await current_user(request)
    client = _client(request, provider)
    try:
        authorization = await client.begin()
    except LinkFailure as failure:
        refused = _refused(client.settings, failure)
        _count(client.settings.id, refused)
        raise refused.problem from None
    settings = request.app.ctx.settings.oauth
    now = datetime.now(UTC)
    expires_at = now + timedelta(seconds=settings.state_ttl_seconds)
    await request.app.ctx.resources.store.save_oauth_state(
        OAuthState(
            state_hash=state_hash(authorization.state),
            user_id=user.id,
            provider=client.settings.id,
            code_verifier=authorization.code_verifier,
            nonce=authorization.nonce,
            created_at=now,
            expires_at=expires_at,
        )
    )
    ACCOUNT_LINKS.labels(client.settings.id, "started").inc()
    log.info("account link started", extra={"provider": client.settings.id})
    return json(
        {
            "provider": client.settings.id,
            "authorization_url": authorization.url,
            "expires_at": expires_at.isoformat(),
        },
        headers={"Cache-Control": "no-store"},
    )


@bp.get("/auth/oauth/<provider:str>/callback")
@openapi.definition(
    summary="Where the provider sends the browser back",
    description="Exchanges the code (with the PKCE verifier), verifies the ID token (or reads "
    "the user from the provider) and links the proven account to the user who started. Then "
    "redirects (303) to OAUTH_RETURN_URL with `link_provider` and `link_outcome`; without it, "
    "a browser (`Accept: text/html`) gets a small page, any other client the account (201 new, "
    "200 linked already) or a problem document.",
    parameter=schemas.CALLBACK_PARAMETERS,
    response=[
        *schemas.responses(
            201,
            schemas.ACCOUNT,
            400,
            403,
            404,
            409,
            422,
            502,
            503,
            also={200: schemas.ACCOUNT},
        ),
        Response(
            {"text/html": {"schema": schemas.HTML_PAGE}},
            status=200,
            description="the page a browser is shown",
        ),
        Response(status=303, description="to OAUTH_RETURN_URL, with the outcome"),
    ],
)
async def callback(request: AppRequest, provider: str) -> HTTPResponse:
    await request.app.ctx.resources.rate_limits.check_address(request)
    client = _client(request, provider)
    settings = client.settings
    try:
        account, created = await _link(request, client)
    except LinkRefused as refused:
        _count(settings.id, refused)
        log.info(
            "account link refused",
            extra={"provider": settings.id, "outcome": refused.outcome, "reason": refused.reason},
        )
        return _answer(request, settings, refused.outcome, refused.problem)
    outcome = "linked" if created else "relinked"
    ACCOUNT_LINKS.labels(settings.id, outcome).inc()
    log.info("account linked", extra={"provider": settings.id, "outcome": outcome})
    return _answer(request, settings, outcome, None, account, created)


def _client(request: AppRequest, provider: str) -> ProviderClient:
    client = request.app.ctx.resources.providers.get(provider)
    if client is None:
        configured = [p.id for p in request.app.ctx.settings.oauth.providers]
        raise NotFound(
            N_("No provider of this id is configured."), extensions={"providers": configured}
        )
    return client


async def _link(request: AppRequest, client: ProviderClient) -> tuple[LinkedAccount, bool]:
    """The callback's work; every way it can fail is a LinkRefused."""
    settings = client.settings
    state = _callback_value(request, "state", required=True)
    assert state is not None
    store = request.app.ctx.resources.store
    try:
        pending = await store.take_oauth_state(state_hash(state))
    except StorageError:
        raise _unavailable_database() from None
    now = datetime.now(UTC)
    if pending is None:
        raise LinkRefused(
            "state_unknown",
            LinkStateUnknown(
                N_(
                    "This link request is unknown or was used already; start linking again "
                    "from the app."
                )
            ),
        )
    if pending.provider != settings.id:
        raise LinkRefused(
            "state_mismatch",
            LinkStateMismatch(N_("This link request was started for another provider.")),
        )
    if pending.expires_at <= now:
        raise LinkRefused(
            "state_expired",
            LinkStateExpired(N_("This link request expired; start linking again from the app.")),
        )
    _refuse_provider_error(request, settings)
    code = _callback_value(request, "code", required=True)
    assert code is not None
    try:
        identity = await client.finish(
            code, pending.code_verifier, pending.nonce, _callback_value(request, "iss")
        )
    except LinkFailure as failure:
        raise _refused(settings, failure) from None
    try:
        return await store.link_account(
            pending.user_id,
            settings.id,
            identity.subject,
            identity.display_name,
            now,
            verified=True,
        )
    except StoredAccountConflict as conflict:
        raise LinkRefused("conflict", _conflict(settings, conflict), conflict.reason) from None
    except StorageError:
        raise _unavailable_database() from None


def _callback_value(request: AppRequest, name: str, *, required: bool = False) -> str | None:
    try:
        return text_query(
            request,
            name,
            max_length=schemas.CALLBACK_VALUES[name][0],
            pattern=schemas.CALLBACK_VALUE_PATTERN,
            required=required,
        )
    except InvalidInput as problem:
        raise LinkRefused("invalid_request", problem, name) from None


def _refuse_provider_error(request: AppRequest, settings: ProviderSettings) -> None:
    """RFC 6749 4.1.2.1: the provider sends `error` instead of a code."""
    error = _callback_value(request, "error")
    if error is None:
        return
    if error == "access_denied":
        raise LinkRefused(
            "denied",
            LinkDenied(
                N_(
                    "%(provider)s did not authorize the link: the sign-in was cancelled or refused."
                ),
                params={"provider": settings.name},
            ),
        )
    code = error if providers.ERROR_CODE.fullmatch(error) else "invalid"
    raise LinkRefused(
        "provider_error",
        LinkProviderError(
            N_("%(provider)s answered with the error %(error)s."),
            params={"provider": settings.name, "error": code},
            extensions={"error": code},
        ),
        code,
    )


def _refused(settings: ProviderSettings, failure: LinkFailure) -> LinkRefused:
    params = {"provider": settings.name}
    problem: Problem
    if isinstance(failure, providers.ProviderUnavailable):
        problem = ProviderUnavailable(
            N_("%(provider)s does not answer; try again shortly."), params=params
        )
    elif isinstance(failure, providers.CodeRejected):
        problem = LinkCodeRejected(
            N_(
                "%(provider)s refused the authorization code: it was used already, it expired, "
                "or its PKCE verifier did not match. Start linking again."
            ),
            params=params,
        )
    elif isinstance(failure, providers.IdTokenRejected):
        problem = LinkIdTokenRejected(
            N_("The ID token from %(provider)s failed the %(check)s check."),
            params={**params, "check": failure.reason},
            extensions={"check": failure.reason},
        )
    else:
        problem = LinkProviderError(
            N_("%(provider)s answered in a way the service does not accept."), params=params
        )
    return LinkRefused(failure.outcome, problem, failure.reason)


def _conflict(settings: ProviderSettings, conflict: StoredAccountConflict) -> AccountConflict:
    if conflict.reason == "taken":
        detail = N_("This %(provider)s account is linked to another Telegram user.")
    else:
        detail = N_("Another %(provider)s account is linked already; unlink it first.")
    return AccountConflict(
        detail, params={"provider": settings.name}, extensions={"provider": settings.id}
    )


def _unavailable_database() -> LinkRefused:
    return LinkRefused(
        "unavailable",
        DatabaseUnavailable(N_("The database does not answer; try again shortly.")),
        "database",
    )


def _count(provider: str, refused: LinkRefused) -> None:
    ACCOUNT_LINKS.labels(provider, refused.outcome).inc()


def _answer(
    request: AppRequest,
    settings: ProviderSettings,
    outcome: str,
    problem: Problem | None,
    account: LinkedAccount | None = None,
    created: bool = False,
) -> HTTPResponse:
    """A redirect to OAUTH_RETURN_URL; else a page for a browser, JSON for any other client."""
    return_url = request.app.ctx.settings.oauth.return_url
    if return_url is not None:
        target = _with_query(return_url, {"link_provider": settings.id, "link_outcome": outcome})
        return redirect(target, status=303, headers=PAGE_HEADERS)
    catalog = catalog_of(request)
    if "text/html" in request.headers.get("accept", ""):
        status = 200 if problem is None else problem.status
        headers = {**PAGE_HEADERS, **(problem.headers if problem else {})}
        return html_response(_page(catalog, settings, problem, account), status, headers)
    if problem is not None:
        return json(
            problem.document(catalog),
            status=problem.status,
            headers={**PAGE_HEADERS, **problem.headers},
            content_type=PROBLEM_CONTENT_TYPE,
        )
    assert account is not None
    return json(account_view(account), status=201 if created else 200, headers=PAGE_HEADERS)


def _page(
    catalog: LocaleCatalog,
    settings: ProviderSettings,
    problem: Problem | None,
    account: LinkedAccount | None,
) -> str:
    if problem is not None:
        document = problem.document(catalog)
        title, detail = str(document["title"]), str(document["detail"])
    else:
        assert account is not None
        title = catalog.gettext("%(provider)s account linked") % {"provider": settings.name}
        if account.display_name:
            detail = catalog.gettext("Your %(provider)s account %(name)s is linked.") % {
                "provider": settings.name,
                "name": account.display_name,
            }
        else:
            detail = catalog.gettext("Your %(provider)s account is linked.") % {
                "provider": settings.name
            }
    return _PAGE.format(
        lang=catalog.locale.replace("_", "-"),
        title=html.escape(title),
        detail=html.escape(detail),
        hint=html.escape(catalog.gettext("You can close this page and return to Telegram.")),
    )


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(part for part in (parts.query, urlencode(params)) if part)
    return urlunsplit(parts._replace(query=query))

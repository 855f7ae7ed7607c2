from __future__ import annotations

from datetime import UTC, datetime

from sanic import Blueprint
from sanic.response import HTTPResponse, empty, json
from sanic_ext import openapi

from learnbot.api import schemas
from learnbot.api.auth import current_user, current_user_with_accounts
from learnbot.api.bodies import json_object, optional_text_field, text_field
from learnbot.api.locale import catalog_of
from learnbot.api.problems import AccountConflict, NotFound, UnverifiedLinkRefused
from learnbot.api.views import account_view, user_view
from learnbot.context import AppRequest
from learnbot.i18n.markers import N_
from learnbot.storage import AccountConflict as StoredAccountConflict

bp = Blueprint("me")


@bp.get("/me")
@openapi.definition(
    summary="The signed-in user and their linked accounts",
    secured=schemas.SIGNED_IN,
    response=schemas.responses(200, schemas.ME, 401, 403, 503),
)
async def me(request: AppRequest) -> HTTPResponse:
    user, accounts = await current_user_with_accounts(request)
    summary = catalog_of(request).ngettext(
        "You have %(count)d linked account.", "You have %(count)d linked accounts.", len(accounts)
    )
    return json(
        {
            "user": user_view(user),
            "accounts": [account_view(a) for a in accounts],
            "accounts_summary": summary % {"count": len(accounts)},
            "is_admin": user.telegram_id in request.app.ctx.settings.admin_telegram_ids,
        }
    )


@bp.post("/me/accounts")
@openapi.definition(
    summary="Link a third-party account as the client says (development only)",
    description="Refused with 403 `link-unverified-refused` unless OAUTH_ALLOW_UNVERIFIED_LINKS "
    "is set (never in production): link through the provider with "
    "`POST /me/accounts/{provider}/authorize`. Where allowed, the link is stored unverified; "
    "201 for a new link, 200 when the same account was linked already.",
    secured=schemas.SIGNED_IN,
    body=schemas.body(schemas.LINK_ACCOUNT_BODY),
    response=schemas.responses(
        201, schemas.ACCOUNT, 400, 401, 403, 409, 413, 422, 503, also={200: schemas.ACCOUNT}
    ),
)
async def link_account(request: AppRequest) -> HTTPResponse:
    user = await current_user(request)
    if not request.app.ctx.settings.oauth.allow_unverified_links:
        raise UnverifiedLinkRefused(
            N_(
                "An account is linked through its provider, which proves it is yours: "
                "POST /me/accounts/{provider}/authorize."
            )
        )
    body = json_object(request, schemas.LINK_ACCOUNT_BODY)
    provider = text_field(body, "provider", max_length=32, pattern=schemas.PROVIDER_PATTERN)
    external_id = text_field(body, "external_id", max_length=256)
    display_name = optional_text_field(body, "display_name", max_length=128)
    try:
        account, created = await request.app.ctx.resources.store.link_account(
            user.id, provider, external_id, display_name, datetime.now(UTC)
        )
    except StoredAccountConflict as conflict:
        if conflict.reason == "taken":
            detail = N_("This %(provider)s account is linked to another Telegram user.")
        else:
            detail = N_("Another %(provider)s account is linked already; unlink it first.")
        raise AccountConflict(
            detail, params={"provider": provider}, extensions={"provider": provider}
        ) from None
    return json(account_view(account), status=201 if created else 200)


@bp.delete("/me/accounts/<provider:str>")
@openapi.definition(
    summary="Unlink a third-party account",
    secured=schemas.SIGNED_IN,
    response=schemas.responses(204, None, 401, 403, 404, 503),
)
async def unlink_account(request: AppRequest, provider: str) -> HTTPResponse:
    user = await current_user(request)
    if not await request.app.ctx.resources.store.unlink_account(user.id, provider):
        raise NotFound(
            N_("No account of this provider is linked."), extensions={"provider": provider}
        )
    return empty()

from __future__ import annotations

from sanic import Blueprint
from sanic.response import HTTPResponse, json
from sanic_ext import openapi

from learnbot.api import schemas
from learnbot.api.auth import current_admin
from learnbot.api.bodies import int_query, query_value
from learnbot.api.problems import AdminNotBlockable, InvalidInput, NotFound
from learnbot.api.views import admin_user_view
from learnbot.context import AppRequest
from learnbot.i18n.markers import N_
from learnbot.storage import InvalidCursor

bp = Blueprint("admin", url_prefix="/admin")

MAX_TELEGRAM_ID = 2**53 - 1


@bp.get("/users")
@openapi.definition(
    summary="Users, newest first",
    secured=schemas.SIGNED_IN,
    parameter=[schemas.LIMIT, schemas.CURSOR],
    response=schemas.responses(200, schemas.USER_PAGE, 401, 403, 422, 503),
)
async def list_users(request: AppRequest) -> HTTPResponse:
    await current_admin(request)
    limit = int_query(request, "limit", default=20, low=1, high=100)
    cursor = query_value(request, "cursor")
    try:
        page = await request.app.ctx.resources.store.list_users(limit, cursor)
    except InvalidCursor:
        raise InvalidInput(
            N_("'cursor' must be a next_cursor value from an earlier page."),
            extensions={"field": "cursor"},
        ) from None
    return json(
        {"users": [admin_user_view(u) for u in page.users], "next_cursor": page.next_cursor}
    )


async def _set_blocked(request: AppRequest, telegram_id: int, blocked: bool) -> HTTPResponse:
    admin = await current_admin(request)
    if not 0 < telegram_id <= MAX_TELEGRAM_ID:
        raise NotFound(N_("No user has this Telegram id."))
    if blocked:
        _check_blockable(request, admin.telegram_id, telegram_id)
    user = await request.app.ctx.resources.store.set_blocked(telegram_id, blocked)
    if user is None:
        raise NotFound(N_("No user has this Telegram id."))
    return json(admin_user_view(user))


def _check_blockable(request: AppRequest, admin_id: int, telegram_id: int) -> None:
    """A block on an administrator would lock them out of the endpoint that lifts it."""
    if telegram_id == admin_id:
        raise AdminNotBlockable(N_("You cannot block your own account."))
    if telegram_id in request.app.ctx.settings.admin_telegram_ids:
        raise AdminNotBlockable(
            N_(
                "This Telegram id is an administrator's (ADMIN_TELEGRAM_IDS); remove it "
                "from that list first."
            )
        )


@bp.post("/users/<telegram_id:int>/block")
@openapi.definition(
    summary="Block a user from signing in",
    description="Administrators (ADMIN_TELEGRAM_IDS), the caller included, cannot be blocked: 409.",
    secured=schemas.SIGNED_IN,
    response=schemas.responses(200, schemas.ADMIN_USER, 401, 403, 404, 409, 503),
)
async def block(request: AppRequest, telegram_id: int) -> HTTPResponse:
    return await _set_blocked(request, telegram_id, True)


@bp.post("/users/<telegram_id:int>/unblock")
@openapi.definition(
    summary="Let a blocked user sign in again",
    secured=schemas.SIGNED_IN,
    response=schemas.responses(200, schemas.ADMIN_USER, 401, 403, 404, 503),
)
async def unblock(request: AppRequest, telegram_id: int) -> HTTPResponse:
    return await _set_blocked(request, telegram_id, False)

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from sanic_ext import openapi

from learnbot.api import schemas
from learnbot.api.bodies import json_object
from learnbot.api.context import settings_of, store_of
from learnbot.api.locale import choose_locale
from learnbot.api.problems import InvalidInput, NotAdmin, NotSignedIn, SignInRejected, UserBlocked
from learnbot.api.rate_limits import rate_limits_of
from learnbot.api.views import user_view
from learnbot.auth import AuthError, verify_init_data, verify_login_widget
from learnbot.i18n.markers import N_
from learnbot.observability.metrics import AUTH_ATTEMPTS, SIGN_INS
from learnbot.settings import Settings
from learnbot.storage import TelegramProfile, User

bp = Blueprint("auth")
log = logging.getLogger("learnbot.auth")

_TMA_SCHEME = "tma "


def _verify_init_data(settings: Settings, raw: str) -> TelegramProfile:
    return verify_init_data(
        raw,
        bot_token=settings.telegram_bot_token,
        bot_id=settings.telegram_bot_id,
        max_age=settings.auth_max_age_seconds,
        now=time.time(),
        test_env=settings.telegram_test_env,
    ).profile


def _verify_widget(settings: Settings, fields: dict[str, Any]) -> TelegramProfile:
    if settings.telegram_bot_token is None:
        raise SignInRejected(
            N_(
                "Login Widget sign-in needs the bot token; this deployment verifies Mini App "
                "init data only."
            )
        )
    return verify_login_widget(
        fields,
        bot_token=settings.telegram_bot_token,
        max_age=settings.auth_max_age_seconds,
        now=time.time(),
    ).profile


@bp.post("/auth/telegram")
@openapi.definition(
    summary="Sign in with Telegram",
    description="Verifies Mini App init data (or Login Widget fields) and creates or "
    "refreshes the user.",
    body={"application/json": schemas.SignInBody},
    response=schemas.responses(200, schemas.SignInResponse, 400, 401, 403, 413, 422, 503),
)
async def sign_in(request: Request) -> HTTPResponse:
    settings = settings_of(request)
    limits = rate_limits_of(request)
    await limits.check_address(request)
    body = json_object(request)
    method = "widget" if "init_data" not in body and "hash" in body else "init_data"
    try:
        if "init_data" in body:
            raw = body["init_data"]
            if not isinstance(raw, str):
                raise AuthError(
                    "malformed", N_("'init_data' must be the raw Telegram.WebApp.initData string.")
                )
            profile = _verify_init_data(settings, raw)
        elif "hash" in body and "id" in body:
            profile = _verify_widget(settings, body)
        else:
            raise AuthError(
                "malformed",
                N_("Send 'init_data' (Mini App) or the Login Widget fields (id, auth_date, hash)."),
            )
    except AuthError as error:
        AUTH_ATTEMPTS.labels(method, error.outcome).inc()
        if error.outcome == "malformed":
            raise InvalidInput(error.detail, params=error.params) from None
        raise SignInRejected(error.detail, params=error.params) from None
    await limits.check_telegram_id(profile.telegram_id)
    sign_in = await store_of(request).upsert_user(profile, datetime.now(UTC))
    user = sign_in.user
    request.ctx.telegram_id = user.telegram_id
    catalog = choose_locale(request, user)
    if user.is_blocked:
        AUTH_ATTEMPTS.labels(method, "blocked").inc()
        raise UserBlocked(N_("This Telegram account is blocked from the service."))
    AUTH_ATTEMPTS.labels(method, "ok").inc()
    SIGN_INS.labels("new" if sign_in.created else "returning").inc()
    log.info("signed in", extra={"telegram_id": user.telegram_id, "new_user": sign_in.created})
    greeting = N_("Welcome, %(name)s!") if sign_in.created else N_("Welcome back, %(name)s!")
    return json(
        {
            "message": catalog.gettext(greeting) % {"name": user.first_name},
            "user": user_view(user),
            "is_admin": user.telegram_id in settings.admin_telegram_ids,
        }
    )


async def current_user(request: Request) -> User:
    """The user named by `Authorization: tma <init data>`, verified on every request."""
    limits = rate_limits_of(request)
    await limits.check_address(request)
    header = request.headers.get("authorization")
    try:
        if header is None or header[: len(_TMA_SCHEME)].lower() != _TMA_SCHEME:
            if header is not None:
                AUTH_ATTEMPTS.labels("tma_header", "malformed").inc()
            raise NotSignedIn(N_("Send 'Authorization: tma <Telegram.WebApp.initData>'."))
        profile = _verify_init_data(settings_of(request), header[len(_TMA_SCHEME) :].strip())
    except AuthError as error:
        AUTH_ATTEMPTS.labels("tma_header", error.outcome).inc()
        raise NotSignedIn(error.detail, params=error.params) from None
    await limits.check_telegram_id(profile.telegram_id)
    store = store_of(request)
    user = await store.get_user(profile.telegram_id)
    if user is None:
        user = (await store.upsert_user(profile, datetime.now(UTC))).user
    request.ctx.telegram_id = user.telegram_id
    choose_locale(request, user)
    if user.is_blocked:
        AUTH_ATTEMPTS.labels("tma_header", "blocked").inc()
        raise UserBlocked(N_("This Telegram account is blocked from the service."))
    AUTH_ATTEMPTS.labels("tma_header", "ok").inc()
    return user


async def current_admin(request: Request) -> User:
    user = await current_user(request)
    if user.telegram_id not in settings_of(request).admin_telegram_ids:
        raise NotAdmin(N_("This Telegram account is not on the administrators' list."))
    return user

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sanic import Blueprint
from sanic.response import HTTPResponse, json
from sanic_ext import openapi

from learnbot.api import schemas
from learnbot.api.bodies import compiled_pattern, signed_json_object
from learnbot.api.locale import choose_locale
from learnbot.api.problems import InvalidInput, NotAdmin, NotSignedIn, SignInRejected, UserBlocked
from learnbot.api.schemas import MAX_TELEGRAM_ID
from learnbot.api.views import user_view
from learnbot.auth import AuthError, verify_init_data, verify_login_widget
from learnbot.auth.init_data import VerifiedInitData, check_auth_date
from learnbot.context import AppRequest
from learnbot.i18n.markers import N_
from learnbot.observability.metrics import AUTH_ATTEMPTS, SIGN_INS
from learnbot.settings import Settings
from learnbot.storage import LinkedAccount, TelegramProfile, User

bp = Blueprint("auth")
log = logging.getLogger("learnbot.auth")

_TMA_SCHEME = "tma "


def _verify_init_data(settings: Settings, raw: str) -> TelegramProfile:
    verified = _signed_init_data(
        raw, settings.telegram_bot_token, settings.telegram_bot_id, settings.telegram_test_env
    )
    # The age is checked on every request, a remembered signature or not.
    check_auth_date(
        str(int(verified.auth_date.timestamp())),
        max_age=settings.auth_max_age_seconds,
        now=time.time(),
    )
    return verified.profile


@lru_cache(maxsize=4096)
def _signed_init_data(
    raw: str, bot_token: str | None, bot_id: int | None, test_env: bool
) -> VerifiedInitData:
    """A Mini App sends the same init data with every request of a session: its signature is
    checked once. Only what verified is remembered (an exception is not cached), keyed by the
    exact text, so nothing unsigned can ever come out of here."""
    return verify_init_data(
        raw,
        bot_token=bot_token,
        bot_id=bot_id,
        # The caller checks the age against the current time.
        max_age=sys.maxsize,
        now=time.time(),
        test_env=test_env,
    )


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
    body=schemas.body(schemas.SIGN_IN_BODY),
    response=schemas.responses(200, schemas.SIGN_IN, 400, 401, 403, 413, 422, 503),
)
async def sign_in(request: AppRequest) -> HTTPResponse:
    settings = request.app.ctx.settings
    limits = request.app.ctx.resources.rate_limits
    await limits.check_address(request)
    body = signed_json_object(request)
    method = "init_data" if "init_data" in body else "widget"
    problem = _sign_in_body_problem(body)
    if problem is not None:
        AUTH_ATTEMPTS.labels(method, "malformed").inc()
        raise problem
    try:
        if method == "init_data":
            profile = _verify_init_data(settings, body["init_data"])
        else:
            profile = _verify_widget(settings, body)
    except AuthError as error:
        # The body has the documented shape, so whatever is wrong inside it is a refused
        # credential (401); the metric still tells malformed data from bad signatures.
        AUTH_ATTEMPTS.labels(method, error.outcome).inc()
        raise SignInRejected(error.detail, params=error.params) from None
    await limits.check_telegram_id(profile.telegram_id)
    sign_in = await request.app.ctx.resources.store.upsert_user(profile, datetime.now(UTC))
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


def _widget_number(pattern: str, low: int, high: int | None = None) -> Callable[[object], bool]:
    """A number as the widget's JavaScript callback gives it, or its decimal digits as the
    redirect URL does: Telegram signs the same `id=123` either way."""
    digits = compiled_pattern(pattern)

    def accepts(value: object) -> bool:
        if isinstance(value, str):
            return digits.fullmatch(value) is not None
        # bool is a subclass of int, but true is no number here.
        if isinstance(value, bool) or not isinstance(value, int):
            return False
        return low <= value and (high is None or value <= high)

    return accepts


def _is_string(value: object) -> bool:
    return isinstance(value, str)


_WIDGET_FIELDS: dict[str, Callable[[object], bool]] = {
    "id": _widget_number(schemas.TELEGRAM_ID_DIGITS, 1, MAX_TELEGRAM_ID),
    "first_name": _is_string,
    "auth_date": _widget_number(schemas.TIMESTAMP_DIGITS, 0),
    "hash": _is_string,
}
_OPTIONAL_WIDGET_FIELDS = ("last_name", "username", "photo_url")


def _sign_in_body_problem(body: dict[str, Any]) -> InvalidInput | None:
    """A 422 when the body does not have the documented shape, else None."""
    if "init_data" in body:
        if isinstance(body["init_data"], str):
            return None
        return InvalidInput(
            N_("'init_data' must be the raw Telegram.WebApp.initData string."),
            extensions={"field": "init_data"},
        )
    if not any(name in body for name in _WIDGET_FIELDS):
        return InvalidInput(
            N_("Send 'init_data' (Mini App) or the Login Widget fields (id, auth_date, hash).")
        )
    for name, accepts in _WIDGET_FIELDS.items():
        if not accepts(body.get(name)):
            return _widget_field_problem(name)
    for name in _OPTIONAL_WIDGET_FIELDS:
        if name in body and not _is_string(body[name]):
            return _widget_field_problem(name)
    return None


def _widget_field_problem(name: str) -> InvalidInput:
    return InvalidInput(
        N_("The Login Widget field '%(field)s' is missing or has the wrong type."),
        params={"field": name},
        extensions={"field": name},
    )


async def current_user(request: AppRequest) -> User:
    """The user named by `Authorization: tma <init data>`, verified on every request."""
    profile = await _signed_in_profile(request)
    store = request.app.ctx.resources.store
    user = await store.get_user(profile.telegram_id)
    if user is None:
        user = (await store.upsert_user(profile, datetime.now(UTC))).user
    return _admit(request, user)


async def current_user_with_accounts(request: AppRequest) -> tuple[User, list[LinkedAccount]]:
    """current_user(), with the user's linked accounts read in the same query."""
    profile = await _signed_in_profile(request)
    store = request.app.ctx.resources.store
    found = await store.get_user_with_accounts(profile.telegram_id)
    if found is None:
        return _admit(request, (await store.upsert_user(profile, datetime.now(UTC))).user), []
    user, accounts = found
    return _admit(request, user), accounts


async def _signed_in_profile(request: AppRequest) -> TelegramProfile:
    limits = request.app.ctx.resources.rate_limits
    await limits.check_address(request)
    header = request.headers.get("authorization")
    try:
        if header is None or header[: len(_TMA_SCHEME)].lower() != _TMA_SCHEME:
            if header is not None:
                AUTH_ATTEMPTS.labels("tma_header", "malformed").inc()
            raise NotSignedIn(N_("Send 'Authorization: tma <Telegram.WebApp.initData>'."))
        profile = _verify_init_data(request.app.ctx.settings, header[len(_TMA_SCHEME) :].strip())
    except AuthError as error:
        AUTH_ATTEMPTS.labels("tma_header", error.outcome).inc()
        raise NotSignedIn(error.detail, params=error.params) from None
    await limits.check_telegram_id(profile.telegram_id)
    return profile


def _admit(request: AppRequest, user: User) -> User:
    request.ctx.telegram_id = user.telegram_id
    choose_locale(request, user)
    if user.is_blocked:
        AUTH_ATTEMPTS.labels("tma_header", "blocked").inc()
        raise UserBlocked(N_("This Telegram account is blocked from the service."))
    AUTH_ATTEMPTS.labels("tma_header", "ok").inc()
    return user


async def current_admin(request: AppRequest) -> User:
    user = await current_user(request)
    if user.telegram_id not in request.app.ctx.settings.admin_telegram_ids:
        raise NotAdmin(N_("This Telegram account is not on the administrators' list."))
    return user

from __future__ import annotations

from sanic import Blueprint
from sanic.response import HTTPResponse, empty, json, raw
from sanic_ext import openapi

from learnbot.api import schemas
from learnbot.api.auth import current_user
from learnbot.api.bodies import json_object
from learnbot.api.caching import client_has
from learnbot.api.locale import choose_locale
from learnbot.api.problems import InvalidInput, NotFound
from learnbot.api.views import user_view
from learnbot.context import AppRequest
from learnbot.i18n.markers import N_
from learnbot.i18n.negotiation import exact_locale

bp = Blueprint("i18n")

CACHE_CONTROL = "public, max-age=3600"


@bp.get("/i18n/locales")
@openapi.definition(
    summary="The supported locales with their native names, and the default",
    response=schemas.responses(200, schemas.LOCALES),
)
async def locales(request: AppRequest) -> HTTPResponse:
    settings = request.app.ctx.settings
    catalogs = request.app.ctx.catalogs
    return json(
        {
            "default": settings.default_locale,
            "locales": [
                {"code": code, "name": catalogs[code].native_name}
                for code in settings.supported_locales
            ],
        }
    )


@bp.get("/i18n/<locale:str>")
@openapi.definition(
    summary="The mini-app catalog of one locale: message id to text",
    description="Plural messages map CLDR categories (one, few, many, other) to text. "
    "Answers 304 when If-None-Match holds the current ETag.",
    response=[
        *schemas.responses(200, schemas.CATALOG, 404),
        openapi.definitions.Response({}, status=304, description="Not Modified"),
    ],
)
async def catalog(request: AppRequest, locale: str) -> HTTPResponse:
    supported = request.app.ctx.settings.supported_locales
    code = exact_locale(locale, supported)
    if code is None:
        raise NotFound(
            N_("No catalog for this locale; supported locales: %(supported)s."),
            params={"supported": ", ".join(supported)},
            extensions={"supported": list(supported)},
        )
    found = request.app.ctx.catalogs[code]
    headers = {"ETag": found.etag, "Cache-Control": CACHE_CONTROL}
    if client_has(request, found.etag):
        return empty(status=304, headers=headers)
    return raw(found.miniapp_document, headers=headers, content_type="application/json")


@bp.put("/me/locale")
@openapi.definition(
    summary="Save the signed-in user's preferred locale (null forgets it)",
    secured=schemas.SIGNED_IN,
    body=schemas.body(schemas.LOCALE_BODY),
    response=schemas.responses(200, schemas.LOCALE, 400, 401, 403, 413, 422, 503),
)
async def save_locale(request: AppRequest) -> HTTPResponse:
    user = await current_user(request)
    body = json_object(request, schemas.LOCALE_BODY)
    supported = request.app.ctx.settings.supported_locales
    wanted = body.get("locale")
    code = exact_locale(wanted, supported) if isinstance(wanted, str) else None
    if "locale" not in body or (wanted is not None and code is None):
        raise InvalidInput(
            N_("'locale' must be one of: %(supported)s."),
            params={"supported": ", ".join(supported)},
            extensions={"field": "locale", "supported": list(supported)},
        )
    saved = await request.app.ctx.resources.store.set_locale(user.id, code)
    if saved is None:
        raise NotFound(N_("No user has this Telegram id."))
    choose_locale(request, saved)
    return json({"locale": saved.locale, "user": user_view(saved)})

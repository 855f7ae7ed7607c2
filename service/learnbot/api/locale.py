from __future__ import annotations

from typing import cast

from sanic import Request
from sanic.response import BaseHTTPResponse

from learnbot.api.context import settings_of
from learnbot.i18n.catalogs import LocaleCatalog
from learnbot.i18n.negotiation import accept_language, negotiate_locale
from learnbot.storage import User


def choose_locale(request: Request, user: User | None = None) -> LocaleCatalog:
    """Negotiates the request's locale; called again once the signed-in user is known."""
    settings = settings_of(request)
    request.ctx.locale = negotiate_locale(
        query=request.args.get("lang"),
        saved=user.locale if user else None,
        telegram=user.language_code if user else None,
        accept=accept_language(request.headers.get("accept-language")),
        supported=settings.supported_locales,
        default=settings.default_locale,
    )
    return catalog_of(request)


def catalog_of(request: Request) -> LocaleCatalog:
    catalogs = cast(dict[str, LocaleCatalog], request.app.ctx.catalogs)
    locale = getattr(request.ctx, "locale", None) or settings_of(request).default_locale
    return catalogs[locale]


async def negotiate_request_locale(request: Request) -> None:
    choose_locale(request)


async def add_content_language(request: Request, response: BaseHTTPResponse) -> None:
    response.headers["Content-Language"] = catalog_of(request).locale.replace("_", "-")

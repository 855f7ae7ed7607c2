from __future__ import annotations

from functools import lru_cache

from sanic.response import BaseHTTPResponse

from learnbot.context import AppRequest
from learnbot.i18n.catalogs import LocaleCatalog
from learnbot.i18n.negotiation import accept_language, negotiate_locale
from learnbot.storage import User


def choose_locale(request: AppRequest, user: User | None = None) -> LocaleCatalog:
    """Negotiates the request's locale; called again once the signed-in user is known."""
    settings = request.app.ctx.settings
    request.ctx.locale = _negotiated(
        request.args.get("lang"),
        user.locale if user else None,
        user.language_code if user else None,
        request.headers.get("accept-language"),
        settings.supported_locales,
        settings.default_locale,
    )
    return catalog_of(request)


@lru_cache(maxsize=1024)
def _negotiated(
    query: str | None,
    saved: str | None,
    telegram: str | None,
    accept_header: str | None,
    supported: tuple[str, ...],
    default: str,
) -> str:
    # Clients send the same few headers again and again; hostile variety only evicts.
    return negotiate_locale(
        query=query,
        saved=saved,
        telegram=telegram,
        accept=accept_language(accept_header),
        supported=supported,
        default=default,
    )


def catalog_of(request: AppRequest) -> LocaleCatalog:
    locale = request.ctx.locale or request.app.ctx.settings.default_locale
    return request.app.ctx.catalogs[locale]


async def negotiate_request_locale(request: AppRequest) -> None:
    choose_locale(request)


async def add_content_language(request: AppRequest, response: BaseHTTPResponse) -> None:
    response.headers["Content-Language"] = catalog_of(request).locale.replace("_", "-")

from __future__ import annotations

import logging
from http import HTTPStatus
from types import SimpleNamespace

from sanic import Request, Sanic
from sanic.config import Config
from sanic.exceptions import MethodNotAllowed as SanicMethodNotAllowed
from sanic.exceptions import NotFound as SanicNotFound
from sanic.exceptions import PayloadTooLarge, SanicException
from sanic.handlers import ErrorHandler
from sanic.response import HTTPResponse, json
from sanic_ext import Extend

from learnbot import __version__
from learnbot.api import admin, auth, me, ops
from learnbot.api.problems import (
    PROBLEM_CONTENT_TYPE,
    BodyTooLarge,
    DatabaseUnavailable,
    InternalError,
    MethodNotAllowed,
    NotFound,
    Problem,
    RequestRejected,
)
from learnbot.settings import Settings
from learnbot.storage import StorageError, open_store

log = logging.getLogger("learnbot")

App = Sanic[Config, SimpleNamespace]

MAX_BODY_BYTES = 64 * 1024


class ProblemErrorHandler(ErrorHandler):
    """The one place where errors become application/problem+json."""

    def default(self, request: Request, exception: Exception) -> HTTPResponse:
        problem = as_problem(exception)
        if isinstance(problem, InternalError):
            log.error("unhandled error on %s %s", request.method, request.path, exc_info=exception)
        return json(
            problem.document(),
            status=problem.status,
            headers=problem.headers,
            content_type=PROBLEM_CONTENT_TYPE,
        )


def as_problem(exception: Exception) -> Problem:
    if isinstance(exception, Problem):
        return exception
    if isinstance(exception, StorageError):
        return DatabaseUnavailable("The database does not answer; try again shortly.")
    if isinstance(exception, SanicNotFound):
        return NotFound("No endpoint answers at this path.")
    if isinstance(exception, SanicMethodNotAllowed):
        allowed = ", ".join(sorted(getattr(exception, "allowed_methods", None) or ()))
        return MethodNotAllowed(
            "This endpoint does not take this method.",
            headers={"Allow": allowed} if allowed else None,
        )
    if isinstance(exception, PayloadTooLarge):
        return BodyTooLarge(f"Requests are limited to {MAX_BODY_BYTES // 1024} KiB.")
    if isinstance(exception, SanicException) and 400 <= exception.status_code < 500:
        status = exception.status_code
        return RequestRejected(status, HTTPStatus(status).description)
    return InternalError("The error was logged; please try again later.")


def create_app(settings: Settings, name: str = "learnbot") -> App:
    app = Sanic(name, error_handler=ProblemErrorHandler())
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.OAS_URL_PREFIX = "/docs"
    app.config.OAS_UI_DEFAULT = "redoc"
    app.config.OAS_AUTODOC = False
    app.config.CORS_ORIGINS = ",".join(settings.cors_origins)
    app.config.CORS_ALLOW_HEADERS = "authorization,content-type,accept-language,x-request-id"
    app.config.CORS_EXPOSE_HEADERS = "content-language,x-request-id,retry-after"
    app.config.CORS = bool(settings.cors_origins)
    app.config.HEALTH = False
    app.ctx.settings = settings
    Extend(app)
    app.ext.openapi.describe(
        "learnbot API",
        version=__version__,
        description="Telegram Mini App sign-in, users and their linked accounts.",
    )
    app.ext.openapi.add_security_scheme(
        "tma",
        "apiKey",
        location="header",
        name="Authorization",
        description="`tma <Telegram.WebApp.initData>`",
    )
    for blueprint in (ops.bp, auth.bp, me.bp, admin.bp):
        app.blueprint(blueprint)

    @app.before_server_start
    async def open_database(app: App) -> None:
        app.ctx.store = open_store(
            settings.database_url,
            pool_size=settings.database_pool_size,
            timeout=settings.database_timeout_seconds,
        )
        await app.ctx.store.open()

    @app.after_server_stop
    async def close_database(app: App) -> None:
        await app.ctx.store.close()

    return app

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import Container
from datetime import timedelta
from typing import TYPE_CHECKING

from sanic import Sanic
from sanic.exceptions import MethodNotAllowed as SanicMethodNotAllowed
from sanic.exceptions import NotFound as SanicNotFound
from sanic.exceptions import PayloadTooLarge, RequestCancelled, SanicException
from sanic.exceptions import RequestTimeout as SanicRequestTimeout
from sanic.exceptions import ServiceUnavailable as SanicServiceUnavailable
from sanic.handlers import ErrorHandler
from sanic.http.http1 import Http
from sanic.models.handler_types import MiddlewareType
from sanic.response import HTTPResponse, json
from sanic_ext import Extend
from sanic_ext.extensions.http.extension import HTTPExtension
from sanic_ext.extensions.openapi.extension import OpenAPIExtension

from learnbot import __version__, json_text
from learnbot.api import admin, auth, i18n, linking, me, miniapp, ops, telegram
from learnbot.api.locale import add_content_language, catalog_of, negotiate_request_locale
from learnbot.api.problems import (
    PROBLEM_CONTENT_TYPE,
    BodyTooLarge,
    ClientClosedRequest,
    DatabaseUnavailable,
    HeadersTooLarge,
    InternalError,
    MethodNotAllowed,
    NotFound,
    Problem,
    RequestRejected,
    RequestTimedOut,
    ResponseTimedOut,
)
from learnbot.api.rate_limits import RateLimits
from learnbot.context import App, AppContext, AppRequest, Resources
from learnbot.i18n.catalogs import load_catalogs
from learnbot.i18n.markers import N_
from learnbot.oauth.providers import Providers
from learnbot.observability import metrics
from learnbot.observability.logs import loggable, logging_config
from learnbot.observability.requests import begin_request, end_request, method_label
from learnbot.observability.sentry import init_sentry
from learnbot.observability.timed_store import TimedStore
from learnbot.observability.tracing import begin_span, end_span, start_tracing, stop_tracing
from learnbot.settings import Settings
from learnbot.shutdown import exit_soon, stop_with_main_process
from learnbot.storage import StorageError, database_dialect, open_store

if TYPE_CHECKING:
    from opentelemetry import trace

    from learnbot.bot.updates import Bot

log = logging.getLogger("learnbot")

MAX_BODY_BYTES = 64 * 1024
# Room for the largest init data (16 KiB) in `Authorization: tma` and the other headers.
MAX_HEADER_BYTES = 24 * 1024
POOL_GAUGE_SECONDS = 5.0
# At shutdown, a database call in flight ends this long before Sanic closes the connections
# still open, so that its request is answered (503 if the database did not answer).
ANSWER_SECONDS = 0.5


class ProblemErrorHandler(ErrorHandler):
    """The one place where errors become application/problem+json."""

    # Sanic passes the app's request_class here; its annotation names the default Request.
    def default(  # type: ignore[override]
        self, request: AppRequest, exception: Exception
    ) -> HTTPResponse:
        problem = as_problem(exception, request)
        catalog = catalog_of(request)
        if isinstance(problem, InternalError):
            log.error(
                "unhandled error on %s %s",
                method_label(request.method),
                loggable(request.path),
                exc_info=exception,
            )
        return json(
            problem.document(catalog),
            status=problem.status,
            headers={**problem.headers, "Content-Language": catalog.locale.replace("_", "-")},
            content_type=PROBLEM_CONTENT_TYPE,
        )


def as_problem(exception: Exception, request: AppRequest) -> Problem:
    if isinstance(exception, Problem):
        return exception
    if isinstance(exception, RequestCancelled):
        return ClientClosedRequest(N_("The client closed the connection before the answer."))
    if isinstance(exception, StorageError):
        return DatabaseUnavailable(N_("The database does not answer; try again shortly."))
    if isinstance(exception, SanicRequestTimeout) or (
        isinstance(exception, SanicServiceUnavailable) and body_pending(request)
    ):
        stop_reading(request)
        return RequestTimedOut(N_("The request stalled before it was complete."))
    if isinstance(exception, SanicServiceUnavailable):
        return ResponseTimedOut(N_("The answer took longer than the service allows; try again."))
    if isinstance(exception, SanicNotFound):
        return NotFound(N_("No endpoint answers at this path."))
    if isinstance(exception, SanicMethodNotAllowed):
        allowed = ", ".join(allowed_methods(request))
        return MethodNotAllowed(
            N_("This endpoint does not take this method."),
            headers={"Allow": allowed} if allowed else None,
        )
    if isinstance(exception, PayloadTooLarge) and not request.head:
        # Sanic refuses an oversized head before it has parsed it into a request.
        return HeadersTooLarge(
            N_("Request headers are limited to %(kib)d KiB in all."),
            params={"kib": MAX_HEADER_BYTES // 1024},
        )
    if isinstance(exception, PayloadTooLarge):
        return BodyTooLarge(
            N_("Requests are limited to %(kib)d KiB."), params={"kib": MAX_BODY_BYTES // 1024}
        )
    if isinstance(exception, SanicException) and 400 <= exception.status_code < 500:
        return RequestRejected(exception.status_code)
    return InternalError(N_("The error was logged; please try again later."))


def body_pending(request: AppRequest) -> bool:
    """Sanic's response timeout also runs while a body is awaited: then the client is late."""
    return bool(getattr(request.stream, "request_body", None))


def stop_reading(request: AppRequest) -> None:
    """After a stalled request's 408 the connection closes.

    Otherwise Sanic, having sent the answer, waits without a deadline for the rest of a body
    that is not coming, and the connection stays open for as long as the client likes.
    """
    stream = request.stream
    if isinstance(stream, Http):
        stream.request_body = None
        stream.keep_alive = False


def allowed_methods(request: AppRequest) -> list[str]:
    """For the Allow header: Sanic's router leaves it out for routes with parameters."""
    found = []
    for method in metrics.HTTP_METHODS:
        try:
            request.app.router.get(request.path, method, None)
        except (SanicNotFound, SanicMethodNotAllowed):
            continue
        found.append(method)
    return found


def create_app(settings: Settings, name: str = "learnbot") -> App:
    if settings.sentry_dsn:
        init_sentry(settings.sentry_dsn, settings.sentry_environment)
    app = Sanic(
        name,
        ctx=AppContext(settings, load_catalogs(settings.supported_locales)),
        # Sanic annotates request_class for its default Request type only.
        request_class=AppRequest,  # type: ignore[arg-type]
        error_handler=ProblemErrorHandler(),
        dumps=json_text.dumps,
        log_config=logging_config(
            settings.log_level, settings.log_format, traced=settings.traces_endpoint is not None
        ),
    )
    configure(app, settings)
    add_extensions(app)
    for blueprint in (ops.bp, auth.bp, me.bp, linking.bp, admin.bp, i18n.bp, telegram.bp):
        app.blueprint(blueprint)
    if settings.miniapp_enabled:
        app.blueprint(miniapp.bp)
    install_middleware(app)
    add_listeners(app)
    return app


def configure(app: App, settings: Settings) -> None:
    # Sanic's ceiling on REQUEST_MAX_HEADER_SIZE is 16 KiB, a class constant meant to be raised.
    Http.HEADER_CEILING = MAX_HEADER_BYTES
    app.config.REQUEST_MAX_HEADER_SIZE = MAX_HEADER_BYTES
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.REQUEST_TIMEOUT = settings.request_timeout_seconds
    app.config.RESPONSE_TIMEOUT = settings.response_timeout_seconds
    # In-flight requests get half the grace period; closing the database gets the rest.
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = settings.shutdown_grace_seconds / 2
    app.config.OAS_URL_PREFIX = "/docs"
    app.config.OAS_UI_DEFAULT = "redoc"
    app.config.OAS_AUTODOC = False
    app.config.CORS_ORIGINS = ",".join(settings.cors_origins)
    app.config.CORS_ALLOW_HEADERS = "authorization,content-type,accept-language,x-request-id"
    app.config.CORS_EXPOSE_HEADERS = "content-language,x-request-id,retry-after"
    app.config.CORS = bool(settings.cors_origins)
    app.config.HEALTH = False
    # Behind the proxy, the client address comes from X-Forwarded-For (for rate limits).
    app.config.PROXIES_COUNT = settings.proxies_count


def add_extensions(app: App) -> None:
    # OpenAPI and CORS only: the others (dependency injection above all) hook into every
    # request, for nothing this service uses.
    Extend(app, built_in_extensions=False, extensions=[OpenAPIExtension, HTTPExtension])
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


MIDDLEWARE: tuple[tuple[MiddlewareType, str, int], ...] = (
    (begin_request, "request", 1000),
    (negotiate_request_locale, "request", 999),
    (add_content_language, "response", 1001),
    (end_request, "response", 1000),
)
# With tracing on only, outermost on both sides (Sanic runs response middleware from the lowest
# priority up): the server span is current for all the rest, the access log line too.
TRACING_MIDDLEWARE: tuple[tuple[MiddlewareType, str, int], ...] = (
    (begin_span, "request", 1001),
    (end_span, "response", 1002),
)


def install_middleware(app: App, leave_out: Container[MiddlewareType] = ()) -> None:
    """learnbot's middleware; the benchmark leaves parts out to measure what each costs."""
    traced = app.ctx.settings.traces_endpoint is not None
    for middleware, attach_to, priority in MIDDLEWARE + (TRACING_MIDDLEWARE if traced else ()):
        if middleware not in leave_out:
            app.middleware(middleware, attach_to, priority=priority)


def add_listeners(app: App) -> None:
    app.before_server_start(watch_main_process)
    app.before_server_start(begin_tracing)
    app.before_server_start(open_resources)
    app.after_server_start(freeze_start_up_objects)
    app.after_server_start(start_pool_gauges)
    app.before_server_stop(end_database_calls_in_time)
    app.before_server_stop(stop_pool_gauges)
    app.after_server_stop(close_database)
    # Stop listeners run in reverse: the spans are sent before close_database ends the worker.
    app.after_server_stop(end_tracing)


async def begin_tracing(app: App) -> None:
    """In each worker: the tracer provider and its export thread are a worker's own."""
    settings = app.ctx.settings
    if settings.traces_endpoint is not None:
        app.ctx.tracing = start_tracing(settings.traces_endpoint, settings.service_name)


async def end_tracing(app: App) -> None:
    if app.ctx.tracing is not None:
        await stop_tracing(app.ctx.tracing)


async def freeze_start_up_objects(app: App) -> None:
    """What a worker made to start (modules, the app, its routes: ~80,000 objects) lives as long
    as the worker: moved out of the collector's reach, a full collection under load no longer
    walks it (about 20 to 40 ms each time, a pause every request in flight waits out)."""
    gc.collect()
    gc.freeze()


async def watch_main_process(app: App) -> None:
    stop_with_main_process(app.ctx.settings.shutdown_grace_seconds)


async def open_resources(app: App) -> None:
    settings = app.ctx.settings
    metrics_registry = metrics.exposition_registry()
    metrics.BUILD_INFO.labels(__version__, settings.revision).set(1)
    tracer = app.ctx.tracing.tracer if app.ctx.tracing is not None else None
    store = TimedStore(
        open_store(
            settings.database_url,
            pool_size=settings.database_pool_size,
            timeout=settings.database_timeout_seconds,
            last_seen_interval=timedelta(seconds=settings.last_seen_interval_seconds),
        ),
        tracer=tracer,
        db_system=database_dialect(settings.database_url),
    )
    await store.open()
    app.ctx.resources = Resources(
        store=store,
        readiness=ops.ReadinessProbe(store),
        rate_limits=RateLimits(settings),
        metrics_registry=metrics_registry,
        bot=open_bot(app, store, tracer),
        # A provider's calls get the deadline of a database call: a link waits no longer.
        providers=Providers(settings.oauth, settings.database_timeout_seconds, tracer),
    )


def open_bot(app: App, store: TimedStore, tracer: trace.Tracer | None = None) -> Bot | None:
    """The bot, when Telegram can reach it: a token and the webhook's secret.

    Only then is aiogram imported: its Bot API types take about 130 MB in each process that
    imports them, and neither the main process nor a worker without the bot needs them.
    """
    settings = app.ctx.settings
    token = settings.telegram_bot_token
    if token is None or settings.uses_development_token or not settings.telegram_webhook_secret:
        return None
    from learnbot.bot.client import BotClient
    from learnbot.bot.updates import Bot

    client = BotClient(token, settings.telegram_api_url, tracer)
    return Bot(settings, app.ctx.catalogs, store, client)


async def start_pool_gauges(app: App) -> None:
    app.ctx.pool_gauges = asyncio.get_running_loop().create_task(_pool_gauges(app))


async def end_database_calls_in_time(app: App) -> None:
    app.ctx.resources.store.end_calls_within(app.config.GRACEFUL_SHUTDOWN_TIMEOUT - ANSWER_SECONDS)


async def stop_pool_gauges(app: App) -> None:
    app.ctx.pool_gauges.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await app.ctx.pool_gauges


async def close_database(app: App) -> None:
    if app.ctx.resources.bot is not None:
        await app.ctx.resources.bot.client.close()
    await app.ctx.resources.providers.aclose()
    await app.ctx.resources.store.close()
    metrics.mark_worker_dead(os.getpid())
    exit_soon()


async def _pool_gauges(app: App) -> None:
    while True:
        app.ctx.resources.store.publish_pool_gauges()
        await asyncio.sleep(POOL_GAUGE_SECONDS)

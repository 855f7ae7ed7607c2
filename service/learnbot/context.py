"""The types of `app.ctx` and `request.ctx`, so that handlers read them without casts."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING

from sanic import Request, Sanic
from sanic.config import Config

if TYPE_CHECKING:
    # Annotations only: learnbot.api.ops and learnbot.api.rate_limits import this module.
    from contextvars import Token

    from opentelemetry.context.context import Context
    from opentelemetry.trace import Span
    from prometheus_client import CollectorRegistry

    from learnbot.api.ops import ReadinessProbe
    from learnbot.api.rate_limits import RateLimits
    from learnbot.bot.updates import Bot
    from learnbot.i18n.catalogs import LocaleCatalog
    from learnbot.oauth.providers import Providers
    from learnbot.observability.timed_store import TimedStore
    from learnbot.observability.tracing import Tracing
    from learnbot.settings import Settings


@dataclass(frozen=True)
class Resources:
    """A worker's connections and limiters, opened before it serves, closed after it stops."""

    store: TimedStore
    readiness: ReadinessProbe
    rate_limits: RateLimits
    metrics_registry: CollectorRegistry
    providers: Providers
    # The bot, where TELEGRAM_BOT_TOKEN (not the development one) is set.
    bot: Bot | None = None


@dataclass
class AppContext:
    """`app.ctx`. Not frozen: sanic-ext keeps its own state here too (`cors`, `_dependencies`).

    `settings` and `catalogs` exist from the app's creation; the other fields are set by the
    server's start-up listeners, in each worker.
    """

    settings: Settings
    catalogs: Mapping[str, LocaleCatalog]
    resources: Resources = field(init=False)
    openapi_document: bytes = field(init=False)
    pool_gauges: asyncio.Task[None] = field(init=False)
    # Set in each worker when tracing is on (Settings.traces_endpoint).
    tracing: Tracing | None = None


App = Sanic[Config, AppContext]


class RequestContext(SimpleNamespace):
    """`request.ctx`: what the middleware and the handlers learn about a request."""

    started: float | None = None
    request_id: str | None = None
    locale: str | None = None
    telegram_id: int | None = None
    # The request's server span and the token that made it current, when tracing is on.
    span: Span | None = None
    span_token: Token[Context] | None = None


class AppRequest(Request[App, RequestContext]):
    @staticmethod
    def make_context() -> RequestContext:
        return RequestContext()

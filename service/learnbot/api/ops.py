from __future__ import annotations

import asyncio
import json as jsonlib
import time
from collections.abc import Callable

from sanic import Blueprint
from sanic.response import HTTPResponse, json, raw
from sanic_ext import openapi
from sanic_ext.extensions.openapi.builders import SpecificationBuilder

from learnbot.api import schemas
from learnbot.api.problems import DatabaseUnavailable, MetricsNotPublic
from learnbot.context import App, AppRequest
from learnbot.i18n.markers import N_
from learnbot.observability import metrics
from learnbot.storage import MigrationState, StorageError, UserStore

bp = Blueprint("ops")

# How old /ready's answer may be: each worker asks the database at most once per interval.
READINESS_TTL_SECONDS = 1.0


class ReadinessProbe:
    """The database's migration state, asked at most once per `ttl` seconds; concurrent callers
    share one query, so a flood of /ready costs the database nothing more."""

    def __init__(
        self,
        store: UserStore,
        ttl: float = READINESS_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock
        self._lock = asyncio.Lock()
        self._checked_at: float | None = None
        self._state: MigrationState | None = None

    async def state(self) -> MigrationState | None:
        """The migration state, or None when the database did not answer."""
        async with self._lock:
            if self._checked_at is None or self._clock() - self._checked_at >= self._ttl:
                try:
                    self._state = await self._store.migration_state()
                except StorageError:
                    self._state = None
                self._checked_at = self._clock()
            return self._state


@bp.get("/health")
@openapi.definition(
    summary="Liveness: the process answers; the database is not consulted",
    response=schemas.responses(200, schemas.STATUS),
)
async def health(request: AppRequest) -> HTTPResponse:
    return json({"status": "ok"})


@bp.get("/ready")
@openapi.definition(
    summary="Readiness: the database answers and its migrations are current",
    response=schemas.responses(200, schemas.STATUS, 503),
)
async def ready(request: AppRequest) -> HTTPResponse:
    problem = await readiness_problem(request.app.ctx.resources.readiness)
    if problem is not None:
        raise problem
    return json({"status": "ready"})


async def readiness_problem(readiness: ReadinessProbe) -> DatabaseUnavailable | None:
    """Why the service is not ready, or None; keeps the app_ready gauge in step."""
    problem: DatabaseUnavailable | None = None
    state = await readiness.state()
    if state is None:
        problem = DatabaseUnavailable(N_("The database does not answer."))
    elif not state.current:
        problem = DatabaseUnavailable(
            N_(
                "The database schema is at version %(applied)d, this release needs "
                "%(latest)d: run 'learnbot migrate'."
            ),
            params={"applied": state.applied, "latest": state.latest},
            extensions={"applied": state.applied, "latest": state.latest},
        )
    metrics.APP_READY.set(0 if problem else 1)
    return problem


@bp.get("/metrics")
@openapi.definition(
    summary="Prometheus metrics of every worker, in the text exposition format",
    response=[openapi.definitions.Response({"text/plain": str}, status=200)],
)
async def prometheus_metrics(request: AppRequest) -> HTTPResponse:
    # Prometheus scrapes each instance directly; a request that came through a proxy (the
    # Kubernetes Ingress, which routes every path) came from outside.
    if "x-forwarded-for" in request.headers or "forwarded" in request.headers:
        raise MetricsNotPublic(
            N_("Metrics are for Prometheus on the internal network, not through a proxy.")
        )
    resources = request.app.ctx.resources
    await readiness_problem(resources.readiness)
    resources.store.publish_pool_gauges()
    body, content_type = metrics.exposition(resources.metrics_registry)
    return raw(body, content_type=content_type)


@bp.get("/openapi.json")
@openapi.exclude()
async def openapi_document(request: AppRequest) -> HTTPResponse:
    return raw(request.app.ctx.openapi_document, content_type="application/json")


@bp.after_server_start
async def build_openapi_document(app: App) -> None:
    """The routes are fixed once the server runs, so the document is built once per worker."""
    document = SpecificationBuilder().build(app).serialize()  # type: ignore[no-untyped-call]
    app.ctx.openapi_document = jsonlib.dumps(document, separators=(",", ":")).encode()

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json, raw
from sanic_ext import openapi
from sanic_ext.extensions.openapi.builders import SpecificationBuilder

from learnbot.api import schemas
from learnbot.api.context import store_of
from learnbot.api.problems import DatabaseUnavailable
from learnbot.i18n.markers import N_
from learnbot.observability import metrics
from learnbot.storage import StorageError, UserStore

bp = Blueprint("ops")


@bp.get("/health")
@openapi.definition(
    summary="Liveness: the process answers; the database is not consulted",
    response=schemas.responses(200, schemas.STATUS),
)
async def health(request: Request) -> HTTPResponse:
    return json({"status": "ok"})


@bp.get("/ready")
@openapi.definition(
    summary="Readiness: the database answers and its migrations are current",
    response=schemas.responses(200, schemas.STATUS, 503),
)
async def ready(request: Request) -> HTTPResponse:
    problem = await readiness_problem(store_of(request))
    if problem is not None:
        raise problem
    return json({"status": "ready"})


async def readiness_problem(store: UserStore) -> DatabaseUnavailable | None:
    """Why the service is not ready, or None; keeps the app_ready gauge in step."""
    problem: DatabaseUnavailable | None = None
    try:
        state = await store.migration_state()
    except StorageError:
        problem = DatabaseUnavailable(N_("The database does not answer."))
    else:
        if not state.current:
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
async def prometheus_metrics(request: Request) -> HTTPResponse:
    await readiness_problem(store_of(request))
    request.app.ctx.store.publish_pool_gauges()
    body, content_type = metrics.exposition(request.app.ctx.metrics_registry)
    return raw(body, content_type=content_type)


@bp.get("/openapi.json")
@openapi.exclude()
async def openapi_document(request: Request) -> HTTPResponse:
    document = SpecificationBuilder().build(request.app)
    return json(document.serialize())  # type: ignore[no-untyped-call]

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from sanic_ext import openapi
from sanic_ext.extensions.openapi.builders import SpecificationBuilder

from learnbot.api import schemas
from learnbot.api.context import store_of
from learnbot.api.problems import DatabaseUnavailable
from learnbot.storage import StorageError

bp = Blueprint("ops")


@bp.get("/health")
@openapi.definition(
    summary="Liveness: the process answers; the database is not consulted",
    response=schemas.responses(200, schemas.Status),
)
async def health(request: Request) -> HTTPResponse:
    return json({"status": "ok"})


@bp.get("/ready")
@openapi.definition(
    summary="Readiness: the database answers and its migrations are current",
    response=schemas.responses(200, schemas.Status, 503),
)
async def ready(request: Request) -> HTTPResponse:
    try:
        state = await store_of(request).migration_state()
    except StorageError:
        raise DatabaseUnavailable("The database does not answer.") from None
    if not state.current:
        raise DatabaseUnavailable(
            f"The database schema is at version {state.applied}, this release needs "
            f"{state.latest}: run 'learnbot migrate'.",
            extensions={"applied": state.applied, "latest": state.latest},
        )
    return json({"status": "ready"})


@bp.get("/openapi.json")
@openapi.exclude()
async def openapi_document(request: Request) -> HTTPResponse:
    document = SpecificationBuilder().build(request.app)
    return json(document.serialize())  # type: ignore[no-untyped-call]

"""Per-request bookkeeping: the request id, the access log line and the HTTP metrics."""

from __future__ import annotations

import logging
from functools import lru_cache
from time import perf_counter

from prometheus_client.metrics import Counter, Histogram
from sanic.response import BaseHTTPResponse

from learnbot.context import AppRequest
from learnbot.observability.logs import accept_request_id, request_id_var
from learnbot.observability.metrics import (
    HTTP_DURATION,
    HTTP_METHODS,
    HTTP_REQUESTS,
    OTHER_METHOD,
    UNMATCHED_ROUTE,
)
from learnbot.observability.sentry import tag_request

access_log = logging.getLogger("learnbot.access")

REQUEST_ID_HEADER = "X-Request-ID"


@lru_cache(maxsize=256)
def route_label(path: str) -> str:
    """Sanic's `admin/users/<telegram_id:int>/block` as `/admin/users/<telegram_id>/block`."""
    parts = []
    for part in path.strip("/").split("/"):
        if part.startswith("<") and part.endswith(">"):
            part = "<" + part[1:-1].split(":", 1)[0] + ">"
        parts.append(part)
    return "/" + "/".join(parts)


def method_label(method: str) -> str:
    """The request's method as metrics and logs name it: one of HTTP_METHODS, else "other"."""
    return method if method in HTTP_METHODS else OTHER_METHOD


@lru_cache(maxsize=1024)
def _series(method: str, route: str, status: int) -> tuple[Counter, Histogram]:
    """The labelled metric children of a (method, route, status): looked up once, not per
    request (routes are Sanic's patterns, so the set is small)."""
    return (
        HTTP_REQUESTS.labels(method, route, str(status)),
        HTTP_DURATION.labels(method, route),
    )


async def begin_request(request: AppRequest) -> None:
    if request.ctx.request_id is not None:
        return  # the error path runs request middleware a second time
    request.ctx.started = perf_counter()
    request_id = accept_request_id(request.headers.get(REQUEST_ID_HEADER))
    request.ctx.request_id = request_id
    request_id_var.set(request_id)
    tag_request(request_id)


async def end_request(request: AppRequest, response: BaseHTTPResponse) -> None:
    started = request.ctx.started if request.ctx.started is not None else perf_counter()
    elapsed = perf_counter() - started
    route = route_label(request.route.path) if request.route else UNMATCHED_ROUTE
    status = response.status
    method = method_label(request.method)
    requests, duration = _series(method, route, status)
    requests.inc()
    duration.observe(elapsed)
    request_id = request.ctx.request_id or accept_request_id(None)
    response.headers[REQUEST_ID_HEADER] = request_id
    if not access_log.isEnabledFor(logging.INFO):
        return
    fields: dict[str, object] = {
        "request_id": request_id,
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": round(elapsed * 1000, 2),
    }
    telegram_id = request.ctx.telegram_id
    if telegram_id is not None:
        fields["telegram_id"] = telegram_id
    access_log.info("request", extra=fields)

"""OpenTelemetry traces, when OTEL_* switch them on (Settings.traces_endpoint): a server span per
request, continuing the caller's W3C `traceparent`, with a child span per store call, exported
over OTLP/HTTP from each worker. Off, none of this is installed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sanic.response import BaseHTTPResponse

from learnbot import __version__
from learnbot.context import AppRequest
from learnbot.observability.metrics import HTTP_METHODS, UNMATCHED_ROUTE
from learnbot.observability.requests import route_label
from learnbot.observability.sentry import tag_trace

TRACER_NAME = "learnbot"
# At stop, spans not yet sent get this long to reach the collector; then they are dropped
# rather than holding up the worker's exit.
FLUSH_SECONDS = 1.0

_W3C = TraceContextTextMapPropagator()


@dataclass(frozen=True)
class Tracing:
    provider: TracerProvider
    tracer: trace.Tracer


def start_tracing(endpoint: str, service_name: str) -> Tracing:
    """In a worker, before it serves. The SDK reads the other OTEL_* variables (the sampler,
    the batch delays, the exporter's headers and timeout) as OpenTelemetry specifies them."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name, "service.version": __version__}),
        shutdown_on_exit=False,
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return Tracing(provider, provider.get_tracer(TRACER_NAME, __version__))


async def stop_tracing(tracing: Tracing) -> None:
    """Sends the spans still queued, within FLUSH_SECONDS."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.to_thread(tracing.provider.shutdown), FLUSH_SECONDS)


def server_attributes(scheme: str, host: str, port: int | None) -> dict[str, str | int]:
    """`server.address` and `server.port` of an outgoing call; the port the scheme implies when
    the URL names none."""
    return {
        "server.address": host,
        "server.port": port or (443 if scheme == "https" else 80),
    }


def inject_trace_context(headers: MutableMapping[str, str]) -> None:
    """Adds the current span's W3C `traceparent` to an outgoing request's headers."""
    _W3C.inject(headers)


@contextlib.contextmanager
def client_span(
    tracer: trace.Tracer | None, name: str, attributes: Mapping[str, str | int]
) -> Iterator[trace.Span | None]:
    """A client span around a call the service makes (a provider, the Bot API), a child of the
    request's span; None with tracing off. An exception, a cancellation too, sets the error
    status and `error.type` to its kind; its message and traceback are not recorded, since a
    client library's may quote the URL (the Bot API's holds the token)."""
    if tracer is None:
        yield None
        return
    with tracer.start_as_current_span(
        name,
        kind=SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as error:
            span.set_attribute("error.type", type(error).__name__)
            span.set_status(StatusCode.ERROR, type(error).__name__)
            raise


def end_client_span(span: trace.Span | None, status: int) -> None:
    """Records the answer's HTTP status; 4xx and 5xx are errors of a client span."""
    if span is None:
        return
    span.set_attribute("http.response.status_code", status)
    if status >= 400:
        span.set_attribute("error.type", str(status))
        span.set_status(StatusCode.ERROR)


def span_method(method: str) -> str:
    """http.request.method as the semantic conventions name an unknown method."""
    return method if method in HTTP_METHODS else "_OTHER"


def server_span(tracing: Tracing, request: AppRequest) -> trace.Span:
    method = span_method(request.method)
    route = route_label(request.route.path) if request.route else None
    attributes = {"http.request.method": method, "url.path": request.path}
    if route is not None:
        attributes["http.route"] = route
    return tracing.tracer.start_span(
        f"{method} {route or UNMATCHED_ROUTE}",
        # A fresh context: on a kept-alive connection, the previous request's is still current.
        context=_W3C.extract(request.headers),
        kind=SpanKind.SERVER,
        attributes=attributes,
    )


async def begin_span(request: AppRequest) -> None:
    if request.ctx.span is not None:
        return  # the error path runs request middleware a second time
    tracing = request.app.ctx.tracing
    if tracing is None:
        return
    span = server_span(tracing, request)
    request.ctx.span = span
    request.ctx.span_token = otel_context.attach(trace.set_span_in_context(span))
    tag_trace(trace.format_trace_id(span.get_span_context().trace_id))


async def end_span(request: AppRequest, response: BaseHTTPResponse) -> None:
    span = request.ctx.span
    tracing = request.app.ctx.tracing
    if span is None and tracing is not None:
        # Answered before the request middleware ran (a body that stalled): a span of the
        # answer alone, as the metrics count it.
        span = server_span(tracing, request)
    if span is None:
        return
    status = response.status
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_attribute("error.type", str(status))
        span.set_status(StatusCode.ERROR)
    span.end()
    if request.ctx.span_token is not None:
        otel_context.detach(request.ctx.span_token)
    request.ctx.span_token = None

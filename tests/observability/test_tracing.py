"""Traces of a real `learnbot serve`, received by a real OTLP/HTTP receiver."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from learnbot.observability.tracing import client_span
from otlp_receiver import ReceivedSpan, otlp_receiver
from service_process import (
    Server,
    begin_sign_in,
    init_data,
    new_telegram_id,
    server_env,
    start_server,
)

# Spans leave the service a tenth of a second after they end, not five seconds.
QUICK_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "100"}


def log_lines(server: Server) -> list[dict[str, Any]]:
    return [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]


def access_line(server: Server, request_id: str) -> dict[str, Any]:
    return next(
        line
        for line in log_lines(server)
        if line["logger"] == "learnbot.access" and line.get("request_id") == request_id
    )


def sign_in(server: Server, headers: dict[str, str] | None = None) -> httpx.Response:
    response = httpx.post(
        server.url + "/auth/telegram",
        json={"init_data": init_data(new_telegram_id())},
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 200
    return response


def server_span_of(spans: list[ReceivedSpan], trace_id: str) -> ReceivedSpan | None:
    return next((s for s in spans if s.trace_id == trace_id and s.kind == "SPAN_KIND_SERVER"), None)


def test_a_sign_in_is_one_trace_of_the_request_and_its_queries(
    database_url: str, tmp_path: Path
) -> None:
    backend = database_url.split(":", 1)[0]
    with otlp_receiver() as receiver:
        env = server_env(database_url, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, **QUICK_EXPORT)
        server = start_server(env, tmp_path / "server.log")
        try:
            answered = sign_in(server)
            request_id = answered.headers["x-request-id"]
            spans = receiver.wait_for(
                lambda spans: any(s.name == "POST /auth/telegram" for s in spans)
            )
            request = next(s for s in spans if s.name == "POST /auth/telegram")
            queries = receiver.wait_for(
                lambda spans: any(s.parent_span_id == request.span_id for s in spans)
            )
        finally:
            server.stop()

    assert request.kind == "SPAN_KIND_SERVER"
    assert request.parent_span_id == ""
    assert request.attributes == {
        "http.request.method": "POST",
        "http.route": "/auth/telegram",
        "url.path": "/auth/telegram",
        "http.response.status_code": 200,
    }
    assert request.status == "STATUS_CODE_UNSET"
    assert request.resource["service.name"] == "learnbot"
    children = [s for s in queries if s.parent_span_id == request.span_id]
    assert [s.name for s in children] == ["upsert_user"]
    (query,) = children
    assert query.trace_id == request.trace_id
    assert query.kind == "SPAN_KIND_CLIENT"
    assert query.attributes == {"db.system": backend, "db.operation.name": "upsert_user"}
    line = access_line(server, request_id)
    assert (line["trace_id"], line["span_id"]) == (request.trace_id, request.span_id)


def test_a_caller_s_traceparent_is_continued(tmp_path: Path) -> None:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    with otlp_receiver() as receiver:
        env = server_env(
            f"sqlite:///{tmp_path}/t.db",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
            OTEL_SERVICE_NAME="learnbot-eu",
            RESPONSE_TIMEOUT_SECONDS="2",
            **QUICK_EXPORT,
        )
        server = start_server(env, tmp_path / "server.log")
        try:
            answered = sign_in(server, {"traceparent": f"00-{trace_id}-{parent_id}-01"})
            spans = receiver.wait_for(lambda spans: server_span_of(spans, trace_id) is not None)
            unmatched = httpx.get(server.url + "/nowhere", timeout=10)
            receiver.wait_for(lambda spans: any(s.name == "GET unmatched" for s in spans))
            stalled, _, _ = begin_sign_in(server.url, 40).answer()
            receiver.wait_for(
                lambda spans: any(
                    s.attributes.get("http.response.status_code") == 408 for s in spans
                )
            )
        finally:
            server.stop()

    request = server_span_of(spans, trace_id)
    assert request is not None
    assert request.parent_span_id == parent_id
    assert request.resource["service.name"] == "learnbot-eu"
    assert access_line(server, answered.headers["x-request-id"])["trace_id"] == trace_id
    assert unmatched.status_code == 404
    unmatched_span = next(s for s in receiver.spans if s.name == "GET unmatched")
    assert "http.route" not in unmatched_span.attributes
    assert unmatched_span.attributes["http.response.status_code"] == 404
    assert unmatched_span.trace_id != trace_id
    # A request refused before the middleware ran has its span too.
    assert stalled == 408
    (timed_out,) = [
        s for s in receiver.spans if s.attributes.get("http.response.status_code") == 408
    ]
    assert timed_out.name == "POST /auth/telegram"
    # The span was current from the first middleware to the last, the error path's too.
    assert not [line for line in log_lines(server) if line["level"] == "ERROR"]


def test_every_worker_sends_the_spans_still_queued_when_the_service_stops(
    tmp_path: Path,
) -> None:
    with otlp_receiver() as receiver:
        env = server_env(
            f"sqlite:///{tmp_path}/t.db",
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=receiver.url + "/v1/traces",
            OTEL_BSP_SCHEDULE_DELAY="60000",
            WORKERS="2",
        )
        # Two workers start slowly on a busy machine; the first answers while the second may
        # still be starting, and a stop then would test the start-up, not the export.
        server = start_server(env, tmp_path / "server.log", timeout=60)
        try:
            server.wait_until_workers_ready(2)
            # Each on a connection of its own, so that either worker may take it.
            for _ in range(6):
                sign_in(server)
        finally:
            server.stop()
        assert server.process.returncode == 0, server.log()
        signed_in = [s for s in receiver.spans if s.name == "POST /auth/telegram"]
    assert len(signed_in) == 6, server.log()


def test_with_the_variables_unset_nothing_is_traced(tmp_path: Path) -> None:
    with otlp_receiver() as receiver:
        server = start_server(server_env(f"sqlite:///{tmp_path}/t.db"), tmp_path / "server.log")
        try:
            answered = sign_in(
                server, {"traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"}
            )
            time.sleep(0.5)
        finally:
            server.stop()
        assert receiver.requests == 0
    line = access_line(server, answered.headers["x-request-id"])
    assert "trace_id" not in line
    assert not any("trace_id" in line for line in log_lines(server))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "otel-collector:4318"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://otel-collector/v1/traces"),
    ],
)
def test_a_bad_endpoint_stops_start_up_naming_the_variable(
    variable: str, value: str, tmp_path: Path
) -> None:
    env = server_env(f"sqlite:///{tmp_path}/t.db", **{variable: value})
    finished = subprocess.run(
        [sys.executable, "-m", "learnbot", "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert finished.returncode == 2
    assert f"{variable}: an http(s) URL of an OTLP/HTTP collector" in finished.stderr


@pytest.mark.parametrize("error", [RuntimeError, asyncio.CancelledError])
def test_a_failed_outbound_call_s_span_has_the_error_kind_but_not_its_message(
    error: type[BaseException],
) -> None:
    """A client library's message may quote the URL, and the Bot API's URL holds the token."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    secret = "https://api.telegram.org/bot123456:AAsecret-token-in-the-url/sendMessage"

    with pytest.raises(error), client_span(provider.get_tracer("test"), "telegram sendMessage", {}):
        raise error(secret)

    (span,) = exporter.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == error.__name__
    assert span.attributes == {"error.type": error.__name__}
    assert not span.events

"""Error reports to Sentry when SENTRY_DSN is set; nothing secret leaves the process."""

from __future__ import annotations

from typing import Any

import sentry_sdk
from sentry_sdk.integrations.sanic import SanicIntegration
from sentry_sdk.transport import Transport

from learnbot import __version__
from learnbot.observability.logs import scrub
from learnbot.storage import StorageError

_SECRET_HEADERS = frozenset({"authorization", "cookie", "x-telegram-init-data"})


def scrub_event(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    exc_info = hint.get("exc_info")
    if exc_info and isinstance(exc_info[1], StorageError):
        return None  # a database outage is an alert (LearnbotPostgresDown), not an error report
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("data", None)
        request.pop("query_string", None)
        request.pop("cookies", None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                k: v for k, v in headers.items() if k.lower() not in _SECRET_HEADERS
            }
    return _scrub_strings(event)  # type: ignore[no-any-return]


def _scrub_strings(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_strings(v) for v in value]
    return value


def init_sentry(dsn: str, environment: str, transport: type[Transport] | None = None) -> None:
    options: dict[str, Any] = {}
    if transport is not None:
        options["transport"] = transport
    # send_default_pii keeps its default, off (passing it is deprecated in sentry-sdk 2.5x).
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=f"learnbot@{__version__}",
        max_request_body_size="never",
        include_local_variables=False,
        integrations=[SanicIntegration()],
        before_send=scrub_event,  # type: ignore[arg-type]
        **options,
    )


def tag_request(request_id: str) -> None:
    if sentry_sdk.get_client().is_active():
        sentry_sdk.set_tag("request_id", request_id)


def tag_trace(trace_id: str) -> None:
    """The request's trace id on its error reports, to find the trace from the report."""
    if sentry_sdk.get_client().is_active():
        sentry_sdk.set_tag("trace_id", trace_id)

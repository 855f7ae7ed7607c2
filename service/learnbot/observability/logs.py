"""JSON log lines (or a console form), each tagged with the request id, never with a secret."""

from __future__ import annotations

import logging
import math
import os
import re
import time
from contextvars import ContextVar
from typing import Any, Literal

from opentelemetry import trace

from learnbot.json_text import log_line

LogFormat = Literal["json", "console"]

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
LOGGABLE_CHARACTERS = 200
# Defence in depth: the code never logs these, but an exception message might carry them.
SECRET_PATTERNS = (
    (re.compile(r"\b\d{3,20}:[A-Za-z0-9_-]{30,}"), "[bot-token]"),
    (re.compile(r"(?i)\btma\s+\S+"), "tma [init-data]"),
    (
        re.compile(r"(?i)\b(hash|signature)(=|%3D|\"?\s*:\s*\"?)[A-Za-z0-9_\-+/=]{16,}"),
        r"\1\2[redacted]",
    ),
    (re.compile(r"(?i)\bauth_date(=|%3D)[^\s\"']+"), "auth_date=[init-data]"),
    (re.compile(r"(?i)\b(user|query_id)(=|%3D)[^\s\"']*(&|%26)[^\s\"']*"), "[init-data]"),
    (re.compile(r"(?i)(://[^:/@\s]+:)[^@\s]+@"), r"\1[password]@"),
    (re.compile(r"(?i)(password\s*=\s*)\S+"), r"\1[password]"),
    # OAuth: a callback's query, a token request's or response's fields.
    (
        re.compile(
            r"(?i)\b(code|state|nonce|code_verifier|code_challenge|access_token|refresh_token"
            r"|id_token|client_secret)(=|%3D|\"?\s*:\s*\"?)[^\s&\"',;]+"
        ),
        r"\1\2[redacted]",
    ),
    # A JWT (an ID token), and GitHub's tokens, wherever they stand.
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[jwt]"),
    (re.compile(r"\bgh[opsur]_[A-Za-z0-9]{16,}"), "[github-token]"),
)
# Every pattern above needs one of these: most messages have none and skip the patterns.
_MAY_HOLD_A_SECRET = re.compile(r"(?i)[:=]|%3d|tma|eyJ|gh[opsur]_")
_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "request_id",
}


def scrub(text: str) -> str:
    if _MAY_HOLD_A_SECRET.search(text) is None:
        return text
    for pattern, replacement in SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def loggable(text: str) -> str:
    """Caller-chosen text (a path) as a log line may hold it: control characters and lone
    surrogates escaped, at most LOGGABLE_CHARACTERS of it."""
    escaped = repr(text[:LOGGABLE_CHARACTERS])[1:-1]
    if len(text) > LOGGABLE_CHARACTERS or len(escaped) > LOGGABLE_CHARACTERS:
        return escaped[:LOGGABLE_CHARACTERS] + "..."
    return escaped


def accept_request_id(header: str | None) -> str:
    """The caller's X-Request-ID when it is a sane token, else a new one."""
    if header is not None and _REQUEST_ID.fullmatch(header):
        return header
    # 32 random hex digits, as uuid4().hex gave, at a sixth of its cost.
    return os.urandom(16).hex()


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


class TraceFilter(logging.Filter):
    """With tracing on: the trace and span current when the line was logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            record.trace_id = trace.format_trace_id(span.trace_id)
            record.span_id = trace.format_span_id(span.span_id)
        return True


_second_text: tuple[int, str] = (0, "1970-01-01T00:00:00")


def log_timestamp(created: float) -> str:
    """`datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")`, with the
    date and time of the second formatted once per second rather than once per line."""
    global _second_text
    second = math.floor(created)
    microseconds = round((created - second) * 1_000_000)  # rounded half-even, as datetime does
    if microseconds >= 1_000_000:
        second, microseconds = second + 1, microseconds - 1_000_000
    cached_second, text = _second_text
    if second != cached_second:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second_text = (second, text)
    return f"{text}.{microseconds // 1000:03d}+00:00"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": log_timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = scrub(self.formatException(record.exc_info))
        return log_line(line)


class ConsoleFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = getattr(record, "request_id", None)
        extras = {
            k: v
            for k, v in record.__dict__.items()
            if k not in _STANDARD_ATTRIBUTES and not k.startswith("_")
        }
        if extras:
            text += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        if request_id:
            text += f" request_id={request_id}"
        return scrub(text)


def logging_config(level: str, log_format: LogFormat, *, traced: bool = False) -> dict[str, Any]:
    """A dictConfig for the root logger and Sanic's own loggers, one handler on stdout."""
    formatter = JsonFormatter if log_format == "json" else ConsoleFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}, "trace": {"()": TraceFilter}},
        "formatters": {"default": {"()": formatter}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "default",
                "filters": ["request_id", "trace"] if traced else ["request_id"],
            }
        },
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": {
            name: {"level": level, "handlers": [], "propagate": True}
            for name in ("sanic.root", "sanic.error", "sanic.server", "sanic.websockets")
        }
        | {"sanic.access": {"level": "WARNING", "handlers": [], "propagate": False}}
        # One line a request: the provider calls a link makes are not logged one by one.
        | {
            name: {"level": "WARNING", "handlers": [], "propagate": True}
            for name in ("httpx2", "httpcore2")
        },
    }

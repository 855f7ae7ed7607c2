"""The service's Prometheus metrics; their names and labels are a contract for dashboards."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED_ROUTE = "unmatched"
# The methods the API serves; any other is labelled OTHER_METHOD, so no caller adds series.
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
OTHER_METHOD = "other"
# 0.3 s is the latency SLO's threshold: it must stay a bucket boundary.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0)

# prometheus_client opens its files as metrics are defined, so the directory must exist first.
if os.environ.get(MULTIPROC_DIR_VARIABLE):
    Path(os.environ[MULTIPROC_DIR_VARIABLE]).mkdir(parents=True, exist_ok=True)

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered.", ("method", "route", "status")
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ("method", "route"),
    buckets=DURATION_BUCKETS,
)
AUTH_ATTEMPTS = Counter(
    "auth_attempts_total", "Telegram sign-in and tma header checks.", ("method", "outcome")
)
SIGN_INS = Counter(
    "auth_sign_ins_total", "Successful sign-ins by new or returning users.", ("kind",)
)
BOT_UPDATES = Counter(
    "bot_updates_total", "Telegram updates received by the webhook.", ("type", "outcome")
)
BOT_API_REQUESTS = Counter(
    "bot_api_requests_total", "Calls to the Telegram Bot API.", ("method", "outcome")
)
ACCOUNT_LINKS = Counter(
    "account_links_total",
    "Account links through a provider: started, then one outcome per callback.",
    ("provider", "outcome"),
)
DB_POOL = Gauge(
    "db_pool_connections",
    "PostgreSQL pool connections, summed over live workers.",
    ("state",),
    multiprocess_mode="livesum",
)
DB_QUERY_DURATION = Histogram(
    "db_query_duration_seconds",
    "Time spent in one storage operation.",
    ("operation",),
    buckets=DURATION_BUCKETS,
)
APP_READY = Gauge(
    "app_ready",
    "1 when /ready would answer 200.",
    multiprocess_mode="livemostrecent",
)
BUILD_INFO = Gauge(
    "app_build_info", "The running build.", ("version", "revision"), multiprocess_mode="livemax"
)


def multiproc_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_DIR_VARIABLE)
    return Path(value) if value else None


def reset_multiproc_dir(path: Path) -> None:
    """Empties the directory before workers start, so no dead process's counts linger."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def mark_worker_dead(pid: int) -> None:
    directory = multiproc_dir()
    if directory is not None:
        multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


def exposition_registry() -> CollectorRegistry:
    if multiproc_dir() is None:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    return generate_latest(registry), CONTENT_TYPE_LATEST

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from learnbot import __version__
from service_process import ADMIN_ID, Server, init_data, new_telegram_id, server_env, start_server


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in the text exposition format, 0 when absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if line.startswith(name + " ") and not labels:
            return float(line.split()[-1])
        if found == labels:
            return float(line.split()[-1])
    return 0.0


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def two_workers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp(f"metrics-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{workdir}/metrics.db"
    else:
        url = request.getfixturevalue("module_postgres_url")
    server = start_server(server_env(url, WORKERS="2"), workdir / "server.log")
    server.backend = request.param
    yield server
    server.stop()


def send(url: str, method: str, path: str, **kwargs: Any) -> int:
    # A new connection per request, so the kernel hands them to either worker.
    with httpx.Client(base_url=url, headers={"Connection": "close"}, timeout=10) as http:
        return http.request(method, path, **kwargs).status_code


def test_counts_are_exact_across_two_workers(two_workers: Server) -> None:
    url = two_workers.url
    admin = {"Authorization": "tma " + init_data(ADMIN_ID)}
    blocked_id = new_telegram_id()
    assert send(url, "POST", "/auth/telegram", json={"init_data": init_data(blocked_id)}) == 200
    before = httpx.get(url + "/metrics", timeout=10).text
    # Each request: method, path, httpx's keywords, the status it answers.
    plan: list[tuple[str, str, dict[str, Any], int]] = (
        [("GET", "/health", {}, 200)] * 120
        + [("GET", "/ready", {}, 200)] * 30
        + [("GET", "/no/such/page", {}, 404)] * 25
        + [("GET", f"/missing/{n}", {}, 404) for n in range(15)]
        + [("POST", "/auth/telegram", {"content": b"[]"}, 400)] * 20
        + [("GET", "/me", {"headers": {"Authorization": "tma user=1"}}, 401)] * 10
        + [("POST", f"/admin/users/{blocked_id}/block", {"headers": admin}, 200)] * 3
    )
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda p: send(url, p[0], p[1], **p[2]), plan))
    assert statuses == [p[3] for p in plan]

    after = httpx.get(url + "/metrics", timeout=10).text

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("http_requests_total", method="GET", route="/health", status="200") == 120
    assert grew("http_requests_total", method="GET", route="/ready", status="200") == 30
    assert grew("http_requests_total", method="GET", route="unmatched", status="404") == 40
    assert grew("http_requests_total", method="POST", route="/auth/telegram", status="400") == 20
    assert grew("http_requests_total", method="GET", route="/me", status="401") == 10
    block_route = "/admin/users/<telegram_id>/block"
    assert grew("http_requests_total", method="POST", route=block_route, status="200") == 3
    assert "/missing/" not in after
    assert "backup_" not in after, "the backup job's metrics belong to its own process"
    assert grew("http_request_duration_seconds_count", method="GET", route="/health") == 120
    health_buckets = {"method": "GET", "route": "/health"}
    under_300ms = grew("http_request_duration_seconds_bucket", **health_buckets, le="0.3")
    assert 0 < under_300ms <= 120
    assert grew("http_request_duration_seconds_bucket", **health_buckets, le="+Inf") == 120
    assert grew("auth_attempts_total", method="tma_header", outcome="malformed") == 10
    assert grew("auth_attempts_total", method="tma_header", outcome="ok") == 3
    assert sample(after, "auth_attempts_total", method="init_data", outcome="ok") == 1
    assert sample(after, "auth_sign_ins_total", kind="new") == 1
    assert sample(after, "app_ready") == 1
    assert sample(after, "app_build_info", version=__version__, revision="unknown") == 1
    assert grew("db_query_duration_seconds_count", operation="set_blocked") == 3

    metrics_dir = Path(two_workers.log_path.parent / "metrics")
    pids = {f.stem.rsplit("_", 1)[1] for f in metrics_dir.glob("counter_*.db")}
    assert len(pids) == 2, f"requests reached only the workers {pids}"


def test_pool_gauges_on_postgresql(two_workers: Server) -> None:
    text = httpx.get(two_workers.url + "/metrics", timeout=10).text
    if two_workers.backend == "sqlite":
        assert "db_pool_connections{" not in text
    else:
        assert sample(text, "db_pool_connections", state="size") >= 1
        assert 'db_pool_connections{state="waiting"}' in text


def test_a_fresh_start_forgets_old_counts(tmp_path: Path) -> None:
    env = server_env(f"sqlite:///{tmp_path}/restart.db")
    for _ in range(2):
        server = start_server(env, tmp_path / "server.log")
        try:
            for _ in range(5):
                httpx.get(server.url + "/ready")
            text = httpx.get(server.url + "/metrics").text
        finally:
            server.stop()
        assert sample(text, "http_requests_total", method="GET", route="/ready", status="200") == 5

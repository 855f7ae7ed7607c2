"""A real Prometheus scrapes a real learnbot and evaluates every rule and dashboard query."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from learnbot_platform.repository import rule_paths
from pulumi_program import ROOT
from service_process import Server, free_port, init_data, new_telegram_id, server_env, start_server
from waiting import wait_until

# Grafana fills these in; any duration Prometheus accepts does here.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}
ROUTES = ("/health", "/ready", "/auth/telegram", "unmatched")

pytestmark = pytest.mark.slow


def rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in rule_paths()
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def dashboard_queries() -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"]
                for variable, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(variable, value)
                found.append((f"{path.name}: {panel['title']}", expr))
    return found


@pytest.fixture
def learnbot(sqlite_url: str, tmp_path: Path) -> Iterator[Server]:
    server = start_server(server_env(sqlite_url), tmp_path / "learnbot.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def backup_job(postgres_url: str, tmp_path: Path) -> Iterator[str]:
    """`learnbot backup run`, the long-running job, serving its metrics on a free port."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": postgres_url,
        "BACKUP_DIR": str(tmp_path / "backups"),
        "BACKUP_METRICS_HOST": "127.0.0.1",
        "BACKUP_METRICS_PORT": str(port),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "backup-metrics"),
    }
    log_path = tmp_path / "backup.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "learnbot", "backup", "run"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    address = f"127.0.0.1:{port}"
    try:
        # A fresh job takes its first backup at once, so its success shows up quickly.
        assert wait_until(
            lambda: (
                "backup_last_success_timestamp_seconds" in metrics_text(address)
                and "backup_kept_count 1.0" in metrics_text(address)
            ),
            timeout=60,
        ), log_path.read_text()
        yield address
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def metrics_text(address: str) -> str:
    try:
        return httpx.get(f"http://{address}/metrics", timeout=1).text
    except httpx.TransportError:
        return ""


@pytest.fixture
def prometheus(learnbot: Server, backup_job: str, tmp_path: Path) -> Iterator[httpx.Client]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus not found: install Debian's prometheus package")
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in rule_paths()],
        "scrape_configs": [
            {
                "job_name": "learnbot-api",
                "static_configs": [{"targets": [learnbot.url.removeprefix("http://")]}],
            },
            {"job_name": "learnbot-backup", "static_configs": [{"targets": [backup_job]}]},
            {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]},
        ],
    }
    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config))
    log_path = tmp_path / "prometheus.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            assert wait_until(lambda: answers(client, "/-/ready")), log_path.read_text()
            yield client
    finally:
        process.terminate()
        process.wait(timeout=15)


def answers(client: httpx.Client, path: str) -> bool:
    try:
        return client.get(path, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def query(prometheus: httpx.Client, expr: str) -> dict[str, Any]:
    answer: dict[str, Any] = prometheus.get("/api/v1/query", params={"query": expr}).json()
    return answer


def series(prometheus: httpx.Client, expr: str) -> list[dict[str, Any]]:
    answer = query(prometheus, expr)
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def drive_traffic(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=5) as client:
        for _ in range(3):
            assert client.get("/health").status_code == 200
            assert client.get("/ready").status_code == 200
            assert client.get("/no/such/page").status_code == 404
        signed = init_data(new_telegram_id())
        assert client.post("/auth/telegram", json={"init_data": signed}).status_code == 200
        forged = init_data(new_telegram_id(), token="123456789:AAwrong-token-of-another-bot_00000")
        assert client.post("/auth/telegram", json={"init_data": forged}).status_code == 401


def evaluation_failures(prometheus: httpx.Client) -> list[str]:
    failures = []
    for rule in rules():
        answer = query(prometheus, rule["expr"])
        if answer["status"] != "success":
            failures.append(f"{rule.get('alert') or rule['record']}: {answer.get('error')}")
    for panel, expr in dashboard_queries():
        answer = query(prometheus, expr) if "$" not in expr else {"error": "unknown variable"}
        if answer.get("status") != "success":
            failures.append(f"{panel}: {answer.get('error')}")
    return failures


def frequent_rules(prometheus: httpx.Client) -> list[dict[str, Any]]:
    """Rules of the groups that run every evaluation_interval (1 s here)."""
    groups = prometheus.get("/api/v1/rules").json()["data"]["groups"]
    return [rule for group in groups if group["interval"] <= 1 for rule in group["rules"]]


def test_prometheus_scrapes_learnbot_and_evaluates_every_rule_and_dashboard_query(
    learnbot: Server, prometheus: httpx.Client
) -> None:
    exposed = httpx.get(learnbot.url + "/metrics", timeout=5)
    assert exposed.status_code == 200, "learnbot serves no /metrics yet"
    drive_traffic(learnbot)

    def scraped_and_recorded() -> bool:
        return bool(
            series(prometheus, 'http_requests_total{job="learnbot-api", route="/auth/telegram"}')
            and series(prometheus, 'job:slo_availability_errors:ratio_rate5m{job="learnbot-api"}')
            and series(prometheus, 'job:slo_latency_slow:ratio_rate5m{job="learnbot-api"}')
        )

    assert wait_until(scraped_and_recorded), "no learnbot series or recordings after 30 s"
    for route in ROUTES:
        assert series(prometheus, f'http_requests_total{{job="learnbot-api", route="{route}"}}')
    assert series(prometheus, 'auth_attempts_total{job="learnbot-api", outcome="bad_signature"}')
    assert series(prometheus, 'auth_sign_ins_total{job="learnbot-api", kind="new"}')
    assert wait_until(
        lambda: bool(
            series(prometheus, 'backup_last_success_timestamp_seconds{job="learnbot-backup"} > 0')
        )
    ), "no backup job series after 30 s"
    assert series(prometheus, 'backup_kept_count{job="learnbot-backup"} == 1')
    assert series(prometheus, 'up{job="learnbot-backup"} == 1')

    assert evaluation_failures(prometheus) == []

    # The 30-day SLO period group runs every 5 minutes, so it may not have run yet.
    expected = sum(
        len(group["rules"])
        for path in rule_paths()
        for group in yaml.safe_load(path.read_text())["groups"]
        if "interval" not in group
    )
    assert wait_until(
        lambda: all(rule["health"] != "unknown" for rule in frequent_rules(prometheus))
    )
    evaluated = frequent_rules(prometheus)
    assert len(evaluated) == expected
    assert [f"{r['name']}: {r.get('lastError')}" for r in evaluated if r["health"] != "ok"] == []

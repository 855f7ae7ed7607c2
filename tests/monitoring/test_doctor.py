"""`learnbot doctor` against real servers: a `learnbot serve` on PostgreSQL, the backup job's
metrics after a real backup and restore drill, and a real Prometheus with the stack's rules;
healthy, then broken. And WAL archiving read from a PostgreSQL cluster of the test's own."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml

from backup_process import backup_env, learnbot_backup
from learnbot.doctor import Finding, _connections, exit_code
from learnbot_platform.repository import rule_paths
from postgres_cluster import private_cluster
from service_process import Server, free_port, server_env, start_server
from waiting import wait_until

pytestmark = pytest.mark.slow

# A page of the test's own, added to the rules once the stack is broken.
TEST_PAGE = {
    "groups": [
        {
            "name": "doctor-test",
            "rules": [
                {
                    "alert": "DoctorTestPage",
                    "expr": "vector(1)",
                    "labels": {"severity": "critical", "component": "test"},
                    "annotations": {
                        "summary": "A page the test fires.",
                        "runbook_url": "runbooks/DoctorTestPage.md",
                    },
                }
            ],
        }
    ]
}


def doctor(*args: str) -> tuple[int, dict[str, Finding]]:
    result = subprocess.run(
        [sys.executable, "-m", "learnbot", "doctor", "--json", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout, result.stderr
    findings = [Finding(**row) for row in json.loads(result.stdout)["findings"]]
    return result.returncode, {finding.check: finding for finding in findings}


@dataclass
class Stack:
    server: Server
    database_url: str
    prometheus: httpx.Client
    rules: Path

    def args(self) -> list[str]:
        return [
            "--api-url",
            self.server.url,
            "--prometheus-url",
            str(self.prometheus.base_url),
            "--database-url",
            self.database_url,
        ]


@pytest.fixture
def stack(postgres_url: str, tmp_path: Path) -> Iterator[Stack]:
    prometheus_binary = shutil.which("prometheus")
    if prometheus_binary is None:
        pytest.skip("prometheus not found: install Debian's prometheus package")
    server = start_server(server_env(postgres_url), tmp_path / "learnbot.log")
    metrics_port, prometheus_port = free_port(), free_port()
    env = backup_env(
        tmp_path / "backups",
        postgres_url,
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "backup-metrics"),
        BACKUP_METRICS_HOST="127.0.0.1",
        BACKUP_METRICS_PORT=str(metrics_port),
    )
    (tmp_path / "backup-metrics").mkdir()
    for command in (("run", "--once"), ("verify", "--restore-drill")):
        done = learnbot_backup(*command, env=env, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    rules = tmp_path / "rules"
    rules.mkdir()
    for path in rule_paths():
        shutil.copy(path, rules / path.name)
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [f"{rules}/*.yml"],
        "scrape_configs": [
            {"job_name": "learnbot-api", "static_configs": [{"targets": [server.url[7:]]}]},
            {
                "job_name": "learnbot-backup",
                "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}],
            },
            {
                "job_name": "prometheus",
                "static_configs": [{"targets": [f"127.0.0.1:{prometheus_port}"]}],
            },
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    with (tmp_path / "processes.log").open("w") as log:
        metrics = subprocess.Popen(
            [sys.executable, "-m", "learnbot", "backup", "metrics"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        prometheus = subprocess.Popen(
            [
                prometheus_binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
                "--web.enable-lifecycle",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    client = httpx.Client(base_url=f"http://127.0.0.1:{prometheus_port}", timeout=10)
    try:
        assert wait_until(lambda: all_targets_up(client, 3)), (
            tmp_path / "processes.log"
        ).read_text()
        yield Stack(server, postgres_url, client, rules)
    finally:
        client.close()
        for process in (prometheus, metrics):
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        server.stop()


def all_targets_up(client: httpx.Client, count: int) -> bool:
    try:
        targets = client.get("/api/v1/targets").json()["data"]["activeTargets"]
    except (httpx.HTTPError, ValueError, KeyError):
        return False
    return len(targets) == count and all(t["health"] == "up" for t in targets)


def test_a_healthy_stack_is_all_ok_and_a_broken_one_says_what_to_do(stack: Stack) -> None:
    code, findings = doctor(*stack.args())
    assert {check: f.status for check, f in findings.items()} == {
        "api ready": "ok",
        "database migrations": "ok",
        "database connections": "ok",
        "wal archiving": "skip",
        "prometheus targets": "ok",
        "prometheus rules": "ok",
        "firing alerts": "ok",
        "last backup": "ok",
        "last restore drill": "ok",
    }, findings
    assert code == 0
    assert findings["prometheus targets"].detail == "3 of 3 up"
    assert findings["last backup"].detail.endswith("minutes ago")

    # Broken: the API stops, and a page fires.
    stack.server.stop()
    (stack.rules / "doctor-test.yml").write_text(yaml.safe_dump(TEST_PAGE))
    assert stack.prometheus.post("/-/reload").status_code == 200
    assert wait_until(lambda: not all_targets_up(stack.prometheus, 3))
    assert wait_until(
        lambda: any(
            a["labels"]["alertname"] == "DoctorTestPage" and a["state"] == "firing"
            for a in stack.prometheus.get("/api/v1/alerts").json()["data"]["alerts"]
        )
    )
    code, findings = doctor(*stack.args())
    assert code == 2
    api = findings["api ready"]
    assert (api.status, api.next) == (
        "fail",
        "the API is down or unreachable: runbooks/LearnbotApiDown.md",
    )
    targets = findings["prometheus targets"]
    assert targets.status == "fail"
    assert targets.detail.startswith("1 of 3 down: learnbot-api/")
    page = findings["alert DoctorTestPage"]
    assert (page.status, page.detail, page.next) == (
        "fail",
        "critical: A page the test fires.",
        "runbooks/DoctorTestPage.md",
    )
    # The dead man's switch fires all the time and is not news.
    assert "alert Watchdog" not in findings
    assert all(f.next for f in findings.values() if f.status == "fail")

    table = subprocess.run(
        [sys.executable, "-m", "learnbot", "doctor", *stack.args()],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert table.returncode == 2
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["CHECK", "STATUS", "DETAIL", "NEXT"]
    assert any(row.startswith("api ready") and " FAIL " in row for row in rows)


def test_wal_archiving_failing_then_working() -> None:
    with private_cluster() as cluster, psycopg.connect(cluster.url, autocommit=True) as admin:
        admin.execute("ALTER SYSTEM SET archive_mode = on")
        admin.execute("ALTER SYSTEM SET archive_command = '/bin/false'")
        admin.close()
        cluster.stop()
        cluster.start()
        with psycopg.connect(cluster.url, autocommit=True) as connection:
            connection.execute("CREATE TABLE written (n int)")
            connection.execute("INSERT INTO written SELECT generate_series(1, 1000)")
            connection.execute("SELECT pg_switch_wal()")
            assert wait_until(lambda: archiver(connection)["failed_count"] > 0)

            _, findings = doctor("--api-url", "http://127.0.0.1:9", "--database-url", cluster.url)
            wal = findings["wal archiving"]
            assert wal.status == "fail"
            assert wal.detail.startswith("the last attempt failed")

            connection.execute("ALTER SYSTEM SET archive_command = '/bin/true'")
            connection.execute("SELECT pg_reload_conf()")
            assert wait_until(lambda: archiver(connection)["archived_count"] > 0, 90)
            _, findings = doctor("--api-url", "http://127.0.0.1:9", "--database-url", cluster.url)
            assert findings["wal archiving"].status == "ok"
            # Never migrated: the doctor says what to run.
            migrations = findings["database migrations"]
            assert migrations.status == "fail"
            assert "learnbot migrate" in migrations.next


def archiver(connection: psycopg.Connection[Any]) -> dict[str, Any]:
    row = connection.execute("SELECT archived_count, failed_count FROM pg_stat_archiver").fetchone()
    assert row is not None
    return {"archived_count": row[0], "failed_count": row[1]}


@pytest.mark.parametrize(
    ("used", "status"), [(10, "ok"), (79, "ok"), (80, "warn"), (94, "warn"), (95, "fail")]
)
def test_connections_warn_near_the_limit_and_fail_at_it(used: int, status: str) -> None:
    finding = _connections(used, 100)
    assert finding.status == status
    assert exit_code([finding]) == {"ok": 0, "warn": 1, "fail": 2}[status]

"""alerts/alertmanager/alertmanager.yml: valid for amtool, routed by severity, inhibiting as
documented."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from learnbot_platform.repository import ALERTMANAGER_FILE, rule_paths
from pulumi_program import ROOT
from service_process import free_port
from waiting import wait_until

CONFIG = ROOT / ALERTMANAGER_FILE
SECRETS_DIR = "/etc/alertmanager/secrets/"
SECRET_PATH = re.compile(re.escape(SECRETS_DIR) + r"[\w.-]+")
TELEGRAM = "telegram-oncall"
TICKETS = "tickets"


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not found: install Debian's prometheus-alertmanager package")
    return path


def alert_rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in rule_paths()
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The configuration with its secret files pointed at temporary files holding test values."""
    text = CONFIG.read_text()
    for secret in sorted(set(SECRET_PATH.findall(text))):
        stand_in = tmp_path / "secrets" / Path(secret).name
        stand_in.parent.mkdir(exist_ok=True)
        stand_in.write_text("test-secret\n")
        text = text.replace(secret, str(stand_in))
    path = tmp_path / "alertmanager.yml"
    path.write_text(text)
    return path


def receivers_for(config: Path, labels: dict[str, str]) -> list[str]:
    result = subprocess.run(
        [
            tool("amtool"),
            "config",
            "routes",
            "test",
            f"--config.file={config}",
            *(f"{name}={value}" for name, value in labels.items()),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().split(",")


def test_amtool_accepts_the_configuration(config: Path) -> None:
    result = subprocess.run(
        [tool("amtool"), "check-config", str(config)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_secrets_are_read_from_files_under_the_secrets_directory() -> None:
    def file_settings(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key.endswith("_file") and isinstance(value, str):
                    yield value
                yield from file_settings(value)
        elif isinstance(node, list):
            for item in node:
                yield from file_settings(item)

    paths = list(file_settings(yaml.safe_load(CONFIG.read_text())))
    assert paths
    assert [path for path in paths if not path.startswith(SECRETS_DIR)] == []


def test_the_telegram_receiver_names_a_chat() -> None:
    receivers = {r["name"]: r for r in yaml.safe_load(CONFIG.read_text())["receivers"]}
    [telegram] = receivers[TELEGRAM]["telegram_configs"]
    assert isinstance(telegram["chat_id"], int)
    assert telegram.get("bot_token") or telegram.get("bot_token_file")


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("critical", [TELEGRAM, TICKETS]), ("warning", [TICKETS]), ("info", ["ui-only"])],
)
def test_severity_decides_the_receivers(config: Path, severity: str, expected: list[str]) -> None:
    labels = {"alertname": "LearnbotApiDown", "severity": severity, "job": "learnbot-api"}
    assert receivers_for(config, labels) == expected


def test_critical_alerts_page_telegram_and_warnings_do_not(config: Path) -> None:
    wrong = []
    for rule in alert_rules():
        labels = {"alertname": rule["alert"], **rule["labels"]}
        pages = TELEGRAM in receivers_for(config, labels)
        if pages != (rule["labels"]["severity"] == "critical"):
            wrong.append(rule["alert"])
    assert wrong == []


@pytest.fixture
def alertmanager(config: Path, tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("prometheus-alertmanager") or tool("alertmanager")
    # No notification may leave the machine: both receivers point at a closed local port.
    closed = f"http://127.0.0.1:{free_port()}"
    settings = yaml.safe_load(config.read_text())
    for receiver in settings["receivers"]:
        for telegram in receiver.get("telegram_configs", []):
            telegram["api_url"] = closed
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = f"{closed}/alertmanager"
    local = tmp_path / "alertmanager-local.yml"
    local.write_text(yaml.safe_dump(settings))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (tmp_path / "alertmanager.log").open("w") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={local}",
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        ready = wait_until(lambda: answers(url + "/-/ready"))
        assert ready, (tmp_path / "alertmanager.log").read_text()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def alert(name: str, long: str | None = None, **extra: str) -> dict[str, Any]:
    """An alert as Prometheus sends it: the labels of its rule (of its `long` window, for an
    alert of several windows) and of its series."""
    [labels] = [
        rule["labels"]
        for rule in alert_rules()
        if rule["alert"] == name and rule["labels"].get("long") == long
    ]
    return {"labels": {"alertname": name, **labels, **extra}}


@pytest.mark.slow
def test_a_critical_alert_inhibits_the_matching_warnings(alertmanager: str) -> None:
    api = {"job": "learnbot-api"}
    db = {"job": "postgres", "instance": "db:9187"}
    sent = [
        alert("LearnbotApiAvailabilityBudgetBurn", "1h", **api),
        alert("LearnbotApiAvailabilityBudgetBurn", "1d", **api),
        alert("LearnbotApiLatencyBudgetBurn", "1d", **api),
        alert("LearnbotPostgresDown", **db),
        alert("LearnbotPostgresNearConnectionLimit", **db),
        alert("LearnbotPrometheusRuleEvaluationFailures", job="prometheus"),
    ]
    httpx.post(f"{alertmanager}/api/v2/alerts", json=sent, timeout=5).raise_for_status()
    expected = {
        ("LearnbotApiAvailabilityBudgetBurn", "1h"): "active",
        ("LearnbotApiAvailabilityBudgetBurn", "1d"): "suppressed",
        ("LearnbotApiLatencyBudgetBurn", "1d"): "active",
        ("LearnbotPostgresDown", ""): "active",
        ("LearnbotPostgresNearConnectionLimit", ""): "suppressed",
        ("LearnbotPrometheusRuleEvaluationFailures", ""): "active",
    }

    def states() -> dict[tuple[str, str], str]:
        answer = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=5).json()
        return {
            (a["labels"]["alertname"], a["labels"].get("long", "")): a["status"]["state"]
            for a in answer
        }

    wait_until(lambda: states() == expected)
    assert states() == expected


@pytest.mark.slow
def test_each_window_of_a_budget_burn_alert_is_a_notification_of_its_own(
    alertmanager: str,
) -> None:
    api = {"job": "learnbot-api"}
    windows = [
        alert("LearnbotApiLatencyBudgetBurn", long, **api) for long in ("1h", "6h", "1d", "3d")
    ]
    httpx.post(f"{alertmanager}/api/v2/alerts", json=windows, timeout=5).raise_for_status()

    def groups() -> list[tuple[str, list[str]]]:
        answer = httpx.get(f"{alertmanager}/api/v2/alerts/groups", timeout=5).json()
        return sorted(
            (group["receiver"]["name"], [a["labels"]["long"] for a in group["alerts"]])
            for group in answer
        )

    expected = sorted(
        [(TELEGRAM, ["1h"]), (TELEGRAM, ["6h"])]
        + [(TICKETS, [long]) for long in ("1h", "6h", "1d", "3d")]
    )
    wait_until(lambda: groups() == expected)
    assert groups() == expected

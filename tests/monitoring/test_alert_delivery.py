"""Alerts reach people: a real Prometheus with the stack's rules and a real Alertmanager with the
shipped configuration, rendered as the stack renders it, against a real `learnbot serve`.

Alertmanager's Telegram receiver is pointed (its `api_url`) at the suite's Bot API stand-in,
which records every sendMessage; the ticket webhook and the heartbeat are a local recorder of
the POSTs Alertmanager makes. Every duration of the rules (`for`) and of the routes (waits,
intervals, repeats) is divided by SCALE, so that minutes pass in seconds; nothing else of the
rendered files changes.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bot_api_standin import BotApiStandIn, bot_api_standin
from learnbot_platform.monitoring import API_JOB
from learnbot_platform.rendering import (
    AlertReceivers,
    ScrapeJob,
    alertmanager_files,
    prometheus_config,
)
from learnbot_platform.repository import read_monitoring_sources, rule_paths
from local_http import local_http_server
from service_process import BOT_TOKEN, Server, free_port, server_env, start_server
from waiting import wait_until

pytestmark = pytest.mark.slow

SCALE = 30
CHAT_ID = -1001234567890
TICKET_TOKEN = "ticket-webhook-token-5d4c"
# What a scrape, a rule evaluation and a notification may take beyond the configured waits on
# a busy two-core machine.
SLACK_SECONDS = 10.0
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def seconds_of(duration: str) -> float:
    parts = _DURATION.findall(duration)
    assert "".join(n + u for n, u in parts) == duration, duration
    return sum(int(number) * _SECONDS[unit] for number, unit in parts)


def scaled(duration: str) -> str:
    milliseconds = round(seconds_of(duration) * 1000 / SCALE)
    return f"{milliseconds}ms"


def scaled_route(route: dict[str, Any]) -> None:
    for key in ("group_wait", "group_interval", "repeat_interval"):
        if key in route:
            route[key] = scaled(route[key])
    for child in route.get("routes") or []:
        scaled_route(child)


@dataclass
class Posted:
    path: str
    authorization: str
    body: dict[str, Any]
    at: float


@dataclass
class WebhookRecorder:
    """Records Alertmanager's webhook POSTs: /tickets (the ticket system) and /heartbeat (the
    dead man's switch's service)."""

    url: str = ""
    posts: list[Posted] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def at(self, path: str) -> list[Posted]:
        with self.lock:
            return [post for post in self.posts if post.path == path]


@pytest.fixture
def recorder() -> Iterator[WebhookRecorder]:
    recorded = WebhookRecorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            post = Posted(
                self.path,
                self.headers.get("authorization", ""),
                json.loads(body),
                time.monotonic(),
            )
            with recorded.lock:
                recorded.posts.append(post)
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with local_http_server(Handler) as url:
        recorded.url = url
        yield recorded


def binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
        if found:
            return found
    pytest.skip(f"{names[0]} not found: install Debian's {names[-1]} package")


@contextmanager
def running(command: list[str], log_path: Path, ready_url: str) -> Iterator[None]:
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_until(lambda: answers(ready_url), 30), log_path.read_text()
        yield
    finally:
        process.terminate()
        process.wait(timeout=15)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def scaled_rules(into: Path) -> dict[str, dict[str, Any]]:
    """The stack's rule files with every `for` scaled, written into `into`; the alert rules by
    name."""
    into.mkdir()
    alerts: dict[str, dict[str, Any]] = {}
    for path in rule_paths():
        document = yaml.safe_load(path.read_text())
        for group in document["groups"]:
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = scaled(rule["for"])
                if "alert" in rule:
                    alerts[rule["alert"]] = rule
        (into / path.name).write_text(yaml.safe_dump(document, sort_keys=False))
    return alerts


def alertmanager_config(
    into: Path, telegram: BotApiStandIn, recorder: WebhookRecorder
) -> dict[str, Any]:
    """The shipped configuration as the stack renders it, the receivers pointed here; its
    route, scaled."""
    sources = read_monitoring_sources()
    files = alertmanager_files(
        sources.alertmanager,
        AlertReceivers(
            telegram_bot_token=BOT_TOKEN,
            telegram_chat_id=CHAT_ID,
            webhook_url=f"{recorder.url}/tickets",
            webhook_token=TICKET_TOKEN,
            heartbeat_url=f"{recorder.url}/heartbeat",
            telegram_api_url=telegram.url,
        ),
        token_file=str(into / "secrets" / "webhook-token"),
        templates=sources.alertmanager_templates,
        templates_dir=str(into / "templates"),
    )
    assert files.templates, "no message template was rendered"
    for path, content in {**files.secret_files, **files.templates}.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(content)
    document: dict[str, Any] = yaml.safe_load(files.config)
    scaled_route(document["route"])
    (into / "alertmanager.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    route: dict[str, Any] = document["route"]
    return route


def messages(telegram: BotApiStandIn) -> list[str]:
    for call in telegram.calls_of("sendMessage"):
        assert str(call.params["chat_id"]) == str(CHAT_ID)
        assert call.params.get("parse_mode") == "HTML"
    return [str(call.params["text"]) for call in telegram.calls_of("sendMessage")]


def alert_names(post: Posted) -> set[str]:
    return {alert["labels"]["alertname"] for alert in post.body["alerts"]}


def test_alerts_reach_the_chat_the_tickets_and_the_heartbeat(
    sqlite_url: str, tmp_path: Path, recorder: WebhookRecorder
) -> None:
    prometheus_binary = binary("prometheus")
    alertmanager_binary = binary("prometheus-alertmanager")
    api_port, alertmanager_port, prometheus_port = free_port(), free_port(), free_port()
    rules = scaled_rules(tmp_path / "rules")
    config = yaml.safe_load(
        prometheus_config(
            [ScrapeJob(API_JOB, (f"127.0.0.1:{api_port}",))],
            rule_files=[str(path) for path in sorted((tmp_path / "rules").iterdir())],
            alertmanagers=[f"127.0.0.1:{alertmanager_port}"],
            scrape_interval="1s",
        )
    )
    config["global"]["scrape_timeout"] = "1s"
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))

    def serve(log_name: str) -> Server:
        env = server_env(sqlite_url, PORT=str(api_port))
        return start_server(env, tmp_path / log_name)

    server = serve("learnbot-1.log")
    with contextlib.ExitStack() as stack:
        stack.callback(lambda: server.stop())
        telegram = stack.enter_context(bot_api_standin())
        route = alertmanager_config(tmp_path / "alertmanager", telegram, recorder)
        alertmanager_url = f"http://127.0.0.1:{alertmanager_port}"
        stack.enter_context(
            running(
                [
                    alertmanager_binary,
                    f"--config.file={tmp_path / 'alertmanager' / 'alertmanager.yml'}",
                    f"--storage.path={tmp_path / 'alertmanager' / 'data'}",
                    f"--web.listen-address=127.0.0.1:{alertmanager_port}",
                    "--cluster.listen-address=",
                ],
                tmp_path / "alertmanager.log",
                f"{alertmanager_url}/-/ready",
            )
        )
        started = time.monotonic()
        stack.enter_context(
            running(
                [
                    prometheus_binary,
                    f"--config.file={tmp_path / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prometheus_port}",
                    # Prometheus' own wait before sending a firing alert again (1m), scaled: an
                    # alert that fired before it found Alertmanager is not held for a minute.
                    f"--rules.alert.resend-delay={scaled('1m')}",
                ],
                tmp_path / "prometheus.log",
                f"http://127.0.0.1:{prometheus_port}/-/ready",
            )
        )

        # The dead man's switch beats from the start.
        assert wait_until(lambda: len(recorder.at("/heartbeat")) >= 2, 30), (
            tmp_path / "alertmanager.log"
        ).read_text()
        assert messages(telegram) == []

        # The API stops: its page reaches the chat within the rule's `for` and the group wait.
        api_down = rules["LearnbotApiDown"]
        group_wait = seconds_of(route["group_wait"])
        stopped = time.monotonic()
        server.stop()
        assert wait_until(
            lambda: any("LearnbotApiDown" in m for m in messages(telegram)),
            seconds_of(api_down["for"]) + group_wait + SLACK_SECONDS,
        ), (tmp_path / "alertmanager.log").read_text()
        took = time.monotonic() - stopped
        (page,) = [m for m in messages(telegram) if "LearnbotApiDown" in m]
        assert page.startswith("🔥 FIRING: <b>LearnbotApiDown</b> [critical]"), page
        assert f"<b>{api_down['annotations']['summary']}</b>" in page
        assert f"The scrape of 127.0.0.1:{api_port}/metrics has failed for 2 minutes." in page
        assert "The process is down, hung or unreachable from Prometheus." in page
        assert f"Runbook: {api_down['annotations']['runbook_url']}" in page
        assert took >= seconds_of(api_down["for"]), "paged before the rule's `for` passed"
        # A page opens a ticket too: the same group wait, on the tickets' route.
        assert wait_until(
            lambda: any("LearnbotApiDown" in alert_names(p) for p in recorder.at("/tickets")),
            group_wait + SLACK_SECONDS,
        )

        # The API is back: the chat hears that it resolved.
        server = serve("learnbot-2.log")
        assert wait_until(
            lambda: any("RESOLVED" in m and "LearnbotApiDown" in m for m in messages(telegram)),
            seconds_of(route["group_interval"]) + SLACK_SECONDS,
        ), (tmp_path / "alertmanager.log").read_text()
        resolved = [m for m in messages(telegram) if m.startswith("✅ RESOLVED")]
        assert resolved
        assert "<b>LearnbotApiDown</b> [critical]" in resolved[0]
        assert "Resolved " in resolved[0]

        # A warning opens a ticket and never reaches the chat: with no backup job to scrape,
        # its metrics are absent for the rule's (scaled) 15 minutes.
        absent = rules["LearnbotBackupMetricsAbsent"]
        assert absent["labels"]["severity"] == "warning"
        deadline = seconds_of(absent["for"]) + group_wait + SLACK_SECONDS
        assert wait_until(
            lambda: any(
                "LearnbotBackupMetricsAbsent" in alert_names(post)
                for post in recorder.at("/tickets")
            ),
            max(0.0, started + deadline - time.monotonic()),
        ), (tmp_path / "alertmanager.log").read_text()

    tickets = recorder.at("/tickets")
    assert all(post.authorization == f"Bearer {TICKET_TOKEN}" for post in tickets)
    assert not any("Watchdog" in alert_names(post) for post in tickets)
    assert not any("LearnbotBackupMetricsAbsent" in m for m in messages(telegram))
    assert not any("Watchdog" in m for m in messages(telegram))
    heartbeats = recorder.at("/heartbeat")
    # Every (scaled) minute, and nothing but the Watchdog.
    assert len(heartbeats) >= 3
    assert all(alert_names(post) == {"Watchdog"} for post in heartbeats)
    assert all(post.authorization == "" for post in heartbeats)

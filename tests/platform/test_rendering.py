"""learnbot_platform.rendering: the files the stack hands to its containers, checked as data and,
for nginx, by running nginx with them in front of two stand-in API instances."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import yaml
from dnslib import QTYPE, RCODE, RR, A
from dnslib.server import BaseResolver, DNSServer

from installed_tools import tool
from learnbot_platform.rendering import (
    WEBHOOK_TOKEN_FILE,
    AlertReceivers,
    ScrapeJob,
    alertmanager_files,
    grafana_dashboard_providers,
    grafana_datasources,
    nginx_config,
    prometheus_config,
)
from learnbot_platform.repository import read_monitoring_sources
from service_process import free_port

SOURCES = read_monitoring_sources()


def test_prometheus_scrapes_each_job_and_loads_the_rules() -> None:
    document = yaml.safe_load(
        prometheus_config(
            [ScrapeJob("learnbot-api", ("api-1:8000", "api-2:8000")), ScrapeJob("p", ("p:1",))],
            rule_files=["rules/api.yml"],
            alertmanagers=["am:9093"],
            external_labels={"stack": "prod"},
        )
    )
    assert document["rule_files"] == ["rules/api.yml"]
    assert document["global"]["external_labels"] == {"stack": "prod"}
    assert document["alerting"]["alertmanagers"] == [{"static_configs": [{"targets": ["am:9093"]}]}]
    assert document["scrape_configs"] == [
        {"job_name": "learnbot-api", "static_configs": [{"targets": ["api-1:8000", "api-2:8000"]}]},
        {"job_name": "p", "static_configs": [{"targets": ["p:1"]}]},
    ]


def test_prometheus_refuses_duplicate_jobs() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        prometheus_config(
            [ScrapeJob("a", ("x:1",)), ScrapeJob("a", ("y:1",))], rule_files=[], alertmanagers=[]
        )


def test_grafana_datasource_points_at_the_stacks_prometheus() -> None:
    (source,) = SOURCES.grafana_datasources.values()
    document = yaml.safe_load(grafana_datasources(source, "http://learnbot-prometheus:9090"))
    (prometheus,) = [d for d in document["datasources"] if d["uid"] == "prometheus"]
    assert prometheus["url"] == "http://learnbot-prometheus:9090"
    assert prometheus["type"] == "prometheus"


def test_grafana_datasources_must_keep_the_uid_the_dashboards_use() -> None:
    source = "apiVersion: 1\ndatasources:\n  - name: P\n    type: prometheus\n    uid: other\n"
    with pytest.raises(ValueError, match="uid 'prometheus'"):
        grafana_datasources(source, "http://p:9090")


def test_grafana_dashboards_are_read_from_where_the_stack_puts_them() -> None:
    (source,) = SOURCES.grafana_dashboard_providers.values()
    document = yaml.safe_load(grafana_dashboard_providers(source, "/etc/grafana/dashboards"))
    assert document["providers"]
    assert all(p["options"]["path"] == "/etc/grafana/dashboards" for p in document["providers"])


def receivers_of(config: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in yaml.safe_load(config)["receivers"]}


def test_alertmanager_receivers_filled_in() -> None:
    files = alertmanager_files(
        SOURCES.alertmanager,
        AlertReceivers(
            telegram_bot_token="987654321:AAalert",
            telegram_chat_id=-1001234567890,
            webhook_url="https://tickets.example.com/hook",
            webhook_token="hook-token",
        ),
    )
    receivers = receivers_of(files.config)
    telegram = [c for r in receivers.values() for c in r.get("telegram_configs", [])]
    webhooks = [c for r in receivers.values() for c in r.get("webhook_configs", [])]
    assert telegram
    assert webhooks
    assert all(c["bot_token"] == "987654321:AAalert" for c in telegram)
    assert all(c["chat_id"] == -1001234567890 for c in telegram)
    assert all(c["url"] == "https://tickets.example.com/hook" for c in webhooks)
    assert all(
        c["http_config"]["authorization"]["credentials_file"] == WEBHOOK_TOKEN_FILE
        for c in webhooks
    )
    assert files.secret_files == {WEBHOOK_TOKEN_FILE: "hook-token"}
    assert "placeholder" not in files.config


def test_alertmanager_receivers_not_configured_keep_their_routes_and_send_nothing() -> None:
    files = alertmanager_files(SOURCES.alertmanager, AlertReceivers())
    source = yaml.safe_load(SOURCES.alertmanager)
    rendered = yaml.safe_load(files.config)
    assert rendered["route"] == source["route"]
    assert [r["name"] for r in rendered["receivers"]] == [r["name"] for r in source["receivers"]]
    assert not any("telegram_configs" in r or "webhook_configs" in r for r in rendered["receivers"])
    assert files.secret_files == {}


def test_alertmanager_refuses_a_secret_file_the_stack_does_not_provide() -> None:
    source = """
route: {receiver: r}
receivers:
  - name: r
    slack_configs:
      - api_url_file: /etc/alertmanager/secrets/slack-url
        channel: '#x'
"""
    with pytest.raises(ValueError, match="/etc/alertmanager/secrets/slack-url"):
        alertmanager_files(source, AlertReceivers())


def test_nginx_config_resolves_the_replicas_by_their_shared_name() -> None:
    config = nginx_config("learnbot-api", 8000)
    assert "resolver 127.0.0.11 valid=1s ipv6=off;" in config
    assert 'set $learnbot_api "learnbot-api:8000";' in config
    assert "proxy_pass http://$learnbot_api;" in config
    assert "client_max_body_size 64k;" in config
    assert "large_client_header_buffers 4 24k;" in config
    assert "proxy_set_header X-Request-ID $learnbot_request_id;" in config
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in config


@pytest.mark.parametrize("host", ["", "api;evil", "a b", "-api"])
def test_nginx_config_needs_a_host_name(host: str) -> None:
    with pytest.raises(ValueError, match="API host name"):
        nginx_config(host, 8000)


class StandIn(BaseHTTPRequestHandler):
    """Answers every request with the headers it received and which instance it is."""

    instance: ClassVar[str] = ""
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = json.dumps({"instance": self.instance, "headers": dict(self.headers)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Replicas(BaseResolver):  # type: ignore[misc]
    """A DNS server for the proxy, as Docker's is on the stack's network: the shared name
    resolves to the address of every replica that is up."""

    NAME = "learnbot-api"

    def __init__(self) -> None:
        self.addresses: dict[str, ThreadingHTTPServer] = {}
        self.port = 0

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        if str(request.q.qname).rstrip(".") == self.NAME and request.q.qtype == QTYPE.A:
            for address in list(self.addresses):
                reply.add_answer(RR(self.NAME, QTYPE.A, rdata=A(address), ttl=1))
        elif not self.addresses or str(request.q.qname).rstrip(".") != self.NAME:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply

    def start(self, address: str, name: str) -> None:
        handler = type(f"StandIn_{name}", (StandIn,), {"instance": name})
        server = ThreadingHTTPServer((address, self.port), handler)
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addresses[address] = server

    def stop(self, address: str) -> None:
        # As a replica that is stopping: it refuses connections while its name still resolves.
        server = self.addresses[address]
        server.shutdown()
        server.server_close()
        time.sleep(1.5)
        del self.addresses[address]


@pytest.fixture
def replicas() -> Iterator[tuple[Replicas, int]]:
    resolver = Replicas()
    resolver.start("127.0.0.2", "api-1")
    resolver.start("127.0.0.3", "api-2")
    dns = DNSServer(resolver, port=free_udp_port(), address="127.0.0.1")
    dns.start_thread()
    yield resolver, dns.server.server_address[1]
    dns.stop()
    dns.server.server_close()
    for server in resolver.addresses.values():
        server.shutdown()
        server.server_close()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def proxy(replicas: tuple[Replicas, int], tmp_path: Path) -> Iterator[str]:
    nginx = tool("nginx", "nginx package")
    resolver, dns_port = replicas
    port, health_port = free_port(), free_port()
    config = nginx_config(
        Replicas.NAME,
        resolver.port,
        listen_port=port,
        health_port=health_port,
        resolver=f"127.0.0.1:{dns_port}",
    )
    (tmp_path / "nginx.conf").write_text(config)
    (tmp_path / "logs").mkdir()
    # As root, nginx's workers would run as nobody, who cannot enter pytest's private tmp_path.
    user = "user root;" if os.geteuid() == 0 else ""
    globals_ = f"daemon off; pid {tmp_path}/nginx.pid; {user}"
    command = [nginx, "-p", str(tmp_path), "-c", "nginx.conf", "-e", "logs/error.log"]
    log = tmp_path / "logs" / "stderr.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [*command, "-g", globals_], stdout=subprocess.DEVNULL, stderr=stderr
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{health_port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"nginx did not start: {log.read_text()}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_nginx_proxy_behaves_as_the_stack_needs(proxy: str) -> None:
    seen = set()
    # nginx starts each request at a random one of the resolved addresses: 30 requests miss a
    # replica with a chance of 2 in a billion.
    for _ in range(30):
        answer = httpx.get(proxy + "/health", headers={"X-Request-ID": "req-1"})
        assert answer.status_code == 200
        echoed = answer.json()
        seen.add(echoed["instance"])
        headers = {k.lower(): v for k, v in echoed["headers"].items()}
        assert headers["x-request-id"] == "req-1"
        assert headers["x-forwarded-for"] == "127.0.0.1"
    assert seen == {"api-1", "api-2"}

    generated = httpx.get(proxy + "/health").json()["headers"]
    assert {k.lower(): v for k, v in generated.items()}["x-request-id"]

    for path in ("/metrics", "/metrics/", "/%6detrics", "//metrics"):
        refused = httpx.get(proxy + path)
        assert refused.status_code == 403, path
        assert refused.headers["content-type"] == "application/problem+json"

    assert httpx.post(proxy + "/auth/telegram", content=b"x" * 65536).status_code == 200
    too_large = httpx.post(proxy + "/auth/telegram", content=b"x" * 65537)
    assert too_large.status_code == 413
    assert too_large.json()["type"] == "urn:learnbot:problem:body-too-large"

    # Headers over the API's 24 KiB get the API's own problem, not nginx's HTML page.
    big = httpx.get(proxy + "/health", headers={"Authorization": "tma " + "a" * 25000})
    assert big.status_code == 431
    assert big.headers["content-type"] == "application/problem+json"
    assert big.json()["type"] == "urn:learnbot:problem:headers-too-large"


@pytest.mark.slow
def test_replicas_replaced_one_at_a_time_behind_the_proxy_drop_no_request(
    proxy: str, replicas: tuple[Replicas, int]
) -> None:
    resolver, _ = replicas
    answers: list[tuple[int, str]] = []
    running = threading.Event()
    running.set()

    def steady_client() -> None:
        with httpx.Client(timeout=10) as client:
            while running.is_set():
                response = client.post(proxy + "/auth/telegram", content=b"{}")
                answers.append((response.status_code, response.text))
                time.sleep(0.01)

    client = threading.Thread(target=steady_client)
    client.start()
    try:
        time.sleep(1)
        # What `pulumi up` does with a new image: replica 1 goes, its successor starts and
        # becomes healthy (Docker's first healthcheck comes 5 s after the start), then the same
        # for replica 2.
        resolver.stop("127.0.0.2")
        resolver.start("127.0.0.4", "api-1-new")
        time.sleep(3)
        resolver.stop("127.0.0.3")
        resolver.start("127.0.0.5", "api-2-new")
        time.sleep(3)
    finally:
        running.clear()
        client.join(timeout=30)
    failed = [answer for answer in answers if answer[0] != 200]
    assert failed == []
    assert len(answers) > 100
    served_last = {json.loads(text)["instance"] for _, text in answers[-20:]}
    assert served_last == {"api-1-new", "api-2-new"}

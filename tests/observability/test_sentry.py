from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sentry_sdk
from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from learnbot.app import create_app
from learnbot.observability.sentry import init_sentry
from learnbot.settings import Settings
from otlp_receiver import OtlpHttpReceiver, otlp_receiver
from service_process import BOT_TOKEN, free_port, init_data, new_telegram_id

captured: list[dict[str, Any]] = []


class CapturingTransport(Transport):
    """Keeps events in memory instead of sending them anywhere."""

    def capture_envelope(self, envelope: Envelope) -> None:
        for item in envelope.items:
            if item.type == "event":
                captured.append(json.loads(item.get_bytes()))


@asynccontextmanager
async def failing_server(tmp_path: Path, env: Mapping[str, str]) -> AsyncIterator[str]:
    captured.clear()
    init_sentry("https://public@sentry.invalid/1", "test", transport=CapturingTransport)
    settings = Settings.from_env(
        {"DATABASE_URL": f"sqlite:///{tmp_path}/s.db", "TELEGRAM_BOT_TOKEN": BOT_TOKEN, **env}
    )
    app = create_app(settings, name=f"learnbot_sentry_{tmp_path.name}")
    # Sanic's touch-up (a speed-up) rewrites its methods once per process: a second app
    # started in this one fails it.
    app.config.TOUCHUP = False

    @app.post("/explode")
    async def explode(request: Request) -> HTTPResponse:
        raise RuntimeError(f"the handler failed with {request.headers['authorization']}")

    port = free_port()
    server = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    await app.ctx.resources.store.migrate()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.before_stop()
        await server.close()
        await server.after_stop()
        sentry_sdk.get_client().close()
        sentry_sdk.init()  # later tests run without Sentry
        Sanic._app_registry.pop(app.name, None)


@pytest.fixture
async def failing_app(tmp_path: Path) -> AsyncIterator[str]:
    async with failing_server(tmp_path, {}) as url:
        yield url


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtlpHttpReceiver]:
    # Read by the SDK from the environment: spans leave a tenth of a second after they end.
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    with otlp_receiver() as running:
        yield running


@pytest.fixture
async def traced_failing_app(tmp_path: Path, receiver: OtlpHttpReceiver) -> AsyncIterator[str]:
    async with failing_server(tmp_path, {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}) as url:
        yield url


async def test_an_unhandled_error_reaches_sentry_without_secrets(failing_app: str) -> None:
    raw = init_data(new_telegram_id())
    async with httpx.AsyncClient(base_url=failing_app, timeout=10) as http:
        response = await http.post(
            "/explode",
            params={"init_data": raw},
            json={"init_data": raw},
            headers={"Authorization": f"tma {raw}", "X-Request-ID": "boom-1"},
        )
        refused = await http.get("/me", headers={"Authorization": "tma forged"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in response.text
    assert raw not in response.text
    assert refused.status_code == 401
    sentry_sdk.flush()

    assert len(captured) == 1, "only the unhandled error is reported, not the 401"
    event = captured[0]
    assert event["tags"]["request_id"] == "boom-1"
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["environment"] == "test"
    assert event["release"].startswith("learnbot@")
    text = json.dumps(event)
    for secret in (raw, BOT_TOKEN, raw.rsplit("hash=", 1)[1][:64]):
        assert secret not in text
    assert "authorization" not in {k.lower() for k in event["request"].get("headers", {})}


async def test_an_error_report_carries_the_trace_id_of_its_failed_span(
    traced_failing_app: str, receiver: OtlpHttpReceiver
) -> None:
    async with httpx.AsyncClient(base_url=traced_failing_app, timeout=10) as http:
        response = await http.post("/explode", headers={"Authorization": "tma x"})
    assert response.status_code == 500
    sentry_sdk.flush()
    spans = await asyncio.to_thread(
        receiver.wait_for, lambda spans: any(s.name == "POST /explode" for s in spans)
    )
    failed = next(s for s in spans if s.name == "POST /explode")
    assert failed.status == "STATUS_CODE_ERROR"
    assert failed.attributes["http.response.status_code"] == 500
    assert failed.attributes["error.type"] == "500"
    (event,) = captured
    assert event["tags"]["trace_id"] == failed.trace_id


def test_sentry_is_not_initialised_without_a_dsn(tmp_path: Path) -> None:
    program = (
        "import sentry_sdk\n"
        "from learnbot.app import create_app\n"
        "from learnbot.settings import Settings\n"
        f"create_app(Settings.from_env({{'DATABASE_URL': 'sqlite:///{tmp_path}/x.db'}}))\n"
        "print(sentry_sdk.get_client().is_active())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


def test_sentry_is_initialised_with_a_dsn(tmp_path: Path) -> None:
    program = (
        "import sentry_sdk\n"
        "from learnbot.app import create_app\n"
        "from learnbot.settings import Settings\n"
        "create_app(Settings.from_env({"
        f"'DATABASE_URL': 'sqlite:///{tmp_path}/x.db', "
        "'SENTRY_DSN': 'https://public@127.0.0.1:9/1', 'SENTRY_ENVIRONMENT': 'staging'}))\n"
        "client = sentry_sdk.get_client()\n"
        "print(client.is_active(), client.options['environment'],"
        " sentry_sdk.scope.should_send_default_pii())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["True", "staging", "False"]

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bot_api_standin import BotApiStandIn, bot_api_standin
from service_process import Server, server_env, start_server

WEBHOOK_SECRET = "webhook-secret_for-the-suite-0123456789"
MINIAPP_URL = "https://learnbot.example.com/app/"
WEBHOOK_URL = "https://learnbot.example.com/telegram/webhook"


@pytest.fixture(scope="module")
def standin() -> Iterator[BotApiStandIn]:
    with bot_api_standin() as running:
        yield running


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def bot_server(
    request: pytest.FixtureRequest,
    standin: BotApiStandIn,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp(f"bot-{request.param}")
    if request.param == "sqlite":
        database_url = f"sqlite:///{workdir}/learnbot.db"
    else:
        database_url = request.getfixturevalue("session_postgres_url")
    env = server_env(
        database_url,
        TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        TELEGRAM_API_URL=standin.url,
        MINIAPP_URL=MINIAPP_URL,
    )
    running = start_server(env, workdir / "server.log")
    running.backend = request.param
    yield running
    running.stop()


@pytest.fixture
def client(bot_server: Server, standin: BotApiStandIn) -> Iterator[httpx.Client]:
    standin.clear()
    with httpx.Client(base_url=bot_server.url, timeout=30) as http:
        yield http

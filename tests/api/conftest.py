from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from service_process import Server, server_env, start_server


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def api_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('api-sqlite')}/learnbot.db"
        return
    yield request.getfixturevalue("session_postgres_url")


@pytest.fixture(scope="session")
def server(api_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("server")
    # POST /me/accounts' development path, whose body the hostile-input tests hold to the rules;
    # its default refusal is tested in tests/oauth.
    env = server_env(api_database_url, OAUTH_ALLOW_UNVERIFIED_LINKS="1")
    running = start_server(env, workdir / "server.log")
    yield running
    running.stop()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http

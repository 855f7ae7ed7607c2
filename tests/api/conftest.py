from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from service_process import Server, server_env, start_server


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def api_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('api-sqlite')}/learnbot.db"
        return
    server_url: str = request.getfixturevalue("postgres_server_url")
    name = f"learnbot_api_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield server_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def server(api_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("server")
    running = start_server(server_env(api_database_url), workdir / "server.log")
    yield running
    running.stop()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http

"""/openapi.json and /ready are open to anyone: a flood of them must cost next to nothing."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from sanic import HTTPResponse, Sanic
from sanic_ext.extensions.openapi.builders import SpecificationBuilder

from learnbot.api.ops import (
    READINESS_TTL_SECONDS,
    ReadinessProbe,
    build_openapi_document,
    openapi_document,
)
from learnbot.app import create_app
from learnbot.context import App
from learnbot.settings import Settings
from learnbot.storage import MigrationState, StorageError
from service_process import BOT_TOKEN, Server

FLOOD = 200
# Sanic's decorators type a listener as any listener, and a handler as the coroutine it returns:
# the two functions as they are written, called here with the app and a stand-in request.
build_document = cast("Callable[[App], Coroutine[Any, Any, None]]", build_openapi_document)
serve_document = cast("Callable[[object], Coroutine[Any, Any, HTTPResponse]]", openapi_document)


def migration_state_queries(client: httpx.Client) -> float:
    exposition = client.get("/metrics").text
    found = re.search(
        r'^db_query_duration_seconds_count\{operation="migration_state"\} (\S+)$',
        exposition,
        re.MULTILINE,
    )
    return float(found.group(1)) if found else 0.0


async def flood(url: str, path: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        return await asyncio.gather(*(http.get(path) for _ in range(FLOOD)))


async def test_a_flood_of_ready_asks_the_database_once_per_interval(
    server: Server, client: httpx.Client
) -> None:
    before = migration_state_queries(client)
    started = time.monotonic()
    answers = await flood(server.url, "/ready")
    intervals = (time.monotonic() - started) / READINESS_TTL_SECONDS
    assert {answer.status_code for answer in answers} == {200}
    # The scrape that reads the count may ask once more.
    assert migration_state_queries(client) - before <= intervals + 2


def test_the_openapi_document_is_built_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[object] = []

    def counted_build(self: SpecificationBuilder, app: object) -> SimpleNamespace:
        builds.append(app)
        return SimpleNamespace(serialize=lambda: {"openapi": "3.0.3", "build": len(builds)})

    monkeypatch.setattr(SpecificationBuilder, "build", counted_build)
    settings = Settings.from_env(
        {"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "TELEGRAM_BOT_TOKEN": BOT_TOKEN}
    )
    app = create_app(settings, name=f"learnbot_openapi_{tmp_path.name}")
    try:
        asyncio.run(build_document(app))
        request = SimpleNamespace(app=app)
        answers = [asyncio.run(serve_document(request)) for _ in range(5)]
    finally:
        Sanic._app_registry.pop(app.name, None)
    assert len(builds) == 1
    assert {answer.body for answer in answers} == {b'{"openapi":"3.0.3","build":1}'}


class FakeStore:
    def __init__(self, *answers: MigrationState | StorageError) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def migration_state(self) -> MigrationState:
        self.calls += 1
        await asyncio.sleep(0.01)
        answer = self.answers[min(self.calls, len(self.answers)) - 1]
        if isinstance(answer, StorageError):
            raise answer
        return answer


async def test_the_readiness_probe_shares_one_query_per_interval() -> None:
    now = [0.0]
    store = FakeStore(StorageError("down"), MigrationState(applied=2, latest=2))
    probe = ReadinessProbe(store, ttl=1.0, clock=lambda: now[0])  # type: ignore[arg-type]

    assert await asyncio.gather(*(probe.state() for _ in range(50))) == [None] * 50
    now[0] = 0.9
    assert await probe.state() is None
    assert store.calls == 1
    now[0] = 1.0
    assert await probe.state() == MigrationState(applied=2, latest=2)
    assert store.calls == 2

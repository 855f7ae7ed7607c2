"""create_app's app served in the test's own process through ASGI: no server process to start,
for tests of what handlers answer. End-to-end behaviour (workers, signals, sockets, the
command line) stays with `service_process`."""

from __future__ import annotations

import asyncio
import gc
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sanic import Sanic

from learnbot.app import create_app
from learnbot.settings import Settings


@asynccontextmanager
async def app_client(env: Mapping[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app configured by `env`, started as a server starts it (its listeners,
    through the ASGI lifespan) on a migrated database, and stopped afterwards."""
    app = create_app(Settings.from_env(env), name=f"learnbot_asgi_{secrets.token_hex(4)}")
    # Sanic rewrites some of its own methods when an app starts; a second app in the same
    # process would rewrite them again, and fail.
    app.config.TOUCHUP = False
    to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    lifespan = asyncio.create_task(app({"type": "lifespan"}, to_app.get, from_app.put))
    try:
        await to_app.put({"type": "lifespan.startup"})
        assert (await from_app.get())["type"] == "lifespan.startup.complete"
        await app.ctx.resources.store.migrate()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://learnbot") as client:
            yield client
    finally:
        await to_app.put({"type": "lifespan.shutdown"})
        await lifespan
        Sanic._app_registry.pop(app.name, None)
        # A worker keeps what it made at start out of the collector for its life (gc.freeze);
        # this process goes on to other tests.
        gc.unfreeze()

from __future__ import annotations

from typing import cast

from sanic import Request

from learnbot.settings import Settings
from learnbot.storage import UserStore


def settings_of(request: Request) -> Settings:
    return cast(Settings, request.app.ctx.settings)


def store_of(request: Request) -> UserStore:
    return cast(UserStore, request.app.ctx.store)

"""The starter Mini App: the files of service/learnbot/miniapp/, served under /app/.

Each worker reads them once; a request is answered from memory, by exact name (a path that
names no file is a 404 problem, so no request reaches the file system). Every answer carries a
Content-Security-Policy that lets the page load its own files and Telegram's script only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from sanic import Blueprint
from sanic.response import HTTPResponse, empty, raw
from sanic_ext import openapi

from learnbot.api.caching import client_has, etag_of
from learnbot.api.problems import NotFound
from learnbot.context import AppRequest
from learnbot.i18n.markers import N_

bp = Blueprint("miniapp")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Telegram requires Mini Apps to load its script from telegram.org; Telegram Web shows a Mini
# App in a frame of web.telegram.org. Everything else the page needs is its own.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self' https://telegram.org",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors https://web.telegram.org",
    )
)
# The files change with a release and have no version in their names: a client revalidates
# each time (304 while its ETag is current).
CACHE_CONTROL = "no-cache"
TELEGRAM_SCRIPT = '<script src="https://telegram.org/js/telegram-web-app.js"></script>'
# Development only: /app/dev.html is index.html with the stand-in for Telegram's script, which
# reads the launch data from the URL's fragment as Telegram's does (see the README).
STAND_IN_SCRIPT = '<script src="dev/telegram-web-app.js"></script>'


@dataclass(frozen=True)
class StaticFile:
    content: bytes
    content_type: str
    etag: str


def _static_file(name: str, content: bytes) -> StaticFile:
    suffix = name[name.rfind(".") :]
    return StaticFile(content, CONTENT_TYPES[suffix], etag_of(content))


def _read(folder: Traversable) -> dict[str, bytes]:
    return {
        entry.name: entry.read_bytes()
        for entry in folder.iterdir()
        if entry.is_file() and any(entry.name.endswith(suffix) for suffix in CONTENT_TYPES)
    }


@lru_cache(maxsize=2)
def miniapp_files(development: bool) -> Mapping[str, StaticFile]:
    """The files by the path under /app/ that names them ("" is index.html)."""
    root = files("learnbot") / "miniapp"
    contents = _read(root)
    if development:
        index = contents["index.html"].decode()
        assert TELEGRAM_SCRIPT in index, "index.html loads Telegram's script"
        contents["dev.html"] = index.replace(TELEGRAM_SCRIPT, STAND_IN_SCRIPT).encode()
        for name, content in _read(root / "dev").items():
            contents[f"dev/{name}"] = content
    served = {name: _static_file(name, content) for name, content in contents.items()}
    served[""] = served["index.html"]
    return served


@bp.get("/app", strict_slashes=True)
@openapi.exclude()
async def app_without_slash(request: AppRequest) -> HTTPResponse:
    # Relative, so that it holds behind a proxy that serves the service under a path prefix.
    return empty(status=308, headers={"Location": "app/"})


@bp.get("/app/", strict_slashes=True)
@openapi.exclude()
async def index(request: AppRequest) -> HTTPResponse:
    return _serve(request, "")


@bp.get("/app/<name:path>")
@openapi.exclude()
async def app_file(request: AppRequest, name: str) -> HTTPResponse:
    return _serve(request, name)


def _serve(request: AppRequest, name: str) -> HTTPResponse:
    served = miniapp_files(request.app.ctx.settings.app_env == "development")
    found = served.get(name)
    if found is None:
        raise NotFound(N_("The Mini App has no file at this path."))
    headers = {
        "ETag": found.etag,
        "Cache-Control": CACHE_CONTROL,
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    if client_has(request, found.etag):
        return empty(status=304, headers=headers)
    return raw(found.content, headers=headers, content_type=found.content_type)

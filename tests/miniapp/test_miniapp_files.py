"""/app/ over HTTP: the starter Mini App's files, their headers, and what is not served. The app
runs in the test's process (ASGI)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from asgi_app import app_client
from learnbot.i18n.catalogs import read_catalog
from service_process import BOT_TOKEN, ROOT

PROBLEM = "application/problem+json"
MINIAPP = ROOT / "service" / "learnbot" / "miniapp"
POLICY = (
    "default-src 'none'; script-src 'self' https://telegram.org; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors https://web.telegram.org"
)


def env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path}/learnbot.db",
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "APP_ENV": "production",
        **overrides,
    }


@pytest.fixture
async def production(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(env(tmp_path)) as client:
        yield client


@pytest.fixture
async def development(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(env(tmp_path, APP_ENV="development")) as client:
        yield client


def page_files() -> list[str]:
    """index.html, what it links, and every module app.js imports, directly or not."""
    index = (MINIAPP / "index.html").read_text()
    found = ["index.html", *re.findall(r'(?:src|href)="([a-z0-9.-]+)"', index)]
    pending = [name for name in found if name.endswith(".js")]
    while pending:
        source = (MINIAPP / pending.pop()).read_text()
        for module in re.findall(r'from "\./([a-z0-9-]+\.js)"', source):
            if module not in found:
                found.append(module)
                pending.append(module)
    return found


def test_the_page_is_its_own_files_and_telegrams_script() -> None:
    files = page_files()
    assert {"app.js", "api.js", "i18n.js", "telegram.js", "linking.js", "style.css"} <= set(files)
    index = (MINIAPP / "index.html").read_text()
    assert re.findall(r'src="(https?://[^"]+)"', index) == [
        "https://telegram.org/js/telegram-web-app.js"
    ]
    for name in files:
        text = (MINIAPP / name).read_text()
        # No inline script or style, no other origin, no HTML built from text.
        assert not re.search(r"<script>|<style|style=|innerHTML|eval\(|new Function", text), name
        if name != "index.html":
            assert "https://" not in text, name


async def test_each_file_is_served_with_its_type_and_the_headers(
    production: httpx.AsyncClient,
) -> None:
    types = {"html": "text/html", "js": "text/javascript", "css": "text/css", "svg": "image/svg"}
    for name in page_files():
        answer = await production.get(f"/app/{name}")
        assert answer.status_code == 200, name
        assert answer.content == (MINIAPP / name).read_bytes()
        assert answer.headers["content-type"].startswith(types[name.rsplit(".", 1)[1]]), name
        assert answer.headers["content-security-policy"] == POLICY
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-cache"
        assert re.fullmatch(r'"[0-9a-f]{32}"', answer.headers["etag"])
    index = await production.get("/app/")
    assert index.content == (MINIAPP / "index.html").read_bytes()


async def test_a_current_etag_is_answered_304(production: httpx.AsyncClient) -> None:
    first = await production.get("/app/app.js")
    etag = first.headers["etag"]
    for if_none_match in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = await production.get("/app/app.js", headers={"If-None-Match": if_none_match})
        assert again.status_code == 304, if_none_match
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["content-security-policy"] == POLICY
    stale = await production.get("/app/app.js", headers={"If-None-Match": '"stale"'})
    assert stale.status_code == 200
    other = await production.get("/app/style.css", headers={"If-None-Match": etag})
    assert other.status_code == 200


async def test_app_without_a_slash_is_redirected(production: httpx.AsyncClient) -> None:
    answer = await production.get("/app")
    assert answer.status_code == 308
    assert answer.headers["location"] == "app/"


NOT_FILES = (
    "/app/nothing.js",
    "/app/../settings.py",
    "/app/%2e%2e/cli.py",
    "/app/..%2fcli.py",
    "/app/app.js/",
    "/app//app.js",
    "/app/dev.html",
    "/app/dev/telegram-web-app.js",
    "/app/index.html%00",
    "/app/" + "a" * 5000,
    "/app/\u00e9.js",
)


async def test_what_is_not_a_file_of_the_page_is_a_404_problem(
    production: httpx.AsyncClient,
) -> None:
    for path in NOT_FILES:
        answer = await production.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["type"] == "urn:learnbot:problem:not-found"


async def test_other_methods_are_405_problems(production: httpx.AsyncClient) -> None:
    for method in ("POST", "PUT", "DELETE"):
        answer = await production.request(method, "/app/app.js")
        assert answer.status_code == 405, method
        assert answer.headers["content-type"] == PROBLEM


async def test_development_serves_the_page_with_the_stand_in(
    development: httpx.AsyncClient,
) -> None:
    dev = (await development.get("/app/dev.html")).text
    index = (await development.get("/app/")).text
    telegram = '<script src="https://telegram.org/js/telegram-web-app.js"></script>'
    stand_in = '<script src="dev/telegram-web-app.js"></script>'
    assert dev == index.replace(telegram, stand_in)
    assert dev != index
    script = await development.get("/app/dev/telegram-web-app.js")
    assert script.status_code == 200
    assert script.headers["content-security-policy"] == POLICY
    assert "A STAND-IN for https://telegram.org/js/telegram-web-app.js" in script.text


async def test_the_page_can_be_left_out(tmp_path: Path) -> None:
    async with app_client(env(tmp_path, MINIAPP_ENABLED="0")) as client:
        for path in ("/app", "/app/", "/app/app.js"):
            answer = await client.get(path)
            assert answer.status_code == 404, path
            assert answer.headers["content-type"] == PROBLEM
        assert (await client.get("/health")).status_code == 200


def test_every_string_the_page_shows_is_in_the_catalogs() -> None:
    used: set[str] = set()
    for name in page_files():
        if name.endswith(".js"):
            source = (MINIAPP / name).read_text()
            used.update(re.findall(r'\bt\(\s*"((?:[^"\\]|\\.)*)"', source))
            used.update(re.findall(r'const SUMMARY = "([^"]+)"', source))
    assert len(used) > 20
    for locale in ("en", "de", "es", "pt_BR", "ru", "uk"):
        catalog = read_catalog(locale)
        missing = sorted(message for message in used if catalog.get(message) is None)
        assert not missing, f"{locale} lacks {missing}: add them to learnbot/i18n/miniapp.py"

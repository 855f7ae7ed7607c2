"""A provider's answers are read into memory, so each is cut off past MAX_DOCUMENT_BYTES: a token
response that never ends, or one that announces a huge length, is a provider error at once, not
a worker filling its memory until the deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from learnbot.oauth.providers import MAX_DOCUMENT_BYTES, GitHubClient, ProviderError
from learnbot.oauth.settings import ProviderSettings
from local_http import local_http_server

DEADLINE_SECONDS = 10.0
CHUNK = b'{"access_token": "' + b"a" * 65536


class _EndlessTokenAnswers(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        announced = self.path.startswith("/announced/")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if announced:
            self.send_header("Content-Length", str(MAX_DOCUMENT_BYTES * 64))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            # Up to 1 GiB: far more than the client may take, and never the whole of it.
            for _ in range(16384):
                if announced:
                    self.wfile.write(CHUNK)
                else:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
        except OSError:
            pass


@pytest.fixture
def endless_provider() -> Iterator[str]:
    with local_http_server(_EndlessTokenAnswers) as url:
        yield url


def exchange(web_url: str) -> tuple[float, BaseException | None]:
    settings = ProviderSettings(
        id="github",
        kind="github",
        name="GitHub",
        client_id="client",
        client_secret="secret",
        scopes=(),
        web_url=web_url,
        api_url=web_url,
    )

    async def finish() -> None:
        client = GitHubClient(settings, "http://127.0.0.1/callback", DEADLINE_SECONDS)
        try:
            await client.finish("code", "verifier" * 6, None, None)
        finally:
            await client.aclose()

    started = time.monotonic()
    try:
        asyncio.run(finish())
    except BaseException as error:
        return time.monotonic() - started, error
    return time.monotonic() - started, None


@pytest.mark.parametrize("how", ["chunked", "announced"])
def test_a_token_answer_past_the_limit_is_a_provider_error_at_once(
    endless_provider: str, how: str
) -> None:
    seconds, error = exchange(f"{endless_provider}/{how}")
    assert isinstance(error, ProviderError), repr(error)
    assert error.reason == f"an answer over {MAX_DOCUMENT_BYTES} bytes"
    assert seconds < DEADLINE_SECONDS / 2

"""The Bot API client: aiogram's types and calls, with the send limits and `retry_after`
kept here, and every call counted in bot_api_requests_total."""

from __future__ import annotations

import asyncio
import time
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import AiogramError, TelegramNetworkError, TelegramRetryAfter
from aiogram.methods import TelegramMethod
from opentelemetry import trace

from learnbot.observability.metrics import BOT_API_REQUESTS
from learnbot.observability.tracing import client_span, server_attributes

T = TypeVar("T")

# Telegram's limits for one bot: about 30 messages a second in all, and about one a second to
# one chat (short bursts allowed).
GLOBAL_PER_SECOND = 30.0
CHAT_PER_SECOND = 1.0
CHAT_BURST = 3.0
# A `retry_after` is waited out when it is this short (the webhook's answer waits for it), and
# a call is tried at most this many times.
MAX_RETRY_AFTER_SECONDS = 5.0
MAX_ATTEMPTS = 3
REQUEST_TIMEOUT_SECONDS = 10.0
_SENDING = frozenset({"sendMessage"})


class BotApiFailed(Exception):
    """A Bot API call that failed for good: an error answer, a network failure, or a
    `retry_after` too long to wait. The message never holds the token."""


class TokenBucket:
    """`rate` tokens a second up to `burst`; take() waits for one."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = time.monotonic()

    def delay(self) -> float:
        """Takes a token; returns how long to wait before it may be used."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


class SendLimits:
    """Telegram's global and per-chat send limits, kept per worker process."""

    def __init__(self) -> None:
        self.overall = TokenBucket(GLOBAL_PER_SECOND, GLOBAL_PER_SECOND)
        self.chats: dict[int, TokenBucket] = {}

    async def wait(self, chat_id: int | None) -> None:
        delay = self.overall.delay()
        if chat_id is not None:
            if len(self.chats) > 10_000:
                self._forget_idle()
            bucket = self.chats.setdefault(chat_id, TokenBucket(CHAT_PER_SECOND, CHAT_BURST))
            delay = max(delay, bucket.delay())
        if delay > 0:
            await asyncio.sleep(delay)

    def _forget_idle(self) -> None:
        now = time.monotonic()
        full = CHAT_BURST / CHAT_PER_SECOND
        self.chats = {k: b for k, b in self.chats.items() if now - b.updated < full}


class BotClient:
    def __init__(self, token: str, api_url: str, tracer: trace.Tracer | None = None) -> None:
        session = AiohttpSession(
            api=TelegramAPIServer.from_base(api_url.rstrip("/")),
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        self.bot = Bot(token, session=session)
        self.limits = SendLimits()
        self._tracer = tracer
        server = urlsplit(api_url)
        # A span's attributes: never the URL, whose path holds the token.
        self._server: dict[str, str | int] = {
            "http.request.method": "POST",
            **server_attributes(server.scheme, server.hostname or "", server.port),
        }

    async def close(self) -> None:
        await self.bot.session.close()

    async def call(self, method: TelegramMethod[T]) -> T:
        name = method.__api_method__
        chat_id = _chat_id(method) if name in _SENDING else None
        for attempt in range(1, MAX_ATTEMPTS + 1):
            await self.limits.wait(chat_id)
            try:
                result = await self._traced(name, method)
            except TelegramRetryAfter as error:
                BOT_API_REQUESTS.labels(name, "retry_after").inc()
                if attempt == MAX_ATTEMPTS or error.retry_after > MAX_RETRY_AFTER_SECONDS:
                    raise BotApiFailed(f"{name}: retry after {error.retry_after} s") from None
                await asyncio.sleep(error.retry_after)
                continue
            except TelegramNetworkError as error:
                BOT_API_REQUESTS.labels(name, "network_error").inc()
                raise BotApiFailed(f"{name}: {type(error).__name__}") from None
            except AiogramError as error:
                # An error answer (TelegramAPIError and its kinds) or one that is not JSON.
                BOT_API_REQUESTS.labels(name, "error").inc()
                raise BotApiFailed(f"{name}: {type(error).__name__}") from None
            BOT_API_REQUESTS.labels(name, "ok").inc()
            return result
        raise AssertionError("unreachable")

    async def _traced(self, name: str, method: TelegramMethod[T]) -> T:
        """One Bot API call, in a client span named after its method when tracing is on."""
        attributes = {**self._server, "learnbot.telegram.method": name}
        with client_span(self._tracer, f"telegram {name}", attributes):
            return await self.bot(method)


def _chat_id(method: Any) -> int | None:
    chat_id = getattr(method, "chat_id", None)
    return chat_id if isinstance(chat_id, int) else None

"""Request budgets per client address and per Telegram id, kept by the `limits` library."""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from learnbot.api.problems import TooManyRequests
from learnbot.context import AppRequest
from learnbot.i18n.markers import N_
from learnbot.settings import Settings

log = logging.getLogger("learnbot.rate_limits")

# A slow or absent Redis must not slow every request down: give up quickly and let it pass.
REDIS_TIMEOUT_SECONDS = 0.5


def storage_for(url: str | None) -> Storage:
    if url is None:
        return MemoryStorage()
    return RedisStorage(
        "async+" + url,
        implementation="redispy",
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
    )


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit_enabled
        self.per_address: RateLimitItem = parse(settings.rate_limit_address)
        self.per_telegram_id: RateLimitItem = parse(settings.rate_limit_telegram_id)
        self.storage = storage_for(settings.rate_limit_storage_url)
        self.limiter = MovingWindowRateLimiter(self.storage)

    async def check_address(self, request: AppRequest) -> None:
        address = request.remote_addr or request.ip or "unknown"
        await self._check(
            self.per_address,
            "address",
            address,
            N_("Too many requests from this address; wait as Retry-After says."),
        )

    async def check_telegram_id(self, telegram_id: int) -> None:
        await self._check(
            self.per_telegram_id,
            "telegram_id",
            str(telegram_id),
            N_("Too many requests for this Telegram account; wait as Retry-After says."),
        )

    async def _check(self, item: RateLimitItem, kind: str, key: str, detail: str) -> None:
        if not self.enabled:
            return
        try:
            if await self.limiter.hit(item, kind, key):
                return
            stats = await self.limiter.get_window_stats(item, kind, key)
        except Exception:
            log.warning("rate limit storage unavailable; request allowed", exc_info=True)
            return
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyRequests(
            detail,
            headers={
                "Retry-After": str(retry_after),
                "RateLimit-Limit": str(item.amount),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(retry_after),
            },
            extensions={"limit": str(item), "key": kind},
        )

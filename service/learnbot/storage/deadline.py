from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from learnbot.storage.base import StorageError

T = TypeVar("T")
P = ParamSpec("P")
# How long close() waits for abandoned operations to let go of their connections.
ABANDONED_GRACE_SECONDS = 1.0


class Deadline:
    """Bounds a database operation from outside, with the client's own clock.

    `asyncio.timeout` is not enough: asyncpg meets a cancellation by asking the server to cancel
    the query, and the connection goes back to the pool only once the server has answered, which
    a hung server never does. Here the caller gets its
    StorageError on time and the cancelled operation winds down in the background.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._abandoned: set[asyncio.Future[Any]] = set()
        self._waits: set[asyncio.Timeout] = set()
        # The loop time by which every call ends, once the service is stopping.
        self._last: float | None = None

    async def run(self, operation: Coroutine[Any, Any, T]) -> T:
        when = asyncio.get_running_loop().time() + self.seconds
        if self._last is not None:
            when = min(when, self._last)
        task = asyncio.ensure_future(operation)
        try:
            async with asyncio.timeout_at(when) as wait:
                self._waits.add(wait)
                try:
                    return await asyncio.shield(task)
                finally:
                    self._waits.discard(wait)
        except TimeoutError:
            if self._last is not None:
                raise StorageError(
                    "the database did not answer before the service stopped"
                ) from None
            raise StorageError(f"the database did not answer within {self.seconds:g} s") from None
        finally:
            if not task.done():
                task.cancel()
                self._abandoned.add(task)
                task.add_done_callback(self._forget)

    def end_within(self, seconds: float) -> None:
        """Every call, those under way too, ends within `seconds` from now."""
        last = asyncio.get_running_loop().time() + seconds
        self._last = last if self._last is None else min(self._last, last)
        for wait in self._waits:
            when = wait.when()
            if not wait.expired() and (when is None or when > self._last):
                wait.reschedule(self._last)

    def _forget(self, task: asyncio.Future[Any]) -> None:
        self._abandoned.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, so that asyncio does not report it as lost

    async def close(self) -> None:
        """Cancels the abandoned operations again and waits a little for them to end; those
        still waiting for a hung server to confirm a cancel give their connections up at the
        store's release timeout."""
        abandoned = list(self._abandoned)
        for task in abandoned:
            task.cancel()
        if abandoned:
            await asyncio.wait(abandoned, timeout=ABANDONED_GRACE_SECONDS)


class HasDeadline(Protocol):
    deadline: Deadline


S = TypeVar("S", bound=HasDeadline)


def within_deadline(
    method: Callable[Concatenate[S, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    @functools.wraps(method)
    async def bounded(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.deadline.run(method(self, *args, **kwargs))

    return bounded

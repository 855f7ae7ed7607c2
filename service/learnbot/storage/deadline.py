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

    `asyncio.timeout` is not enough: psycopg meets a cancellation by asking the server to cancel
    the query and waiting for that, which a hung server never answers. Here the caller gets its
    StorageError on time and the cancelled operation winds down in the background.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._abandoned: set[asyncio.Future[Any]] = set()

    async def run(self, operation: Coroutine[Any, Any, T]) -> T:
        task = asyncio.ensure_future(operation)
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.seconds)
        except TimeoutError:
            raise StorageError(f"the database did not answer within {self.seconds:g} s") from None
        finally:
            if not task.done():
                task.cancel()
                self._abandoned.add(task)
                task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Future[Any]) -> None:
        self._abandoned.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, so that asyncio does not report it as lost

    async def close(self) -> None:
        """Cancels the abandoned operations again: psycopg then drops their connections."""
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

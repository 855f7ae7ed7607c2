"""A small HTTP/1.1 load client on asyncio: a fixed-rate (open-loop) mode and a closed-loop one.

wrk2 is not in Debian, and wrk's Lua `delay()` only slows each connection down, so wrk cannot
hold a rate. The paced mode schedules request i at start + i / rate whatever the server does,
and measures each latency from that scheduled moment (as wrk2 does), so time a request spent
waiting for a free connection counts. The closed-loop mode stands in for wrk where it is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.measurement import Measurement, percentile

RESPONSE_TIMEOUT_SECONDS = 2.0  # wrk's default timeout, so both count timeouts alike


def http_request(
    method: str, path: str, host: str, headers: dict[str, str] | None = None, body: str = ""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    error_statuses: int = 0
    socket_errors: int = 0


class _Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def exchange(self, request: bytes) -> int:
        """Sends one request and reads its whole response; returns the status."""
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        keep_alive = True
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                keep_alive = False
        if length:
            await self.reader.readexactly(length)
        if not keep_alive:
            await self.close()
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def _timed_exchange(
    connection: _Connection, request: bytes, since: float, tally: _Tally
) -> None:
    try:
        status = await asyncio.wait_for(connection.exchange(request), RESPONSE_TIMEOUT_SECONDS)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
        tally.socket_errors += 1
        await connection.close()
        return
    tally.latencies.append(time.perf_counter() - since)
    if not 200 <= status < 300:
        tally.error_statuses += 1


def _measurement(tally: _Tally, seconds: float, generator: str, unanswered: int) -> Measurement:
    ordered = sorted(tally.latencies)
    kinds = {
        "status": tally.error_statuses,
        "socket or timeout": tally.socket_errors,
        "unanswered": unanswered,
    }
    return Measurement(
        requests=len(ordered),
        seconds=seconds,
        p50_ms=percentile(ordered, 50) * 1000,
        p99_ms=percentile(ordered, 99) * 1000,
        errors=tally.error_statuses + tally.socket_errors + unanswered,
        generator=generator,
        error_kinds=", ".join(f"{count} {kind}" for kind, count in kinds.items() if count),
    )


async def _paced(
    host: str,
    port: int,
    requests: Sequence[bytes],
    rate: float,
    duration: float,
    connections: int,
) -> Measurement:
    total = int(rate * duration)
    queue: asyncio.Queue[tuple[bytes, float] | None] = asyncio.Queue()
    tally = _Tally()
    pool = [_Connection(host, port) for _ in range(connections)]

    async def worker(connection: _Connection) -> None:
        while (job := await queue.get()) is not None:
            request, scheduled = job
            await _timed_exchange(connection, request, scheduled, tally)
        await connection.close()

    workers = [asyncio.create_task(worker(connection)) for connection in pool]
    cycle: Iterator[bytes] = itertools.cycle(requests)
    start = time.perf_counter() + 0.05
    for i in range(total):
        scheduled = start + i / rate
        if scheduled > time.perf_counter():
            await asyncio.sleep(scheduled - time.perf_counter())
        queue.put_nowait((next(cycle), scheduled))
    for _ in pool:
        queue.put_nowait(None)
    _, pending = await asyncio.wait(workers, timeout=RESPONSE_TIMEOUT_SECONDS + 5)
    for task in pending:
        task.cancel()
    # Until the last answer: a server that falls behind stretches the run, and its rate drops.
    seconds = max(duration, time.perf_counter() - start)
    unanswered = total - len(tally.latencies) - tally.socket_errors
    return _measurement(tally, seconds, "paced", unanswered)


async def _closed(
    host: str, port: int, requests: Sequence[bytes], duration: float, connections: int
) -> Measurement:
    tally = _Tally()
    start = time.perf_counter()
    end = start + duration

    async def worker(share: Sequence[bytes]) -> None:
        connection = _Connection(host, port)
        for request in itertools.cycle(share):
            if time.perf_counter() >= end:
                break
            await _timed_exchange(connection, request, time.perf_counter(), tally)
        await connection.close()

    shares = [requests[i::connections] or requests for i in range(connections)]
    await asyncio.gather(*(worker(share) for share in shares))
    return _measurement(tally, time.perf_counter() - start, "python", 0)


def _run(coroutine: Coroutine[Any, Any, Measurement]) -> Measurement:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def paced(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    rate: float,
    duration: float,
    connections: int,
) -> Measurement:
    return _run(_paced(host, port, requests, rate, duration, connections))


def closed_loop(
    host: str, port: int, requests: Sequence[bytes], *, duration: float, connections: int
) -> Measurement:
    return _run(_closed(host, port, requests, duration, connections))

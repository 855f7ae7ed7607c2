"""Stopping `learnbot serve` within a bounded time, whatever state it is in.

Sanic's worker manager waits for its workers without a time limit, a stop signal that arrives
before every worker has reported ready leaves it looping for good, and a worker whose server has
stopped can stall in the interpreter's exit. So a stopped worker exits at once, the main process
kills what is left once the grace period is over, and a worker never outlives the main process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from types import FrameType

log = logging.getLogger("learnbot")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def bound_main_process_stop(grace_seconds: float) -> None:
    """Wraps the stop handlers Sanic's worker manager installed in the main process."""
    deadline = _StopDeadline(grace_seconds)
    for signum in STOP_SIGNALS:
        deadline.wrap(signum)


class _StopDeadline:
    def __init__(self, grace_seconds: float) -> None:
        self._grace_seconds = grace_seconds
        self._started = threading.Event()

    def wrap(self, signum: signal.Signals) -> None:
        sanic_handler = signal.getsignal(signum)

        def handler(received: int, frame: FrameType | None) -> None:
            self.start()
            if callable(sanic_handler):
                sanic_handler(received, frame)

        signal.signal(signum, handler)

    def start(self) -> None:
        if self._started.is_set():
            return
        self._started.set()
        threading.Thread(target=self._kill_when_over, name="learnbot-stop", daemon=True).start()

    def _kill_when_over(self) -> None:
        time.sleep(self._grace_seconds)
        workers = multiprocessing.active_children()
        log.error(
            "the service did not stop within SHUTDOWN_GRACE_SECONDS=%g; killing %d worker(s)",
            self._grace_seconds,
            len(workers),
        )
        for worker in workers:
            worker.kill()
        os._exit(1)


# How long a worker whose server has stopped may take to exit by itself.
EXIT_SECONDS = 1.0


def exit_soon() -> None:
    """In a worker whose server has stopped and closed its resources; never in the main process."""
    if multiprocessing.parent_process() is None:
        return
    timer = threading.Timer(EXIT_SECONDS, os._exit, args=(0,))
    timer.daemon = True
    timer.start()


def stop_with_main_process(grace_seconds: float) -> None:
    """In a worker: stops it, gracefully and then for good, once the main process is gone."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        log.warning("the main process is gone; stopping worker %d", os.getpid())
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="learnbot-parent-watch", daemon=True).start()

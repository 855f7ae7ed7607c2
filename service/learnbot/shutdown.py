"""Stopping `learnbot serve` within a bounded time, whatever state it is in.

Sanic's worker manager waits for its workers without a time limit, and a worker whose server has
stopped can stall in the interpreter's exit. So a stopped worker exits at once, the main process
kills what is left once the grace period is over, and a worker never outlives the main process.

`serve` also has Sanic start two things as defined here (`bound_sanic_processes`): the
`multiprocessing` manager process that holds the state Sanic shares between processes, which a
stop signal during its start would leave running for good and which would outlive a killed main
process; and the worker manager, whose stop handler a signal during start-up would leave
waiting for good for workers that were stopped before they were ready, or never stopped.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from multiprocessing.managers import SyncManager
from types import FrameType
from typing import Any

from sanic.worker.manager import MonitorCycle, WorkerManager

log = logging.getLogger("learnbot")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def bound_sanic_processes(grace_seconds: float) -> None:
    """Has `Sanic.serve` start its processes as defined here; only in the main process."""
    from sanic.mixins import startup

    BoundedWorkerManager.grace_seconds = grace_seconds
    replacements = {
        "Manager": (multiprocessing.Manager, start_sync_manager),
        "WorkerManager": (WorkerManager, BoundedWorkerManager),
    }
    for name, (sanics, ours) in replacements.items():
        if getattr(startup, name, None) not in (sanics, ours):
            raise RuntimeError(f"Sanic.serve no longer uses {name} as learnbot.shutdown expects")
        setattr(startup, name, ours)


def start_sync_manager() -> SyncManager:
    """`multiprocessing.Manager()`, but a stop signal cannot leave the manager process behind.

    A signal while it starts takes effect once it has started: then SIGINT's KeyboardInterrupt
    shuts it down on the way out, as multiprocessing does with a started manager, and after a
    SIGTERM it exits with the main process, as it does after SIGKILL.
    """
    manager = SyncManager(ctx=multiprocessing.get_context())
    with _stop_signals_held():
        manager.start(_exit_with_main_process)
    return manager


@contextlib.contextmanager
def _stop_signals_held() -> Iterator[None]:
    received: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {signum: signal.signal(signum, hold) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        for held in dict.fromkeys(received):
            signal.raise_signal(held)


def _exit_with_main_process() -> None:
    """In the manager process, before it serves: exits once the main process is gone."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(0)

    threading.Thread(target=watch, name="learnbot-parent-watch", daemon=True).start()


class BoundedWorkerManager(WorkerManager):
    """Sanic's worker manager, stopped within the grace period in every state.

    Sanic's own stop handler does its work inside the signal handler, wherever the main process
    was: a worker whose start was under way then is never told to stop, and the handler's calls
    to the shared-state manager can interleave with one the main process was making. Here the
    handler only notes the signal and starts the grace period; Sanic's stop runs where its loop
    is between steps: once it has started the workers, while it waits for them to report ready,
    and while it watches them.
    """

    grace_seconds = 8.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Set before Sanic installs the stop handlers, at the end of its __init__.
        self._stop_signal: int | None = None
        self._deadline = _StopDeadline(self.grace_seconds)
        super().__init__(*args, **kwargs)

    def shutdown_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stop_signal is None:
            self._stop_signal = signum
            self._deadline.start()
        elif self._shutting_down:
            # A second signal once the stop is under way: Sanic kills the workers at once.
            super().shutdown_signal(signum, frame)  # type: ignore[no-untyped-call]

    def _stop_if_signalled(self) -> None:
        if self._stop_signal is not None and not self._shutting_down:
            super().shutdown_signal(self._stop_signal, None)  # type: ignore[no-untyped-call]

    def start(self) -> None:
        # No worker starts after a stop signal, and one started while it came is stopped too.
        if self._stop_signal is None:
            super().start()  # type: ignore[no-untyped-call]
        self._stop_if_signalled()

    def _all_workers_ack(self) -> bool:
        self._stop_if_signalled()
        # Sanic would wait for good for workers it has stopped before they were ready.
        if self._shutting_down:
            return True
        acked: bool = super()._all_workers_ack()  # type: ignore[no-untyped-call]
        return acked

    def _poll_monitor(self) -> MonitorCycle | None:
        self._stop_if_signalled()
        return super()._poll_monitor()


class _StopDeadline:
    """Kills the main process's children and exits once the grace period after a signal is over."""

    def __init__(self, grace_seconds: float) -> None:
        self._grace_seconds = grace_seconds
        self._started = threading.Event()

    def start(self) -> None:
        if self._started.is_set():
            return
        self._started.set()
        threading.Thread(target=self._kill_when_over, name="learnbot-stop", daemon=True).start()

    def _kill_when_over(self) -> None:
        time.sleep(self._grace_seconds)
        children = multiprocessing.active_children()
        log.error(
            "the service did not stop within SHUTDOWN_GRACE_SECONDS=%g; killing %d process(es)",
            self._grace_seconds,
            len(children),
        )
        for child in children:
            child.kill()
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

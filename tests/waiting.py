"""Waiting for something a real server does in its own time."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], bool], timeout: float = 30, interval: float = 0.1) -> bool:
    """Whether `condition` held within `timeout` seconds, asked every `interval` and once at
    the end."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()

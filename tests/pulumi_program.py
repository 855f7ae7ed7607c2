"""The one event loop Pulumi's SDK waits on, shared by every test that runs the Pulumi program.
The program's own folder, platform/, comes first on sys.path, as Pulumi puts it: pytest's
`pythonpath` (pyproject.toml) puts it there for every test."""

from __future__ import annotations

import asyncio
import atexit
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]

if TYPE_CHECKING:
    from stack_run import StackRun

# Held by the module, not only by a fixture: collected at the end of the session, an unclosed
# loop warns while pytest still counts unraisable warnings, and fails the run. It is closed only
# at exit, once pytest is done: closing it earlier would end its executor's threads, each holding
# a loop of the SDK's, in the middle of pytest's checks; never closed, it warns on the way out.
PULUMI_LOOP = asyncio.new_event_loop()
atexit.register(PULUMI_LOOP.close)


@contextmanager
def pulumi_loop_current() -> Iterator[asyncio.AbstractEventLoop]:
    """Pulumi's SDK waits on the thread's current event loop, and pytest-asyncio leaves none
    behind its tests: the program runs with this one current, and none after."""
    asyncio.set_event_loop(PULUMI_LOOP)
    try:
        yield PULUMI_LOOP
    finally:
        asyncio.set_event_loop(None)


def run_stack(name: str) -> StackRun:
    """One of the stacks of stack_run.STACKS, run under mocks with the SDK's loop current, for
    tests outside tests/platform, where no fixture keeps it current."""
    from stack_run import run_stack as run_under_mocks

    with pulumi_loop_current():
        return run_under_mocks(name)

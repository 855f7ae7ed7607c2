"""The Pulumi program's folder goes first on sys.path, as Pulumi puts it (the folder is never a
package: the standard library owns the name `platform`); one run of the whole program with
every default is shared by the tests that only read it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PLATFORM = Path(__file__).resolve().parents[2] / "platform"
if str(PLATFORM) not in sys.path:
    sys.path.insert(0, str(PLATFORM))

from stack_run import BASE_CONFIG, CONFIGURED, SECRETS, StackRun, run_program  # noqa: E402


@pytest.fixture(scope="session")
def pulumi_loop() -> asyncio.AbstractEventLoop:
    """Pulumi's SDK waits on the thread's current event loop, and pytest-asyncio leaves none
    behind its tests: these tests keep one of their own. It is not closed: closing it would end
    its executor's threads, each holding a loop of the SDK's, in the middle of pytest's checks."""
    return asyncio.new_event_loop()


@pytest.fixture(autouse=True)
def current_loop(pulumi_loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    asyncio.set_event_loop(pulumi_loop)
    yield
    asyncio.set_event_loop(None)


@pytest.fixture(scope="session")
def default_stack(pulumi_loop: asyncio.AbstractEventLoop) -> StackRun:
    """The program with only the required settings: every default in force."""
    asyncio.set_event_loop(pulumi_loop)
    return run_program(BASE_CONFIG, secret_keys=["telegramBotToken"])


@pytest.fixture(scope="session")
def configured_stack(pulumi_loop: asyncio.AbstractEventLoop) -> StackRun:
    """The program with every secret and a setting changed from each default that matters."""
    asyncio.set_event_loop(pulumi_loop)
    return run_program(CONFIGURED, secret_keys=list(SECRETS), stack="prod")

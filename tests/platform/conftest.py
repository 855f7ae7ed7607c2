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

from stack_run import KUBERNETES_CONFIG, StackRun, run_program, run_stack  # noqa: E402

# Held by the module, not only by the fixture: collected at the end of the session, an unclosed
# loop warns while pytest still counts unraisable warnings, and fails the run.
_PULUMI_LOOP = asyncio.new_event_loop()


@pytest.fixture(scope="session")
def pulumi_loop() -> asyncio.AbstractEventLoop:
    """Pulumi's SDK waits on the thread's current event loop, and pytest-asyncio leaves none
    behind its tests: these tests keep one of their own. It is not closed: closing it would end
    its executor's threads, each holding a loop of the SDK's, in the middle of pytest's checks."""
    return _PULUMI_LOOP


@pytest.fixture(autouse=True)
def current_loop(pulumi_loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    asyncio.set_event_loop(pulumi_loop)
    yield
    asyncio.set_event_loop(None)


@pytest.fixture(scope="session")
def default_stack(pulumi_loop: asyncio.AbstractEventLoop) -> StackRun:
    """The program with only the required settings: every default in force."""
    asyncio.set_event_loop(pulumi_loop)
    return run_stack("docker-defaults")


@pytest.fixture(scope="session")
def configured_stack(pulumi_loop: asyncio.AbstractEventLoop) -> StackRun:
    """The program with every secret and a setting changed from each default that matters."""
    asyncio.set_event_loop(pulumi_loop)
    return run_stack("docker-configured")


@pytest.fixture(scope="session")
def kubernetes_stack(pulumi_loop: asyncio.AbstractEventLoop) -> StackRun:
    """The Kubernetes target with only its required settings."""
    asyncio.set_event_loop(pulumi_loop)
    return run_stack("kubernetes-defaults")


@pytest.fixture(scope="session")
def kubernetes_configured(pulumi_loop: asyncio.AbstractEventLoop) -> StackRun:
    """The Kubernetes target with every secret, the kubeconfig included, and changed settings."""
    asyncio.set_event_loop(pulumi_loop)
    return run_stack("kubernetes-configured")


@pytest.fixture(scope="session")
def kubernetes_shared_operators(pulumi_loop: asyncio.AbstractEventLoop) -> StackRun:
    """The Kubernetes target on a cluster that already runs both operators."""
    asyncio.set_event_loop(pulumi_loop)
    return run_program(
        {
            **KUBERNETES_CONFIG,
            "installCloudNativePG": "false",
            "installPrometheusOperator": "false",
            "monitoringLabels": "release=kube-prometheus-stack",
        },
        secret_keys=["telegramBotToken"],
    )

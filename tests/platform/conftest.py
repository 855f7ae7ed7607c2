"""The SDK's loop current during every test here (tests/pulumi_program.py); one run of the whole
program with every default is shared by the tests that only read it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from pulumi_program import PULUMI_LOOP, pulumi_loop_current
from stack_run import KUBERNETES_CONFIG, StackRun, run_program, run_stack


@pytest.fixture(scope="session")
def pulumi_loop() -> asyncio.AbstractEventLoop:
    """The loop Pulumi's SDK waits on, current during every test here."""
    return PULUMI_LOOP


@pytest.fixture(autouse=True)
def current_loop() -> Iterator[None]:
    with pulumi_loop_current():
        yield


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

"""What mocks of a single `pulumi up` cannot show: a preview, where every computed value is
unknown, and a second `up` with the state of the first, which must change nothing."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pulumi.runtime.sync_await import _sync_await

from stack_run import (
    CONTAINER,
    HEALTHCHECK_DURATIONS,
    STACKS,
    StackMocks,
    go_duration_read_back,
    plain,
    run_stack,
    unchanged,
)


@pytest.mark.parametrize(
    ("written", "read_back"),
    [("5s", "5s"), ("60s", "1m0s"), ("90s", "1m30s"), ("1m", "1m0s"), ("3600s", "1h0m0s")],
)
def test_the_provider_reads_durations_back_in_go_form(written: str, read_back: str) -> None:
    assert go_duration_read_back(written) == read_back


@pytest.mark.parametrize("name", ["docker-defaults", "docker-configured"])
def test_every_healthcheck_duration_is_written_as_the_provider_reads_it_back(name: str) -> None:
    stack = run_stack(name, StackMocks())
    checked = 0
    for container in stack.containers().values():
        for key, value in container.get("healthcheck", {}).items():
            if key in HEALTHCHECK_DURATIONS:
                assert value == go_duration_read_back(value), (container["name"], key)
                checked += 1
    assert checked > 20


@pytest.mark.parametrize("name", list(STACKS))
def test_a_second_up_with_nothing_changed_changes_nothing(name: str) -> None:
    first = StackMocks()
    run_stack(name, first)
    second = StackMocks()
    run_stack(name, second)
    changed = unchanged(first, second, invert=True)
    assert [(r.typ, r.name) for r in changed] == []
    assert len(second.resources) == len(first.resources)


@pytest.mark.parametrize("name", list(STACKS))
def test_a_preview_runs_with_every_computed_value_unknown(name: str) -> None:
    previewed = StackMocks(preview=True)
    stack = run_stack(name, previewed)
    deployed = StackMocks()
    deployment = run_stack(name, deployed)
    # The preview plans every resource the deploy creates.
    assert sorted((r.typ, r.name) for r in previewed.resources) == sorted(
        (r.typ, r.name) for r in deployed.resources
    )
    assert set(stack.program["outputs"]) == set(deployment.program["outputs"])
    if name.startswith("docker"):
        # The harness really previews: what only the engine knows is unknown.
        assert not is_known(stack.program["api"].image_ref)


def is_known(output: Any) -> bool:
    return bool(_sync_await(pulumi.Output.from_input(output).is_known()))


def test_the_second_up_check_sees_a_duration_the_provider_rewrites() -> None:
    # The check itself: a container written with "60s" is a change at every preview.
    first = StackMocks()
    run_stack("docker-defaults", first)
    second = StackMocks()
    run_stack("docker-defaults", second)
    (container,) = [r for r in second.resources if r.typ == CONTAINER and r.name == "api-redis"]
    healthcheck: dict[str, Any] = plain(container.inputs["healthcheck"])
    container.inputs["healthcheck"] = {**healthcheck, "interval": "10s", "startPeriod": "60s"}
    assert [r.name for r in unchanged(first, second, invert=True)] == ["api-redis"]

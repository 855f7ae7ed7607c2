"""The rehearsal's replay (tests/rehearsal/replay.py) understands every Docker resource the
program registers, and refuses what it would not apply as the Docker provider does: a new input
in the program fails here, in `make test`, before it reaches the rehearsal."""

from __future__ import annotations

import io
import tarfile

import pytest

from rehearsal.replay import (
    NETWORK_INPUTS,
    VOLUME_INPUTS,
    ReplayError,
    Resource,
    container_options,
    in_dependency_order,
    nanoseconds,
    resources_of,
    strict,
    upload_archive,
)
from stack_run import CONTAINER, NETWORK, VOLUME, StackRun


@pytest.mark.parametrize("stack", ["default_stack", "configured_stack"])
def test_every_docker_resource_of_the_program_is_replayed(
    stack: str, request: pytest.FixtureRequest
) -> None:
    run: StackRun = request.getfixturevalue(stack)
    resources = in_dependency_order(resources_of(run))
    containers = [r for r in resources if r.type == CONTAINER]
    assert containers
    for resource in containers:
        options = container_options(resource.inputs)
        assert options["name"] == resource.inputs["name"]
        assert options["restart_policy"]["Name"] in ("unless-stopped", "on-failure")
    for resource in resources:
        if resource.type == NETWORK:
            strict(resource.inputs, NETWORK_INPUTS, resource.name)
        elif resource.type == VOLUME:
            strict(resource.inputs, VOLUME_INPUTS, resource.name)


def test_dependencies_come_first(default_stack: StackRun) -> None:
    ordered = [r.name for r in in_dependency_order(resources_of(default_stack))]
    position = {name: index for index, name in enumerate(ordered)}
    for resource in resources_of(default_stack):
        for dependency in resource.depends_on:
            assert position[dependency] < position[resource.name], (dependency, resource.name)
    # The rolling replacement: the second replica after the first, the proxy after both.
    assert position["api-migrate"] < position["api-1"] < position["api-2"] < position["api-proxy"]


def test_a_component_dependency_is_one_on_every_resource_under_it(
    default_stack: StackRun,
) -> None:
    (backup,) = [r for r in resources_of(default_stack) if r.name == "backups-job"]
    assert "database-server" in backup.depends_on


def test_an_input_the_replay_does_not_apply_stops_it(default_stack: StackRun) -> None:
    (proxy,) = [r for r in resources_of(default_stack) if r.name == "api-proxy"]
    with pytest.raises(ReplayError, match="gpus"):
        container_options({**proxy.inputs, "gpus": "all"})
    with pytest.raises(ReplayError, match="privileged"):
        container_options({**proxy.inputs, "privileged": True})
    upload = {**proxy.inputs["uploads"][0], "source": "/etc/passwd"}
    with pytest.raises(ReplayError, match="source"):
        container_options({**proxy.inputs, "uploads": [upload]})


def test_a_cycle_is_refused(default_stack: StackRun) -> None:
    (first, second) = [r for r in resources_of(default_stack) if r.name in ("api-1", "api-2")]
    looped = [
        Resource(first.type, first.name, first.inputs, first.registration, ("api-2",)),
        Resource(second.type, second.name, second.inputs, second.registration, ("api-1",)),
    ]
    with pytest.raises(ReplayError, match="cycle"):
        in_dependency_order(looped)


@pytest.mark.parametrize(
    ("text", "seconds"), [("5s", 5), ("1m0s", 60), ("1h30m0s", 5400), ("1m30s", 90), ("500ms", 0.5)]
)
def test_go_durations_in_nanoseconds(text: str, seconds: float) -> None:
    assert nanoseconds(text) == int(seconds * 1e9)


@pytest.mark.parametrize("text", ["", "5", "5 s", "1d", "s5"])
def test_a_malformed_duration_is_refused(text: str) -> None:
    with pytest.raises(ReplayError):
        nanoseconds(text)


def test_an_upload_keeps_its_path_owner_and_mode() -> None:
    archive = upload_archive(
        "c",
        {
            "file": "/run/secrets/pw",
            "content": "s3cret",
            "owner": "65534",
            "group": "65534",
            "permissions": "0400",
        },
    )
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        (member,) = tar.getmembers()
        assert member.name == "/run/secrets/pw"  # the full path, extracted at "/"
        assert (member.uid, member.gid, member.mode) == (65534, 65534, 0o400)
        extracted = tar.extractfile(member)
        assert extracted is not None
        assert extracted.read() == b"s3cret"


def test_an_upload_without_owner_is_roots_and_0644() -> None:
    with tarfile.open(
        fileobj=io.BytesIO(upload_archive("c", {"file": "/a", "content": "x"}))
    ) as tar:
        (member,) = tar.getmembers()
        assert (member.uid, member.gid, member.mode) == (0, 0, 0o644)

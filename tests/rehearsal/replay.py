"""The Pulumi program's Docker resources, created on a real Docker engine as the Docker provider
would create them.

The program runs under Pulumi's mocks (no Pulumi engine or provider plugin is reachable here),
with mocks that answer from the real engine: a pulled image's id is the id of the engine's image
of that name, the API image is built by the engine from service/Dockerfile, and a random password
lives as long as the stack's state. The network, volumes and containers the program registers are
then created through the Docker API, in dependency order, with exactly the declared inputs; an
input the replay does not know how to apply stops it (`ReplayError`), it is never skipped.

A second replay against the state of the first behaves as `pulumi up` does on a live stack: a
resource whose inputs are unchanged is left alone, a container whose inputs changed is replaced
(removed first: `delete_before_replace`), one at a time in dependency order. `destroy` removes
what `pulumi destroy` would, keeping what the program marks `retain_on_delete`.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import shutil
import string
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pulumi
from docker.types import LogConfig, Mount

from stack_run import (
    BUILT_IMAGE,
    CONTAINER,
    NETWORK,
    RANDOM_PASSWORD,
    REMOTE_IMAGE,
    VOLUME,
    Registration,
    StackMocks,
    StackRun,
    plain,
    run_program,
)

ROOT = Path(__file__).resolve().parents[2]

Log = Callable[[str], None]
# Why a resource is left out of the replay (by its Pulumi name), or None.
Skip = Callable[[str], str | None]


class ReplayError(Exception):
    """The replay met something it cannot do as the Docker provider would."""


@dataclass
class Resource:
    """One resource the program registered: its type, name, inputs (secrets unwrapped) and the
    options the engine acts on."""

    type: str
    name: str
    inputs: dict[str, Any]
    registration: Registration
    depends_on: tuple[str, ...]

    @property
    def docker_name(self) -> str:
        return str(self.inputs.get("name") or self.inputs.get("imageName") or self.name)


@dataclass
class StackState:
    """What Pulumi's state would hold between runs: each resource's inputs as applied, and the
    values of the random passwords."""

    applied: dict[str, Resource] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)


class EngineMocks(StackMocks):
    """Mocks that answer as the Docker provider would on this engine."""

    def __init__(
        self, client: docker.DockerClient, state: StackState, log: Log, skip: Skip
    ) -> None:
        super().__init__()
        self.client = client
        self.state = state
        self.log = log
        self.skip = skip

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        resource_id, outputs = super().new_resource(args)
        inputs = plain(args.inputs)
        if self.skip(args.name):
            return resource_id, outputs
        if args.typ == REMOTE_IMAGE:
            outputs["imageId"] = self._local_image(inputs["name"])
            outputs["repoDigest"] = inputs["name"]
        elif args.typ == BUILT_IMAGE:
            outputs["repoDigest"] = self._build(inputs)
        elif args.typ == RANDOM_PASSWORD:
            outputs["result"] = self._password(args.name, inputs)
        return resource_id, outputs

    def _local_image(self, reference: str) -> str:
        try:
            return str(self.client.images.get(reference).id)
        except docker.errors.ImageNotFound:
            raise ReplayError(
                f"no image {reference} on the engine (the stand-ins build it)"
            ) from None

    def _build(self, inputs: Mapping[str, Any]) -> str:
        build = dict(inputs["build"])
        unknown = set(build) - {"context", "dockerfile", "args"}
        unknown |= set(inputs) - {"build", "imageName", "skipPush", "buildOnPreview"}
        if unknown:
            raise ReplayError(
                f"image {inputs['imageName']}: inputs not replayed: {sorted(unknown)}"
            )
        if inputs.get("skipPush") is not True:
            raise ReplayError(f"image {inputs['imageName']}: a push to a registry")
        context = Path(build["context"])
        started = time.monotonic()
        image_id = build_with_buildkit(
            context, Path(build["dockerfile"]), inputs["imageName"], build.get("args") or {}
        )
        self.log(f"built {inputs['imageName']} in {time.monotonic() - started:.0f} s")
        return image_id

    def _password(self, name: str, inputs: Mapping[str, Any]) -> str:
        known = {"length", "special"}
        if set(inputs) - known or inputs.get("special"):
            raise ReplayError(f"password {name}: inputs not replayed: {sorted(inputs)}")
        if name not in self.state.passwords:
            alphabet = string.ascii_letters + string.digits
            length = int(inputs["length"])
            self.state.passwords[name] = "".join(secrets.choice(alphabet) for _ in range(length))
        return self.state.passwords[name]


def build_with_buildkit(context: Path, dockerfile: Path, tag: str, args: Mapping[str, str]) -> str:
    """`docker build` with BuildKit, as the provider builds: the Docker SDK knows only the
    classic builder, which, for one, ignores a `# syntax=` line that BuildKit would pull."""
    with tempfile.TemporaryDirectory() as scratch:
        iidfile = Path(scratch) / "iid"
        command = [docker_cli(), "build", "--progress=plain", "--iidfile", str(iidfile)]
        command += ["--file", str(dockerfile), "--tag", tag]
        for key, value in args.items():
            command += ["--build-arg", f"{key}={value}"]
        result = subprocess.run(
            [*command, str(context)],
            env={**os.environ, "DOCKER_BUILDKIT": "1"},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ReplayError(f"the build of {tag} failed:\n{result.stderr[-3000:]}")
        return iidfile.read_text().strip()


def docker_cli() -> str:
    """A docker CLI that builds with BuildKit by itself: Debian's (docker.io); a newer CLI
    needs the buildx plugin for that."""
    for candidate in ("/usr/bin/docker", shutil.which("docker")):
        if candidate and Path(candidate).exists():
            return candidate
    raise ReplayError(
        "no docker CLI to build the API image with (Debian: apt-get install docker.io)"
    )


def run(
    client: docker.DockerClient,
    config: Mapping[str, str],
    secret_keys: Iterable[str],
    state: StackState,
    log: Log,
    skip: Skip,
    *,
    stack: str = "rehearsal",
) -> list[Resource]:
    """Runs the program against the engine's images; the resources it registered, in the
    order the engine would create them."""
    mocks = EngineMocks(client, state, log, skip)
    stack_run = run_program(config, secret_keys=tuple(secret_keys), stack=stack, mocks=mocks)
    return in_dependency_order(resources_of(stack_run))


def resources_of(stack_run: StackRun) -> list[Resource]:
    by_urn = stack_run.monitor.registrations
    names = {urn: registration.name for urn, registration in by_urn.items()}
    children: dict[str, list[str]] = {}
    for urn, registration in by_urn.items():
        children.setdefault(registration.parent, []).append(urn)

    def custom_resources(urn: str) -> list[str]:
        """A dependency on a component is one on every resource under it."""
        if by_urn[urn].type.startswith(("docker:", "random:")):
            return [names[urn]]
        return [name for child in children.get(urn, []) for name in custom_resources(child)]

    resources = []
    for args in stack_run.mocks.resources:
        if not args.typ.startswith(("docker:", "random:")):
            continue  # a component: nothing of its own on the engine
        (urn,) = [u for u, r in by_urn.items() if r.name == args.name and r.type == args.typ]
        registration = by_urn[urn]
        depends_on = tuple(
            name
            for dependency in registration.dependencies
            for name in custom_resources(dependency)
        )
        resources.append(
            Resource(args.typ, args.name, plain(args.inputs), registration, depends_on)
        )
    return resources


def in_dependency_order(resources: list[Resource]) -> list[Resource]:
    """Dependencies first; otherwise in the order the program registered them."""
    by_name = {resource.name: resource for resource in resources}
    ordered: list[Resource] = []
    placed: set[str] = set()

    def place(resource: Resource, path: tuple[str, ...]) -> None:
        if resource.name in placed:
            return
        if resource.name in path:
            raise ReplayError(f"a dependency cycle: {' -> '.join((*path, resource.name))}")
        for dependency in resource.depends_on:
            place(by_name[dependency], (*path, resource.name))
        placed.add(resource.name)
        ordered.append(resource)

    for resource in resources:
        place(resource, ())
    return ordered


# --- applying resources ---------------------------------------------------------------------

CONTAINER_INPUTS = {
    "name",
    "image",
    "command",
    "entrypoint",
    "envs",
    "user",
    "labels",
    "logDriver",
    "logOpts",
    "memory",
    "networksAdvanced",
    "ports",
    "restart",
    "securityOpts",
    "privileged",
    "healthcheck",
    "uploads",
    "volumes",
    "stopSignal",
    "destroyGraceSeconds",
    "wait",
    "waitTimeout",
    "mustRun",
}
NETWORK_INPUTS = {"name", "driver", "labels"}
VOLUME_INPUTS = {"name", "driver", "labels"}
UPLOAD_INPUTS = {"file", "content", "owner", "group", "permissions"}
# Steps at once: Pulumi's engine runs independent steps in parallel (`pulumi up --parallel`);
# more than the stack ever has ready together.
PARALLEL = 16
# The provider's defaults: wait_timeout 60 s, must_run true, a 0644 upload owned by root.
WAIT_TIMEOUT_DEFAULT = 60
UPLOAD_MODE_DEFAULT = "0644"


@dataclass
class Engine:
    """Applies resources to the Docker engine as the Docker provider does."""

    client: docker.DockerClient
    log: Log
    skip: Skip = lambda name: None
    skipped: dict[str, str] = field(default_factory=dict)

    def up(self, resources: list[Resource], state: StackState) -> list[str]:
        """`pulumi up`: creates what is new, replaces what changed, leaves the rest; returns
        the names of the resources it created or replaced.

        As Pulumi's engine does, a resource's step starts as soon as every resource it depends
        on is done, so steps that do not depend on each other run at the same time (up to
        PARALLEL); after a failed step no new step starts, and the first error is raised."""
        pending = {}
        for resource in resources:
            reason = self.skip(resource.name)
            if reason:
                self.skipped[resource.name] = reason
            else:
                pending[resource.name] = resource
        done = set(self.skipped)
        changed: list[str] = []
        errors: list[BaseException] = []
        with ThreadPoolExecutor(PARALLEL) as pool:
            running: dict[Future[bool], Resource] = {}
            while (pending and not errors) or running:
                if not errors:
                    for resource in [r for r in pending.values() if done.issuperset(r.depends_on)]:
                        del pending[resource.name]
                        running[pool.submit(self._step, resource, state)] = resource
                if not running:
                    raise ReplayError(
                        f"resources that wait on nothing that runs: {sorted(pending)}"
                    )
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    resource = running.pop(future)
                    error = future.exception()
                    if error is not None:
                        errors.append(error)
                        continue
                    done.add(resource.name)
                    if future.result():
                        changed.append(resource.name)
        if errors:
            raise errors[0]
        return changed

    def _step(self, resource: Resource, state: StackState) -> bool:
        before = state.applied.get(resource.name)
        if before is not None and before.inputs == resource.inputs:
            return False
        if before is not None:
            self._replace(before, resource)
        else:
            self.create(resource)
        state.applied[resource.name] = resource
        return True

    def destroy(self, state: StackState) -> None:
        """`pulumi destroy`: everything in reverse order, but what the program retains."""
        for resource in reversed(list(state.applied.values())):
            if not resource.registration.retain_on_delete:
                self.delete(resource)
        state.applied.clear()
        state.passwords.clear()

    def _replace(self, before: Resource, after: Resource) -> None:
        if after.type in (REMOTE_IMAGE, BUILT_IMAGE, RANDOM_PASSWORD):
            return  # the mocks pulled or built it; nothing on the engine to replace
        if not after.registration.delete_before_replace:
            raise ReplayError(f"{after.name}: a replacement that creates before it deletes")
        self.log(f"replacing {after.docker_name}")
        self.delete(before)
        self.create(after)

    def create(self, resource: Resource) -> None:
        if resource.type == NETWORK:
            self._network(resource.inputs)
        elif resource.type == VOLUME:
            self._volume(resource.inputs)
        elif resource.type == CONTAINER:
            self._container(resource.inputs)
        elif resource.type in (REMOTE_IMAGE, BUILT_IMAGE, RANDOM_PASSWORD):
            pass  # done by the mocks, while the program ran
        else:
            raise ReplayError(f"{resource.name}: a {resource.type} is not replayed")

    def delete(self, resource: Resource) -> None:
        name = resource.docker_name
        if resource.type == CONTAINER:
            grace = int(resource.inputs.get("destroyGraceSeconds", 0) or 10)
            try:
                container = self.client.containers.get(name)
            except docker.errors.NotFound:
                return
            container.stop(timeout=grace)
            # The provider's remove_volumes, true by default: the container's anonymous volumes
            # (an image's VOLUME that nothing mounts) go with it.
            container.remove(v=True)
        elif resource.type == VOLUME:
            with suppress(docker.errors.NotFound):
                self.client.volumes.get(name).remove()
        elif resource.type == NETWORK:
            with suppress(docker.errors.NotFound):
                self.client.networks.get(name).remove()

    def _network(self, inputs: Mapping[str, Any]) -> None:
        strict(inputs, NETWORK_INPUTS, "network")
        self.client.networks.create(
            inputs["name"], driver=inputs.get("driver", "bridge"), labels=labels(inputs)
        )

    def _volume(self, inputs: Mapping[str, Any]) -> None:
        strict(inputs, VOLUME_INPUTS, "volume")
        self.client.volumes.create(
            inputs["name"], driver=inputs.get("driver", "local"), labels=labels(inputs)
        )

    def _container(self, inputs: Mapping[str, Any]) -> None:
        name = inputs["name"]
        options = container_options(inputs)
        first, *others = inputs["networksAdvanced"]
        container = self.client.containers.create(
            inputs["image"],
            **options,
            network=first["name"],
            networking_config={
                first["name"]: self.client.api.create_endpoint_config(
                    aliases=first.get("aliases") or None
                )
            },
        )
        for network in others:
            self.client.networks.get(network["name"]).connect(
                container, aliases=network.get("aliases") or None
            )
        for upload in inputs.get("uploads") or []:
            container.put_archive("/", upload_archive(name, upload))
        container.start()
        if inputs.get("wait"):
            self._wait_healthy(container, int(inputs.get("waitTimeout", WAIT_TIMEOUT_DEFAULT)))
        elif inputs.get("mustRun", True):
            container.reload()
            if container.status != "running":
                raise ReplayError(f"container {name} is {container.status}, not running")
        self.log(f"created {name}")

    def _wait_healthy(self, container: Any, timeout: int) -> None:
        deadline = time.monotonic() + timeout
        while True:
            container.reload()
            state = container.attrs["State"]
            health = (state.get("Health") or {}).get("Status")
            if health == "healthy":
                return
            if time.monotonic() > deadline:
                raise ReplayError(
                    f"container {container.name} not healthy within {timeout} s "
                    f"(status {state['Status']}, health {health})"
                )
            time.sleep(0.5)


def container_options(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's create options for a container's inputs, but its image and first network;
    ReplayError for an input the replay would not apply as the provider does."""
    name = inputs["name"]
    strict(inputs, CONTAINER_INPUTS, f"container {name}")
    if inputs.get("privileged"):
        raise ReplayError(f"container {name}: privileged")
    networks = inputs.get("networksAdvanced") or []
    if not networks:
        raise ReplayError(f"container {name}: on no network")
    for network in networks:
        strict(network, {"name", "aliases"}, f"container {name}: network")
    for upload in inputs.get("uploads") or []:
        strict(upload, UPLOAD_INPUTS, f"container {name}: upload")
    return {
        "name": name,
        "command": inputs.get("command"),
        "entrypoint": inputs.get("entrypoint"),
        "environment": list(inputs.get("envs") or []),
        "user": inputs.get("user"),
        "labels": labels(inputs),
        "log_config": LogConfig(
            type=inputs.get("logDriver", "json-file"), config=inputs.get("logOpts") or {}
        ),
        "mem_limit": f"{int(inputs['memory'])}m" if inputs.get("memory") else None,
        "ports": ports(name, inputs.get("ports") or []),
        "restart_policy": restart_policy(inputs.get("restart", "no")),
        "security_opt": list(inputs.get("securityOpts") or []) or None,
        "healthcheck": healthcheck(name, inputs.get("healthcheck")),
        "mounts": mounts(name, inputs.get("volumes") or []),
        "stop_signal": inputs.get("stopSignal"),
    }


def strict(inputs: Mapping[str, Any], known: set[str], what: str) -> None:
    unknown = set(inputs) - known
    if unknown:
        raise ReplayError(f"{what}: inputs not replayed: {sorted(unknown)}")


def labels(inputs: Mapping[str, Any]) -> dict[str, str]:
    return {item["label"]: item["value"] for item in inputs.get("labels") or []}


def ports(name: str, declared: list[Mapping[str, Any]]) -> dict[str, tuple[str, int]]:
    published = {}
    for port in declared:
        strict(port, {"internal", "external", "ip", "protocol"}, f"container {name}: port")
        key = f"{int(port['internal'])}/{port.get('protocol', 'tcp')}"
        published[key] = (port.get("ip", "0.0.0.0"), int(port.get("external", port["internal"])))
    return published


def restart_policy(restart: str) -> dict[str, Any]:
    if restart not in ("no", "on-failure", "always", "unless-stopped"):
        raise ReplayError(f"a restart policy the engine does not know: {restart}")
    return {"Name": restart, "MaximumRetryCount": 0}


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def nanoseconds(text: str) -> int:
    """A Go duration ("1m0s", "5s") in nanoseconds, as the provider hands it to the engine."""
    parts = _DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ReplayError(f"not a Go duration: {text!r}")
    return int(sum(float(number) * _UNITS[unit] for number, unit in parts) * 1e9)


def healthcheck(name: str, declared: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not declared:
        return None
    known = {"tests", "interval", "timeout", "startPeriod", "retries"}
    strict(declared, known, f"container {name}: healthcheck")
    check: dict[str, Any] = {"test": list(declared["tests"])}
    for key, engine_key in (
        ("interval", "interval"),
        ("timeout", "timeout"),
        ("startPeriod", "start_period"),
    ):
        if key in declared:
            check[engine_key] = nanoseconds(declared[key])
    if "retries" in declared:
        check["retries"] = int(declared["retries"])
    return check


def mounts(name: str, volumes: list[Mapping[str, Any]]) -> list[Mount]:
    found = []
    for volume in volumes:
        strict(volume, {"containerPath", "volumeName", "readOnly"}, f"container {name}: volume")
        found.append(
            Mount(
                target=volume["containerPath"],
                source=volume["volumeName"],
                type="volume",
                read_only=bool(volume.get("readOnly", False)),
            )
        )
    return found


def upload_archive(name: str, upload: Mapping[str, Any]) -> bytes:
    """The tar the provider copies into the container at "/": one file, full path as its name."""
    strict(upload, UPLOAD_INPUTS, f"container {name}: upload")
    content = str(upload["content"]).encode()
    info = tarfile.TarInfo(upload["file"])
    info.size = len(content)
    info.mode = int(upload.get("permissions", UPLOAD_MODE_DEFAULT), 8)
    info.uid = int(upload.get("owner", 0))
    info.gid = int(upload.get("group", 0))
    info.mtime = int(time.time())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()

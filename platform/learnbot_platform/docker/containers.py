"""How every container of the stack runs: restarted unless stopped, no new privileges, bounded
logs and memory, on the stack's network, labelled with its component."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_docker as docker

RESTART = "unless-stopped"
SECURITY_OPTS = ("no-new-privileges:true",)
LOG_OPTS = {"max-size": "10m", "max-file": "5"}
COMPONENT_LABEL = "learnbot.component"


def go_duration(seconds: int) -> str:
    """A duration as the Docker provider reads it back (Go's time.Duration): any other
    spelling, such as "60s" for "1m0s", shows as a change in every preview."""
    if seconds < 0:
        raise ValueError("a duration is not negative")
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def healthcheck(
    command: Sequence[str],
    *,
    interval_s: int = 15,
    timeout_s: int = 5,
    retries: int = 3,
    start_period_s: int = 30,
) -> docker.ContainerHealthcheckArgs:
    return docker.ContainerHealthcheckArgs(
        tests=["CMD", *command],
        interval=go_duration(interval_s),
        timeout=go_duration(timeout_s),
        retries=retries,
        start_period=go_duration(start_period_s),
    )


# For a one-off container of an image whose own HEALTHCHECK probes a server it does not run.
NO_HEALTHCHECK = docker.ContainerHealthcheckArgs(tests=["NONE"])


def wget_probe(url: str) -> list[str]:
    """For the busybox- and alpine-based images (Prometheus, Alertmanager, Grafana, nginx)."""
    return ["wget", "-q", "-O", "/dev/null", url]


def python_probe(url: str) -> list[str]:
    """For the service image, which has Python and no HTTP client."""
    return [
        "python",
        "-c",
        f"import urllib.request; urllib.request.urlopen({url!r}, timeout=3)",
    ]


def environment(
    plain: Mapping[str, str], secret: Mapping[str, pulumi.Input[str]] | None = None
) -> list[pulumi.Input[str]]:
    """`NAME=value` entries; a secret value keeps the whole list secret in Pulumi's state."""
    entries: list[pulumi.Input[str]] = [f"{name}={value}" for name, value in plain.items()]
    for name, value in (secret or {}).items():
        entries.append(pulumi.Output.secret(pulumi.Output.concat(name, "=", value)))
    return entries


def secret_file(path: str, content: pulumi.Input[str], *, owner: int) -> docker.ContainerUploadArgs:
    """A file only its owner (the container's user) may read; its content stays secret."""
    return docker.ContainerUploadArgs(
        file=path,
        content=pulumi.Output.secret(content),
        owner=str(owner),
        group=str(owner),
        permissions="0400",
    )


def plain_file(path: str, content: pulumi.Input[str]) -> docker.ContainerUploadArgs:
    return docker.ContainerUploadArgs(file=path, content=content, permissions="0444")


def pulled_image(resource_name: str, reference: str, parent: pulumi.Resource) -> pulumi.Output[str]:
    """The id of a pinned image pulled from its registry; kept on the engine after destroy."""
    image = docker.RemoteImage(
        resource_name,
        name=reference,
        keep_locally=True,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return image.image_id


def run_container(
    resource_name: str,
    *,
    parent: pulumi.Resource,
    name: str,
    image: pulumi.Input[str],
    component: str,
    network: pulumi.Input[str],
    memory_mb: int,
    labels: Mapping[str, pulumi.Input[str]] | None = None,
    aliases: Sequence[str] = (),
    depends_on: Sequence[pulumi.Resource] = (),
    **arguments: Any,
) -> docker.Container:
    """A named container; containers find each other by these names (and by the aliases that
    several share) on the stack's network. A change that needs a new container removes the old
    one first: two cannot share a name."""
    all_labels = {COMPONENT_LABEL: component, **(labels or {})}
    arguments.setdefault("restart", RESTART)
    return docker.Container(
        resource_name,
        name=name,
        image=image,
        memory=memory_mb,
        networks_advanced=[
            docker.ContainerNetworksAdvancedArgs(name=network, aliases=list(aliases) or None)
        ],
        labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in all_labels.items()],
        security_opts=list(SECURITY_OPTS),
        log_driver="json-file",
        log_opts=LOG_OPTS,
        privileged=False,
        opts=pulumi.ResourceOptions(
            parent=parent, delete_before_replace=True, depends_on=list(depends_on)
        ),
        **arguments,
    )


def run_one_off(resource_name: str, **arguments: Any) -> docker.Container:
    """A container that runs a command to completion: no healthcheck, and Docker runs it again
    until it succeeds (the database not there yet heals by itself); nothing waits on its exit,
    whose code Pulumi's state would keep forever."""
    return run_container(
        resource_name, healthcheck=NO_HEALTHCHECK, restart="on-failure", must_run=False, **arguments
    )


def published_url(bind_address: str, port: int) -> str:
    """The URL of a port published on bind_address, as seen from the Docker host."""
    address = ipaddress.ip_address(bind_address)
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    host = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{host}:{port}"

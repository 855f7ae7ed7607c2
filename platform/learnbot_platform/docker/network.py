"""The stack's own bridge network: containers find each other by name on it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker


@dataclass(frozen=True, slots=True)
class NetworkArgs:
    docker_name: str


class Network(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("learnbot:platform:Network", name, None, opts)
        self.network = docker.Network(
            f"{name}-bridge",
            name=args.docker_name,
            driver="bridge",
            labels=[docker.NetworkLabelArgs(label="learnbot.component", value="network")],
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.name: pulumi.Output[str] = self.network.name
        self.register_outputs({"name": self.name})

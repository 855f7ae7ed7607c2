"""What either target's program gives `__main__`: its components, by the names they keep on
both targets, and the stack's outputs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from learnbot_platform.stack_config import Secret


@dataclass(frozen=True, slots=True)
class Stack:
    network: pulumi.ComponentResource
    database: pulumi.ComponentResource
    api: pulumi.ComponentResource
    backups: pulumi.ComponentResource
    monitoring: pulumi.ComponentResource
    outputs: Mapping[str, pulumi.Input[str]]


def secret(value: Secret | None) -> pulumi.Output[str] | None:
    return None if value is None else pulumi.Output.secret(value.value)


def secret_environment(
    database_url: pulumi.Input[str], values: Mapping[str, Secret]
) -> dict[str, pulumi.Input[str]]:
    """A service container's secret environment: its database URL and its secret settings."""
    return {
        "DATABASE_URL": database_url,
        **{name: pulumi.Output.secret(value.value) for name, value in values.items()},
    }

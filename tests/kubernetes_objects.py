"""The Kubernetes objects a program run declared, as the cluster would receive them."""

from __future__ import annotations

from typing import Any

import pulumi

from stack_run import StackRun, plain

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
PROVIDER = "pulumi:providers:kubernetes"


def integral(value: Any) -> Any:
    """Pulumi's wire format carries every number as a float; Kubernetes wants integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [integral(item) for item in value]
    return value


def is_object(resource: pulumi.runtime.MockResourceArgs) -> bool:
    return resource.typ.startswith("kubernetes:") and resource.typ != HELM_RELEASE


def manifests(stack: StackRun) -> dict[str, dict[str, Any]]:
    """Every Kubernetes object by its resource name, secrets unwrapped."""
    return {r.name: integral(plain(r.inputs)) for r in stack.mocks.resources if is_object(r)}


def of_kind(stack: StackRun, kind: str) -> dict[str, dict[str, Any]]:
    """The objects of a kind by their Kubernetes name."""
    return {m["metadata"]["name"]: m for m in manifests(stack).values() if m["kind"] == kind}


def pod_specs(stack: StackRun) -> dict[str, dict[str, Any]]:
    """The pod template of every Deployment, Job and CronJob, by the object's name."""
    specs: dict[str, dict[str, Any]] = {}
    for manifest in manifests(stack).values():
        spec = manifest.get("spec", {})
        if manifest["kind"] in ("Deployment", "Job"):
            specs[manifest["metadata"]["name"]] = spec["template"]["spec"]
        elif manifest["kind"] == "CronJob":
            specs[manifest["metadata"]["name"]] = spec["jobTemplate"]["spec"]["template"]["spec"]
    return specs


def releases(stack: StackRun) -> dict[str, dict[str, Any]]:
    return {
        r.inputs["chart"]: integral(plain(r.inputs))
        for r in stack.mocks.resources
        if r.typ == HELM_RELEASE
    }


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {entry["name"]: entry["value"] for entry in container.get("env", []) if "value" in entry}

"""How every object of the Kubernetes target is made: in the stack's namespace, through the
stack's provider, labelled with its component, and every pod of ours under the `restricted`
Pod Security Standard (non-root, read-only root filesystem, no privilege escalation, no
capabilities, the runtime's seccomp profile)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

PART_OF = "learnbot"
# The pinned Kubernetes release the program's objects are written for and validated against.
KUBERNETES_VERSION = "1.32.0"
SERVICE_UID = 10001  # the service image's user (service/Dockerfile)


@dataclass(frozen=True, slots=True)
class Cluster:
    """Where the stack's objects go: one provider, one namespace."""

    provider: k8s.Provider
    namespace: pulumi.Input[str]
    instance: str

    def options(
        self,
        parent: pulumi.Resource,
        *,
        depends_on: Sequence[pulumi.Resource] = (),
        **options: object,
    ) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(
            parent=parent,
            provider=self.provider,
            depends_on=list(depends_on),
            **options,  # type: ignore[arg-type]
        )

    def labels(self, name: str, component: str) -> dict[str, str]:
        return {
            "app.kubernetes.io/name": name,
            "app.kubernetes.io/instance": self.instance,
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/managed-by": "pulumi",
        }

    def selector(self, name: str) -> dict[str, str]:
        """The labels a Service, a PodDisruptionBudget or an affinity selects pods by."""
        return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": self.instance}

    def metadata(
        self,
        name: str,
        component: str,
        *,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, pulumi.Input[str]] | None = None,
    ) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=name,
            namespace=self.namespace,
            labels={**self.labels(name, component), **(labels or {})},
            annotations=dict(annotations) if annotations else None,
        )


def pod_security(uid: int = SERVICE_UID) -> k8s.core.v1.PodSecurityContextArgs:
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid,
        fs_group=uid,
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def container_security() -> k8s.core.v1.SecurityContextArgs:
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        privileged=False,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
    )


def resources(
    *, cpu_millicores: int, memory_mb: int, cpu_limit_millicores: int | None = None
) -> k8s.core.v1.ResourceRequirementsArgs:
    """Memory is requested as much as it is limited: a pod is never killed for memory the
    scheduler promised it."""
    limits = {"memory": f"{memory_mb}Mi"}
    if cpu_limit_millicores is not None:
        limits["cpu"] = f"{cpu_limit_millicores}m"
    return k8s.core.v1.ResourceRequirementsArgs(
        requests={"cpu": f"{cpu_millicores}m", "memory": f"{memory_mb}Mi"},
        limits=limits,
    )


def http_probe(
    path: str,
    port: str,
    *,
    period_seconds: int = 10,
    failure_threshold: int = 3,
    timeout_seconds: int = 5,
) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port=port),
        period_seconds=period_seconds,
        failure_threshold=failure_threshold,
        timeout_seconds=timeout_seconds,
    )


def env_from_secret(secret_name: pulumi.Input[str]) -> list[k8s.core.v1.EnvFromSourceArgs]:
    return [
        k8s.core.v1.EnvFromSourceArgs(secret_ref=k8s.core.v1.SecretEnvSourceArgs(name=secret_name))
    ]


def env_vars(values: Mapping[str, str]) -> list[k8s.core.v1.EnvVarArgs]:
    return [k8s.core.v1.EnvVarArgs(name=name, value=value) for name, value in values.items()]


def scratch_volume(name: str, size_mb: int = 64) -> k8s.core.v1.VolumeArgs:
    """A writable folder on the node for a container whose root filesystem is read-only."""
    return k8s.core.v1.VolumeArgs(
        name=name, empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=f"{size_mb}Mi")
    )


def service(
    resource_name: str,
    cluster: Cluster,
    parent: pulumi.Resource,
    *,
    name: str,
    component: str,
    port_name: str,
    port: int,
) -> k8s.core.v1.Service:
    """The Service in front of the pods of `name`, on one named port of theirs."""
    return k8s.core.v1.Service(
        resource_name,
        metadata=cluster.metadata(name, component),
        spec=k8s.core.v1.ServiceSpecArgs(
            selector=cluster.selector(name),
            ports=[k8s.core.v1.ServicePortArgs(name=port_name, port=port, target_port=port_name)],
        ),
        opts=cluster.options(parent),
    )


def single_pod_service(
    resource_name: str,
    cluster: Cluster,
    parent: pulumi.Resource,
    *,
    name: str,
    component: str,
    pod: k8s.core.v1.PodSpecArgs,
    port_name: str,
    port: int,
    strategy: k8s.apps.v1.DeploymentStrategyArgs | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
    service_resource_name: str | None = None,
) -> k8s.apps.v1.Deployment:
    """A Deployment of one pod and the Service in front of it, on one named port."""
    deployment = k8s.apps.v1.Deployment(
        resource_name,
        metadata=cluster.metadata(name, component),
        spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=1,
            strategy=strategy,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=cluster.selector(name)),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=cluster.labels(name, component)),
                spec=pod,
            ),
        ),
        opts=cluster.options(parent, depends_on=list(depends_on)),
    )
    service(
        service_resource_name or f"{resource_name}-service",
        cluster,
        parent,
        name=name,
        component=component,
        port_name=port_name,
        port=port,
    )
    return deployment


def secret(
    resource_name: str,
    cluster: Cluster,
    parent: pulumi.Resource,
    *,
    name: str,
    component: str,
    data: Mapping[str, pulumi.Input[str]],
    type_: str = "Opaque",
) -> k8s.core.v1.Secret:
    """A Kubernetes Secret whose every value stays a secret in Pulumi's state too."""
    return k8s.core.v1.Secret(
        resource_name,
        metadata=cluster.metadata(name, component),
        type=type_,
        string_data={key: pulumi.Output.secret(value) for key, value in data.items()},
        opts=cluster.options(parent),
    )


@dataclass(frozen=True, slots=True)
class ServicePod:
    """A pod of the service image: one container as the image's user, its root filesystem
    read-only but for /tmp (where Prometheus' multiprocess folder is) and the given volumes."""

    image: str
    env: list[k8s.core.v1.EnvVarArgs]
    env_from: list[k8s.core.v1.EnvFromSourceArgs]

    def spec(
        self,
        command: list[str],
        limits: k8s.core.v1.ResourceRequirementsArgs,
        *,
        ports: list[k8s.core.v1.ContainerPortArgs] | None = None,
        liveness_probe: k8s.core.v1.ProbeArgs | None = None,
        readiness_probe: k8s.core.v1.ProbeArgs | None = None,
        startup_probe: k8s.core.v1.ProbeArgs | None = None,
        restart_policy: str | None = None,
        termination_grace_period_seconds: int | None = None,
        topology_spread_constraints: list[k8s.core.v1.TopologySpreadConstraintArgs] | None = None,
        affinity: k8s.core.v1.AffinityArgs | None = None,
        volumes: Sequence[k8s.core.v1.VolumeArgs] = (),
        volume_mounts: Sequence[k8s.core.v1.VolumeMountArgs] = (),
    ) -> k8s.core.v1.PodSpecArgs:
        return k8s.core.v1.PodSpecArgs(
            security_context=pod_security(),
            automount_service_account_token=False,
            restart_policy=restart_policy,
            termination_grace_period_seconds=termination_grace_period_seconds,
            topology_spread_constraints=topology_spread_constraints,
            affinity=affinity,
            containers=[
                k8s.core.v1.ContainerArgs(
                    # learnbot serve -> serve, learnbot backup run -> backup
                    name=command[1],
                    image=self.image,
                    command=command,
                    env=self.env,
                    env_from=self.env_from,
                    ports=ports,
                    liveness_probe=liveness_probe,
                    readiness_probe=readiness_probe,
                    startup_probe=startup_probe,
                    resources=limits,
                    security_context=container_security(),
                    volume_mounts=[
                        k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),  # noqa: S108
                        *volume_mounts,
                    ],
                )
            ],
            volumes=[scratch_volume("tmp"), *volumes],
        )

"""On Kubernetes the stack's network is its namespace: the parts find each other by Service name
in it. The provider is the ambient kubeconfig's cluster, or learnbot:kubeconfig's."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from learnbot_platform.kubernetes.objects import PART_OF, Cluster


@dataclass(frozen=True, slots=True)
class KubernetesNetworkArgs:
    namespace: str
    instance: str
    # None: the kubeconfig of whoever runs Pulumi (KUBECONFIG, or ~/.kube/config).
    kubeconfig: pulumi.Input[str] | None = field(default=None, repr=False)


class KubernetesNetwork(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: KubernetesNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("learnbot:platform:Network", name, None, opts)
        self.provider = k8s.Provider(
            f"{name}-provider",
            kubeconfig=None if args.kubeconfig is None else pulumi.Output.secret(args.kubeconfig),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.namespace,
                labels={
                    "app.kubernetes.io/part-of": PART_OF,
                    "app.kubernetes.io/instance": args.instance,
                    # Our own pods meet `restricted`; the monitoring chart's meet `baseline`.
                    "pod-security.kubernetes.io/enforce": "baseline",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                },
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider),
        )
        self.name: pulumi.Output[str] = self.namespace.metadata.name
        self.cluster = Cluster(self.provider, self.name, args.instance)
        self.register_outputs({"name": self.name})

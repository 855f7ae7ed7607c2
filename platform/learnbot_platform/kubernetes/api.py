"""The service on Kubernetes: migrations in a Job the Deployment waits for, the API as a
Deployment scaled on CPU by a HorizontalPodAutoscaler and kept available by a
PodDisruptionBudget, its Service and Ingress, and the Redis its rate limits share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from learnbot_platform.kubernetes.objects import (
    Cluster,
    ServicePod,
    container_security,
    env_from_secret,
    env_vars,
    http_probe,
    pod_security,
    resources,
    scratch_volume,
    secret,
    service,
    single_pod_service,
)
from learnbot_platform.rendering import MAX_BODY
from learnbot_platform.service_env import (
    API_PORT,
    RATE_LIMIT_STORE_COMMAND,
    REDIS_PORT,
    rate_limit_storage_url,
)

HTTP_PORT_NAME = "http"
REDIS_UID = 999  # the redis image's own user
# The API's CPU use, as a share of its request, that the autoscaler keeps it at.
TARGET_CPU_UTILIZATION = 70


@dataclass(frozen=True, slots=True)
class KubernetesApiArgs:
    cluster: Cluster
    name_prefix: str
    image: str
    environment: Mapping[str, str]
    secret_environment: Mapping[str, pulumi.Input[str]] = field(repr=False)
    replicas: int
    max_replicas: int
    cpu_millicores: int
    memory_mb: int
    redis_image: str
    host: str
    ingress_class_name: str | None = None
    tls_secret_name: str | None = None
    await_ingress: bool = True
    # Runs `learnbot bot setup` (the webhook, commands and menu button at Telegram).
    bot_setup: bool = False
    depends_on: Sequence[pulumi.Resource] = ()


class KubernetesApi(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: KubernetesApiArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("learnbot:platform:Api", name, None, opts)
        self._name, self._args, self._cluster = name, args, args.cluster
        self.name = f"{args.name_prefix}-api"
        self.image_ref = args.image
        redis_name = f"{args.name_prefix}-redis"
        self.rate_limit_store = self._redis(name, redis_name, args.redis_image)
        self.secret = self._secret()
        env = env_vars(
            {**args.environment, "RATE_LIMIT_STORAGE_URL": rate_limit_storage_url(redis_name)}
        )
        pod = ServicePod(args.image, env, env_from_secret(self.secret.metadata.name))
        self.migration = self._migration_job(pod)
        self.deployment = self._deployment(pod)
        self.service = service(
            f"{name}-service",
            self._cluster,
            self,
            name=self.name,
            component="api",
            port_name=HTTP_PORT_NAME,
            port=API_PORT,
        )
        self.autoscaler = self._autoscaler()
        self.disruption_budget = self._disruption_budget()
        self.ingress = self._ingress(name, args)
        self.bot_setup = self._bot_setup_job(pod) if args.bot_setup else None
        scheme = "https" if args.tls_secret_name else "http"
        self.url = f"{scheme}://{args.host}"
        self.register_outputs(
            {"url": self.url, "image": self.image_ref, "deployment": self.deployment.metadata.name}
        )

    def _secret(self) -> k8s.core.v1.Secret:
        return secret(
            f"{self._name}-secret",
            self._cluster,
            self,
            name=self.name,
            component="api",
            data=self._args.secret_environment,
        )

    def _migration_job(self, pod: ServicePod) -> k8s.batch.v1.Job:
        # Pulumi waits for it to succeed before the Deployment rolls.
        return self._job(
            pod, "migrate", ["learnbot", "migrate"], [*self._args.depends_on, self.secret]
        )

    def _bot_setup_job(self, pod: ServicePod) -> k8s.batch.v1.Job:
        # Once the API that Telegram's updates arrive at is ready.
        return self._job(
            pod, "bot-setup", ["learnbot", "bot", "setup"], [self.deployment, self.ingress]
        )

    def _job(
        self,
        pod: ServicePod,
        component: str,
        command: list[str],
        depends_on: Sequence[pulumi.Resource],
    ) -> k8s.batch.v1.Job:
        name, cluster, prefix = self._name, self._cluster, self._args.name_prefix
        return k8s.batch.v1.Job(
            f"{name}-{component}",
            metadata=cluster.metadata(
                f"{prefix}-{component}",
                component,
                # A failed Job is run again, from a new Job, by the next `pulumi up`.
                annotations={"pulumi.com/replaceUnready": "true"},
            ),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=2,
                active_deadline_seconds=600,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=cluster.labels(f"{prefix}-{component}", component)
                    ),
                    spec=pod.spec(
                        command,
                        resources(cpu_millicores=100, memory_mb=256),
                        restart_policy="Never",
                    ),
                ),
            ),
            # Its pod template cannot change in place: a new release replaces the Job, which
            # Pulumi waits for until it has succeeded.
            opts=cluster.options(self, depends_on=depends_on, delete_before_replace=True),
        )

    def _deployment(self, pod: ServicePod) -> k8s.apps.v1.Deployment:
        name, args, cluster = self._name, self._args, self._cluster
        labels = cluster.labels(self.name, "api")
        return k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=cluster.metadata(self.name, "api"),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=args.replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=cluster.selector(self.name)),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(
                        max_unavailable=0, max_surge="25%"
                    ),
                ),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=pod.spec(
                        ["learnbot", "serve"],
                        resources(
                            cpu_millicores=args.cpu_millicores,
                            cpu_limit_millicores=2 * args.cpu_millicores,
                            memory_mb=args.memory_mb,
                        ),
                        ports=[
                            k8s.core.v1.ContainerPortArgs(
                                name=HTTP_PORT_NAME, container_port=API_PORT
                            )
                        ],
                        liveness_probe=http_probe("/health", HTTP_PORT_NAME),
                        # /ready fails while the database is away: the pod leaves the Service.
                        readiness_probe=http_probe("/ready", HTTP_PORT_NAME, period_seconds=5),
                        startup_probe=http_probe(
                            "/health", HTTP_PORT_NAME, period_seconds=2, failure_threshold=30
                        ),
                        termination_grace_period_seconds=30,
                        topology_spread_constraints=[
                            k8s.core.v1.TopologySpreadConstraintArgs(
                                max_skew=1,
                                topology_key="kubernetes.io/hostname",
                                when_unsatisfiable="ScheduleAnyway",
                                label_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels=cluster.selector(self.name)
                                ),
                            )
                        ],
                    ),
                ),
            ),
            # The autoscaler owns the replica count once the Deployment exists.
            opts=cluster.options(
                self,
                depends_on=[self.migration, self.rate_limit_store],
                ignore_changes=["spec.replicas"],
            ),
        )

    def _autoscaler(self) -> k8s.autoscaling.v2.HorizontalPodAutoscaler:
        name, args, cluster = self._name, self._args, self._cluster
        return k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-autoscaler",
            metadata=cluster.metadata(self.name, "api"),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=self.name
                ),
                min_replicas=args.replicas,
                max_replicas=args.max_replicas,
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="Resource",
                        resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                            name="cpu",
                            target=k8s.autoscaling.v2.MetricTargetArgs(
                                type="Utilization", average_utilization=TARGET_CPU_UTILIZATION
                            ),
                        ),
                    )
                ],
            ),
            opts=cluster.options(self, depends_on=[self.deployment]),
        )

    def _disruption_budget(self) -> k8s.policy.v1.PodDisruptionBudget:
        name, cluster = self._name, self._cluster
        return k8s.policy.v1.PodDisruptionBudget(
            f"{name}-disruption-budget",
            metadata=cluster.metadata(self.name, "api"),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=cluster.selector(self.name)),
            ),
            opts=cluster.options(self),
        )

    def _redis(self, name: str, redis_name: str, image: str) -> k8s.apps.v1.Deployment:
        return single_pod_service(
            f"{name}-redis",
            self._cluster,
            self,
            name=redis_name,
            component="rate-limit-store",
            pod=k8s.core.v1.PodSpecArgs(
                security_context=pod_security(REDIS_UID),
                automount_service_account_token=False,
                containers=[
                    k8s.core.v1.ContainerArgs(
                        name="redis",
                        image=image,
                        command=list(RATE_LIMIT_STORE_COMMAND),
                        ports=[
                            k8s.core.v1.ContainerPortArgs(name="redis", container_port=REDIS_PORT)
                        ],
                        readiness_probe=k8s.core.v1.ProbeArgs(
                            exec_=k8s.core.v1.ExecActionArgs(command=["redis-cli", "ping"]),
                            period_seconds=10,
                        ),
                        resources=resources(cpu_millicores=50, memory_mb=64),
                        security_context=container_security(),
                        volume_mounts=[
                            k8s.core.v1.VolumeMountArgs(name="data", mount_path="/data")
                        ],
                    )
                ],
                volumes=[scratch_volume("data")],
            ),
            port_name="redis",
            port=REDIS_PORT,
        )

    def _ingress(self, name: str, args: KubernetesApiArgs) -> k8s.networking.v1.Ingress:
        cluster = self._cluster
        tls = (
            [k8s.networking.v1.IngressTLSArgs(hosts=[args.host], secret_name=args.tls_secret_name)]
            if args.tls_secret_name
            else None
        )
        # ingress-nginx refuses bodies larger than the service reads, as the Docker target's
        # nginx does; other controllers ignore the annotation.
        annotations = {"nginx.ingress.kubernetes.io/proxy-body-size": MAX_BODY}
        if not args.await_ingress:
            # Pulumi would wait for an address in .status.loadBalancer that never comes.
            annotations["pulumi.com/skipAwait"] = "true"
        return k8s.networking.v1.Ingress(
            f"{name}-ingress",
            metadata=cluster.metadata(self.name, "api", annotations=annotations),
            spec=k8s.networking.v1.IngressSpecArgs(
                ingress_class_name=args.ingress_class_name,
                tls=tls,
                rules=[
                    k8s.networking.v1.IngressRuleArgs(
                        host=args.host,
                        http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                            paths=[
                                k8s.networking.v1.HTTPIngressPathArgs(
                                    path="/",
                                    path_type="Prefix",
                                    backend=k8s.networking.v1.IngressBackendArgs(
                                        service=k8s.networking.v1.IngressServiceBackendArgs(
                                            name=self.name,
                                            port=k8s.networking.v1.ServiceBackendPortArgs(
                                                name=HTTP_PORT_NAME
                                            ),
                                        )
                                    ),
                                )
                            ]
                        ),
                    )
                ],
            ),
            opts=cluster.options(self, depends_on=[self.service]),
        )

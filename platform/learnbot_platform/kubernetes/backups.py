"""Backups on Kubernetes: CronJobs run `learnbot backup run --once` and the restore drill on
the stack's schedules, into a PersistentVolumeClaim (and the S3 bucket where one is set), and
`learnbot backup metrics` serves what they record to Prometheus.

The runs write their metrics into a folder on the same volume (PROMETHEUS_MULTIPROC_DIR), so a
failure outlives the run's pod. The claim is ReadWriteOnce, which several pods may mount on
one node: the runs are scheduled onto the node of the metrics pod."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from learnbot_platform.kubernetes.objects import (
    Cluster,
    ServicePod,
    env_from_secret,
    env_vars,
    http_probe,
    resources,
    secret,
    single_pod_service,
)
from learnbot_platform.service_env import BACKUP_DIR, BACKUP_METRICS_PORT

# The claim is mounted one level above BACKUP_DIR, which holds the backups beside the metrics.
VOLUME_PATH = str(BACKUP_DIR).rsplit("/", 1)[0]
METRICS_DIR = f"{VOLUME_PATH}/metrics"
METRICS_PORT_NAME = "metrics"
# CronJob schedules are read in UTC, as the backup job reads BACKUP_SCHEDULE.
TIME_ZONE = "Etc/UTC"


@dataclass(frozen=True, slots=True)
class KubernetesBackupsArgs:
    cluster: Cluster
    name_prefix: str
    image: str
    schedule: str
    drill_schedule: str
    environment: Mapping[str, str]
    secret_environment: Mapping[str, pulumi.Input[str]] = field(repr=False)
    storage_gb: int
    storage_class: str | None = None
    memory_mb: int = 512
    depends_on: Sequence[pulumi.Resource] = ()


class KubernetesBackups(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: KubernetesBackupsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("learnbot:platform:Backups", name, None, opts)
        self._cluster = cluster = args.cluster
        self._args = args
        self.name = f"{args.name_prefix}-backup"
        self.claim = self._claim(name)
        self.secret = secret(
            f"{name}-secret",
            cluster,
            self,
            name=self.name,
            component="backup",
            data=args.secret_environment,
        )
        self.metrics_name = f"{self.name}-metrics"
        self.metrics = self._metrics_server(name)
        self.backup = self._cron_job(
            f"{name}-backup",
            self.name,
            args.schedule,
            ["learnbot", "backup", "run", "--once"],
            writer="backup-run",
            deadline_seconds=6 * 3600,
        )
        self.drill = self._cron_job(
            f"{name}-restore-drill",
            f"{args.name_prefix}-restore-drill",
            args.drill_schedule,
            ["learnbot", "backup", "verify", "--restore-drill"],
            writer="restore-drill",
            deadline_seconds=6 * 3600,
        )
        self.register_outputs({"claim": self.claim.metadata.name, "service": self.metrics_name})

    def _claim(self, name: str) -> k8s.core.v1.PersistentVolumeClaim:
        args, cluster = self._args, self._cluster
        # Kept by `pulumi destroy`, like the database's volumes.
        return k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data",
            metadata=cluster.metadata(self.name, "backup"),
            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                access_modes=["ReadWriteOnce"],
                storage_class_name=args.storage_class,
                resources=k8s.core.v1.VolumeResourceRequirementsArgs(
                    requests={"storage": f"{args.storage_gb}Gi"}
                ),
            ),
            opts=cluster.options(self, retain_on_delete=True),
        )

    @property
    def _volumes(self) -> list[k8s.core.v1.VolumeArgs]:
        return [
            k8s.core.v1.VolumeArgs(
                name="backups",
                persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
                    claim_name=self.claim.metadata.name
                ),
            )
        ]

    @property
    def _mounts(self) -> list[k8s.core.v1.VolumeMountArgs]:
        return [k8s.core.v1.VolumeMountArgs(name="backups", mount_path=VOLUME_PATH)]

    def _pod(self, writer: str) -> ServicePod:
        """Each kind of process writes its own metric files in the shared folder: at most one
        of each runs at a time (the CronJobs forbid overlaps)."""
        environment = {
            **self._args.environment,
            "PROMETHEUS_MULTIPROC_DIR": METRICS_DIR,
            "BACKUP_METRICS_WRITER": writer,
        }
        return ServicePod(
            self._args.image, env_vars(environment), env_from_secret(self.secret.metadata.name)
        )

    def _metrics_server(self, name: str) -> k8s.apps.v1.Deployment:
        return single_pod_service(
            f"{name}-metrics",
            self._cluster,
            self,
            name=self.metrics_name,
            component="backup",
            pod=self._pod("metrics-server").spec(
                ["learnbot", "backup", "metrics"],
                resources(cpu_millicores=50, memory_mb=128),
                ports=[
                    k8s.core.v1.ContainerPortArgs(
                        name=METRICS_PORT_NAME, container_port=BACKUP_METRICS_PORT
                    )
                ],
                liveness_probe=http_probe("/metrics", METRICS_PORT_NAME),
                readiness_probe=http_probe("/metrics", METRICS_PORT_NAME),
                volumes=self._volumes,
                volume_mounts=self._mounts,
            ),
            port_name=METRICS_PORT_NAME,
            port=BACKUP_METRICS_PORT,
            # One pod at a time on the ReadWriteOnce claim.
            strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
            depends_on=self._args.depends_on,
            service_resource_name=f"{name}-service",
        )

    @property
    def _beside_metrics_pod(self) -> k8s.core.v1.AffinityArgs:
        """On the metrics pod's node, where the ReadWriteOnce claim is mounted already."""
        return k8s.core.v1.AffinityArgs(
            pod_affinity=k8s.core.v1.PodAffinityArgs(
                required_during_scheduling_ignored_during_execution=[
                    k8s.core.v1.PodAffinityTermArgs(
                        label_selector=k8s.meta.v1.LabelSelectorArgs(
                            match_labels=self._cluster.selector(self.metrics_name)
                        ),
                        topology_key="kubernetes.io/hostname",
                    )
                ]
            )
        )

    def _cron_job(
        self,
        resource_name: str,
        object_name: str,
        schedule: str,
        command: list[str],
        *,
        writer: str,
        deadline_seconds: int,
    ) -> k8s.batch.v1.CronJob:
        cluster = self._cluster
        return k8s.batch.v1.CronJob(
            resource_name,
            metadata=cluster.metadata(object_name, "backup"),
            spec=k8s.batch.v1.CronJobSpecArgs(
                schedule=schedule,
                time_zone=TIME_ZONE,
                # One run at a time; a run missed while the cluster was away starts late.
                concurrency_policy="Forbid",
                starting_deadline_seconds=deadline_seconds,
                successful_jobs_history_limit=3,
                failed_jobs_history_limit=3,
                job_template=k8s.batch.v1.JobTemplateSpecArgs(
                    spec=k8s.batch.v1.JobSpecArgs(
                        # A failure is counted and alerted on; the next run is the retry.
                        backoff_limit=0,
                        active_deadline_seconds=deadline_seconds,
                        template=k8s.core.v1.PodTemplateSpecArgs(
                            metadata=k8s.meta.v1.ObjectMetaArgs(
                                labels=cluster.labels(object_name, "backup")
                            ),
                            spec=self._pod(writer).spec(
                                command,
                                resources(cpu_millicores=250, memory_mb=self._args.memory_mb),
                                restart_policy="Never",
                                # A dump in progress gets time to finish or clean up.
                                termination_grace_period_seconds=120,
                                affinity=self._beside_metrics_pod,
                                volumes=self._volumes,
                                volume_mounts=self._mounts,
                            ),
                        ),
                    )
                ),
            ),
            opts=cluster.options(self, depends_on=[self.metrics, *self._args.depends_on]),
        )

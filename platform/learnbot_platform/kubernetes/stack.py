"""The stack on a Kubernetes cluster: the same components as on Docker, with the same settings,
service environment, alert rules, dashboards and Alertmanager routing, made of Kubernetes
objects: a namespace, CloudNativePG, a Deployment behind an Ingress, CronJobs and
kube-prometheus-stack."""

from __future__ import annotations

import pulumi

from learnbot_platform.kubernetes.api import HTTP_PORT_NAME, KubernetesApi, KubernetesApiArgs
from learnbot_platform.kubernetes.backups import (
    METRICS_PORT_NAME,
    KubernetesBackups,
    KubernetesBackupsArgs,
)
from learnbot_platform.kubernetes.database import KubernetesDatabase, KubernetesDatabaseArgs
from learnbot_platform.kubernetes.monitoring import (
    KubernetesMonitoring,
    KubernetesMonitoringArgs,
    MonitoredService,
)
from learnbot_platform.kubernetes.network import KubernetesNetwork, KubernetesNetworkArgs
from learnbot_platform.kubernetes.objects import Cluster
from learnbot_platform.kubernetes.physical_backups import ObjectStoreArgs
from learnbot_platform.monitoring import API_JOB, BACKUP_JOB, ReceiverSecrets
from learnbot_platform.repository import read_monitoring_sources
from learnbot_platform.service_env import (
    api_environment,
    api_secret_environment,
    backup_environment,
    backup_secret_environment,
)
from learnbot_platform.stack import Stack, secret, secret_environment
from learnbot_platform.stack_config import (
    KUBERNETES_POSTGRES_MAX_CONNECTIONS,
    KubernetesConfig,
    StackConfig,
)


def deploy(settings: StackConfig) -> Stack:
    kubernetes = settings.kubernetes
    if kubernetes is None:
        raise ValueError("a Kubernetes stack needs its Kubernetes settings")
    network = KubernetesNetwork(
        "network",
        KubernetesNetworkArgs(
            namespace=kubernetes.namespace,
            instance=settings.name_prefix,
            kubeconfig=secret(kubernetes.kubeconfig),
        ),
    )
    cluster = network.cluster
    database = _database(settings, kubernetes, cluster)
    api = _api(settings, kubernetes, cluster, database)
    backups = _backups(settings, kubernetes, cluster, database)
    monitoring = _monitoring(settings, kubernetes, cluster, database, api, backups)
    monitoring_outputs = {
        "grafanaUrl": monitoring.grafana_url,
        "prometheusUrl": monitoring.prometheus_url,
        "grafanaAdminPassword": monitoring.grafana_admin_password,
    }
    outputs: dict[str, pulumi.Input[str]] = {
        "apiUrl": api.url,
        "namespace": network.name,
        # None with the cluster's own monitoring, whose Grafana and Prometheus are its owner's.
        **{name: value for name, value in monitoring_outputs.items() if value is not None},
    }
    return Stack(network, database, api, backups, monitoring, outputs)


def _database(
    settings: StackConfig, kubernetes: KubernetesConfig, cluster: Cluster
) -> KubernetesDatabase:
    prefix, images = settings.name_prefix, settings.images
    return KubernetesDatabase(
        "database",
        KubernetesDatabaseArgs(
            cluster=cluster,
            name=f"{prefix}-db",
            image=images["postgresImage"],
            instances=kubernetes.db_instances,
            storage_gb=kubernetes.db_storage_gb,
            storage_class=kubernetes.storage_class_name,
            max_connections=KUBERNETES_POSTGRES_MAX_CONNECTIONS,
            password=secret(settings.db_password),
            install_operator=kubernetes.install_cloudnativepg,
            object_store=_object_store(settings, kubernetes),
            archive_timeout_seconds=settings.archive_timeout_seconds,
        ),
    )


def _object_store(settings: StackConfig, kubernetes: KubernetesConfig) -> ObjectStoreArgs | None:
    backup = settings.backup
    if backup.s3_url is None:
        return None
    return ObjectStoreArgs(
        destination=backup.s3_url,
        schedule=kubernetes.physical_backup_schedule,
        retention_days=kubernetes.physical_backup_retention_days,
        endpoint_url=backup.s3_endpoint_url,
        region=backup.s3_region,
        access_key_id=secret(backup.s3_access_key_id),
        secret_access_key=secret(backup.s3_secret_access_key),
    )


def _api(
    settings: StackConfig,
    kubernetes: KubernetesConfig,
    cluster: Cluster,
    database: KubernetesDatabase,
) -> KubernetesApi:
    prefix, images = settings.name_prefix, settings.images
    return KubernetesApi(
        "api",
        KubernetesApiArgs(
            cluster=cluster,
            name_prefix=prefix,
            image=kubernetes.api_image,
            environment=api_environment(settings),
            secret_environment=secret_environment(database.url, api_secret_environment(settings)),
            replicas=settings.api_replicas,
            max_replicas=kubernetes.api_max_replicas,
            cpu_millicores=kubernetes.api_cpu_millicores,
            memory_mb=settings.api_memory_mb,
            redis_image=images["redisImage"],
            host=kubernetes.host,
            ingress_class_name=kubernetes.ingress_class_name,
            tls_secret_name=kubernetes.tls_secret_name,
            await_ingress=kubernetes.await_ingress,
            bot_setup=settings.sets_up_bot,
            depends_on=[database.cluster],
        ),
    )


def _backups(
    settings: StackConfig,
    kubernetes: KubernetesConfig,
    cluster: Cluster,
    database: KubernetesDatabase,
) -> KubernetesBackups:
    prefix = settings.name_prefix
    return KubernetesBackups(
        "backups",
        KubernetesBackupsArgs(
            cluster=cluster,
            name_prefix=prefix,
            image=kubernetes.api_image,
            schedule=settings.backup.schedule,
            drill_schedule=settings.backup.drill_schedule,
            environment=backup_environment(settings),
            secret_environment=secret_environment(
                database.url, backup_secret_environment(settings)
            ),
            storage_gb=kubernetes.backup_storage_gb,
            storage_class=kubernetes.storage_class_name,
            depends_on=[database.cluster],
        ),
    )


def _monitoring(
    settings: StackConfig,
    kubernetes: KubernetesConfig,
    cluster: Cluster,
    database: KubernetesDatabase,
    api: KubernetesApi,
    backups: KubernetesBackups,
) -> KubernetesMonitoring:
    prefix, images = settings.name_prefix, settings.images
    return KubernetesMonitoring(
        "monitoring",
        KubernetesMonitoringArgs(
            cluster=cluster,
            name_prefix=prefix,
            sources=read_monitoring_sources(),
            targets=[
                MonitoredService(API_JOB, cluster.selector(api.name), HTTP_PORT_NAME),
                MonitoredService(
                    BACKUP_JOB, cluster.selector(backups.metrics_name), METRICS_PORT_NAME
                ),
            ],
            exporter_image=images["postgresExporterImage"],
            database_host=database.host,
            database_secret=database.secret.metadata.name,
            receivers=ReceiverSecrets.of(settings.alerts),
            grafana_admin_password=secret(settings.grafana_admin_password),
            external_labels={"stack": pulumi.get_stack()},
            install_operator=kubernetes.install_prometheus_operator,
            selector_labels=kubernetes.monitoring_labels,
            chart_timeout_seconds=kubernetes.monitoring_timeout_seconds,
            chart_atomic=kubernetes.monitoring_atomic,
            depends_on=[database.cluster],
        ),
    )

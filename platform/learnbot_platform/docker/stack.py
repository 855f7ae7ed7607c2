"""The stack on one Docker engine: the network, the database, the API behind its proxy, the
backup job and monitoring, as containers."""

from __future__ import annotations

import pulumi

from learnbot_platform.docker.api import Api, ApiArgs
from learnbot_platform.docker.backups import Backups, BackupsArgs
from learnbot_platform.docker.database import Database, DatabaseArgs
from learnbot_platform.docker.monitoring import Monitoring, MonitoringArgs, ScrapeTarget
from learnbot_platform.docker.network import Network, NetworkArgs
from learnbot_platform.monitoring import API_JOB, BACKUP_JOB, ReceiverSecrets
from learnbot_platform.repository import ROOT, read_monitoring_sources
from learnbot_platform.service_env import (
    API_PORT,
    api_environment,
    api_secret_environment,
    backup_environment,
    backup_secret_environment,
    physical_backup_environment,
)
from learnbot_platform.stack import Stack, secret, secret_environment
from learnbot_platform.stack_config import StackConfig


def deploy(settings: StackConfig) -> Stack:
    network = Network("network", NetworkArgs(docker_name=settings.name_prefix))
    database = _database(settings, network)
    api = _api(settings, network, database)
    backups = _backups(settings, network, database, api)
    monitoring = _monitoring(settings, network, database, api, backups)
    outputs: dict[str, pulumi.Input[str]] = {
        "apiUrl": api.url,
        "grafanaUrl": monitoring.grafana_url,
        "prometheusUrl": monitoring.prometheus_url,
        "grafanaAdminPassword": monitoring.grafana_admin_password,
    }
    return Stack(network, database, api, backups, monitoring, outputs)


def _database(settings: StackConfig, network: Network) -> Database:
    return Database(
        "database",
        DatabaseArgs(
            name_prefix=settings.name_prefix,
            network=network.name,
            image=settings.images["postgresImage"],
            password=secret(settings.db_password),
            archive_timeout_seconds=settings.archive_timeout_seconds,
            cipher_passphrase=secret(settings.backup.cipher_passphrase),
        ),
    )


def _api(settings: StackConfig, network: Network, database: Database) -> Api:
    prefix, images = settings.name_prefix, settings.images
    return Api(
        "api",
        ApiArgs(
            name_prefix=prefix,
            network=network.name,
            repository_root=ROOT,
            image_tag=settings.api_image_tag,
            environment=api_environment(settings),
            secret_environment=secret_environment(database.url, api_secret_environment(settings)),
            replicas=settings.api_replicas,
            memory_mb=settings.api_memory_mb,
            proxy_image=images["nginxImage"],
            redis_image=images["redisImage"],
            bind_address=settings.bind_address,
            published_port=settings.proxy_port,
            bot_setup=settings.sets_up_bot,
            depends_on=[database.container, database.password_setter],
        ),
    )


def _backups(settings: StackConfig, network: Network, database: Database, api: Api) -> Backups:
    prefix = settings.name_prefix
    return Backups(
        "backups",
        BackupsArgs(
            container_name=f"{prefix}-backup",
            network=network.name,
            image=api.image_ref,
            environment={
                **backup_environment(settings),
                **physical_backup_environment(settings),
            },
            secret_environment=secret_environment(
                database.url, backup_secret_environment(settings)
            ),
            physical_volumes=database.pgbackrest_volumes(),
            depends_on=[database.container],
        ),
    )


def _monitoring(
    settings: StackConfig, network: Network, database: Database, api: Api, backups: Backups
) -> Monitoring:
    prefix, images = settings.name_prefix, settings.images
    return Monitoring(
        "monitoring",
        MonitoringArgs(
            name_prefix=prefix,
            network=network.name,
            sources=read_monitoring_sources(),
            prometheus_image=images["prometheusImage"],
            alertmanager_image=images["alertmanagerImage"],
            grafana_image=images["grafanaImage"],
            exporter_image=images["postgresExporterImage"],
            targets=[
                *(ScrapeTarget(API_JOB, container.name, API_PORT) for container in api.containers),
                ScrapeTarget(BACKUP_JOB, backups.host, backups.metrics_port),
            ],
            database_host=database.host,
            database_password=database.password,
            receivers=ReceiverSecrets.of(settings.alerts),
            bind_address=settings.bind_address,
            grafana_port=settings.grafana_port,
            grafana_root_url=settings.grafana_root_url,
            prometheus_port=settings.prometheus_port,
            grafana_admin_password=secret(settings.grafana_admin_password),
            external_labels={"stack": pulumi.get_stack()},
            depends_on=[database.container],
        ),
    )

"""The learnbot stack on one Docker engine; `pulumi up` from the repository root runs this.

It reads and checks the `learnbot:` settings before creating anything, then composes the
network, the database, the API behind its proxy, the backup job and monitoring.
"""

from __future__ import annotations

import pulumi
import pulumi.runtime.config

from api import Api, ApiArgs
from backups import Backups, BackupsArgs
from database import Database, DatabaseArgs
from monitoring import (
    API_JOB,
    BACKUP_JOB,
    Monitoring,
    MonitoringArgs,
    ReceiverSecrets,
    ScrapeTarget,
)
from network import Network, NetworkArgs
from repository import ROOT, project_version, read_monitoring_sources, shipped_locales
from service_env import (
    API_PORT,
    api_environment,
    api_secret_environment,
    backup_environment,
    backup_secret_environment,
)
from stack_config import KEYS, NAMESPACE, Secret, StackConfigError, load_stack_config


def read_settings() -> dict[str, str]:
    config = pulumi.Config(NAMESPACE)
    raw = {key: value for key in KEYS if (value := config.get(key)) is not None}
    # Every key of the namespace is checked, so that a misspelt one is reported, not ignored.
    for full_key, value in pulumi.runtime.config.CONFIG.get().items():
        namespace, _, key = full_key.partition(":")
        if namespace == NAMESPACE:
            raw.setdefault(key, str(value))
    return raw


def secret(value: Secret | None) -> pulumi.Output[str] | None:
    return None if value is None else pulumi.Output.secret(value.value)


def secrets(values: dict[str, Secret]) -> dict[str, pulumi.Input[str]]:
    return {name: pulumi.Output.secret(value.value) for name, value in values.items()}


try:
    settings = load_stack_config(
        read_settings(),
        shipped_locales=shipped_locales(),
        default_api_image_tag=project_version(),
    )
except StackConfigError as error:
    raise pulumi.RunError(str(error)) from None

prefix = settings.name_prefix
images = settings.images

network = Network("network", NetworkArgs(docker_name=prefix))
database = Database(
    "database",
    DatabaseArgs(
        container_name=f"{prefix}-postgres",
        network=network.name,
        image=images["postgresImage"],
        password=secret(settings.db_password),
    ),
)
api = Api(
    "api",
    ApiArgs(
        name_prefix=prefix,
        network=network.name,
        repository_root=ROOT,
        image_tag=settings.api_image_tag,
        environment=api_environment(settings),
        secret_environment={
            "DATABASE_URL": database.url,
            **secrets(api_secret_environment(settings)),
        },
        replicas=settings.api_replicas,
        memory_mb=settings.api_memory_mb,
        proxy_image=images["nginxImage"],
        redis_image=images["redisImage"],
        bind_address=settings.bind_address,
        published_port=settings.proxy_port,
        depends_on=[database.container],
    ),
)
backups = Backups(
    "backups",
    BackupsArgs(
        container_name=f"{prefix}-backup",
        network=network.name,
        image=api.image_ref,
        environment=backup_environment(settings),
        secret_environment={
            "DATABASE_URL": database.url,
            **secrets(backup_secret_environment(settings)),
        },
        depends_on=[database.container],
    ),
)
alerts = settings.alerts
monitoring = Monitoring(
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
        receivers=ReceiverSecrets(
            telegram_bot_token=secret(alerts.telegram_bot_token),
            telegram_chat_id=alerts.telegram_chat_id,
            webhook_url=secret(alerts.webhook_url),
            webhook_token=secret(alerts.webhook_token),
        ),
        bind_address=settings.bind_address,
        grafana_port=settings.grafana_port,
        prometheus_port=settings.prometheus_port,
        grafana_admin_password=secret(settings.grafana_admin_password),
        external_labels={"stack": pulumi.get_stack()},
        depends_on=[database.container],
    ),
)

outputs: dict[str, pulumi.Input[str]] = {
    "apiUrl": api.url,
    "grafanaUrl": monitoring.grafana_url,
    "prometheusUrl": monitoring.prometheus_url,
    "grafanaAdminPassword": monitoring.grafana_admin_password,
}
for name, value in outputs.items():
    pulumi.export(name, value)

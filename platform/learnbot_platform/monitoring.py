"""What monitoring is on either target: the job names the rules of alerts/ select on, the alert
receivers, Alertmanager's rendered configuration and Grafana's admin password."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_random as random

from learnbot_platform.rendering import (
    ALERTMANAGER_TEMPLATES_DIR,
    WEBHOOK_TOKEN_FILE,
    AlertmanagerFiles,
    AlertReceivers,
    alertmanager_files,
)
from learnbot_platform.repository import MonitoringSources
from learnbot_platform.stack import secret
from learnbot_platform.stack_config import AlertReceiverConfig

# The job names the rules in alerts/ select on.
API_JOB = "learnbot-api"
BACKUP_JOB = "learnbot-backup"
# postgres_exporter's port, and the uid its image and Prometheus' run as.
EXPORTER_PORT = 9187
NOBODY_UID = 65534


@dataclass(frozen=True, slots=True)
class ReceiverSecrets:
    telegram_bot_token: pulumi.Input[str] | None = field(default=None, repr=False)
    telegram_chat_id: int | None = None
    webhook_url: pulumi.Input[str] | None = field(default=None, repr=False)
    webhook_token: pulumi.Input[str] | None = field(default=None, repr=False)
    heartbeat_url: pulumi.Input[str] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, config: AlertReceiverConfig) -> ReceiverSecrets:
        """The stack's alert receivers, their secrets kept secret in Pulumi."""
        return cls(
            telegram_bot_token=secret(config.telegram_bot_token),
            telegram_chat_id=config.telegram_chat_id,
            webhook_url=secret(config.webhook_url),
            webhook_token=secret(config.webhook_token),
            heartbeat_url=secret(config.heartbeat_url),
        )


def rendered_alertmanager_files(
    sources: MonitoringSources,
    receivers: ReceiverSecrets,
    token_file: str = WEBHOOK_TOKEN_FILE,
    templates_dir: str = ALERTMANAGER_TEMPLATES_DIR,
) -> pulumi.Output[AlertmanagerFiles]:
    """alerts/alertmanager/alertmanager.yml with the stack's receivers, once their secrets
    resolve, and its message templates."""
    return pulumi.Output.all(
        receivers.telegram_bot_token,
        receivers.webhook_url,
        receivers.webhook_token,
        receivers.heartbeat_url,
    ).apply(
        lambda v: alertmanager_files(
            sources.alertmanager,
            AlertReceivers(
                telegram_bot_token=v[0],
                telegram_chat_id=receivers.telegram_chat_id,
                webhook_url=v[1],
                webhook_token=v[2],
                heartbeat_url=v[3],
            ),
            token_file=token_file,
            templates=sources.alertmanager_templates,
            templates_dir=templates_dir,
        )
    )


def grafana_admin_password(
    component: str, parent: pulumi.Resource, configured: pulumi.Input[str] | None
) -> pulumi.Output[str]:
    """The configured password, or one generated once and kept in the stack's state."""
    if configured is not None:
        return pulumi.Output.secret(configured)
    generated = random.RandomPassword(
        f"{component}-grafana-password",
        length=24,
        special=False,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return pulumi.Output.secret(generated.result)

"""Monitoring on Kubernetes through the kube-prometheus-stack chart: the rule files of alerts/
as PrometheusRules, ServiceMonitors for the API, the backup job and postgres_exporter, the
dashboards of dashboards/ as ConfigMaps for Grafana's sidecar, and Alertmanager routing as
alerts/alertmanager/alertmanager.yml says, with the same receivers as on Docker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from learnbot_platform.kubernetes.objects import (
    Cluster,
    container_security,
    http_probe,
    pod_security,
    resources,
    secret,
    single_pod_service,
)
from learnbot_platform.monitoring import (
    EXPORTER_PORT,
    NOBODY_UID,
    ReceiverSecrets,
    grafana_admin_password,
    rendered_alertmanager_files,
)
from learnbot_platform.rendering import ALERTMANAGER_SECRETS_DIR, DATASOURCE_UID
from learnbot_platform.repository import MonitoringSources
from learnbot_platform.service_env import DATABASE_NAME, DATABASE_USER, POSTGRES_PORT

KPS_CHART = "kube-prometheus-stack"
KPS_CHART_VERSION = "69.8.2"  # Prometheus Operator 0.80.1
KPS_REPOSITORY = "https://prometheus-community.github.io/helm-charts"
# The job the rules in alerts/prometheus.yml select Prometheus' own metrics by.
PROMETHEUS_JOB = "prometheus"
POSTGRES_JOB = "postgres"
# Grafana's sidecar loads every ConfigMap labelled so into Grafana.
DASHBOARD_LABEL = "grafana_dashboard"
ALERTMANAGER_CONFIG_KEY = "alertmanager.yaml"
WEBHOOK_TOKEN_KEY = "webhook-token"  # noqa: S105 - a file name
GRAFANA_USER_KEY = "admin-user"
GRAFANA_PASSWORD_KEY = "admin-password"  # noqa: S105 - a key name


@dataclass(frozen=True, slots=True)
class MonitoredService:
    """A Service Prometheus scrapes, under the job name the alert rules select."""

    job: str
    selector: Mapping[str, str]
    port: str


@dataclass(frozen=True, slots=True)
class KubernetesMonitoringArgs:
    cluster: Cluster
    name_prefix: str
    sources: MonitoringSources
    targets: Sequence[MonitoredService]
    exporter_image: str
    database_host: str
    database_secret: pulumi.Input[str]
    receivers: ReceiverSecrets
    grafana_admin_password: pulumi.Input[str] | None = field(default=None, repr=False)
    external_labels: Mapping[str, str] = field(default_factory=dict)
    # False: the cluster's own Prometheus Operator, Prometheus, Alertmanager and Grafana.
    install_operator: bool = True
    # Labels the Prometheus of the cluster's own operator selects PrometheusRules and
    # ServiceMonitors by (kube-prometheus-stack's default: release=<its release name>).
    selector_labels: Mapping[str, str] = field(default_factory=dict)
    # Helm waits for every object of the chart; atomic: a failed install or upgrade is undone.
    chart_timeout_seconds: int = 900
    chart_atomic: bool = True
    depends_on: Sequence[pulumi.Resource] = ()


class KubernetesMonitoring(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        args: KubernetesMonitoringArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("learnbot:platform:Monitoring", name, None, opts)
        self._name = name
        self._args = args
        self._cluster = args.cluster
        prefix = args.name_prefix
        self.release_name = f"{prefix}-monitoring"
        self._alertmanager_config_name = f"{prefix}-alertmanager-config"
        self._alertmanager_files_name = f"{prefix}-alertmanager-files"
        self._exporter_name = f"{prefix}-postgres-exporter"
        # The chart cuts the names it derives its objects' names from at 26 characters.
        self.fullname = self.release_name[:26].rstrip("-")

        # The outputs of the chart's Grafana and Prometheus; None on a cluster's own operator.
        self.grafana_admin_password: pulumi.Output[str] | None = None
        self.grafana_url: pulumi.Output[str] | None = None
        self.prometheus_url: pulumi.Output[str] | None = None
        self.chart = self._chart() if args.install_operator else None
        after_chart = self._cluster.options(self, depends_on=[self.chart] if self.chart else [])
        self.rules = self._rules(after_chart)
        self.dashboards = self._dashboards()
        self.exporter = self._exporter()
        self.service_monitors = self._service_monitors(after_chart)
        self.register_outputs(
            {"grafana_url": self.grafana_url, "prometheus_url": self.prometheus_url}
        )

    def _chart(self) -> k8s.helm.v3.Release:
        """kube-prometheus-stack: the operator, and the Prometheus, Alertmanager and Grafana of
        the stack, with their admin password, and their URLs in the namespace."""
        args = self._args
        cluster = self._cluster
        self.grafana_admin_password = grafana_admin_password(
            self._name, self, args.grafana_admin_password
        )
        grafana_secret = secret(
            f"{self._name}-grafana-admin",
            cluster,
            self,
            name=f"{args.name_prefix}-grafana-admin",
            component="grafana",
            data={GRAFANA_USER_KEY: "admin", GRAFANA_PASSWORD_KEY: self.grafana_admin_password},
        )
        chart = k8s.helm.v3.Release(
            f"{self._name}-chart",
            name=self.release_name,
            chart=KPS_CHART,
            version=KPS_CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=KPS_REPOSITORY),
            namespace=cluster.namespace,
            values=self._chart_values(),
            timeout=args.chart_timeout_seconds,
            atomic=args.chart_atomic,
            opts=cluster.options(self, depends_on=[grafana_secret, *self._alertmanager_secrets()]),
        )
        namespace = cluster.namespace
        self.grafana_url = pulumi.Output.concat(
            "http://", self.release_name, "-grafana.", namespace, ".svc"
        )
        self.prometheus_url = pulumi.Output.concat(
            "http://", self.fullname, "-prometheus.", namespace, ".svc:9090"
        )
        return chart

    def _alertmanager_secrets(self) -> list[k8s.core.v1.Secret]:
        """The rendered configuration, and the webhook's token as a file beside it, where the
        Prometheus Operator mounts a Secret listed in the Alertmanager's `secrets`."""
        args = self._args
        files_name = self._alertmanager_files_name
        token_file = f"{ALERTMANAGER_SECRETS_DIR}/{files_name}/{WEBHOOK_TOKEN_KEY}"
        # The message templates lie beside the token, in the Secret the operator mounts.
        rendered = rendered_alertmanager_files(
            args.sources, args.receivers, token_file, f"{ALERTMANAGER_SECRETS_DIR}/{files_name}"
        )
        self.alertmanager_config: pulumi.Output[str] = rendered.apply(lambda f: f.config)
        config = secret(
            f"{self._name}-alertmanager-config",
            self._cluster,
            self,
            name=self._alertmanager_config_name,
            component="alertmanager",
            data={ALERTMANAGER_CONFIG_KEY: self.alertmanager_config},
        )
        files = secret(
            f"{self._name}-alertmanager-files",
            self._cluster,
            self,
            name=files_name,
            component="alertmanager",
            data={
                WEBHOOK_TOKEN_KEY: rendered.apply(lambda f: f.secret_files.get(token_file, "")),
                **args.sources.alertmanager_templates,
            },
        )
        return [config, files]

    def _chart_values(self) -> dict[str, Any]:
        args = self._args
        job_is = [{"action": "replace", "targetLabel": "job", "replacement": PROMETHEUS_JOB}]
        return {
            "fullnameOverride": self.fullname,
            # The cluster's own rules and dashboards are the cluster owner's; these are ours.
            "defaultRules": {"create": False},
            # node-exporter needs the host's network and pids, which this namespace refuses.
            "nodeExporter": {"enabled": False},
            "prometheus": {
                "serviceMonitor": {"relabelings": job_is},
                "prometheusSpec": {
                    # Every PrometheusRule and ServiceMonitor of the namespace, not only the
                    # chart's own.
                    "ruleSelectorNilUsesHelmValues": False,
                    "serviceMonitorSelectorNilUsesHelmValues": False,
                    "podMonitorSelectorNilUsesHelmValues": False,
                    "retention": "30d",
                    "externalLabels": dict(args.external_labels),
                    "resources": {
                        "requests": {"cpu": "250m", "memory": "1Gi"},
                        "limits": {"memory": "1Gi"},
                    },
                },
            },
            "alertmanager": {
                "alertmanagerSpec": {
                    "useExistingSecret": True,
                    "configSecret": self._alertmanager_config_name,
                    "secrets": [self._alertmanager_files_name],
                },
            },
            "grafana": {
                "admin": {
                    "existingSecret": f"{args.name_prefix}-grafana-admin",
                    "userKey": GRAFANA_USER_KEY,
                    "passwordKey": GRAFANA_PASSWORD_KEY,
                },
                "defaultDashboardsEnabled": False,
                "sidecar": {
                    "dashboards": {
                        "enabled": True,
                        "label": DASHBOARD_LABEL,
                        "labelValue": "1",
                    },
                    # The dashboards of dashboards/ name their datasource by this uid.
                    "datasources": {"defaultDatasourceEnabled": True, "uid": DATASOURCE_UID},
                },
                "grafana.ini": {
                    "users": {"allow_sign_up": False},
                    "auth.anonymous": {"enabled": False},
                    "analytics": {"reporting_enabled": False, "check_for_updates": False},
                },
            },
        }

    def _rules(self, opts: pulumi.ResourceOptions) -> list[k8s.apiextensions.CustomResource]:
        """A PrometheusRule per rule file of alerts/."""
        args = self._args
        return [
            k8s.apiextensions.CustomResource(
                f"{self._name}-rules-{PurePath(file).stem}",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata=self._cluster.metadata(
                    f"{args.name_prefix}-{PurePath(file).stem}",
                    "alerts",
                    labels=args.selector_labels,
                ),
                spec={"groups": yaml.safe_load(text)["groups"]},
                opts=opts,
            )
            for file, text in args.sources.rule_files.items()
        ]

    def _dashboards(self) -> list[k8s.core.v1.ConfigMap]:
        """A ConfigMap per dashboard of dashboards/, labelled for Grafana's sidecar."""
        cluster = self._cluster
        return [
            k8s.core.v1.ConfigMap(
                f"{self._name}-dashboard-{PurePath(file).stem}",
                metadata=cluster.metadata(
                    f"{self._args.name_prefix}-dashboard-{PurePath(file).stem}",
                    "dashboards",
                    labels={DASHBOARD_LABEL: "1"},
                ),
                data={file: text},
                opts=cluster.options(self),
            )
            for file, text in self._args.sources.dashboards.items()
        ]

    def _service_monitors(
        self, opts: pulumi.ResourceOptions
    ) -> list[k8s.apiextensions.CustomResource]:
        """The stack's targets and postgres_exporter, each scraped under its job name."""
        monitored = [
            *self._args.targets,
            MonitoredService(POSTGRES_JOB, self._cluster.selector(self._exporter_name), "metrics"),
        ]
        return [self._service_monitor(target, opts) for target in monitored]

    def _service_monitor(
        self, target: MonitoredService, opts: pulumi.ResourceOptions
    ) -> k8s.apiextensions.CustomResource:
        cluster = self._cluster
        return k8s.apiextensions.CustomResource(
            f"{self._name}-scrape-{target.job}",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=cluster.metadata(
                f"{self._args.name_prefix}-{target.job}",
                "monitoring",
                labels=self._args.selector_labels,
            ),
            spec={
                "selector": {"matchLabels": dict(target.selector)},
                "endpoints": [
                    {
                        "port": target.port,
                        "path": "/metrics",
                        "interval": "15s",
                        # The job name the rules of alerts/ and the dashboards select.
                        "relabelings": [
                            {"action": "replace", "targetLabel": "job", "replacement": target.job}
                        ],
                    }
                ],
            },
            opts=opts,
        )

    def _exporter(self) -> k8s.apps.v1.Deployment:
        args = self._args
        password = k8s.core.v1.EnvVarSourceArgs(
            secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(
                name=args.database_secret, key="password"
            )
        )
        return single_pod_service(
            f"{self._name}-postgres-exporter",
            self._cluster,
            self,
            name=self._exporter_name,
            component="postgres-exporter",
            pod=k8s.core.v1.PodSpecArgs(
                security_context=pod_security(NOBODY_UID),
                automount_service_account_token=False,
                containers=[
                    k8s.core.v1.ContainerArgs(
                        name="postgres-exporter",
                        image=args.exporter_image,
                        env=[
                            k8s.core.v1.EnvVarArgs(name="DATA_SOURCE_USER", value=DATABASE_USER),
                            k8s.core.v1.EnvVarArgs(name="DATA_SOURCE_PASS", value_from=password),
                            k8s.core.v1.EnvVarArgs(
                                name="DATA_SOURCE_URI",
                                value=f"{args.database_host}:{POSTGRES_PORT}/"
                                f"{DATABASE_NAME}?sslmode=require",
                            ),
                        ],
                        ports=[
                            k8s.core.v1.ContainerPortArgs(
                                name="metrics", container_port=EXPORTER_PORT
                            )
                        ],
                        liveness_probe=http_probe("/", "metrics"),
                        readiness_probe=http_probe("/", "metrics"),
                        resources=resources(cpu_millicores=50, memory_mb=128),
                        security_context=container_security(),
                    )
                ],
            ),
            port_name="metrics",
            port=EXPORTER_PORT,
            depends_on=args.depends_on,
        )

"""Prometheus scraping the stack's containers with the rules of alerts/, Alertmanager routing
as alerts/alertmanager/alertmanager.yml says, Grafana with dashboards/, and postgres_exporter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from learnbot_platform.docker.containers import (
    environment,
    healthcheck,
    plain_file,
    published_url,
    pulled_image,
    run_container,
    secret_file,
    wget_probe,
)
from learnbot_platform.monitoring import (
    EXPORTER_PORT,
    NOBODY_UID,
    ReceiverSecrets,
    grafana_admin_password,
    rendered_alertmanager_files,
)
from learnbot_platform.rendering import (
    ALERTMANAGER_TEMPLATES_DIR,
    WEBHOOK_TOKEN_FILE,
    ScrapeJob,
    grafana_dashboard_providers,
    grafana_datasources,
    prometheus_config,
)
from learnbot_platform.repository import MonitoringSources
from learnbot_platform.service_env import DATABASE_NAME, DATABASE_USER, POSTGRES_PORT

PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
GRAFANA_PORT = 3000
PROMETHEUS_DIR = "/etc/prometheus"
RULES_DIR = "rules"
ALERTMANAGER_CONFIG = "/etc/alertmanager/alertmanager.yml"
GRAFANA_PROVISIONING = "/etc/grafana/provisioning"
GRAFANA_DASHBOARDS = "/etc/grafana/dashboards"
GRAFANA_SECRET_FILE = "/etc/grafana/secrets/admin-password"  # noqa: S105 - a path
EXPORTER_SECRET_FILE = "/run/secrets/postgres-password"  # noqa: S105 - a path
GRAFANA_UID = 472


@dataclass(frozen=True, slots=True)
class ScrapeTarget:
    """One container Prometheus scrapes, under the job name the alert rules select."""

    job: str
    host: pulumi.Input[str]
    port: int


@dataclass(frozen=True, slots=True)
class MonitoringArgs:
    name_prefix: str
    network: pulumi.Input[str]
    sources: MonitoringSources
    prometheus_image: str
    alertmanager_image: str
    grafana_image: str
    exporter_image: str
    targets: Sequence[ScrapeTarget]
    database_host: pulumi.Input[str]
    database_password: pulumi.Input[str] = field(repr=False)
    receivers: ReceiverSecrets
    bind_address: str
    grafana_port: int
    # None: the URL Grafana is published at.
    grafana_root_url: str | None
    # None: Prometheus is not published; its URL is its address on the stack's network.
    prometheus_port: int | None = None
    grafana_admin_password: pulumi.Input[str] | None = field(default=None, repr=False)
    external_labels: Mapping[str, str] = field(default_factory=dict)
    depends_on: Sequence[pulumi.Resource] = ()


class Monitoring(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("learnbot:platform:Monitoring", name, None, opts)
        self._name = name
        self._args = args
        self.exporter = self._exporter()
        self.alertmanager = self._alertmanager()
        self.scrape_jobs: pulumi.Output[list[ScrapeJob]] = self._scrape_jobs()
        self.prometheus_config: pulumi.Output[str] = self.scrape_jobs.apply(
            lambda jobs: prometheus_config(
                jobs,
                rule_files=[f"{RULES_DIR}/{n}" for n in args.sources.rule_files],
                alertmanagers=[f"{args.name_prefix}-alertmanager:{ALERTMANAGER_PORT}"],
                external_labels=args.external_labels,
            )
        )
        self.prometheus = self._prometheus()
        self.grafana_url = args.grafana_root_url or published_url(
            args.bind_address, args.grafana_port
        )
        self.grafana_admin_password: pulumi.Output[str] = self._grafana_password()
        self.grafana = self._grafana()
        if args.prometheus_port is None:
            self.prometheus_url: pulumi.Output[str] = self.prometheus.network_datas.apply(
                lambda datas: f"http://{datas[0].ip_address}:{PROMETHEUS_PORT}"
            )
        else:
            self.prometheus_url = pulumi.Output.from_input(
                published_url(args.bind_address, args.prometheus_port)
            )
        self.register_outputs(
            {"grafana_url": self.grafana_url, "prometheus_url": self.prometheus_url}
        )

    def _image(self, part: str, reference: str) -> pulumi.Output[str]:
        return pulled_image(f"{self._name}-{part}-image", reference, self)

    def _volume(self, part: str) -> docker.Volume:
        return docker.Volume(
            f"{self._name}-{part}-data",
            name=f"{self._args.name_prefix}-{part}-data",
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _exporter(self) -> docker.Container:
        args = self._args
        return run_container(
            f"{self._name}-postgres-exporter",
            parent=self,
            name=f"{args.name_prefix}-postgres-exporter",
            image=self._image("postgres-exporter", args.exporter_image),
            component="postgres-exporter",
            network=args.network,
            memory_mb=128,
            envs=[
                *environment(
                    {
                        "DATA_SOURCE_USER": DATABASE_USER,
                        "DATA_SOURCE_PASS_FILE": EXPORTER_SECRET_FILE,
                    }
                ),
                pulumi.Output.concat(
                    "DATA_SOURCE_URI=",
                    args.database_host,
                    f":{POSTGRES_PORT}/{DATABASE_NAME}?sslmode=disable",
                ),
            ],
            uploads=[secret_file(EXPORTER_SECRET_FILE, args.database_password, owner=NOBODY_UID)],
            healthcheck=healthcheck(wget_probe(f"http://127.0.0.1:{EXPORTER_PORT}/metrics")),
            depends_on=args.depends_on,
        )

    def _alertmanager(self) -> docker.Container:
        args = self._args
        receivers = args.receivers
        files = rendered_alertmanager_files(args.sources, receivers)
        uploads = [
            secret_file(ALERTMANAGER_CONFIG, files.apply(lambda f: f.config), owner=NOBODY_UID),
            *(
                plain_file(f"{ALERTMANAGER_TEMPLATES_DIR}/{name}", text)
                for name, text in args.sources.alertmanager_templates.items()
            ),
        ]
        if receivers.webhook_token is not None:
            uploads.append(
                secret_file(
                    WEBHOOK_TOKEN_FILE,
                    files.apply(lambda f: f.secret_files[WEBHOOK_TOKEN_FILE]),
                    owner=NOBODY_UID,
                )
            )
        volume = self._volume("alertmanager")
        return run_container(
            f"{self._name}-alertmanager",
            parent=self,
            name=f"{args.name_prefix}-alertmanager",
            image=self._image("alertmanager", args.alertmanager_image),
            component="alertmanager",
            network=args.network,
            memory_mb=128,
            command=[f"--config.file={ALERTMANAGER_CONFIG}", "--storage.path=/alertmanager"],
            uploads=uploads,
            volumes=[
                docker.ContainerVolumeArgs(volume_name=volume.name, container_path="/alertmanager")
            ],
            healthcheck=healthcheck(wget_probe(f"http://127.0.0.1:{ALERTMANAGER_PORT}/-/ready")),
        )

    def _scrape_jobs(self) -> pulumi.Output[list[ScrapeJob]]:
        own = [
            ScrapeTarget("prometheus", "localhost", PROMETHEUS_PORT),
            ScrapeTarget("alertmanager", self.alertmanager.name, ALERTMANAGER_PORT),
            ScrapeTarget("postgres", self.exporter.name, EXPORTER_PORT),
        ]
        targets = [*own, *self._args.targets]
        return pulumi.Output.all(*(t.host for t in targets)).apply(
            lambda hosts: _jobs(
                [(t.job, f"{h}:{t.port}") for t, h in zip(targets, hosts, strict=True)]
            )
        )

    def _prometheus(self) -> docker.Container:
        args = self._args
        volume = self._volume("prometheus")
        ports = (
            []
            if args.prometheus_port is None
            else [
                docker.ContainerPortArgs(
                    internal=PROMETHEUS_PORT, external=args.prometheus_port, ip=args.bind_address
                )
            ]
        )
        return run_container(
            f"{self._name}-prometheus",
            parent=self,
            name=f"{args.name_prefix}-prometheus",
            image=self._image("prometheus", args.prometheus_image),
            component="prometheus",
            network=args.network,
            memory_mb=1024,
            command=[
                f"--config.file={PROMETHEUS_DIR}/prometheus.yml",
                "--storage.tsdb.path=/prometheus",
                "--storage.tsdb.retention.time=30d",
            ],
            uploads=[
                plain_file(f"{PROMETHEUS_DIR}/prometheus.yml", self.prometheus_config),
                *(
                    plain_file(f"{PROMETHEUS_DIR}/{RULES_DIR}/{file}", text)
                    for file, text in args.sources.rule_files.items()
                ),
            ],
            volumes=[
                docker.ContainerVolumeArgs(volume_name=volume.name, container_path="/prometheus")
            ],
            ports=ports,
            healthcheck=healthcheck(wget_probe(f"http://127.0.0.1:{PROMETHEUS_PORT}/-/ready")),
            depends_on=[self.alertmanager],
        )

    def _grafana_password(self) -> pulumi.Output[str]:
        return grafana_admin_password(self._name, self, self._args.grafana_admin_password)

    def _grafana(self) -> docker.Container:
        args = self._args
        sources = args.sources
        prometheus = f"http://{args.name_prefix}-prometheus:{PROMETHEUS_PORT}"
        uploads = [
            *(
                plain_file(
                    f"{GRAFANA_PROVISIONING}/datasources/{n}", grafana_datasources(t, prometheus)
                )
                for n, t in sources.grafana_datasources.items()
            ),
            *(
                plain_file(
                    f"{GRAFANA_PROVISIONING}/dashboards/{n}",
                    grafana_dashboard_providers(t, GRAFANA_DASHBOARDS),
                )
                for n, t in sources.grafana_dashboard_providers.items()
            ),
            *(plain_file(f"{GRAFANA_DASHBOARDS}/{n}", t) for n, t in sources.dashboards.items()),
            secret_file(GRAFANA_SECRET_FILE, self.grafana_admin_password, owner=GRAFANA_UID),
        ]
        volume = self._volume("grafana")
        return run_container(
            f"{self._name}-grafana",
            parent=self,
            name=f"{args.name_prefix}-grafana",
            image=self._image("grafana", args.grafana_image),
            component="grafana",
            network=args.network,
            memory_mb=512,
            envs=environment(
                {
                    "GF_SECURITY_ADMIN_USER": "admin",
                    "GF_SECURITY_ADMIN_PASSWORD__FILE": GRAFANA_SECRET_FILE,
                    "GF_SERVER_ROOT_URL": self.grafana_url,
                    "GF_USERS_ALLOW_SIGN_UP": "false",
                    "GF_AUTH_ANONYMOUS_ENABLED": "false",
                    "GF_ANALYTICS_REPORTING_ENABLED": "false",
                    "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
                }
            ),
            uploads=uploads,
            volumes=[
                docker.ContainerVolumeArgs(
                    volume_name=volume.name, container_path="/var/lib/grafana"
                )
            ],
            ports=[
                docker.ContainerPortArgs(
                    internal=GRAFANA_PORT, external=args.grafana_port, ip=args.bind_address
                )
            ],
            healthcheck=healthcheck(wget_probe(f"http://127.0.0.1:{GRAFANA_PORT}/api/health")),
            depends_on=[self.prometheus],
        )


def _jobs(targets: Sequence[tuple[str, str]]) -> list[ScrapeJob]:
    by_job: dict[str, list[str]] = {}
    for job, address in targets:
        by_job.setdefault(job, []).append(address)
    return [ScrapeJob(job, tuple(addresses)) for job, addresses in by_job.items()]

"""The whole Pulumi program with learnbot:target kubernetes, run under Pulumi's mocks: every
object it declares checked against the official schemas of a pinned Kubernetes release, and
what each component asks of the cluster."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.prometheus_operator import v1 as prometheus_operator

from installed_tools import tool
from kubernetes_objects import PROVIDER, is_object, manifests, of_kind, pod_specs, releases
from kubernetes_objects import env_of as container_env
from learnbot_platform.kubernetes.objects import KUBERNETES_VERSION
from learnbot_platform.repository import rule_paths
from stack_run import (
    COMPONENTS,
    CONFIGURED,
    KUBERNETES_CONFIG,
    KUBERNETES_CONFIGURED,
    KUBERNETES_SECRETS,
    OAUTH_CLIENT_SECRETS,
    RANDOM_PASSWORD,
    ROOT,
    SECRET_VALUES,
    StackRun,
    assert_command_exists,
    is_secret,
    jobs_the_rules_select,
    resolve,
    run_program,
    walk_unsecret,
)

CUSTOM_KINDS = {"Cluster", "ScheduledBackup", "PrometheusRule", "ServiceMonitor"}


def test_the_same_components_own_every_kubernetes_object(kubernetes_stack: StackRun) -> None:
    registrations = kubernetes_stack.monitor.registrations.values()
    components = {r.name: r for r in registrations if r.type.startswith("learnbot:")}
    assert {name: r.type for name, r in components.items()} == COMPONENTS
    (provider,) = [r for r in registrations if r.type == PROVIDER]
    urns = {r.urn for r in components.values()}
    for registration in registrations:
        if registration.type.startswith("kubernetes:"):
            assert registration.parent in urns, registration.name
            # Every object goes to the cluster of the stack's own provider.
            assert registration.provider.startswith(provider.urn + "::"), registration.name
    assert not kubernetes_stack.of_type("docker:index/container:Container")


def test_every_object_is_in_the_stack_namespace(
    kubernetes_stack: StackRun, kubernetes_configured: StackRun
) -> None:
    for stack, namespace in (
        (kubernetes_stack, "learnbot"),
        (kubernetes_configured, "learnbot-production"),
    ):
        objects = manifests(stack)
        assert of_kind(stack, "Namespace").keys() == {namespace}
        for name, manifest in objects.items():
            if manifest["kind"] != "Namespace":
                assert manifest["metadata"]["namespace"] == namespace, name
        for release in releases(stack).values():
            assert release["namespace"] == namespace


@pytest.mark.parametrize(
    "stack_name", ["kubernetes_stack", "kubernetes_configured", "kubernetes_shared_operators"]
)
def test_every_builtin_object_is_valid_for_the_pinned_kubernetes_release(
    stack_name: str, request: pytest.FixtureRequest
) -> None:
    stack: StackRun = request.getfixturevalue(stack_name)
    kinds = set()
    for name, manifest in manifests(stack).items():
        if manifest["kind"] in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{name}: {error.message} at {list(error.path)}")
        kinds.add(manifest["kind"])
    assert kinds == {
        "Namespace",
        "Secret",
        "ConfigMap",
        "Deployment",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Job",
        "CronJob",
        "PersistentVolumeClaim",
    }


def test_the_validation_refuses_what_the_schema_does_not_allow(kubernetes_stack: StackRun) -> None:
    """The check above can fail: an unknown field and a wrong type are refused."""
    deployment = of_kind(kubernetes_stack, "Deployment")["learnbot-api"]
    wrong = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong, KUBERNETES_VERSION, strict=True)
    wrong = {**deployment, "spec": {**deployment["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong, KUBERNETES_VERSION, strict=True)


def model_round_trip(model: Any, manifest: dict[str, Any]) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_validate(manifest).model_dump(
        by_alias=True, exclude_none=True, mode="json"
    )
    return dumped


def test_monitoring_resources_are_valid_for_the_prometheus_operator_of_the_chart(
    kubernetes_stack: StackRun,
) -> None:
    """The operator's CRD schemas as models: a field they do not know would be dropped, so the
    round trip must give back every field as it was."""
    checked = 0
    for kind, model in (
        ("PrometheusRule", prometheus_operator.PrometheusRule),
        ("ServiceMonitor", prometheus_operator.ServiceMonitor),
    ):
        for name, manifest in of_kind(kubernetes_stack, kind).items():
            assert model_round_trip(model, manifest) == manifest, name
            checked += 1
    # A PrometheusRule per rule file, a ServiceMonitor per scraped job.
    assert checked == len(rule_paths()) + 3
    bad = of_kind(kubernetes_stack, "ServiceMonitor")["learnbot-learnbot-api"]
    bad = {**bad, "spec": {**bad["spec"], "endpoints": [{"port": "http", "scrapeEvery": "1m"}]}}
    assert model_round_trip(prometheus_operator.ServiceMonitor, bad) != bad


def test_our_pods_meet_the_restricted_pod_security_standard(kubernetes_stack: StackRun) -> None:
    specs = pod_specs(kubernetes_stack)
    assert set(specs) == {
        "learnbot-api",
        "learnbot-migrate",
        "learnbot-redis",
        "learnbot-backup",
        "learnbot-restore-drill",
        "learnbot-backup-metrics",
        "learnbot-postgres-exporter",
    }
    for name, spec in specs.items():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] > 0, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"] == {"drop": ["ALL"]}, name
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys(), name
            assert resources["limits"]["memory"] == resources["requests"]["memory"], name


def test_the_api_deployment_probes_health_and_readiness(kubernetes_stack: StackRun) -> None:
    deployment = of_kind(kubernetes_stack, "Deployment")["learnbot-api"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["learnbot", "serve"]
    assert container["image"] == "ghcr.io/example/learnbot:0.1.0"
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 8000}]
    # The service's multiprocess metrics folder is writable on a read-only root.
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]  # noqa: S108
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1024Mi"},
        "limits": {"cpu": "1000m", "memory": "1024Mi"},
    }


def test_the_api_environment_is_the_docker_targets_with_its_secrets_apart(
    kubernetes_configured: StackRun,
) -> None:
    deployment = of_kind(kubernetes_configured, "Deployment")["learnbot-prod-api"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = container_env(container)
    assert env["WORKERS"] == "1"
    assert env["DATABASE_POOL_SIZE"] == "8"
    assert env["RATE_LIMIT_STORAGE_URL"] == "redis://learnbot-prod-redis:6379/0"
    assert env["APP_REVISION"] == "2026.11.29-abc123"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == CONFIGURED["otelExporterEndpoint"]
    assert not {"DATABASE_URL", "TELEGRAM_BOT_TOKEN", "SENTRY_DSN"} & env.keys()
    assert container["envFrom"] == [{"secretRef": {"name": "learnbot-prod-api"}}]
    secret = of_kind(kubernetes_configured, "Secret")["learnbot-prod-api"]["stringData"]
    assert secret["TELEGRAM_BOT_TOKEN"] == KUBERNETES_SECRETS["telegramBotToken"]
    assert secret["SENTRY_DSN"] == KUBERNETES_SECRETS["sentryDsn"]
    assert secret["DATABASE_URL"] == (
        "postgresql://learnbot:db-password-3f9a1c7e5b@learnbot-prod-db-rw:5432/learnbot"
    )
    assert container["image"] == "registry.example.com:5000/team/learnbot:2026.11.29-abc123"


def test_replicas_autoscaling_and_disruption_budget(
    kubernetes_stack: StackRun, kubernetes_configured: StackRun
) -> None:
    for stack, prefix, low, high in (
        (kubernetes_stack, "learnbot", 2, 10),
        (kubernetes_configured, "learnbot-prod", 3, 12),
    ):
        name = f"{prefix}-api"
        deployment = of_kind(stack, "Deployment")[name]
        autoscaler = of_kind(stack, "HorizontalPodAutoscaler")[name]["spec"]
        assert deployment["spec"]["replicas"] == low
        assert (autoscaler["minReplicas"], autoscaler["maxReplicas"]) == (low, high)
        assert autoscaler["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        (metric,) = autoscaler["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert 0 < metric["resource"]["target"]["averageUtilization"] < 100
        budget = of_kind(stack, "PodDisruptionBudget")[name]["spec"]
        assert budget["maxUnavailable"] == 1
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert budget["selector"]["matchLabels"].items() <= labels.items()
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        # The autoscaler, not the next `pulumi up`, owns the replica count.
        registration = stack.registration("api-deployment")
        assert "spec.replicas" in registration.ignore_changes


def test_the_service_and_ingress_lead_to_the_api_pods(
    kubernetes_stack: StackRun, kubernetes_configured: StackRun
) -> None:
    service = of_kind(kubernetes_stack, "Service")["learnbot-api"]["spec"]
    labels = of_kind(kubernetes_stack, "Deployment")["learnbot-api"]["spec"]["template"][
        "metadata"
    ]["labels"]
    assert service["selector"].items() <= labels.items()
    ingress = of_kind(kubernetes_stack, "Ingress")["learnbot-api"]["spec"]
    (rule,) = ingress["rules"]
    assert rule["host"] == "api.example.com"
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": "learnbot-api", "port": {"name": "http"}}
    assert "tls" not in ingress
    assert "ingressClassName" not in ingress
    assert resolve(kubernetes_stack.program["outputs"]["apiUrl"]) == "http://api.example.com"

    ingress = of_kind(kubernetes_configured, "Ingress")["learnbot-prod-api"]["spec"]
    assert ingress["ingressClassName"] == "nginx"
    assert ingress["tls"] == [
        {"hosts": ["api.learnbot.example.com"], "secretName": "learnbot-api-tls"}
    ]
    assert (
        resolve(kubernetes_configured.program["outputs"]["apiUrl"])
        == "https://api.learnbot.example.com"
    )


def test_the_waits_for_the_ingress_and_the_monitoring_chart_are_settings(
    kubernetes_stack: StackRun,
) -> None:
    ingress = of_kind(kubernetes_stack, "Ingress")["learnbot-api"]
    assert "pulumi.com/skipAwait" not in ingress["metadata"]["annotations"]
    chart = releases(kubernetes_stack)["kube-prometheus-stack"]
    # Helm's default of 300 s is too short for a first install pulling many images.
    assert (chart["timeout"], chart["atomic"]) == (900, True)

    tuned = run_program(
        {
            **KUBERNETES_CONFIG,
            "awaitIngress": "false",
            "monitoringTimeoutSeconds": "1800",
            "monitoringAtomic": "false",
        },
        secret_keys=["telegramBotToken"],
    )
    # For Ingress controllers that never publish an address: Pulumi would wait 10 minutes.
    ingress = of_kind(tuned, "Ingress")["learnbot-api"]
    assert ingress["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
    chart = releases(tuned)["kube-prometheus-stack"]
    assert (chart["timeout"], chart["atomic"]) == (1800, False)


def test_the_bot_is_set_up_by_a_job_once_the_api_is_ready(
    kubernetes_stack: StackRun, kubernetes_configured: StackRun
) -> None:
    assert "learnbot-bot-setup" not in of_kind(kubernetes_stack, "Job")
    job = of_kind(kubernetes_configured, "Job")["learnbot-prod-bot-setup"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["learnbot", "bot", "setup"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    api = of_kind(kubernetes_configured, "Deployment")["learnbot-prod-api"]
    (server,) = api["spec"]["template"]["spec"]["containers"]
    assert (container["image"], container["envFrom"]) == (server["image"], server["envFrom"])
    assert {"name": "TELEGRAM_WEBHOOK_URL", "value": CONFIGURED["telegramWebhookUrl"]} in (
        container["env"]
    )
    secret = of_kind(kubernetes_configured, "Secret")["learnbot-prod-api"]["stringData"]
    assert secret["TELEGRAM_WEBHOOK_SECRET"] == KUBERNETES_SECRETS["telegramWebhookSecret"]
    setup = kubernetes_configured.registration("api-bot-setup")
    for dependency in ("api-deployment", "api-ingress"):
        assert kubernetes_configured.registration(dependency).urn in setup.dependencies
    assert setup.delete_before_replace


def test_migrations_run_in_a_job_the_deployment_waits_for(kubernetes_stack: StackRun) -> None:
    job = of_kind(kubernetes_stack, "Job")["learnbot-migrate"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["learnbot", "migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    api = of_kind(kubernetes_stack, "Deployment")["learnbot-api"]
    (server,) = api["spec"]["template"]["spec"]["containers"]
    assert container["image"] == server["image"]
    assert container["envFrom"] == server["envFrom"]
    migration = kubernetes_stack.registration("api-migrate")
    assert migration.urn in kubernetes_stack.registration("api-deployment").dependencies
    assert kubernetes_stack.registration("database-cluster").urn in migration.dependencies
    # A Job cannot change in place: a new release replaces it, under the same name.
    assert migration.delete_before_replace
    assert job["metadata"]["annotations"] == {"pulumi.com/replaceUnready": "true"}


def test_migrations_wait_until_the_database_cluster_is_ready(kubernetes_stack: StackRun) -> None:
    """Pulumi counts a custom resource created at once unless told what to wait for: the
    migrate Job must not start while CloudNativePG is still bootstrapping the cluster."""
    cluster = of_kind(kubernetes_stack, "Cluster")["learnbot-db"]
    annotations = cluster["metadata"]["annotations"]
    # CloudNativePG sets the condition Ready to True once the cluster is healthy.
    assert annotations["pulumi.com/waitFor"] == "condition=Ready"
    # A first bootstrap pulls images and clones replicas: longer than Pulumi's 10 minutes.
    assert int(annotations["pulumi.com/timeoutSeconds"]) >= 1200
    migration = kubernetes_stack.registration("api-migrate")
    assert kubernetes_stack.registration("database-cluster").urn in migration.dependencies


def test_postgresql_is_a_cloudnativepg_cluster_that_fails_over(
    kubernetes_stack: StackRun, kubernetes_configured: StackRun
) -> None:
    for stack, prefix, instances, size in (
        (kubernetes_stack, "learnbot", 3, "10Gi"),
        (kubernetes_configured, "learnbot-prod", 5, "50Gi"),
    ):
        cluster = of_kind(stack, "Cluster")[f"{prefix}-db"]
        assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
        spec = cluster["spec"]
        assert spec["instances"] == instances
        assert spec["storage"]["size"] == size
        assert spec["imageName"] == "ghcr.io/cloudnative-pg/postgresql:15.10"
        assert spec["postgresql"]["parameters"]["max_connections"] == "300"
        secret_name = spec["bootstrap"]["initdb"]["secret"]["name"]
        app = of_kind(stack, "Secret")[secret_name]
        assert app["type"] == "kubernetes.io/basic-auth"
        assert app["stringData"]["username"] == spec["bootstrap"]["initdb"]["owner"]
        (role,) = spec["managed"]["roles"]
        assert role["createdb"] is True
        assert role["passwordSecret"]["name"] == secret_name
        assert releases(stack)["cloudnative-pg"]["version"] == "0.23.0"
    assert (
        of_kind(kubernetes_configured, "Cluster")["learnbot-prod-db"]["spec"]["storage"][
            "storageClass"
        ]
        == "fast-ssd"
    )
    operator = kubernetes_stack.registration("database-operator")
    assert operator.urn in kubernetes_stack.registration("database-cluster").dependencies


def test_with_a_bucket_cloudnativepg_archives_wal_and_backs_up_on_a_schedule(
    kubernetes_configured: StackRun,
) -> None:
    stack = kubernetes_configured
    spec = of_kind(stack, "Cluster")["learnbot-prod-db"]["spec"]
    assert spec["postgresql"]["parameters"]["archive_timeout"] == "60s"
    backup = spec["backup"]
    assert backup["retentionPolicy"] == "30d"
    store = backup["barmanObjectStore"]
    # The dumps' bucket and prefix: CloudNativePG writes under <prefix>/<cluster name>/.
    assert store["destinationPath"] == "s3://learnbot-backups/prod"
    assert store["wal"]["compression"] == "gzip"
    assert store["data"]["compression"] == "gzip"
    credentials = store["s3Credentials"]
    assert {selector["key"] for selector in credentials.values()} == {
        "ACCESS_KEY_ID",
        "ACCESS_SECRET_KEY",
        "REGION",
    }
    (secret_name,) = {selector["name"] for selector in credentials.values()}
    data = of_kind(stack, "Secret")[secret_name]["stringData"]
    assert data == {
        "ACCESS_KEY_ID": KUBERNETES_CONFIGURED["backupS3AccessKeyId"],
        "ACCESS_SECRET_KEY": KUBERNETES_CONFIGURED["backupS3SecretAccessKey"],
        "REGION": "eu-central-1",
    }
    scheduled = of_kind(stack, "ScheduledBackup")["learnbot-prod-db-physical"]
    assert scheduled["apiVersion"] == "postgresql.cnpg.io/v1"
    assert scheduled["spec"] == {
        "schedule": "0 30 1 * * *",
        "cluster": {"name": "learnbot-prod-db"},
        "method": "barmanObjectStore",
        "immediate": True,
        "backupOwnerReference": "self",
    }
    assert stack.registration("database-cluster").urn in (
        stack.registration("database-scheduled-backup").dependencies
    )


def test_without_a_bucket_there_are_no_backups_of_cloudnativepgs_own(
    kubernetes_stack: StackRun,
) -> None:
    spec = of_kind(kubernetes_stack, "Cluster")["learnbot-db"]["spec"]
    assert "backup" not in spec
    assert of_kind(kubernetes_stack, "ScheduledBackup") == {}


def test_an_endpoint_and_the_pods_identity_reach_an_s3_compatible_bucket() -> None:
    stack = run_program(
        {
            **KUBERNETES_CONFIG,
            "backupS3Url": "s3://learnbot-wal",
            "backupS3EndpointUrl": "https://minio.example.com:9000",
            "physicalBackupSchedule": "0 2 * * 6",
            "physicalBackupRetentionDays": "14",
            "archiveTimeoutSeconds": "30",
        },
        secret_keys=("telegramBotToken",),
    )
    spec = of_kind(stack, "Cluster")["learnbot-db"]["spec"]
    store = spec["backup"]["barmanObjectStore"]
    assert store["endpointURL"] == "https://minio.example.com:9000"
    assert store["s3Credentials"] == {"inheritFromIAMRole": True}
    assert spec["backup"]["retentionPolicy"] == "14d"
    assert spec["postgresql"]["parameters"]["archive_timeout"] == "30s"
    scheduled = of_kind(stack, "ScheduledBackup")["learnbot-db-physical"]
    assert scheduled["spec"]["schedule"] == "0 0 2 * * 6"
    assert "learnbot-db-backup-s3" not in of_kind(stack, "Secret")


def test_a_cluster_that_runs_both_operators_gets_no_second_install(
    kubernetes_stack: StackRun, kubernetes_shared_operators: StackRun
) -> None:
    """Both charts install cluster-wide objects (CRDs, a fixed-name webhook, an operator that
    watches every namespace): a second stack, or a cluster running either, uses the one there."""
    stack = kubernetes_shared_operators
    assert releases(stack) == {}
    assert not [r for r in stack.monitor.registrations.values() if r.name == "database-operator"]
    cluster = of_kind(stack, "Cluster")["learnbot-db"]
    assert cluster["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"
    migration = stack.registration("api-migrate")
    assert stack.registration("database-cluster").urn in migration.dependencies
    # The rules and scrape targets stay, labelled for the cluster's Prometheus to select them.
    for kind in ("PrometheusRule", "ServiceMonitor"):
        objects = of_kind(stack, kind)
        assert objects.keys() == of_kind(kubernetes_stack, kind).keys()
        for name, manifest in objects.items():
            assert manifest["metadata"]["labels"]["release"] == "kube-prometheus-stack", name
    assert of_kind(stack, "ConfigMap").keys() == of_kind(kubernetes_stack, "ConfigMap").keys()
    # No Grafana or Alertmanager of the stack's own, so none of their Secrets or outputs.
    assert of_kind(stack, "Secret").keys() == {"learnbot-db-app", "learnbot-api", "learnbot-backup"}
    assert set(stack.program["outputs"]) == {"apiUrl", "namespace"}
    passwords = stack.of_type(RANDOM_PASSWORD)
    assert [password.name for password in passwords] == ["database-password"]


def test_backups_run_as_cron_jobs_beside_their_metrics_server(
    kubernetes_configured: StackRun,
) -> None:
    cron_jobs = of_kind(kubernetes_configured, "CronJob")
    backup = cron_jobs["learnbot-prod-backup"]["spec"]
    drill = cron_jobs["learnbot-prod-restore-drill"]["spec"]
    assert backup["schedule"] == "15 1 * * *"
    assert drill["schedule"] == "0 4 * * 0"
    server = of_kind(kubernetes_configured, "Deployment")["learnbot-prod-backup-metrics"]
    server_pod = server["spec"]["template"]["spec"]
    (server_container,) = server_pod["containers"]
    assert server_container["command"] == ["learnbot", "backup", "metrics"]
    writers = {container_env(server_container)["BACKUP_METRICS_WRITER"]}
    claim = of_kind(kubernetes_configured, "PersistentVolumeClaim")["learnbot-prod-backup"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "80Gi"
    for spec, command in (
        (backup, ["learnbot", "backup", "run", "--once"]),
        (drill, ["learnbot", "backup", "verify", "--restore-drill"]),
    ):
        assert spec["concurrencyPolicy"] == "Forbid"
        assert spec["timeZone"] == "Etc/UTC"
        pod = spec["jobTemplate"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["command"] == command
        env = container_env(container)
        assert env["BACKUP_DIR"] == "/var/lib/learnbot/backups"
        assert (
            env["PROMETHEUS_MULTIPROC_DIR"]
            == container_env(server_container)["PROMETHEUS_MULTIPROC_DIR"]
        )
        assert env["BACKUP_S3_URL"] == "s3://learnbot-backups/prod"
        writers.add(env["BACKUP_METRICS_WRITER"])
        assert container["volumeMounts"] == server_container["volumeMounts"]
        assert pod["volumes"] == server_pod["volumes"]
        # A ReadWriteOnce claim: on the metrics server's node.
        (term,) = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert term["labelSelector"]["matchLabels"].items() <= (
            server["spec"]["template"]["metadata"]["labels"].items()
        )
        assert container["envFrom"] == [{"secretRef": {"name": "learnbot-prod-backup"}}]
    assert len(writers) == 3
    (volume,) = [v for v in server_pod["volumes"] if "persistentVolumeClaim" in v]
    assert volume["persistentVolumeClaim"]["claimName"] == "learnbot-prod-backup"
    secret = of_kind(kubernetes_configured, "Secret")["learnbot-prod-backup"]["stringData"]
    assert secret["AWS_SECRET_ACCESS_KEY"] == KUBERNETES_SECRETS["backupS3SecretAccessKey"]
    assert kubernetes_configured.registration("backups-data").retain_on_delete


def test_every_command_the_pods_run_exists(kubernetes_stack: StackRun) -> None:
    image = "ghcr.io/example/learnbot:0.1.0"
    commands = {
        tuple(container["command"])
        for spec in pod_specs(kubernetes_stack).values()
        for container in spec["containers"]
        if container["image"] == image
    }
    assert commands == {
        ("learnbot", "serve"),
        ("learnbot", "migrate"),
        ("learnbot", "backup", "run", "--once"),
        ("learnbot", "backup", "verify", "--restore-drill"),
        ("learnbot", "backup", "metrics"),
    }
    for command in commands:
        assert_command_exists(command)


def test_every_rule_file_is_a_prometheus_rule_that_promtool_accepts(
    kubernetes_stack: StackRun, tmp_path: Path
) -> None:
    promtool = tool("promtool", "prometheus package")
    rules = of_kind(kubernetes_stack, "PrometheusRule")
    files = rule_paths()
    assert len(rules) == len(files)
    for path in files:
        rule = rules[f"learnbot-{path.stem}"]
        assert rule["spec"] == {"groups": yaml.safe_load(path.read_text())["groups"]}
        extracted = tmp_path / path.name
        extracted.write_text(yaml.safe_dump(rule["spec"]))
        result = subprocess.run(
            [promtool, "check", "rules", str(extracted)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_every_dashboard_is_a_configmap_for_grafanas_sidecar(kubernetes_stack: StackRun) -> None:
    maps = of_kind(kubernetes_stack, "ConfigMap")
    dashboards = sorted((ROOT / "dashboards").glob("*.json"))
    assert dashboards
    chart = releases(kubernetes_stack)["kube-prometheus-stack"]["values"]["grafana"]
    sidecar = chart["sidecar"]["dashboards"]
    for path in dashboards:
        config_map = maps[f"learnbot-dashboard-{path.stem}"]
        assert config_map["data"] == {path.name: path.read_text()}
        assert config_map["metadata"]["labels"][sidecar["label"]] == sidecar["labelValue"]
    uids = set(
        re.findall(r'"uid":\s*"([^"]+)"', (ROOT / "dashboards" / "api-overview.json").read_text())
    )
    assert chart["sidecar"]["datasources"]["uid"] in uids


def test_every_job_the_alert_rules_select_is_scraped(kubernetes_stack: StackRun) -> None:
    monitors = of_kind(kubernetes_stack, "ServiceMonitor")
    services = of_kind(kubernetes_stack, "Service")
    jobs = set()
    for name, monitor in monitors.items():
        (endpoint,) = monitor["spec"]["endpoints"]
        (relabel,) = endpoint["relabelings"]
        jobs.add(relabel["replacement"])
        selector = monitor["spec"]["selector"]["matchLabels"]
        matching = [
            s for s in services.values() if selector.items() <= s["metadata"]["labels"].items()
        ]
        assert len(matching) == 1, name
        assert endpoint["port"] in {port["name"] for port in matching[0]["spec"]["ports"]}, name
    values = releases(kubernetes_stack)["kube-prometheus-stack"]["values"]
    (relabel,) = values["prometheus"]["serviceMonitor"]["relabelings"]
    jobs.add(relabel["replacement"])
    selected = jobs_the_rules_select()
    assert selected
    assert selected <= jobs
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["ruleSelectorNilUsesHelmValues"] is False
    assert spec["serviceMonitorSelectorNilUsesHelmValues"] is False
    assert releases(kubernetes_stack)["kube-prometheus-stack"]["version"] == "69.8.2"


def test_alertmanager_gets_its_configuration_from_secrets_amtool_accepts(
    kubernetes_configured: StackRun, tmp_path: Path
) -> None:
    amtool = tool("amtool", "prometheus-alertmanager package")
    values = releases(kubernetes_configured)["kube-prometheus-stack"]["values"]
    spec = values["alertmanager"]["alertmanagerSpec"]
    secrets = of_kind(kubernetes_configured, "Secret")
    config = secrets[spec["configSecret"]]["stringData"]["alertmanager.yaml"]
    (files_secret,) = spec["secrets"]
    token = secrets[files_secret]["stringData"]["webhook-token"]
    assert token == KUBERNETES_SECRETS["alertWebhookToken"]
    document = yaml.safe_load(config)
    token_files = re.findall(r"credentials_file: (\S+)", config)
    # The operator mounts each listed Secret at /etc/alertmanager/secrets/<name>/.
    assert token_files == [f"/etc/alertmanager/secrets/{files_secret}/webhook-token"]
    assert KUBERNETES_SECRETS["alertTelegramBotToken"] in config
    assert document["route"]
    # The message template lies beside the token, where the configuration looks for it.
    mounted = f"/etc/alertmanager/secrets/{files_secret}"
    assert document["templates"] == [f"{mounted}/*.tmpl"]
    template = secrets[files_secret]["stringData"]["learnbot.tmpl"]
    assert template == (ROOT / "alerts/alertmanager/templates/learnbot.tmpl").read_text()
    path = tmp_path / "alertmanager.yml"
    path.write_text(config.replace(mounted, str(tmp_path)))
    (tmp_path / "webhook-token").write_text(token)
    (tmp_path / "learnbot.tmpl").write_text(template)
    result = subprocess.run(
        [amtool, "check-config", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 templates" in result.stdout


def test_no_secret_reaches_the_engine_unmarked(kubernetes_configured: StackRun) -> None:
    secrets = [*KUBERNETES_SECRETS.values(), *SECRET_VALUES]
    assert kubernetes_configured.mocks.resources
    for resource in kubernetes_configured.mocks.resources:
        for text in walk_unsecret(resource.inputs):
            for secret in secrets:
                assert secret not in text, f"{resource.name} holds a secret unmarked"
    program = kubernetes_configured.program
    assert is_secret(program["outputs"]["grafanaAdminPassword"])
    assert (
        resolve(program["outputs"]["grafanaAdminPassword"])
        == (KUBERNETES_CONFIGURED["grafanaAdminPassword"])
    )
    assert not is_secret(program["outputs"]["apiUrl"])
    assert is_secret(program["database"].url)


def test_secrets_reach_the_cluster_as_kubernetes_secrets_only(
    kubernetes_stack: StackRun,
) -> None:
    for resource in kubernetes_stack.mocks.resources:
        if is_object(resource) and resource.inputs["kind"] == "Secret":
            # What Pulumi's state holds of the Secret's values is encrypted, every part of it.
            assert walk_unsecret(resource.inputs["stringData"]) == [], resource.name
            assert "data" not in resource.inputs
    for text in (t for r in kubernetes_stack.mocks.resources for t in walk_unsecret(r.inputs)):
        assert "generated-database-password" not in text
        assert "generated-monitoring-grafana-password" not in text


def test_account_linking_client_secrets_are_in_the_api_secret(
    kubernetes_configured: StackRun,
) -> None:
    api = of_kind(kubernetes_configured, "Deployment")["learnbot-prod-api"]
    (server,) = api["spec"]["template"]["spec"]["containers"]
    plain = {item["name"]: item.get("value") for item in server["env"]}
    assert plain["OAUTH_PROVIDERS"] == "github,corp"
    assert not any(name.endswith("_CLIENT_SECRET") for name in plain)
    secret = of_kind(kubernetes_configured, "Secret")["learnbot-prod-api"]["stringData"]
    assert secret["OAUTH_GITHUB_CLIENT_SECRET"] == OAUTH_CLIENT_SECRETS["github"]
    assert secret["OAUTH_CORP_CLIENT_SECRET"] == OAUTH_CLIENT_SECRETS["corp"]

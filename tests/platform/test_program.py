"""The whole Pulumi program (platform/__main__.py) run under Pulumi's unit-test mocks: what it
asks of the Docker engine, component by component."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from learnbot_platform.docker.backups import dumps_folder_command
from learnbot_platform.repository import rule_paths
from stack_run import (
    BASE_CONFIG,
    BOT_TOKEN,
    BUILT_IMAGE,
    COMPONENTS,
    CONFIGURED,
    CONTAINER,
    OAUTH_CLIENT_SECRETS,
    REMOTE_IMAGE,
    ROOT,
    SECRET_VALUES,
    SECRETS,
    VOLUME,
    StackMocks,
    StackRun,
    assert_command_exists,
    image_id,
    is_secret,
    jobs_the_rules_select,
    resolve,
    run_program,
    walk_unsecret,
)

# Where each long-running container keeps what must survive a new container.
DATA_PATHS = {
    "postgres": "/var/lib/postgresql/data",
    "prometheus": "/prometheus",
    "alertmanager": "/alertmanager",
    "grafana": "/var/lib/grafana",
    "backup": "/var/lib/learnbot/backups",
}
# Containers that run to completion; Docker runs them again until they succeed.
ONE_OFF = (
    "learnbot-migrate",
    "learnbot-postgres-set-password",
    "learnbot-pgbackrest-keygen",
    "learnbot-pgbackrest-stanza",
    "learnbot-backup-folder",
)
PINNED = re.compile(r"^[^@\s]+:(?!latest$)[A-Za-z0-9_][A-Za-z0-9_.-]*(@sha256:[a-f0-9]{64})?$")


def uploaded(container: dict[str, Any], path: str) -> str:
    (content,) = [u["content"] for u in container["uploads"] if u["file"] == path]
    return str(content)


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return dict(entry.split("=", 1) for entry in container.get("envs", []))


def labels_of(container: dict[str, Any]) -> dict[str, str]:
    return {label["label"]: label["value"] for label in container.get("labels", [])}


def test_one_component_per_part_owning_its_resources(default_stack: StackRun) -> None:
    registrations = default_stack.monitor.registrations.values()
    components = {r.name: r for r in registrations if r.type.startswith("learnbot:platform:")}
    assert {name: r.type for name, r in components.items()} == COMPONENTS
    by_urn = {r.urn: r for r in components.values()}
    for registration in registrations:
        if registration.type.startswith(("learnbot:platform:", "pulumi:pulumi:Stack")):
            continue
        parent = by_urn.get(registration.parent)
        assert parent is not None, f"{registration.name} is not inside a component"
        assert registration.name.startswith(parent.name + "-"), registration.name
    assert {r.urn for r in components.values()} <= default_stack.monitor.outputs_registered


def test_images_are_pinned_and_every_container_runs_one_of_them(default_stack: StackRun) -> None:
    pulled = {r.inputs["name"] for r in default_stack.of_type(REMOTE_IMAGE)}
    assert pulled
    for reference in pulled:
        assert PINNED.match(reference), reference
    built = {r.inputs["imageName"] for r in default_stack.of_type(BUILT_IMAGE)}
    assert built == {"learnbot:0.1.0", "learnbot-postgres:pgbackrest"}
    known = {image_id(name) for name in pulled | built}
    for name, container in default_stack.containers().items():
        assert container["image"] in known, name


def test_the_service_image_is_built_from_its_dockerfile_at_the_repository_root(
    default_stack: StackRun,
) -> None:
    (built,) = [
        r for r in default_stack.of_type(BUILT_IMAGE) if r.inputs["imageName"] == "learnbot:0.1.0"
    ]
    build = built.inputs["build"]
    assert Path(build["context"]) == ROOT
    assert Path(build["dockerfile"]) == ROOT / "service" / "Dockerfile"
    assert build["args"] == {"APP_REVISION": "0.1.0"}
    assert built.inputs["skipPush"] is True


def test_volumes_hold_the_data_and_the_valuable_ones_outlive_destroy(
    default_stack: StackRun,
) -> None:
    containers = default_stack.containers()
    volumes = {r.inputs["name"]: r for r in default_stack.of_type(VOLUME)}
    for part, path in DATA_PATHS.items():
        mounts = {
            v["containerPath"]: v["volumeName"] for v in containers[f"learnbot-{part}"]["volumes"]
        }
        assert path in mounts, part
        assert mounts[path] in volumes, part
    for name in (
        "learnbot-postgres-data",
        "learnbot-backup-data",
        "learnbot-pgbackrest",
        "learnbot-pgbackrest-key",
    ):
        assert default_stack.registration(volumes[name].name).retain_on_delete, name


def test_every_container_is_healthchecked_restarted_and_bounded(default_stack: StackRun) -> None:
    for name, container in default_stack.containers().items():
        assert container["memory"] > 0, name
        assert container.get("privileged") is not True, name
        assert "capabilities" not in container, name
        assert "no-new-privileges:true" in container["securityOpts"], name
        assert container["logOpts"]["max-size"], name
        if name in ONE_OFF:
            assert container["restart"] == "on-failure", name
            assert container["mustRun"] is False, name
            continue
        assert container["restart"] == "unless-stopped", name
        assert container["healthcheck"]["tests"][0] == "CMD", name
        assert len(container["healthcheck"]["tests"]) > 1, name


def test_named_containers_are_removed_before_their_replacement(default_stack: StackRun) -> None:
    for registration in default_stack.monitor.registrations.values():
        if registration.type == CONTAINER:
            assert registration.delete_before_replace, registration.name


def test_only_the_proxy_and_grafana_are_published_on_the_bind_address(
    default_stack: StackRun, configured_stack: StackRun
) -> None:
    published = {
        name: c["ports"] for name, c in default_stack.containers().items() if c.get("ports")
    }
    assert published == {
        "learnbot-proxy": [{"internal": 8080, "external": 8080, "ip": "127.0.0.1"}],
        "learnbot-grafana": [{"internal": 3000, "external": 3000, "ip": "127.0.0.1"}],
    }
    published = {
        name: c["ports"] for name, c in configured_stack.containers().items() if c.get("ports")
    }
    assert published == {
        "lb-prod-proxy": [{"internal": 8080, "external": 80, "ip": "10.0.0.5"}],
        "lb-prod-grafana": [{"internal": 3000, "external": 3001, "ip": "10.0.0.5"}],
        # Only because learnbot:prometheusPort asks for it.
        "lb-prod-prometheus": [{"internal": 9090, "external": 9091, "ip": "10.0.0.5"}],
    }


def test_the_database_uses_its_volume_password_file_and_pg_isready(
    default_stack: StackRun,
) -> None:
    postgres = default_stack.containers()["learnbot-postgres"]
    assert env_of(postgres)["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres-password"
    assert "POSTGRES_PASSWORD" not in env_of(postgres)
    assert uploaded(postgres, "/run/secrets/postgres-password") == "generated-database-password"
    probe = postgres["healthcheck"]["tests"]
    assert probe[1] == "pg_isready"
    # Over TCP: the image's temporary initialization server listens on the Unix socket only.
    assert probe[probe.index("-h") + 1] == "127.0.0.1"
    assert probe[probe.index("-p") + 1] == "5432"
    assert postgres["wait"] is True
    assert "ports" not in postgres


def test_a_configured_database_password_is_used_in_every_database_url(
    configured_stack: StackRun,
) -> None:
    password = SECRETS["dbPassword"]
    containers = configured_stack.containers()
    assert uploaded(containers["lb-prod-postgres"], "/run/secrets/postgres-password") == password
    setter = containers["lb-prod-postgres-set-password"]
    assert uploaded(setter, "/run/secrets/postgres-password") == password
    for name in ("lb-prod-migrate", "lb-prod-api-1", "lb-prod-backup"):
        assert env_of(containers[name])["DATABASE_URL"] == (
            f"postgresql://learnbot:{password}@lb-prod-postgres:5432/learnbot"
        )
    assert not configured_stack.of_type("random:index/randomPassword:RandomPassword")


def test_migrations_run_before_the_replicas_which_wait_for_the_schema(
    default_stack: StackRun,
) -> None:
    containers = default_stack.containers()
    migrate = containers["learnbot-migrate"]
    assert migrate["command"] == ["learnbot", "migrate"]
    # Run again by Docker until they succeed; nothing waits for or reads their exit code.
    assert (migrate["restart"], migrate["mustRun"]) == ("on-failure", False)
    assert not migrate.get("attach")
    # The image's own healthcheck probes /ready, which `learnbot migrate` never serves: seen
    # running on the engine, the one-off showed as unhealthy.
    assert migrate["healthcheck"] == {"tests": ["NONE"]}
    migrate_urn = default_stack.registration("api-migrate").urn
    assert migrate_urn in default_stack.registration("api-1").dependencies
    for index in (1, 2):
        api = containers[f"learnbot-api-{index}"]
        assert api["command"] == ["learnbot", "serve"]
        env = env_of(api)
        # A replica listens only on a current schema, so the proxy never reaches new code on
        # an old one.
        assert env.pop("MIGRATIONS_WAIT_SECONDS") == "600"
        assert env == env_of(migrate)
        assert api["wait"] is True
    for dependency in ("database-server", "database-set-password"):
        assert default_stack.registration(dependency).urn in (
            default_stack.registration("api-migrate").dependencies
        )


def test_the_bot_is_set_up_once_the_proxy_runs_when_a_webhook_is_set(
    default_stack: StackRun, configured_stack: StackRun
) -> None:
    assert "learnbot-bot-setup" not in default_stack.containers()
    containers = configured_stack.containers()
    setup = containers["lb-prod-bot-setup"]
    assert setup["command"] == ["learnbot", "bot", "setup"]
    # Run again by Docker until Telegram has taken the webhook; nothing waits for it.
    assert (setup["restart"], setup["mustRun"]) == ("on-failure", False)
    assert setup["healthcheck"] == {"tests": ["NONE"]}
    registration = configured_stack.registration("api-bot-setup")
    assert configured_stack.registration("api-proxy").urn in registration.dependencies
    env = env_of(setup)
    assert env["TELEGRAM_WEBHOOK_URL"] == CONFIGURED["telegramWebhookUrl"]
    assert env["TELEGRAM_WEBHOOK_SECRET"] == SECRETS["telegramWebhookSecret"]
    assert env["TELEGRAM_BOT_TOKEN"] == SECRETS["telegramBotToken"]
    assert env == env_of(containers["lb-prod-migrate"])
    assert (
        env_of(containers["lb-prod-api-1"])["TELEGRAM_WEBHOOK_SECRET"]
        == (SECRETS["telegramWebhookSecret"])
    )


def run_in_process(script: str) -> subprocess.CompletedProcess[str]:
    """A program run of its own: a failed run leaves pending futures that asyncio reports at
    exit."""
    paths = [str(ROOT / "platform"), str(ROOT / "tests")]
    return subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_a_failed_migration_then_up_again_deploys() -> None:
    # The first `up`: migrate exits 3 (the database was not reachable yet); Pulumi keeps that
    # container, exit code and all, in its state. The second `up` has the same inputs: the
    # program must not depend on what the state says of a run that Docker has since repeated.
    script = (
        "from stack_run import BASE_CONFIG, CONTAINER, StackMocks, run_program, unchanged\n"
        "first = StackMocks(migrate_exit_code=3)\n"
        "run_program(BASE_CONFIG, mocks=first)\n"
        "second = StackMocks(migrate_exit_code=3)\n"
        "run_program(BASE_CONFIG, mocks=second)\n"
        "print('CREATED:', [r.name for r in second.resources if r.typ == CONTAINER])\n"
        "print('CHANGED:', [r.name for r in unchanged(first, second, invert=True)])\n"
    )
    result = run_in_process(script)
    assert result.returncode == 0, result.stderr[-3000:]
    created = result.stdout.split("CREATED:")[1].split("CHANGED:")[0]
    for name in ("api-migrate", "api-1", "api-2", "api-proxy"):
        assert f"'{name}'" in created
    assert result.stdout.split("CHANGED:")[1].strip() == "[]"


def test_the_api_shares_its_rate_limits_in_its_own_redis(default_stack: StackRun) -> None:
    containers = default_stack.containers()
    redis = containers["learnbot-redis"]
    assert redis["command"][0] == "redis-server"
    assert "ports" not in redis
    assert "volumes" not in redis
    redis_urn = default_stack.registration("api-redis").urn
    for index in (1, 2):
        env = env_of(containers[f"learnbot-api-{index}"])
        assert env["RATE_LIMIT_STORAGE_URL"] == "redis://learnbot-redis:6379/0"
        assert env["PROXIES_COUNT"] == "1"
    # The replicas after the first follow it.
    assert redis_urn in default_stack.registration("api-1").dependencies


def service_image(stack: StackRun) -> str:
    (built,) = [r for r in stack.of_type(BUILT_IMAGE) if Path(r.inputs["build"]["context"]) == ROOT]
    return image_id(built.inputs["imageName"])


def test_the_service_image_runs_commands_that_exist(default_stack: StackRun) -> None:
    commands = [
        c["command"]
        for c in default_stack.containers().values()
        if c["image"] == service_image(default_stack) and c["command"][0] == "learnbot"
    ]
    # The other, the dumps' folder's shell command: test_the_dumps_folder_command_lets_...
    assert sorted(commands) == [
        ["learnbot", "backup", "run"],
        ["learnbot", "migrate"],
        ["learnbot", "serve"],
        ["learnbot", "serve"],
    ]
    for command in {tuple(c) for c in commands}:
        assert_command_exists(command)


def test_the_api_waits_healthy_on_ready(default_stack: StackRun) -> None:
    api = default_stack.containers()["learnbot-api-1"]
    probe = " ".join(api["healthcheck"]["tests"])
    assert "http://127.0.0.1:8000/ready" in probe
    assert api["wait"] is True


def test_the_api_environment_follows_the_settings(configured_stack: StackRun) -> None:
    env = env_of(configured_stack.containers()["lb-prod-api-2"])
    assert env["APP_ENV"] == "production"
    assert env["HOST"] == "0.0.0.0"
    assert env["TELEGRAM_BOT_TOKEN"] == BOT_TOKEN
    assert env["ADMIN_TELEGRAM_IDS"] == "111111111"
    assert env["SENTRY_DSN"] == SECRETS["sentryDsn"]
    assert env["SUPPORTED_LOCALES"] == "de,en,es,pt_BR,ru,uk"
    assert env["WORKERS"] == "2"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == CONFIGURED["otelExporterEndpoint"]


def test_the_proxy_reaches_every_replica_by_their_shared_name(
    default_stack: StackRun, configured_stack: StackRun
) -> None:
    for stack, prefix, replicas in (
        (default_stack, "learnbot", 2),
        (configured_stack, "lb-prod", 3),
    ):
        containers = stack.containers()
        api = sorted(n for n in containers if re.fullmatch(rf"{prefix}-api-\d+", n))
        assert len(api) == replicas
        for name in api:
            (network,) = containers[name]["networksAdvanced"]
            assert network["aliases"] == [f"{prefix}-api"]
        proxy = containers[f"{prefix}-proxy"]
        config = uploaded(proxy, "/etc/nginx/nginx.conf")
        assert f'set $learnbot_api "{prefix}-api:8000";' in config
        assert "resolver 127.0.0.11 " in config
        # Nothing of the replicas is an input of the proxy: a new image replaces no proxy.
        assert "learnbot.upstreams" not in labels_of(proxy)


def test_replicas_are_replaced_one_after_another(configured_stack: StackRun) -> None:
    for index in (2, 3):
        before = configured_stack.registration(f"api-{index - 1}").urn
        assert before in configured_stack.registration(f"api-{index}").dependencies
        assert configured_stack.registration(f"api-{index}").delete_before_replace


def scrape_targets(stack: StackRun, prometheus: str) -> dict[str, list[str]]:
    config = yaml.safe_load(
        uploaded(stack.containers()[prometheus], "/etc/prometheus/prometheus.yml")
    )
    return {
        job["job_name"]: [t for static in job["static_configs"] for t in static["targets"]]
        for job in config["scrape_configs"]
    }


def test_prometheus_targets_are_the_containers_that_exist(configured_stack: StackRun) -> None:
    containers = configured_stack.containers()
    targets = scrape_targets(configured_stack, "lb-prod-prometheus")
    assert targets == {
        "prometheus": ["localhost:9090"],
        "alertmanager": ["lb-prod-alertmanager:9093"],
        "postgres": ["lb-prod-postgres-exporter:9187"],
        "learnbot-api": [f"lb-prod-api-{i}:8000" for i in (1, 2, 3)],
        "learnbot-backup": ["lb-prod-backup:9102"],
    }
    for job, addresses in targets.items():
        for address in addresses:
            host = address.split(":")[0]
            assert host == "localhost" or host in containers, (job, address)
    backup_env = env_of(containers["lb-prod-backup"])
    assert backup_env["BACKUP_METRICS_PORT"] == "9102"
    assert backup_env["BACKUP_METRICS_HOST"] == "0.0.0.0"


def test_every_job_the_alert_rules_select_is_scraped(default_stack: StackRun) -> None:
    jobs = set(scrape_targets(default_stack, "learnbot-prometheus"))
    selected = jobs_the_rules_select()
    assert selected
    assert selected <= jobs


def test_prometheus_gets_every_rule_file_as_it_is_in_alerts(default_stack: StackRun) -> None:
    prometheus = default_stack.containers()["learnbot-prometheus"]
    config = yaml.safe_load(uploaded(prometheus, "/etc/prometheus/prometheus.yml"))
    rule_files = rule_paths()
    assert config["rule_files"] == [f"rules/{p.name}" for p in rule_files]
    for path in rule_files:
        assert uploaded(prometheus, f"/etc/prometheus/rules/{path.name}") == path.read_text()
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "learnbot-alertmanager:9093"
    ]


def test_grafana_gets_the_dashboards_and_provisioning(default_stack: StackRun) -> None:
    grafana = default_stack.containers()["learnbot-grafana"]
    for path in (ROOT / "dashboards").glob("*.json"):
        assert uploaded(grafana, f"/etc/grafana/dashboards/{path.name}") == path.read_text()
    datasources = yaml.safe_load(
        uploaded(grafana, "/etc/grafana/provisioning/datasources/prometheus.yml")
    )
    (prometheus,) = [d for d in datasources["datasources"] if d["uid"] == "prometheus"]
    assert prometheus["url"] == "http://learnbot-prometheus:9090"
    env = env_of(grafana)
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/etc/grafana/secrets/admin-password"
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env
    assert env["GF_SERVER_ROOT_URL"] == "http://127.0.0.1:3000"


def test_alertmanager_gets_its_receivers_secrets_as_files(configured_stack: StackRun) -> None:
    alertmanager = configured_stack.containers()["lb-prod-alertmanager"]
    files = {u["file"]: u for u in alertmanager["uploads"]}
    template = files.pop("/etc/alertmanager/templates/learnbot.tmpl")
    assert template["content"] == (ROOT / "alerts/alertmanager/templates/learnbot.tmpl").read_text()
    assert set(files) == {
        "/etc/alertmanager/alertmanager.yml",
        "/etc/alertmanager/secrets/webhook-token",
    }
    assert all(f["permissions"] == "0400" and f["owner"] == "65534" for f in files.values())
    assert (
        files["/etc/alertmanager/secrets/webhook-token"]["content"] == SECRETS["alertWebhookToken"]
    )
    config = files["/etc/alertmanager/alertmanager.yml"]["content"]
    assert SECRETS["alertTelegramBotToken"] in config
    assert SECRETS["alertWebhookUrl"] in config
    receivers = {r["name"]: r for r in yaml.safe_load(config)["receivers"]}
    (heartbeat,) = receivers["heartbeat"]["webhook_configs"]
    assert heartbeat["url"] == SECRETS["alertHeartbeatUrl"]
    (ticket,) = receivers["tickets"]["webhook_configs"]
    assert ticket["url"] == SECRETS["alertWebhookUrl"]
    assert yaml.safe_load(config)["templates"] == ["/etc/alertmanager/templates/*.tmpl"]


def test_backups_run_the_job_with_its_schedule_and_retention(configured_stack: StackRun) -> None:
    backup = configured_stack.containers()["lb-prod-backup"]
    assert backup["command"] == ["learnbot", "backup", "run"]
    assert backup["image"] == service_image(configured_stack)
    env = env_of(backup)
    assert env["BACKUP_DIR"] == "/var/lib/learnbot/backups"
    assert env["BACKUP_SCHEDULE"] == "15 1 * * *"
    assert env["BACKUP_DRILL_SCHEDULE"] == "0 4 * * 0"
    assert (env["BACKUP_KEEP_DAILY"], env["BACKUP_KEEP_WEEKLY"]) == ("10", "4")
    assert env["BACKUP_S3_URL"] == "s3://learnbot-backups/prod"
    assert env["AWS_SECRET_ACCESS_KEY"] == SECRETS["backupS3SecretAccessKey"]
    assert "python" in backup["healthcheck"]["tests"]


def test_no_secret_reaches_the_engine_unmarked(configured_stack: StackRun) -> None:
    secrets = list(SECRET_VALUES)
    assert configured_stack.mocks.resources
    for resource in configured_stack.mocks.resources:
        for text in walk_unsecret(resource.inputs):
            for secret in secrets:
                assert secret not in text, f"{resource.name} holds a secret unmarked"


def test_generated_passwords_are_secrets_too(default_stack: StackRun) -> None:
    for resource in default_stack.mocks.resources:
        for text in walk_unsecret(resource.inputs):
            assert "generated-database-password" not in text, resource.name
            assert "generated-monitoring-grafana-password" not in text, resource.name


def test_secret_outputs_stay_secret(default_stack: StackRun) -> None:
    program = default_stack.program
    api, database, backups = program["api"], program["database"], program["backups"]
    monitoring = program["monitoring"]
    assert all(is_secret(c.envs) for c in api.containers)
    assert is_secret(api.migration.envs)
    assert is_secret(backups.container.envs)
    assert is_secret(database.url)
    assert is_secret(database.container.uploads)
    assert is_secret(monitoring.alertmanager.uploads)
    assert is_secret(monitoring.grafana.uploads)
    assert is_secret(monitoring.exporter.uploads)
    assert is_secret(program["outputs"]["grafanaAdminPassword"])
    assert not is_secret(program["outputs"]["apiUrl"])
    assert BOT_TOKEN in resolve(api.containers[0].envs)[-1]


def test_stack_outputs(default_stack: StackRun, configured_stack: StackRun) -> None:
    outputs = {k: resolve(v) for k, v in default_stack.program["outputs"].items()}
    assert outputs["apiUrl"] == "http://127.0.0.1:8080"
    assert outputs["grafanaUrl"] == "http://127.0.0.1:3000"
    # Unpublished: its address on the stack's network, which the Docker host can reach.
    assert re.fullmatch(r"http://172\.18\.0\.\d+:9090", outputs["prometheusUrl"])
    assert outputs["grafanaAdminPassword"] == "generated-monitoring-grafana-password"
    outputs = {k: resolve(v) for k, v in configured_stack.program["outputs"].items()}
    assert outputs["apiUrl"] == "http://10.0.0.5:80"
    assert outputs["grafanaUrl"] == "http://10.0.0.5:3001"
    assert outputs["prometheusUrl"] == "http://10.0.0.5:9091"
    assert outputs["grafanaAdminPassword"] == SECRETS["grafanaAdminPassword"]


def test_every_interface_gives_urls_on_loopback_and_grafana_its_root_url() -> None:
    root_url = "https://grafana.example.com"
    stack = run_program({**BASE_CONFIG, "bindAddress": "0.0.0.0", "grafanaRootUrl": root_url})
    assert resolve(stack.program["outputs"]["apiUrl"]) == "http://127.0.0.1:8080"
    assert stack.containers()["learnbot-proxy"]["ports"][0]["ip"] == "0.0.0.0"
    # Grafana's links and redirects name the host people reach, not their own loopback.
    assert env_of(stack.containers()["learnbot-grafana"])["GF_SERVER_ROOT_URL"] == root_url
    assert resolve(stack.program["outputs"]["grafanaUrl"]) == root_url


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"apiReplicas": "0"}, "learnbot:apiReplicas: a whole number from 1 to 16"),
        ({"telegramBotToken": ""}, "learnbot:telegramBotToken: required"),
        ({"grafanaImage": "grafana/grafana:latest"}, "learnbot:grafanaImage: an image pinned"),
        ({"apiReplica": "2"}, "learnbot:apiReplica: not a setting of this stack"),
    ],
)
def test_invalid_configuration_stops_before_any_resource(
    settings: dict[str, str], message: str
) -> None:
    mocks = StackMocks()
    with pytest.raises(pulumi.RunError) as error:
        run_program({**BASE_CONFIG, **settings}, mocks=mocks)
    assert str(error.value).startswith(message)
    assert BOT_TOKEN not in str(error.value)
    assert mocks.resources == []


def test_account_linking_providers_reach_every_replica(configured_stack: StackRun) -> None:
    containers = configured_stack.containers()
    for name in ("lb-prod-api-1", "lb-prod-api-3"):
        env = env_of(containers[name])
        assert env["OAUTH_PROVIDERS"] == "github,corp"
        assert env["OAUTH_CORP_ISSUER"] == "https://login.example.com"
        assert env["OAUTH_REDIRECT_BASE_URL"] == CONFIGURED["oauthRedirectBaseUrl"]
        assert env["OAUTH_GITHUB_CLIENT_SECRET"] == OAUTH_CLIENT_SECRETS["github"]
        assert env["OAUTH_CORP_CLIENT_SECRET"] == OAUTH_CLIENT_SECRETS["corp"]


def test_the_dumps_folder_is_made_the_job_groups_before_the_job_starts(
    default_stack: StackRun,
) -> None:
    containers = default_stack.containers()
    folder, job = containers["learnbot-backup-folder"], containers["learnbot-backup"]
    assert folder["user"] == "0:0"
    assert folder["command"] == dumps_folder_command("/var/lib/learnbot/backups")
    (volume,) = folder["volumes"]
    assert volume["containerPath"] == "/var/lib/learnbot/backups"
    assert volume["volumeName"] in {v["volumeName"] for v in job["volumes"]}
    assert (folder["restart"], folder["mustRun"]) == ("on-failure", False)
    assert default_stack.registration("backups-folder").urn in (
        default_stack.registration("backups-job").dependencies
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a folder's group needs root")
def test_the_dumps_folder_command_lets_the_job_group_write(tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir(mode=0o755)
    (folder / "old.dump").write_text("kept")
    subprocess.run(dumps_folder_command(str(folder)), check=True)
    for path in (folder, folder / "old.dump"):
        assert path.stat().st_gid == 10001
        assert path.stat().st_mode & stat.S_IWGRP
    assert folder.stat().st_mode & stat.S_ISGID

"""learnbot_platform.stack_config: every `learnbot:` setting is checked, key by key, with a message
naming the key and what is allowed, and never repeating a secret."""

from __future__ import annotations

import pytest
from croniter import croniter  # type: ignore[import-untyped]

from learnbot_platform.stack_config import (
    DEFAULT_IMAGES,
    KEYS,
    KUBERNETES_DEFAULT_IMAGES,
    KUBERNETES_KEYS,
    PLAIN_KEYS,
    SECRET_KEYS,
    Secret,
    StackConfig,
    StackConfigError,
    is_cron_expression,
    load_stack_config,
)

SHIPPED = ("de", "en", "es", "pt_BR", "ru", "uk")
TOKEN = "123456789:AAsecret-token-value_0123456789"
# The settings a Kubernetes stack cannot do without.
ON_KUBERNETES = {
    "target": "kubernetes",
    "host": "api.example.com",
    "apiImageRepository": "ghcr.io/example/learnbot",
}


def load(**settings: str) -> StackConfig:
    return load_stack_config(
        {"telegramBotToken": TOKEN, **settings},
        shipped_locales=SHIPPED,
        default_api_image_tag="0.1.0",
    )


def test_defaults() -> None:
    config = load()
    assert config.name_prefix == "learnbot"
    assert config.telegram_bot_token == Secret(TOKEN)
    assert config.supported_locales == SHIPPED
    assert config.default_locale == "en"
    assert (config.api_replicas, config.api_workers, config.database_pool_size) == (2, 2, 10)
    assert (config.bind_address, config.proxy_port, config.grafana_port) == (
        "127.0.0.1",
        8080,
        3000,
    )
    assert config.prometheus_port is None
    assert config.proxies_in_front == 0
    assert config.api_image_tag == "0.1.0"
    assert dict(config.images) == DEFAULT_IMAGES
    assert (config.backup.schedule, config.backup.drill_schedule) == ("0 3 * * *", "0 4 * * 0")
    assert (config.backup.keep_daily, config.backup.keep_weekly, config.backup.keep_monthly) == (
        7,
        4,
        6,
    )
    assert config.db_password is None
    assert config.grafana_admin_password is None


def test_every_setting_is_read() -> None:
    config = load(
        namePrefix="learnbot-staging",
        adminTelegramIds="222, 111,222",
        supportedLocales="en,ru",
        defaultLocale="ru",
        corsOrigins="https://app.example.com/",
        logLevel="warning",
        sentryDsn="https://abc123@o1.ingest.sentry.io/42",
        sentryEnvironment="staging",
        apiImageTag="2025.01.3",
        apiReplicas="3",
        apiWorkers="4",
        apiMemoryMb="768",
        databasePoolSize="5",
        dbPassword="a-database-password-of-some-length",
        grafanaAdminPassword="grafana-password-12",
        bindAddress="0.0.0.0",
        proxyPort="80",
        grafanaPort="3001",
        grafanaRootUrl="https://grafana.example.com",
        prometheusPort="9090",
        postgresImage="postgres:15.10-bookworm@sha256:" + "a" * 64,
        backupSchedule="30 2 * * mon-fri",
        backupDrillSchedule="@weekly",
        backupKeepDaily="14",
        backupKeepWeekly="0",
        backupKeepMonthly="12",
        backupS3Url="s3://learnbot-backups/prod",
        backupS3EndpointUrl="https://s3.eu-central-1.example.com",
        backupS3Region="eu-central-1",
        backupS3AccessKeyId="AKIAEXAMPLE",
        backupS3SecretAccessKey="secret-access-key",
        alertTelegramBotToken="987654321:AAalert-bot",
        alertTelegramChatId="-1001234567890",
        alertWebhookUrl="https://tickets.example.com/hook",
        alertWebhookToken="hook-token",
    )
    assert config.name_prefix == "learnbot-staging"
    assert config.admin_telegram_ids == (111, 222)
    assert (config.supported_locales, config.default_locale) == (("en", "ru"), "ru")
    assert config.cors_origins == ("https://app.example.com",)
    assert config.log_level == "WARNING"
    assert config.sentry_dsn == Secret("https://abc123@o1.ingest.sentry.io/42")
    assert (config.api_replicas, config.api_workers, config.api_memory_mb) == (3, 4, 768)
    assert config.prometheus_port == 9090
    assert config.backup.schedule == "30 2 * * mon-fri"
    assert config.backup.s3_secret_access_key == Secret("secret-access-key")
    assert config.alerts.telegram_chat_id == -1001234567890
    assert config.alerts.webhook_token == Secret("hook-token")


def test_a_bot_id_alone_is_enough() -> None:
    config = load_stack_config(
        {"telegramBotId": "123456789"}, shipped_locales=SHIPPED, default_api_image_tag="0.1.0"
    )
    assert (config.telegram_bot_token, config.telegram_bot_id) == (None, 123456789)


def test_the_bot_token_is_required() -> None:
    with pytest.raises(StackConfigError) as error:
        load_stack_config({}, shipped_locales=SHIPPED, default_api_image_tag="0.1.0")
    message = str(error.value)
    assert message.startswith("learnbot:telegramBotToken: required")
    assert "pulumi config set --secret learnbot:telegramBotToken" in message
    assert "learnbot:telegramBotId" in message


INVALID = [
    ("telegramBotToken", "not-a-token", "<bot id>:<secret>"),
    ("telegramBotId", "12ab", "a whole number from 1 to"),
    ("adminTelegramIds", "111,abc", "comma-separated Telegram user ids"),
    ("adminTelegramIds", "0", "comma-separated Telegram user ids"),
    ("supportedLocales", "en,fr", "comma-separated shipped locales: de, en, es, pt_BR, ru, uk"),
    ("defaultLocale", "fr", "one of the shipped locales"),
    ("corsOrigins", "app.example.com", "* or comma-separated origins"),
    ("logLevel", "LOUD", "one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("sentryDsn", "https://sentry.example.com", "https://<key>@<host>/<project id>"),
    ("sentryEnvironment", "prod env", "1 to 64 letters, digits"),
    ("miniAppUrl", "http://learnbot.example.com/app/", "an https URL without credentials"),
    ("otelExporterEndpoint", "otel-collector:4318", "an http(s) URL of an OTLP/HTTP collector"),
    ("telegramWebhookSecret", "has space", "1 to 256 of A-Z a-z 0-9 _ -"),
    ("apiImageTag", "latest", "not latest"),
    ("apiImageTag", "v1 beta", "a version tag for the built service image"),
    ("apiReplicas", "0", "a whole number from 1 to 16"),
    ("apiReplicas", "17", "a whole number from 1 to 16"),
    ("apiReplicas", "two", "a whole number from 1 to 16"),
    ("apiWorkers", "65", "a whole number from 1 to 64"),
    ("apiMemoryMb", "64", "a whole number from 128 to 65536"),
    ("databasePoolSize", "0", "a whole number from 1 to 200"),
    ("dbPassword", "short", "16 to 128 printable characters"),
    ("grafanaAdminPassword", "short", "12 to 128 printable characters"),
    ("bindAddress", "localhost", "the host IP address"),
    ("proxyPort", "70000", "a whole number from 1 to 65535"),
    ("proxiesInFront", "5", "a whole number from 0 to 4"),
    ("grafanaPort", "8080", "a port other than learnbot:proxyPort (8080)"),
    ("grafanaRootUrl", "grafana.example.com", "an http(s) URL such as https://grafana"),
    ("grafanaRootUrl", "https://admin:pw@grafana.example.com", "without credentials"),
    ("grafanaRootUrl", "https://grafana.example.com/?x=1", "without credentials, query"),
    ("prometheusPort", "3000", "a port other than learnbot:proxyPort"),
    ("namePrefix", "Learnbot", "lower-case letters, digits and -"),
    ("postgresImage", "postgres", "pinned by a version tag or a digest"),
    ("postgresImage", "postgres:latest", "not :latest"),
    ("postgresImage", "postgres:16.6-bookworm", "a PostgreSQL 15 image"),
    ("nginxImage", "nginx", "such as nginx:1.26.2-alpine"),
    ("redisImage", "redis:latest", "not :latest"),
    ("prometheusImage", "prom/prometheus:latest", "not :latest"),
    ("alertmanagerImage", "Prom/Alertmanager:v1", "pinned by a version tag or a digest"),
    ("grafanaImage", "grafana/grafana:", "pinned by a version tag or a digest"),
    ("postgresExporterImage", "exporter@sha256:abc", "pinned by a version tag or a digest"),
    ("backupSchedule", "0 3 * *", "a cron expression of five fields"),
    ("backupSchedule", "0 25 * * *", "a cron expression of five fields"),
    ("backupDrillSchedule", "0 0 4 * * 0", "such as '0 4 * * 0'"),
    ("backupKeepDaily", "0", "a whole number from 1 to 3660"),
    ("backupKeepWeekly", "-1", "a whole number from 0 to 520"),
    ("backupKeepMonthly", "1201", "a whole number from 0 to 1200"),
    ("backupS3Url", "https://bucket.example.com", "s3://bucket or s3://bucket/prefix"),
    ("alertTelegramChatId", "chat", "a Telegram chat id"),
    ("alertWebhookUrl", "ftp://tickets.example.com", "an http(s) URL"),
    ("target", "swarm", "docker (one Docker engine) or kubernetes"),
    ("namespace", "Learnbot", "a Kubernetes namespace name"),
    ("namespace", "learnbot-", "a Kubernetes namespace name"),
    ("host", "https://api.example.com", "the API's public DNS name"),
    ("host", "localhost", "the API's public DNS name"),
    ("ingressClassName", "Nginx!", "a Kubernetes object name"),
    ("tlsSecretName", "tls secret", "a Kubernetes object name"),
    ("storageClassName", "-ssd", "a Kubernetes object name"),
    ("apiImageRepository", "ghcr.io/example/learnbot:1.0", "without a tag"),
    ("apiMaxReplicas", "65", "a whole number from 1 to 64"),
    ("apiCpuMillicores", "50", "a whole number from 100 to 16000"),
    ("dbInstances", "0", "a whole number from 1 to 9"),
    ("dbInstances", "10", "a whole number from 1 to 9"),
    ("dbStorageGb", "0", "a whole number from 1 to 65536"),
    ("backupStorageGb", "many", "a whole number from 1 to 65536"),
    ("awaitIngress", "no", "true or false (default true)"),
    ("monitoringTimeoutSeconds", "300s", "a whole number from 60 to 7200"),
    ("monitoringTimeoutSeconds", "30", "a whole number from 60 to 7200"),
    ("monitoringAtomic", "1", "true or false (default true)"),
    ("installCloudNativePG", "yes", "true or false (default true)"),
    ("installPrometheusOperator", "no", "true or false (default true)"),
    ("monitoringLabels", "release", "comma-separated Kubernetes labels name=value"),
    ("alertHeartbeatUrl", "hc-ping.com/0f1e2d", "an http(s) URL such as https://hc-ping.com/"),
    ("monitoringLabels", "release=kube prometheus", "comma-separated Kubernetes labels"),
    ("monitoringLabels", "app.kubernetes.io/name=x", "not app.kubernetes.io/"),
    ("physicalBackupSchedule", "0 0 2 * * *", "a cron expression of five fields"),
    ("physicalBackupRetentionDays", "0", "a whole number from 1 to 3650"),
    ("archiveTimeoutSeconds", "5", "a whole number from 10 to 3600"),
    ("backupCipherPassphrase", "short", "20 to 1024 printable ASCII characters without spaces"),
    ("physicalBackupFullSchedule", "0 2 * *", "a cron expression of five fields"),
    ("physicalBackupDiffSchedule", "0 2 * * 8", "a cron expression of five fields"),
    ("physicalBackupKeepFull", "0", "a whole number from 1 to 100"),
]


@pytest.mark.parametrize(("key", "value", "allowed"), INVALID)
def test_an_invalid_value_names_the_key_and_what_is_allowed(
    key: str, value: str, allowed: str
) -> None:
    settings = {key: value}
    # Settings that come in pairs get their partner, so the value itself is what fails.
    if key == "alertTelegramChatId":
        settings["alertTelegramBotToken"] = "987654321:AAalert"
    if key in KUBERNETES_KEYS:
        settings = {**ON_KUBERNETES, **settings}
    with pytest.raises(StackConfigError) as error:
        load(**settings)
    assert error.value.key == key
    assert str(error.value).startswith(f"learnbot:{key}: ")
    assert allowed in str(error.value)
    if key in SECRET_KEYS:
        assert value not in str(error.value)


def test_every_key_has_an_invalid_case_or_takes_anything() -> None:
    free_text = {
        "backupS3AccessKeyId",
        "backupS3SecretAccessKey",
        "alertWebhookToken",
        "kubeconfig",
    }
    tested = {key for key, _, _ in INVALID} | {key for _, key, _ in COMBINED} | free_text
    untested = set(KEYS) - tested
    assert not untested


def test_a_webhook_needs_the_bot_token() -> None:
    with pytest.raises(StackConfigError) as error:
        load_stack_config(
            {
                "telegramBotId": "123456",
                "telegramWebhookUrl": "https://bot.example.com/telegram/webhook",
                "telegramWebhookSecret": "s3cret",
            },
            shipped_locales=SHIPPED,
            default_api_image_tag="0.1.0",
        )
    assert error.value.key == "telegramBotToken"
    assert "required when learnbot:telegramWebhookUrl is set" in str(error.value)


# Settings whose check needs a partner setting, or a combination of settings.
COMBINED: list[tuple[dict[str, str], str, str]] = [
    ({"alertTelegramBotToken": "987654321:AAalert"}, "alertTelegramChatId", "both"),
    ({"alertTelegramChatId": "-100123"}, "alertTelegramBotToken", "both"),
    ({"alertTelegramBotToken": "bad"}, "alertTelegramBotToken", "<bot id>:<secret>"),
    ({"alertWebhookToken": "t"}, "alertWebhookUrl", "required when"),
    ({"backupS3AccessKeyId": "AK"}, "backupS3SecretAccessKey", "set together"),
    ({"backupS3SecretAccessKey": "s"}, "backupS3AccessKeyId", "set together"),
    ({"backupS3Region": "eu-central-1"}, "backupS3Url", "required when"),
    ({"backupS3Url": "s3://b-1", "backupS3Region": "EU"}, "backupS3Region", "region"),
    (
        {"backupS3Url": "s3://b-1", "backupS3EndpointUrl": "s3.example.com"},
        "backupS3EndpointUrl",
        "an http(s) URL",
    ),
    (
        {"backupS3Url": "s3://b-1", "backupS3EndpointUrl": "https://key@s3.example.com"},
        "backupS3EndpointUrl",
        "without credentials",
    ),
    ({"defaultLocale": "de", "supportedLocales": "en,ru"}, "defaultLocale", "en, ru"),
    (
        {"apiReplicas": "4", "apiWorkers": "4", "databasePoolSize": "10"},
        "databasePoolSize",
        "at most 5 with 4 API replicas of 4 workers",
    ),
    ({"apiRepilcas": "3"}, "apiRepilcas", "not a setting of this stack"),
    (
        {"telegramWebhookUrl": "http://bot.example.com/telegram/webhook"},
        "telegramWebhookUrl",
        "https",
    ),
    (
        {"telegramWebhookUrl": "https://bot.example.com/telegram/webhook"},
        "telegramWebhookSecret",
        "required when learnbot:telegramWebhookUrl is set",
    ),
    ({"target": "kubernetes"}, "host", "required on Kubernetes"),
    (
        {"target": "kubernetes", "host": "api.example.com"},
        "apiImageRepository",
        "required on Kubernetes",
    ),
    ({**ON_KUBERNETES, "proxyPort": "80"}, "proxyPort", "learnbot:target docker only"),
    ({**ON_KUBERNETES, "nginxImage": "nginx:1.27"}, "nginxImage", "target docker only"),
    ({"dbInstances": "3"}, "dbInstances", "learnbot:target kubernetes only"),
    ({"bindAddress": "::"}, "grafanaRootUrl", "required when learnbot:bindAddress is ::"),
    ({"bindAddress": "0.0.0.0"}, "grafanaRootUrl", "required when learnbot:bindAddress is"),
    ({"kubeconfig": "apiVersion: v1"}, "kubeconfig", "learnbot:target kubernetes only"),
    (
        {**ON_KUBERNETES, "apiReplicas": "4", "apiMaxReplicas": "3"},
        "apiMaxReplicas",
        "at least learnbot:apiReplicas (4)",
    ),
    (
        {
            **ON_KUBERNETES,
            "installPrometheusOperator": "false",
            "alertWebhookUrl": "https://t.example.com/h",
        },
        "alertWebhookUrl",
        "unset it: with learnbot:installPrometheusOperator false the stack installs no",
    ),
    (
        {
            **ON_KUBERNETES,
            "installPrometheusOperator": "false",
            "grafanaAdminPassword": "p" * 12,
        },
        "grafanaAdminPassword",
        "Alertmanager or Grafana of its own",
    ),
    (
        {
            **ON_KUBERNETES,
            "installPrometheusOperator": "false",
            "monitoringTimeoutSeconds": "1800",
        },
        "monitoringTimeoutSeconds",
        "no monitoring chart",
    ),
    (
        {**ON_KUBERNETES, "physicalBackupSchedule": "0 2 * * *"},
        "backupS3Url",
        "required when learnbot:physicalBackupSchedule is set: CloudNativePG backs up to",
    ),
    (
        {**ON_KUBERNETES, "physicalBackupRetentionDays": "7"},
        "backupS3Url",
        "required when learnbot:physicalBackupRetentionDays is set",
    ),
    (
        {**ON_KUBERNETES, "backupCipherPassphrase": "p" * 32},
        "backupCipherPassphrase",
        "a setting of learnbot:target docker only",
    ),
    (
        {**ON_KUBERNETES, "physicalBackupKeepFull": "3"},
        "physicalBackupKeepFull",
        "a setting of learnbot:target docker only",
    ),
    (
        {**ON_KUBERNETES, "apiMaxReplicas": "20"},
        "databasePoolSize",
        "at most 7 with 20 API replicas of 2 workers: apiMaxReplicas x apiWorkers",
    ),
    # Each provider's own checks: tests/platform/test_oauth_providers.py.
    ({"oauthProviders": "github"}, "oauthProviders", "a list of providers"),
    ({"oauthClientSecrets": "zz-secret-zz"}, "oauthClientSecrets", "an object of client secrets"),
    ({"oauthRedirectBaseUrl": "https://x.example.com"}, "oauthRedirectBaseUrl", "set only with"),
    ({"oauthReturnUrl": "https://t.me/b/a"}, "oauthReturnUrl", "set only with"),
    ({"oauthStateTtlSeconds": "600"}, "oauthStateTtlSeconds", "set only with"),
]


@pytest.mark.parametrize(
    ("settings", "key", "allowed"),
    COMBINED,
)
def test_settings_that_depend_on_each_other(
    settings: dict[str, str], key: str, allowed: str
) -> None:
    with pytest.raises(StackConfigError) as error:
        load(**settings)
    assert error.value.key == key
    assert str(error.value).startswith(f"learnbot:{key}: ")
    assert allowed in str(error.value)


def test_kubernetes_defaults() -> None:
    config = load(**ON_KUBERNETES)
    kubernetes = config.kubernetes
    assert config.target == "kubernetes"
    assert kubernetes is not None
    assert kubernetes.namespace == "learnbot"
    assert kubernetes.api_image == "ghcr.io/example/learnbot:0.1.0"
    assert (kubernetes.api_max_replicas, kubernetes.api_cpu_millicores) == (10, 500)
    assert (kubernetes.db_instances, kubernetes.db_storage_gb, kubernetes.backup_storage_gb) == (
        3,
        10,
        20,
    )
    assert kubernetes.kubeconfig is None
    assert kubernetes.await_ingress is True
    # A first install of the monitoring chart pulls many images: more than Helm's 300 s.
    assert kubernetes.monitoring_timeout_seconds == 900
    assert kubernetes.monitoring_atomic is True
    # A fresh cluster gets both operators from the stack's own Helm releases.
    assert (kubernetes.install_cloudnativepg, kubernetes.install_prometheus_operator) == (
        True,
        True,
    )
    assert kubernetes.monitoring_labels == {}
    assert (kubernetes.physical_backup_schedule, kubernetes.physical_backup_retention_days) == (
        "30 1 * * *",
        30,
    )
    assert config.archive_timeout_seconds == 60
    assert dict(config.images) == KUBERNETES_DEFAULT_IMAGES
    assert load().kubernetes is None


def test_the_kubernetes_waits_are_read() -> None:
    config = load(
        **ON_KUBERNETES,
        awaitIngress="False",
        monitoringTimeoutSeconds="1800",
        monitoringAtomic="false",
    )
    kubernetes = config.kubernetes
    assert kubernetes is not None
    assert kubernetes.await_ingress is False
    assert kubernetes.monitoring_timeout_seconds == 1800
    assert kubernetes.monitoring_atomic is False
    kubernetes = load(**ON_KUBERNETES, awaitIngress="true").kubernetes
    assert kubernetes is not None
    assert kubernetes.await_ingress is True


def test_the_operators_of_the_cluster_can_be_used() -> None:
    config = load(
        **ON_KUBERNETES,
        installCloudNativePG="false",
        installPrometheusOperator="FALSE",
        monitoringLabels="release=kube-prometheus-stack, example.com/team=db",
    )
    kubernetes = config.kubernetes
    assert kubernetes is not None
    assert (kubernetes.install_cloudnativepg, kubernetes.install_prometheus_operator) == (
        False,
        False,
    )
    assert kubernetes.monitoring_labels == {
        "release": "kube-prometheus-stack",
        "example.com/team": "db",
    }
    # The alert receivers and Grafana's password are the stack's own monitoring's settings.
    with_own = load(**ON_KUBERNETES, installCloudNativePG="false", alertWebhookUrl="https://t.io/h")
    assert with_own.alerts.webhook_url is not None


def test_the_kubeconfig_is_a_secret() -> None:
    kubeconfig = "apiVersion: v1\nkind: Config\n# token: abc"
    config = load(**ON_KUBERNETES, kubeconfig=kubeconfig, apiImageTag="1.2.3")
    assert config.kubernetes is not None
    assert config.kubernetes.kubeconfig == Secret(kubeconfig)
    assert config.kubernetes.api_image == "ghcr.io/example/learnbot:1.2.3"
    assert "token: abc" not in repr(config)


def test_secret_values_never_appear_in_repr() -> None:
    config = load(dbPassword="a-database-password-of-some-length")
    assert TOKEN not in repr(config)
    assert "a-database-password-of-some-length" not in repr(config)


def test_keys_are_either_plain_or_secret() -> None:
    assert not set(PLAIN_KEYS) & set(SECRET_KEYS)
    assert len(KEYS) == len(set(KEYS))


@pytest.mark.parametrize(
    "expression",
    [
        "0 3 * * *",
        "*/15 * * * *",
        "0 4 * * 0",
        "0 4 * * 7",
        "30 2 1,15 * mon-fri",
        "0 0 1 jan-jun/2 *",
        "5-10/2 0-23 1-31 1-12 0-6",
        "@daily",
        "@weekly",
        "60 * * * *",
        "* 24 * * *",
        "0 0 0 * *",
        "0 0 * 13 *",
        "0 0 * * 8",
        "*/0 * * * *",
        "10-5 * * * *",
        "0 3 * *",
        "0 3 * * * *",
        "@reboot",
    ],
)
def test_the_cron_check_agrees_with_the_backup_job(expression: str) -> None:
    # croniter is what `learnbot backup run` uses; it also takes a sixth field, the job does not.
    expected = croniter.is_valid(expression) and (
        expression.startswith("@") or len(expression.split()) == 5
    )
    assert is_cron_expression(expression) == expected

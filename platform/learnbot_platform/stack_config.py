"""The stack's `learnbot:` settings, checked before any resource exists.

Every check raises StackConfigError with a message naming `learnbot:<key>` and what is allowed;
a secret's value is never repeated in a message.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

# The Pulumi program runs in the repository's .venv, beside the service it deploys: the stack
# reads a setting it hands to a container with the very parser the process reads it with.
from learnbot import settings_table as table
from learnbot.setting import (
    Invalid,
    LocaleInvalid,
    Setting,
    declared,
    locales,
    matching,
    text,
    whole,
)

# The backup job's test of a schedule, which the stack's tests check on the edges.
from learnbot.settings_table import is_cron_expression as is_cron_expression
from learnbot_platform.oauth_providers import OAuthEnvironment, OAuthKeyError, oauth_environment

NAMESPACE = "learnbot"
# The service image installs pg_dump of this major version (service/Dockerfile).
POSTGRES_MAJOR = 15
POSTGRES_MAX_CONNECTIONS = 100
# On Kubernetes the API scales out under its autoscaler: PostgreSQL takes more connections.
KUBERNETES_POSTGRES_MAX_CONNECTIONS = 300
# Left for the migration, the backup job and its restore drill, the exporter and superusers.
RESERVED_CONNECTIONS = 10
DOCKER = frozenset({"docker"})
KUBERNETES = frozenset({"kubernetes"})
TARGETS = ("docker", "kubernetes")

DEFAULT_IMAGES = {
    "postgresImage": "postgres:15.10-bookworm",
    "nginxImage": "nginx:1.26.2-alpine",
    "redisImage": "redis:7.4.1-alpine",
    "prometheusImage": "prom/prometheus:v2.53.3",
    "alertmanagerImage": "prom/alertmanager:v0.27.0",
    "grafanaImage": "grafana/grafana:11.3.1",
    "postgresExporterImage": "quay.io/prometheuscommunity/postgres-exporter:v0.15.0",
}
# CloudNativePG runs its own PostgreSQL images; the monitoring images come with its chart.
KUBERNETES_DEFAULT_IMAGES = {
    "postgresImage": "ghcr.io/cloudnative-pg/postgresql:15.10",
    "redisImage": DEFAULT_IMAGES["redisImage"],
    "postgresExporterImage": DEFAULT_IMAGES["postgresExporterImage"],
}

_PREFIX_RULE = "1 to 30 lower-case letters, digits and -, starting with a letter"
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
# repository[:tag][@sha256:digest], the repository with an optional registry host and port.
_IMAGE = re.compile(
    r"(?P<repository>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?"
)
_DNS_SUBDOMAIN = r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*"
_SUBDOMAIN_RULE = "a Kubernetes object name: lower-case letters, digits, - and ., up to 253"
_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KUBERNETES_LABEL = re.compile(
    rf"(?P<key>([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_LABEL_NAME})"
    rf"=(?P<value>({_LABEL_NAME})?)"
)
# The stack's own labels, which its selectors rely on.
_OWN_LABEL_PREFIX = "app.kubernetes.io/"


T = TypeVar("T")


class StackConfigError(ValueError):
    def __init__(self, key: str, allowed: str) -> None:
        super().__init__(f"{NAMESPACE}:{key}: {allowed}")
        self.key = key


@dataclass(frozen=True, slots=True)
class Secret:
    """A value that must reach Pulumi as a secret; repr() never shows it."""

    value: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class AlertReceiverConfig:
    telegram_bot_token: Secret | None = None
    telegram_chat_id: int | None = None
    webhook_url: Secret | None = None
    webhook_token: Secret | None = None
    # The dead man's switch: the URL the Watchdog alert reaches every minute.
    heartbeat_url: Secret | None = None


@dataclass(frozen=True, slots=True)
class BackupConfig:
    schedule: str = "0 3 * * *"
    drill_schedule: str = "0 4 * * 0"
    keep_daily: int = 7
    keep_weekly: int = 4
    keep_monthly: int = 6
    s3_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: Secret | None = None
    s3_secret_access_key: Secret | None = None
    # Docker: the pgBackRest repository's passphrase; None: generated once into a volume.
    cipher_passphrase: Secret | None = None
    # Docker: pgBackRest's full and differential backups, and how many full ones are kept.
    physical_full_schedule: str = table.DEFAULT_FULL_SCHEDULE
    physical_diff_schedule: str = table.DEFAULT_DIFF_SCHEDULE
    physical_keep_full: int = table.DEFAULT_KEEP_FULL


@dataclass(frozen=True, slots=True)
class KubernetesConfig:
    namespace: str
    host: str
    api_image: str
    api_max_replicas: int
    api_cpu_millicores: int
    db_instances: int
    db_storage_gb: int
    backup_storage_gb: int
    ingress_class_name: str | None = None
    tls_secret_name: str | None = None
    storage_class_name: str | None = None
    # None: the ambient kubeconfig (KUBECONFIG or ~/.kube/config) of whoever runs Pulumi.
    kubeconfig: Secret | None = None
    # False for Ingress controllers that never publish an address in .status.loadBalancer.
    await_ingress: bool = True
    monitoring_timeout_seconds: int = 900
    monitoring_atomic: bool = True
    # False: the operators the cluster already runs, installed once for every stack.
    install_cloudnativepg: bool = True
    install_prometheus_operator: bool = True
    # What the Prometheus of the cluster's own operator selects PrometheusRules and
    # ServiceMonitors by.
    monitoring_labels: Mapping[str, str] = field(default_factory=dict)
    # CloudNativePG's own backups, taken only where learnbot:backupS3Url names a bucket.
    physical_backup_schedule: str = "30 1 * * *"
    physical_backup_retention_days: int = 30


@dataclass(frozen=True, slots=True)
class StackConfig:
    name_prefix: str
    telegram_bot_token: Secret | None
    telegram_bot_id: int | None
    admin_telegram_ids: tuple[int, ...]
    supported_locales: tuple[str, ...]
    default_locale: str
    cors_origins: tuple[str, ...]
    log_level: str
    sentry_dsn: Secret | None
    sentry_environment: str
    api_image_tag: str
    api_replicas: int
    api_workers: int
    api_memory_mb: int
    database_pool_size: int
    db_password: Secret | None
    grafana_admin_password: Secret | None
    bind_address: str
    proxies_in_front: int
    proxy_port: int
    grafana_port: int
    # The URL people open Grafana at; its links and redirects use it. None: its published URL.
    grafana_root_url: str | None
    prometheus_port: int | None
    images: Mapping[str, str]
    backup: BackupConfig
    alerts: AlertReceiverConfig
    target: str = "docker"
    # Set when target is kubernetes.
    kubernetes: KubernetesConfig | None = None
    # The https URL Telegram opens the Mini App at, registered with BotFather.
    miniapp_url: str | None = None
    # The OTLP/HTTP collector the API sends traces to; None: tracing is off.
    otel_exporter_endpoint: str | None = None
    # Where Telegram delivers the bot's updates, and the secret it sends with each.
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: Secret | None = None
    # Account linking's OAUTH_* variables for the API, client secrets apart.
    oauth: OAuthEnvironment = field(default_factory=OAuthEnvironment)
    # How old the newest archived WAL may be: the recovery point of WAL archiving.
    archive_timeout_seconds: int = 60

    @property
    def sets_up_bot(self) -> bool:
        """The stack runs `learnbot bot setup` when Telegram has somewhere to send updates."""
        return self.telegram_webhook_url is not None and self.telegram_bot_token is not None


def _target(raw: str) -> str:
    if raw not in TARGETS:
        raise Invalid("docker (one Docker engine) or kubernetes (the cluster of the kubeconfig)")
    return raw


def _image_tag(raw: str) -> str:
    if not _TAG.fullmatch(raw) or raw == "latest":
        raise Invalid(
            "a version tag for the built service image (up to 64 letters, digits, _ . -; "
            "not latest), such as 0.1.0 or a commit id"
        )
    return raw


def _password(minimum: int) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if not minimum <= len(raw) <= 128 or not raw.isprintable():
            raise Invalid(f"{minimum} to 128 printable characters (or unset: a generated password)")
        return raw

    return parse


def _ip_address(raw: str) -> str:
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        raise Invalid(
            "the host IP address the proxy and Grafana are published on, such as 127.0.0.1 "
            "(behind a TLS terminator on the same host) or 0.0.0.0 (every interface)"
        ) from None


def _http_url(example: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        parts = urlsplit(raw)
        try:
            valid = (
                parts.scheme in ("http", "https")
                and bool(parts.hostname)
                and (parts.port is None or parts.port > 0)
            )
        except ValueError:
            valid = False
        if not valid:
            raise Invalid(f"an http(s) URL such as {example}")
        return raw

    return parse


def _root_url(raw: str) -> str:
    parts = urlsplit(_http_url("https://grafana.example.com")(raw))
    if parts.username or parts.password or parts.query or parts.fragment:
        raise Invalid(
            "an http(s) URL without credentials, query or fragment, such as "
            "https://grafana.example.com"
        )
    return raw


def _chat_id(raw: str) -> int:
    digits = raw.removeprefix("-")
    if not digits.isascii() or not digits.isdigit() or not 0 < int(digits) < 2**63:
        raise Invalid("a Telegram chat id: a whole number, negative for groups (-1001234567890)")
    return int(raw)


def _host(raw: str) -> str:
    if "." not in raw or not re.fullmatch(_DNS_SUBDOMAIN, raw):
        raise Invalid(
            "the API's public DNS name, lower-case, such as api.example.com (no scheme, no port)"
        )
    return raw


def _image_repository(raw: str) -> str:
    match = _IMAGE.fullmatch(raw)
    if match is None or match["tag"] or match["digest"]:
        raise Invalid(
            "the registry repository the service image is pushed to, without a tag, such as "
            "ghcr.io/example/learnbot (the tag is learnbot:apiImageTag)"
        )
    return raw


def _labels(raw: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in (p.strip() for p in raw.split(",")):
        if not pair:
            continue
        match = _KUBERNETES_LABEL.fullmatch(pair)
        if match is None or match["key"].startswith(_OWN_LABEL_PREFIX):
            raise Invalid(
                "comma-separated Kubernetes labels name=value, such as "
                "release=kube-prometheus-stack (not app.kubernetes.io/..., which the stack sets)"
            )
        labels[match["key"]] = match["value"]
    return labels


def _switch(default: bool) -> Callable[[str], bool]:
    """A Pulumi setting's true or false."""

    def parse(raw: str) -> bool:
        if raw.lower() not in ("true", "false"):
            raise Invalid(f"true or false (default {str(default).lower()})")
        return raw.lower() == "true"

    return parse


def _stack_row(
    key: str, parse: Callable[[str], T], default: T | None = None, **more: Any
) -> Setting[T]:
    return Setting(None, parse, key=key, stack_default=default, **more)


def _image(key: str) -> Setting[str]:
    # Checked by _images, whose example is the target's default.
    targets = TARGETS_OF_IMAGE.get(key, frozenset(TARGETS))
    return _stack_row(key, text, DEFAULT_IMAGES[key], targets=targets)


TARGETS_OF_IMAGE = {key: DOCKER for key in DEFAULT_IMAGES if key not in KUBERNETES_DEFAULT_IMAGES}

# The settings of the stack alone; those it hands to a container are in learnbot.settings_table.
TARGET = _stack_row("target", _target, "docker")
NAME_PREFIX = _stack_row("namePrefix", matching(r"[a-z][a-z0-9-]{0,29}", _PREFIX_RULE), "learnbot")
# Unset: the version of the program (pyproject.toml).
API_IMAGE_TAG = _stack_row("apiImageTag", _image_tag)
API_REPLICAS = _stack_row("apiReplicas", whole(1, 16), 2)
# The main process (~90 MB) and two workers of ~220 MB each with the bot's webhook on (aiogram's
# Bot API types are ~130 MB of that), with room for load.
API_MEMORY_MB = _stack_row("apiMemoryMb", whole(128, 65536), 1024)
DB_PASSWORD = _stack_row("dbPassword", _password(16), secret=True)
GRAFANA_ADMIN_PASSWORD = _stack_row("grafanaAdminPassword", _password(12), secret=True)
PROXIES_IN_FRONT = _stack_row("proxiesInFront", whole(0, 4), 0)
BIND_ADDRESS = _stack_row("bindAddress", _ip_address, "127.0.0.1", targets=DOCKER)
PROXY_PORT = _stack_row("proxyPort", whole(1, 65535), 8080, targets=DOCKER)
GRAFANA_PORT = _stack_row("grafanaPort", whole(1, 65535), 3000, targets=DOCKER)
# The URL people open Grafana at; unset, its published URL (required on every interface).
GRAFANA_ROOT_URL = _stack_row("grafanaRootUrl", _root_url, targets=DOCKER)
PROMETHEUS_PORT = _stack_row("prometheusPort", whole(1, 65535), targets=DOCKER)
POSTGRES_IMAGE = _image("postgresImage")
NGINX_IMAGE = _image("nginxImage")
REDIS_IMAGE = _image("redisImage")
PROMETHEUS_IMAGE = _image("prometheusImage")
ALERTMANAGER_IMAGE = _image("alertmanagerImage")
GRAFANA_IMAGE = _image("grafanaImage")
POSTGRES_EXPORTER_IMAGE = _image("postgresExporterImage")
ALERT_TELEGRAM_BOT_TOKEN = _stack_row(
    "alertTelegramBotToken", table.TELEGRAM_BOT_TOKEN.parse, secret=True
)
ALERT_TELEGRAM_CHAT_ID = _stack_row("alertTelegramChatId", _chat_id)
ALERT_WEBHOOK_URL = _stack_row(
    "alertWebhookUrl", _http_url("https://tickets.example.com/hook"), secret=True
)
ALERT_WEBHOOK_TOKEN = _stack_row("alertWebhookToken", text, secret=True)
# A heartbeat service's ping URL (healthchecks.io, Dead Man's Snitch, ...): it names the check.
ALERT_HEARTBEAT_URL = _stack_row(
    "alertHeartbeatUrl", _http_url("https://hc-ping.com/<uuid>"), secret=True
)
# None: the ambient kubeconfig (KUBECONFIG or ~/.kube/config) of whoever runs Pulumi.
KUBECONFIG = _stack_row("kubeconfig", text, secret=True, targets=KUBERNETES)
# Unset: learnbot:namePrefix.
NAMESPACE_NAME = _stack_row(
    "namespace",
    matching(
        r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?",
        "a Kubernetes namespace name: 1 to 63 lower-case letters, digits and -, starting and "
        "ending with a letter or digit (default: learnbot:namePrefix)",
    ),
    targets=KUBERNETES,
)
HOST = _stack_row("host", _host, targets=KUBERNETES)
INGRESS_CLASS_NAME = _stack_row(
    "ingressClassName", matching(_DNS_SUBDOMAIN, _SUBDOMAIN_RULE), targets=KUBERNETES
)
TLS_SECRET_NAME = _stack_row(
    "tlsSecretName", matching(_DNS_SUBDOMAIN, _SUBDOMAIN_RULE), targets=KUBERNETES
)
STORAGE_CLASS_NAME = _stack_row(
    "storageClassName", matching(_DNS_SUBDOMAIN, _SUBDOMAIN_RULE), targets=KUBERNETES
)
API_IMAGE_REPOSITORY = _stack_row("apiImageRepository", _image_repository, targets=KUBERNETES)
# Unset: 10, or learnbot:apiReplicas if more.
API_MAX_REPLICAS = _stack_row("apiMaxReplicas", whole(1, 64), targets=KUBERNETES)
API_CPU_MILLICORES = _stack_row("apiCpuMillicores", whole(100, 16000), 500, targets=KUBERNETES)
DB_INSTANCES = _stack_row("dbInstances", whole(1, 9), 3, targets=KUBERNETES)
DB_STORAGE_GB = _stack_row("dbStorageGb", whole(1, 65536), 10, targets=KUBERNETES)
BACKUP_STORAGE_GB = _stack_row("backupStorageGb", whole(1, 65536), 20, targets=KUBERNETES)

# Point-in-time recovery on Kubernetes: CloudNativePG's base backups and WAL archive in the
# bucket of learnbot:backupS3Url.
PHYSICAL_BACKUP_SCHEDULE = _stack_row(
    "physicalBackupSchedule",
    table.cron("30 1 * * *"),
    "30 1 * * *",
    targets=KUBERNETES,
    stack_allowed="a cron expression of five fields (minute hour day month weekday), UTC",
)
PHYSICAL_BACKUP_RETENTION_DAYS = _stack_row(
    "physicalBackupRetentionDays", whole(1, 3650), 30, targets=KUBERNETES
)
# Both targets archive WAL: pgBackRest on Docker, CloudNativePG on Kubernetes.
ARCHIVE_TIMEOUT_SECONDS = _stack_row("archiveTimeoutSeconds", whole(10, 3600), 60)
PHYSICAL_BACKUP_ROWS = (PHYSICAL_BACKUP_SCHEDULE, PHYSICAL_BACKUP_RETENTION_DAYS)
# False for Ingress controllers that never publish an address in .status.loadBalancer.
AWAIT_INGRESS = _stack_row("awaitIngress", _switch(True), True, targets=KUBERNETES)
MONITORING_TIMEOUT_SECONDS = _stack_row(
    "monitoringTimeoutSeconds", whole(60, 7200), 900, targets=KUBERNETES
)
MONITORING_ATOMIC = _stack_row("monitoringAtomic", _switch(True), True, targets=KUBERNETES)
# False: the operators the cluster already runs, installed once for every stack.
INSTALL_CLOUDNATIVEPG = _stack_row("installCloudNativePG", _switch(True), True, targets=KUBERNETES)
INSTALL_PROMETHEUS_OPERATOR = _stack_row(
    "installPrometheusOperator", _switch(True), True, targets=KUBERNETES
)
# What the Prometheus of the cluster's own operator selects PrometheusRules and ServiceMonitors by.
MONITORING_LABELS: Setting[dict[str, str]] = _stack_row(
    "monitoringLabels", _labels, {}, targets=KUBERNETES
)
# Account linking's providers: a list of objects, and their client secrets by provider id
# (learnbot_platform.oauth_providers turns them into the API's OAUTH_* variables).
OAUTH_PROVIDERS = _stack_row("oauthProviders", text)
OAUTH_CLIENT_SECRETS = _stack_row("oauthClientSecrets", text, secret=True)
# Unset on Kubernetes: https://<learnbot:host>.
OAUTH_REDIRECT_BASE_URL = _stack_row("oauthRedirectBaseUrl", text)
OAUTH_RETURN_URL = _stack_row("oauthReturnUrl", text)
OAUTH_STATE_TTL_SECONDS = _stack_row("oauthStateTtlSeconds", text)

SETTINGS: tuple[Setting[Any], ...] = (
    *(row for row in table.SETTINGS if row.key is not None),
    *declared(globals()),
)
KEYS = tuple(str(row.key) for row in SETTINGS)
SECRET_KEYS = tuple(str(row.key) for row in SETTINGS if row.secret)
PLAIN_KEYS = tuple(key for key in KEYS if key not in SECRET_KEYS)
# Settings that mean something on one target only; set on the other, they are refused.
DOCKER_KEYS = tuple(str(row.key) for row in SETTINGS if row.targets == DOCKER)
KUBERNETES_KEYS = tuple(str(row.key) for row in SETTINGS if row.targets == KUBERNETES)
# Settings of the stack's own monitoring chart, its Alertmanager and Grafana: with the
# cluster's own (learnbot:installPrometheusOperator false) they are its owner's.
OWN_MONITORING = (
    MONITORING_TIMEOUT_SECONDS,
    MONITORING_ATOMIC,
    GRAFANA_ADMIN_PASSWORD,
    ALERT_TELEGRAM_BOT_TOKEN,
    ALERT_TELEGRAM_CHAT_ID,
    ALERT_WEBHOOK_URL,
    ALERT_WEBHOOK_TOKEN,
    ALERT_HEARTBEAT_URL,
)
OWN_MONITORING_KEYS = tuple(str(row.key) for row in OWN_MONITORING)


class _Values:
    """The stack's settings as Pulumi gives them, read through their rows."""

    def __init__(self, raw: Mapping[str, str]) -> None:
        self.raw = {key: value.strip() for key, value in raw.items() if value.strip()}

    def __contains__(self, row: Setting[Any]) -> bool:
        return row.key in self.raw

    def get(self, row: Setting[T]) -> T | None:
        key = str(row.key)
        raw = self.raw.get(key)
        if raw is None:
            return row.default if row.stack_default is None else row.stack_default
        try:
            return row.parse(raw)
        except Invalid as refused:
            raise StackConfigError(key, row.stack_allowed or str(refused)) from None

    def value(self, row: Setting[T]) -> T:
        value = self.get(row)
        assert value is not None, f"{row.key} has no default"
        return value

    def secret(self, row: Setting[str]) -> Secret | None:
        value = self.get(row)
        return None if value is None else Secret(value)


def load_stack_config(
    raw: Mapping[str, str],
    *,
    shipped_locales: Sequence[str],
    default_api_image_tag: str,
) -> StackConfig:
    """Checks the stack's settings, keyed without the `learnbot:` namespace."""
    values = _Values(raw)
    unknown = sorted(set(values.raw) - set(KEYS))
    if unknown:
        raise StackConfigError(unknown[0], "not a setting of this stack; known: " + ", ".join(KEYS))
    target = _target_of(values)
    token, bot_id = _telegram(values)
    supported, default_locale = _locales(values, shipped_locales)
    replicas = values.value(API_REPLICAS)
    name_prefix = values.value(NAME_PREFIX)
    kubernetes = (
        _kubernetes(values, name_prefix, replicas, default_api_image_tag)
        if target == "kubernetes"
        else None
    )
    _check_connections(values, replicas, kubernetes)
    proxy_port, grafana_port, prometheus_port = _ports(values)
    bind_address = values.value(BIND_ADDRESS)
    return StackConfig(
        name_prefix=name_prefix,
        telegram_bot_token=token,
        telegram_bot_id=bot_id,
        admin_telegram_ids=tuple(sorted(values.value(table.ADMIN_TELEGRAM_IDS))),
        supported_locales=supported,
        default_locale=default_locale,
        cors_origins=values.value(table.CORS_ORIGINS),
        log_level=values.value(table.LOG_LEVEL),
        sentry_dsn=values.secret(table.SENTRY_DSN),
        sentry_environment=values.value(table.SENTRY_ENVIRONMENT),
        api_image_tag=values.get(API_IMAGE_TAG) or default_api_image_tag,
        api_replicas=replicas,
        api_workers=values.value(table.WORKERS),
        api_memory_mb=values.value(API_MEMORY_MB),
        database_pool_size=values.value(table.DATABASE_POOL_SIZE),
        db_password=values.secret(DB_PASSWORD),
        grafana_admin_password=values.secret(GRAFANA_ADMIN_PASSWORD),
        bind_address=bind_address,
        proxies_in_front=values.value(PROXIES_IN_FRONT),
        proxy_port=proxy_port,
        grafana_port=grafana_port,
        grafana_root_url=_grafana_root_url(values, bind_address, grafana_port),
        prometheus_port=prometheus_port,
        images=_images(values, KUBERNETES_DEFAULT_IMAGES if kubernetes else DEFAULT_IMAGES),
        backup=_backup(values),
        alerts=_alert_receivers(values),
        target=target,
        kubernetes=kubernetes,
        miniapp_url=values.get(table.MINIAPP_URL),
        otel_exporter_endpoint=values.get(table.OTEL_EXPORTER_OTLP_ENDPOINT),
        **_webhook(values),
        oauth=_oauth(values, kubernetes),
        archive_timeout_seconds=values.value(ARCHIVE_TIMEOUT_SECONDS),
    )


def _oauth(values: _Values, kubernetes: KubernetesConfig | None) -> OAuthEnvironment:
    redirect_base_url = values.get(OAUTH_REDIRECT_BASE_URL)
    if redirect_base_url is None and kubernetes is not None and OAUTH_PROVIDERS in values:
        redirect_base_url = f"https://{kubernetes.host}"
    try:
        return oauth_environment(
            values.get(OAUTH_PROVIDERS),
            values.get(OAUTH_CLIENT_SECRETS),
            redirect_base_url=redirect_base_url,
            return_url=values.get(OAUTH_RETURN_URL),
            state_ttl_seconds=values.get(OAUTH_STATE_TTL_SECONDS),
        )
    except OAuthKeyError as refused:
        raise StackConfigError(refused.key, refused.allowed) from None


def _webhook(values: _Values) -> dict[str, Any]:
    url = values.get(table.TELEGRAM_WEBHOOK_URL)
    secret = values.secret(table.TELEGRAM_WEBHOOK_SECRET)
    if url is not None and secret is None:
        raise StackConfigError(
            "telegramWebhookSecret",
            "required when learnbot:telegramWebhookUrl is set: 1 to 256 of A-Z a-z 0-9 _ -, "
            "set with `pulumi config set --secret learnbot:telegramWebhookSecret`",
        )
    if url is not None and values.get(table.TELEGRAM_BOT_TOKEN) is None:
        raise StackConfigError(
            "telegramBotToken",
            "required when learnbot:telegramWebhookUrl is set: the bot answers with its token",
        )
    return {"telegram_webhook_url": url, "telegram_webhook_secret": secret}


def _target_of(values: _Values) -> str:
    target = values.value(TARGET)
    other = "kubernetes" if target == "docker" else "docker"
    for key in KUBERNETES_KEYS if target == "docker" else DOCKER_KEYS:
        if key in values.raw:
            raise StackConfigError(
                key, f"a setting of learnbot:target {other} only (this stack's target is {target})"
            )
    return target


def _telegram(values: _Values) -> tuple[Secret | None, int | None]:
    token = values.secret(table.TELEGRAM_BOT_TOKEN)
    bot_id = values.get(table.TELEGRAM_BOT_ID)
    if token is None and bot_id is None:
        raise StackConfigError(
            "telegramBotToken",
            "required: the token BotFather gives, set with `pulumi config set --secret "
            "learnbot:telegramBotToken` (or set learnbot:telegramBotId to verify sign-ins with "
            "Telegram's public key instead)",
        )
    return token, bot_id


def _locales(values: _Values, shipped: Sequence[str]) -> tuple[tuple[str, ...], str]:
    try:
        return locales(
            values.get(table.SUPPORTED_LOCALES),
            values.value(table.DEFAULT_LOCALE),
            shipped,
            supported_name="learnbot:supportedLocales",
        )
    except LocaleInvalid as refused:
        row = table.SUPPORTED_LOCALES if refused.setting == "supported" else table.DEFAULT_LOCALE
        raise StackConfigError(str(row.key), str(refused)) from None


def _check_connections(values: _Values, replicas: int, kubernetes: KubernetesConfig | None) -> None:
    workers = values.value(table.WORKERS)
    pool_size = values.value(table.DATABASE_POOL_SIZE)
    max_connections, replicas_key = POSTGRES_MAX_CONNECTIONS, "apiReplicas"
    if kubernetes is not None:
        replicas, replicas_key = kubernetes.api_max_replicas, "apiMaxReplicas"
        max_connections = KUBERNETES_POSTGRES_MAX_CONNECTIONS
    budget = max_connections - RESERVED_CONNECTIONS
    used = replicas * workers * pool_size
    if used > budget:
        raise StackConfigError(
            "databasePoolSize",
            f"at most {budget // (replicas * workers)} with {replicas} API replicas of "
            f"{workers} workers: {replicas_key} x apiWorkers x databasePoolSize must stay within "
            f"{budget} PostgreSQL connections (max_connections {max_connections} less "
            f"{RESERVED_CONNECTIONS} for migrations, backups, the exporter and superusers), "
            f"not {used}",
        )


def _ports(values: _Values) -> tuple[int, int, int | None]:
    proxy = values.value(PROXY_PORT)
    grafana = values.value(GRAFANA_PORT)
    prometheus = values.get(PROMETHEUS_PORT)
    if grafana == proxy:
        raise StackConfigError("grafanaPort", f"a port other than learnbot:proxyPort ({proxy})")
    if prometheus in (proxy, grafana):
        raise StackConfigError(
            "prometheusPort",
            f"a port other than learnbot:proxyPort ({proxy}) and learnbot:grafanaPort "
            f"({grafana}), or unset to keep Prometheus unpublished",
        )
    return proxy, grafana, prometheus


def _grafana_root_url(values: _Values, bind_address: str, port: int) -> str | None:
    url = values.get(GRAFANA_ROOT_URL)
    if url is None and ipaddress.ip_address(bind_address).is_unspecified:
        raise StackConfigError(
            "grafanaRootUrl",
            f"required when learnbot:bindAddress is {bind_address}: the URL people open "
            "Grafana at, such as https://grafana.example.com or "
            f"http://<the host's name>:{port}",
        )
    return url


def _images(values: _Values, defaults: Mapping[str, str]) -> dict[str, str]:
    images: dict[str, str] = {}
    for key, default in defaults.items():
        reference = values.raw.get(key, default)
        match = _IMAGE.fullmatch(reference)
        tag = match["tag"] if match else None
        if match is None or (match["digest"] is None and tag in (None, "latest")):
            raise StackConfigError(
                key,
                f"an image pinned by a version tag or a digest, such as {default} "
                "(not :latest, not untagged)",
            )
        if key == "postgresImage" and not (tag or "").startswith(f"{POSTGRES_MAJOR}."):
            raise StackConfigError(
                key,
                f"a PostgreSQL {POSTGRES_MAJOR} image by a version tag, such as {default}: the "
                f"service image's pg_dump, which the backups use, is version {POSTGRES_MAJOR}",
            )
        images[key] = reference
    return images


def _backup(values: _Values) -> BackupConfig:
    s3_url = values.get(table.BACKUP_S3_URL)
    access_key = values.secret(table.AWS_ACCESS_KEY_ID)
    secret_key = values.secret(table.AWS_SECRET_ACCESS_KEY)
    if (access_key is None) != (secret_key is None):
        missing = "backupS3SecretAccessKey" if secret_key is None else "backupS3AccessKeyId"
        raise StackConfigError(
            missing,
            "set together with learnbot:backupS3AccessKeyId and learnbot:backupS3SecretAccessKey "
            "(both secrets), or neither to use the host's credentials",
        )
    for row in (table.BACKUP_S3_ENDPOINT_URL, table.AWS_DEFAULT_REGION, table.AWS_ACCESS_KEY_ID):
        if row in values and s3_url is None:
            raise StackConfigError(
                "backupS3Url", f"required when learnbot:{row.key} is set: s3://bucket[/prefix]"
            )
    return BackupConfig(
        schedule=values.value(table.BACKUP_SCHEDULE),
        drill_schedule=values.value(table.BACKUP_DRILL_SCHEDULE),
        keep_daily=values.value(table.BACKUP_KEEP_DAILY),
        keep_weekly=values.value(table.BACKUP_KEEP_WEEKLY),
        keep_monthly=values.value(table.BACKUP_KEEP_MONTHLY),
        s3_url=s3_url,
        s3_endpoint_url=values.get(table.BACKUP_S3_ENDPOINT_URL),
        s3_region=values.get(table.AWS_DEFAULT_REGION),
        s3_access_key_id=access_key,
        s3_secret_access_key=secret_key,
        cipher_passphrase=values.secret(table.PHYSICAL_BACKUP_CIPHER_PASSPHRASE),
        physical_full_schedule=values.value(table.PHYSICAL_BACKUP_FULL_SCHEDULE),
        physical_diff_schedule=values.value(table.PHYSICAL_BACKUP_DIFF_SCHEDULE),
        physical_keep_full=values.value(table.PHYSICAL_BACKUP_KEEP_FULL),
    )


def _alert_receivers(values: _Values) -> AlertReceiverConfig:
    token = values.secret(ALERT_TELEGRAM_BOT_TOKEN)
    chat_id = values.get(ALERT_TELEGRAM_CHAT_ID)
    if (token is None) != (chat_id is None):
        missing = "alertTelegramChatId" if chat_id is None else "alertTelegramBotToken"
        raise StackConfigError(
            missing,
            "set together with the other: alerts reach Telegram with both "
            "learnbot:alertTelegramBotToken (a secret) and learnbot:alertTelegramChatId, "
            "or neither",
        )
    webhook_url = values.secret(ALERT_WEBHOOK_URL)
    webhook_token = values.secret(ALERT_WEBHOOK_TOKEN)
    if webhook_token is not None and webhook_url is None:
        raise StackConfigError(
            "alertWebhookUrl", "required when learnbot:alertWebhookToken is set (a secret URL)"
        )
    return AlertReceiverConfig(
        telegram_bot_token=token,
        telegram_chat_id=chat_id,
        webhook_url=webhook_url,
        webhook_token=webhook_token,
        heartbeat_url=values.secret(ALERT_HEARTBEAT_URL),
    )


def _kubernetes(
    values: _Values, name_prefix: str, replicas: int, image_tag: str
) -> KubernetesConfig:
    host = values.get(HOST)
    if host is None:
        raise StackConfigError(
            "host", "required on Kubernetes: the API's public DNS name, such as api.example.com"
        )
    repository = values.get(API_IMAGE_REPOSITORY)
    if repository is None:
        raise StackConfigError(
            "apiImageRepository",
            "required on Kubernetes: the registry repository the cluster pulls the service "
            "image from, such as ghcr.io/example/learnbot",
        )
    max_replicas = values.get(API_MAX_REPLICAS) or max(10, replicas)
    if max_replicas < replicas:
        raise StackConfigError(
            "apiMaxReplicas",
            f"at least learnbot:apiReplicas ({replicas}), the autoscaler's lower bound",
        )
    _check_own_monitoring(values)
    _check_physical_backups(values)
    return KubernetesConfig(
        namespace=values.get(NAMESPACE_NAME) or name_prefix,
        host=host,
        api_image=f"{repository}:{values.get(API_IMAGE_TAG) or image_tag}",
        api_max_replicas=max_replicas,
        api_cpu_millicores=values.value(API_CPU_MILLICORES),
        db_instances=values.value(DB_INSTANCES),
        db_storage_gb=values.value(DB_STORAGE_GB),
        backup_storage_gb=values.value(BACKUP_STORAGE_GB),
        ingress_class_name=values.get(INGRESS_CLASS_NAME),
        tls_secret_name=values.get(TLS_SECRET_NAME),
        storage_class_name=values.get(STORAGE_CLASS_NAME),
        kubeconfig=values.secret(KUBECONFIG),
        await_ingress=values.value(AWAIT_INGRESS),
        monitoring_timeout_seconds=values.value(MONITORING_TIMEOUT_SECONDS),
        monitoring_atomic=values.value(MONITORING_ATOMIC),
        install_cloudnativepg=values.value(INSTALL_CLOUDNATIVEPG),
        install_prometheus_operator=values.value(INSTALL_PROMETHEUS_OPERATOR),
        monitoring_labels=values.value(MONITORING_LABELS),
        physical_backup_schedule=values.value(PHYSICAL_BACKUP_SCHEDULE),
        physical_backup_retention_days=values.value(PHYSICAL_BACKUP_RETENTION_DAYS),
    )


def _check_physical_backups(values: _Values) -> None:
    for row in PHYSICAL_BACKUP_ROWS:
        values.value(row)  # a bad value is named before a missing bucket
    if table.BACKUP_S3_URL in values:
        return
    for row in PHYSICAL_BACKUP_ROWS:
        if row in values:
            raise StackConfigError(
                "backupS3Url",
                f"required when learnbot:{row.key} is set: CloudNativePG backs up to the "
                "bucket of s3://bucket[/prefix]",
            )


def _check_own_monitoring(values: _Values) -> None:
    if values.value(INSTALL_PROMETHEUS_OPERATOR):
        return
    for row in OWN_MONITORING:
        if row in values:
            raise StackConfigError(
                str(row.key),
                "unset it: with learnbot:installPrometheusOperator false the stack installs "
                "no monitoring chart, Alertmanager or Grafana of its own; the cluster's route "
                "the alerts and show the dashboards",
            )

"""The stack's `learnbot:` settings, checked before any resource exists.

Every check raises StackConfigError with a message naming `learnbot:<key>` and what is allowed;
a secret's value is never repeated in a message.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

# The Pulumi program runs in the repository's .venv, beside the service it deploys: the stack
# checks a schedule and a bucket URL exactly as the backup job will.
from learnbot.backup.settings import is_cron_expression, is_endpoint_url, parse_s3_url

NAMESPACE = "learnbot"
# The service image installs pg_dump of this major version (service/Dockerfile).
POSTGRES_MAJOR = 15
POSTGRES_MAX_CONNECTIONS = 100
# On Kubernetes the API scales out under its autoscaler: PostgreSQL takes more connections.
KUBERNETES_POSTGRES_MAX_CONNECTIONS = 300
# Left for the migration, the backup job and its restore drill, the exporter and superusers.
RESERVED_CONNECTIONS = 10
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
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

SECRET_KEYS = (
    "telegramBotToken",
    "sentryDsn",
    "dbPassword",
    "grafanaAdminPassword",
    "alertTelegramBotToken",
    "alertWebhookUrl",
    "alertWebhookToken",
    "backupS3AccessKeyId",
    "backupS3SecretAccessKey",
    "kubeconfig",
)
# Settings that mean something on one target only; set on the other, they are refused.
DOCKER_KEYS = (
    "bindAddress",
    "proxyPort",
    "grafanaPort",
    "grafanaRootUrl",
    "prometheusPort",
    "nginxImage",
    "prometheusImage",
    "alertmanagerImage",
    "grafanaImage",
)
KUBERNETES_KEYS = (
    "kubeconfig",
    "namespace",
    "host",
    "ingressClassName",
    "tlsSecretName",
    "storageClassName",
    "apiImageRepository",
    "apiMaxReplicas",
    "apiCpuMillicores",
    "dbInstances",
    "dbStorageGb",
    "backupStorageGb",
    "awaitIngress",
    "monitoringTimeoutSeconds",
    "monitoringAtomic",
    "installCloudNativePG",
    "installPrometheusOperator",
    "monitoringLabels",
)
# Settings of the stack's own monitoring chart, its Alertmanager and Grafana: with the
# cluster's own (learnbot:installPrometheusOperator false) they are its owner's.
OWN_MONITORING_KEYS = (
    "monitoringTimeoutSeconds",
    "monitoringAtomic",
    "grafanaAdminPassword",
    "alertTelegramBotToken",
    "alertTelegramChatId",
    "alertWebhookUrl",
    "alertWebhookToken",
)
PLAIN_KEYS = (
    "target",
    "namePrefix",
    "telegramBotId",
    "adminTelegramIds",
    "supportedLocales",
    "defaultLocale",
    "corsOrigins",
    "logLevel",
    "sentryEnvironment",
    "apiImageTag",
    "apiReplicas",
    "apiWorkers",
    "apiMemoryMb",
    "databasePoolSize",
    "bindAddress",
    "proxiesInFront",
    "proxyPort",
    "grafanaPort",
    "grafanaRootUrl",
    "prometheusPort",
    *DEFAULT_IMAGES,
    "backupSchedule",
    "backupDrillSchedule",
    "backupKeepDaily",
    "backupKeepWeekly",
    "backupKeepMonthly",
    "backupS3Url",
    "backupS3EndpointUrl",
    "backupS3Region",
    "alertTelegramChatId",
    *(key for key in KUBERNETES_KEYS if key not in SECRET_KEYS),
)
KEYS = (*PLAIN_KEYS, *SECRET_KEYS)

_PREFIX = re.compile(r"[a-z][a-z0-9-]{0,29}")
_BOT_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,128}")
_LABEL = re.compile(r"[A-Za-z0-9._:/+-]{1,64}")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_SENTRY_DSN = re.compile(
    r"https?://[A-Za-z0-9]+(:[A-Za-z0-9]+)?@[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._-]+)*/[0-9]+"
)
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?")
# repository[:tag][@sha256:digest], the repository with an optional registry host and port.
_IMAGE = re.compile(
    r"(?P<repository>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?"
)
_REGION = re.compile(r"[a-z0-9-]{1,32}")
_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(
    r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*"
)


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


def load_stack_config(
    raw: Mapping[str, str],
    *,
    shipped_locales: Sequence[str],
    default_api_image_tag: str,
) -> StackConfig:
    """Checks the stack's settings, keyed without the `learnbot:` namespace."""
    values = {key: value.strip() for key, value in raw.items() if value.strip()}
    unknown = sorted(set(values) - set(KEYS))
    if unknown:
        raise StackConfigError(unknown[0], "not a setting of this stack; known: " + ", ".join(KEYS))
    target = _target(values)
    token = _optional(values, "telegramBotToken", _bot_token)
    bot_id = _optional(values, "telegramBotId", _whole(1, 2**53 - 1))
    if token is None and bot_id is None:
        raise StackConfigError(
            "telegramBotToken",
            "required: the token BotFather gives, set with `pulumi config set --secret "
            "learnbot:telegramBotToken` (or set learnbot:telegramBotId to verify sign-ins with "
            "Telegram's public key instead)",
        )
    supported, default_locale = _locales(values, shipped_locales)
    replicas = _int(values, "apiReplicas", 2, 1, 16)
    workers = _int(values, "apiWorkers", 2, 1, 64)
    pool_size = _int(values, "databasePoolSize", 10, 1, 200)
    name_prefix = _matching(values, "namePrefix", "learnbot", _PREFIX, _PREFIX_RULE)
    kubernetes = (
        _kubernetes(values, name_prefix, replicas, default_api_image_tag)
        if target == "kubernetes"
        else None
    )
    if kubernetes is None:
        _check_connections(replicas, workers, pool_size)
    else:
        _check_connections(
            kubernetes.api_max_replicas,
            workers,
            pool_size,
            replicas_key="apiMaxReplicas",
            max_connections=KUBERNETES_POSTGRES_MAX_CONNECTIONS,
        )
    proxy_port = _int(values, "proxyPort", 8080, 1, 65535)
    grafana_port = _int(values, "grafanaPort", 3000, 1, 65535)
    prometheus_port = _optional(values, "prometheusPort", _whole(1, 65535))
    _check_distinct_ports(proxy_port, grafana_port, prometheus_port)
    bind_address = _bind_address(values)
    return StackConfig(
        name_prefix=name_prefix,
        telegram_bot_token=Secret(token) if token else None,
        telegram_bot_id=bot_id,
        admin_telegram_ids=_telegram_ids(values),
        supported_locales=supported,
        default_locale=default_locale,
        cors_origins=_origins(values),
        log_level=_log_level(values),
        sentry_dsn=_secret(values, "sentryDsn", _sentry_dsn),
        sentry_environment=_matching(
            values,
            "sentryEnvironment",
            "production",
            _LABEL,
            "1 to 64 letters, digits, . _ : / + -",
        ),
        api_image_tag=_image_tag(values, default_api_image_tag),
        api_replicas=replicas,
        api_workers=workers,
        api_memory_mb=_int(values, "apiMemoryMb", 512, 128, 65536),
        database_pool_size=pool_size,
        db_password=_secret(values, "dbPassword", _password(16)),
        grafana_admin_password=_secret(values, "grafanaAdminPassword", _password(12)),
        bind_address=bind_address,
        proxies_in_front=_int(values, "proxiesInFront", 0, 0, 4),
        proxy_port=proxy_port,
        grafana_port=grafana_port,
        grafana_root_url=_grafana_root_url(values, bind_address, grafana_port),
        prometheus_port=prometheus_port,
        images=_images(values, KUBERNETES_DEFAULT_IMAGES if kubernetes else DEFAULT_IMAGES),
        backup=_backup(values),
        alerts=_alert_receivers(values),
        target=target,
        kubernetes=kubernetes,
    )


_PREFIX_RULE = "1 to 30 lower-case letters, digits and -, starting with a letter"


def _optional(values: Mapping[str, str], key: str, parse: Callable[[str, str], T]) -> T | None:
    raw = values.get(key)
    return None if raw is None else parse(key, raw)


def _secret(values: Mapping[str, str], key: str, check: Callable[[str, str], str]) -> Secret | None:
    raw = values.get(key)
    return None if raw is None else Secret(check(key, raw))


def _whole(low: int, high: int) -> Callable[[str, str], int]:
    def parse(key: str, raw: str) -> int:
        if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
            raise StackConfigError(key, f"a whole number from {low} to {high}")
        return int(raw)

    return parse


def _int(values: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    value = _optional(values, key, _whole(low, high))
    return default if value is None else value


def _matching(
    values: Mapping[str, str], key: str, default: str, pattern: re.Pattern[str], rule: str
) -> str:
    value = values.get(key, default)
    if not pattern.fullmatch(value):
        raise StackConfigError(key, rule)
    return value


def _matching_pattern(pattern: re.Pattern[str], rule: str) -> Callable[[str, str], str]:
    """A check that the whole value matches pattern, refusing it with rule."""

    def check(key: str, raw: str) -> str:
        if not pattern.fullmatch(raw):
            raise StackConfigError(key, rule)
        return raw

    return check


_bot_token = _matching_pattern(_BOT_TOKEN, "a bot token as BotFather gives it: <bot id>:<secret>")
_sentry_dsn = _matching_pattern(
    _SENTRY_DSN, "a DSN as Sentry shows it: https://<key>@<host>/<project id>"
)


def _password(minimum: int) -> Callable[[str, str], str]:
    def check(key: str, raw: str) -> str:
        if not minimum <= len(raw) <= 128 or not raw.isprintable():
            raise StackConfigError(
                key, f"{minimum} to 128 printable characters (or unset: a generated password)"
            )
        return raw

    return check


def _telegram_ids(values: Mapping[str, str]) -> tuple[int, ...]:
    parse = _whole(1, 2**53 - 1)
    ids: list[int] = []
    for part in (p.strip() for p in values.get("adminTelegramIds", "").split(",")):
        if not part:
            continue
        try:
            ids.append(parse("adminTelegramIds", part))
        except StackConfigError:
            raise StackConfigError(
                "adminTelegramIds", "comma-separated Telegram user ids (positive whole numbers)"
            ) from None
    return tuple(sorted(set(ids)))


def _locales(values: Mapping[str, str], shipped: Sequence[str]) -> tuple[tuple[str, ...], str]:
    allowed = "shipped locales: " + ", ".join(shipped)
    raw = values.get("supportedLocales")
    supported = (
        tuple(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip()))
        if raw
        else tuple(shipped)
    )
    if not supported or any(locale not in shipped for locale in supported):
        raise StackConfigError("supportedLocales", "comma-separated " + allowed)
    default = values.get("defaultLocale", "en")
    if default not in shipped:
        raise StackConfigError("defaultLocale", "one of the " + allowed)
    if default not in supported:
        raise StackConfigError(
            "defaultLocale", "one of learnbot:supportedLocales: " + ", ".join(supported)
        )
    return supported, default


def _origins(values: Mapping[str, str]) -> tuple[str, ...]:
    raw = values.get("corsOrigins", "")
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    if origins == ("*",):
        return origins
    if not all(_ORIGIN.fullmatch(origin) for origin in origins):
        raise StackConfigError(
            "corsOrigins", "* or comma-separated origins such as https://app.example.com"
        )
    return origins


def _log_level(values: Mapping[str, str]) -> str:
    level = values.get("logLevel", "INFO").upper()
    if level not in LOG_LEVELS:
        raise StackConfigError("logLevel", "one of " + ", ".join(LOG_LEVELS))
    return level


def _image_tag(values: Mapping[str, str], default: str) -> str:
    tag = values.get("apiImageTag", default)
    if not _TAG.fullmatch(tag) or tag == "latest":
        raise StackConfigError(
            "apiImageTag",
            "a version tag for the built service image (up to 64 letters, digits, _ . -; "
            "not latest), such as 0.1.0 or a commit id",
        )
    return tag


def _check_connections(
    replicas: int,
    workers: int,
    pool_size: int,
    *,
    replicas_key: str = "apiReplicas",
    max_connections: int = POSTGRES_MAX_CONNECTIONS,
) -> None:
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


def _bind_address(values: Mapping[str, str]) -> str:
    raw = values.get("bindAddress", "127.0.0.1")
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        raise StackConfigError(
            "bindAddress",
            "the host IP address the proxy and Grafana are published on, such as 127.0.0.1 "
            "(behind a TLS terminator on the same host) or 0.0.0.0 (every interface)",
        ) from None


def _grafana_root_url(values: Mapping[str, str], bind_address: str, port: int) -> str | None:
    raw = values.get("grafanaRootUrl")
    if raw is None:
        if ipaddress.ip_address(bind_address).is_unspecified:
            raise StackConfigError(
                "grafanaRootUrl",
                f"required when learnbot:bindAddress is {bind_address}: the URL people open "
                "Grafana at, such as https://grafana.example.com or "
                f"http://<the host's name>:{port}",
            )
        return None
    parts = urlsplit(raw)
    _http_url("https://grafana.example.com")("grafanaRootUrl", raw)
    if parts.username or parts.password or parts.query or parts.fragment:
        raise StackConfigError(
            "grafanaRootUrl",
            "an http(s) URL without credentials, query or fragment, such as "
            "https://grafana.example.com",
        )
    return raw


def _check_distinct_ports(proxy: int, grafana: int, prometheus: int | None) -> None:
    if grafana == proxy:
        raise StackConfigError("grafanaPort", f"a port other than learnbot:proxyPort ({proxy})")
    if prometheus in (proxy, grafana):
        raise StackConfigError(
            "prometheusPort",
            f"a port other than learnbot:proxyPort ({proxy}) and learnbot:grafanaPort "
            f"({grafana}), or unset to keep Prometheus unpublished",
        )


def _images(values: Mapping[str, str], defaults: Mapping[str, str]) -> dict[str, str]:
    images: dict[str, str] = {}
    for key, default in defaults.items():
        reference = values.get(key, default)
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


def _cron(values: Mapping[str, str], key: str, default: str) -> str:
    expression = " ".join(values.get(key, default).split())
    if not is_cron_expression(expression):
        raise StackConfigError(
            key,
            f"a cron expression of five fields (minute hour day month weekday), such as "
            f"'{default}'",
        )
    return expression


def _s3_url(key: str, raw: str) -> str:
    try:
        parse_s3_url(raw)
    except ValueError as error:
        raise StackConfigError(key, str(error)) from None
    return raw


def _http_url(example: str) -> Callable[[str, str], str]:
    def check(key: str, raw: str) -> str:
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
            raise StackConfigError(key, f"an http(s) URL such as {example}")
        return raw

    return check


def _endpoint_url(key: str, raw: str) -> str:
    """As the backup job checks BACKUP_S3_ENDPOINT_URL at its start."""
    if not is_endpoint_url(raw):
        raise StackConfigError(
            key, "an http(s) URL without credentials, such as https://s3.eu-central-1.example.com"
        )
    return raw


_region = _matching_pattern(_REGION, "an S3 region name such as eu-central-1")


def _non_empty(key: str, raw: str) -> str:
    return raw


def _backup(values: Mapping[str, str]) -> BackupConfig:
    s3_url = _optional(values, "backupS3Url", _s3_url)
    access_key = _secret(values, "backupS3AccessKeyId", _non_empty)
    secret_key = _secret(values, "backupS3SecretAccessKey", _non_empty)
    if (access_key is None) != (secret_key is None):
        missing = "backupS3SecretAccessKey" if secret_key is None else "backupS3AccessKeyId"
        raise StackConfigError(
            missing,
            "set together with learnbot:backupS3AccessKeyId and learnbot:backupS3SecretAccessKey "
            "(both secrets), or neither to use the host's credentials",
        )
    for key in ("backupS3EndpointUrl", "backupS3Region", "backupS3AccessKeyId"):
        if key in values and s3_url is None:
            raise StackConfigError(
                "backupS3Url", f"required when learnbot:{key} is set: s3://bucket[/prefix]"
            )
    return BackupConfig(
        schedule=_cron(values, "backupSchedule", "0 3 * * *"),
        drill_schedule=_cron(values, "backupDrillSchedule", "0 4 * * 0"),
        keep_daily=_int(values, "backupKeepDaily", 7, 1, 3660),
        keep_weekly=_int(values, "backupKeepWeekly", 4, 0, 520),
        keep_monthly=_int(values, "backupKeepMonthly", 6, 0, 1200),
        s3_url=s3_url,
        s3_endpoint_url=_optional(values, "backupS3EndpointUrl", _endpoint_url),
        s3_region=_optional(values, "backupS3Region", _region),
        s3_access_key_id=access_key,
        s3_secret_access_key=secret_key,
    )


def _chat_id(key: str, raw: str) -> int:
    digits = raw.removeprefix("-")
    if not digits.isascii() or not digits.isdigit() or not 0 < int(digits) < 2**63:
        raise StackConfigError(
            key, "a Telegram chat id: a whole number, negative for groups (-1001234567890)"
        )
    return int(raw)


def _alert_receivers(values: Mapping[str, str]) -> AlertReceiverConfig:
    token = _secret(values, "alertTelegramBotToken", _bot_token)
    chat_id = _optional(values, "alertTelegramChatId", _chat_id)
    if (token is None) != (chat_id is None):
        missing = "alertTelegramChatId" if chat_id is None else "alertTelegramBotToken"
        raise StackConfigError(
            missing,
            "set together with the other: alerts reach Telegram with both "
            "learnbot:alertTelegramBotToken (a secret) and learnbot:alertTelegramChatId, "
            "or neither",
        )
    webhook_url = _secret(values, "alertWebhookUrl", _http_url("https://tickets.example.com/hook"))
    webhook_token = _secret(values, "alertWebhookToken", _non_empty)
    if webhook_token is not None and webhook_url is None:
        raise StackConfigError(
            "alertWebhookUrl", "required when learnbot:alertWebhookToken is set (a secret URL)"
        )
    return AlertReceiverConfig(
        telegram_bot_token=token,
        telegram_chat_id=chat_id,
        webhook_url=webhook_url,
        webhook_token=webhook_token,
    )


def _target(values: Mapping[str, str]) -> str:
    target = values.get("target", "docker")
    if target not in TARGETS:
        raise StackConfigError(
            "target", "docker (one Docker engine) or kubernetes (the cluster of the kubeconfig)"
        )
    other_keys = KUBERNETES_KEYS if target == "docker" else DOCKER_KEYS
    for key in other_keys:
        if key in values:
            other = "kubernetes" if target == "docker" else "docker"
            raise StackConfigError(
                key, f"a setting of learnbot:target {other} only (this stack's target is {target})"
            )
    return target


_SUBDOMAIN_RULE = "a Kubernetes object name: lower-case letters, digits, - and ., up to 253"


def _host(key: str, raw: str) -> str:
    if "." not in raw or not _DNS_SUBDOMAIN.fullmatch(raw):
        raise StackConfigError(
            key,
            "the API's public DNS name, lower-case, such as api.example.com (no scheme, no port)",
        )
    return raw


def _image_repository(key: str, raw: str) -> str:
    match = _IMAGE.fullmatch(raw)
    if match is None or match["tag"] or match["digest"]:
        raise StackConfigError(
            key,
            "the registry repository the service image is pushed to, without a tag, such as "
            "ghcr.io/example/learnbot (the tag is learnbot:apiImageTag)",
        )
    return raw


def _kubernetes(
    values: Mapping[str, str], name_prefix: str, replicas: int, image_tag: str
) -> KubernetesConfig:
    host = _optional(values, "host", _host)
    if host is None:
        raise StackConfigError(
            "host", "required on Kubernetes: the API's public DNS name, such as api.example.com"
        )
    repository = _optional(values, "apiImageRepository", _image_repository)
    if repository is None:
        raise StackConfigError(
            "apiImageRepository",
            "required on Kubernetes: the registry repository the cluster pulls the service "
            "image from, such as ghcr.io/example/learnbot",
        )
    namespace = values.get("namespace", name_prefix)
    if not _DNS_LABEL.fullmatch(namespace):
        raise StackConfigError(
            "namespace",
            "a Kubernetes namespace name: 1 to 63 lower-case letters, digits and -, starting and "
            "ending with a letter or digit (default: learnbot:namePrefix)",
        )
    max_replicas = _int(values, "apiMaxReplicas", max(10, replicas), 1, 64)
    if max_replicas < replicas:
        raise StackConfigError(
            "apiMaxReplicas",
            f"at least learnbot:apiReplicas ({replicas}), the autoscaler's lower bound",
        )
    subdomain = _matching_pattern(_DNS_SUBDOMAIN, _SUBDOMAIN_RULE)
    install_prometheus_operator = _flag(values, "installPrometheusOperator", True)
    if not install_prometheus_operator:
        for key in OWN_MONITORING_KEYS:
            if key in values:
                raise StackConfigError(
                    key,
                    "unset it: with learnbot:installPrometheusOperator false the stack installs "
                    "no monitoring chart, Alertmanager or Grafana of its own; the cluster's route "
                    "the alerts and show the dashboards",
                )
    return KubernetesConfig(
        namespace=namespace,
        host=host,
        api_image=f"{repository}:{_image_tag(values, image_tag)}",
        api_max_replicas=max_replicas,
        api_cpu_millicores=_int(values, "apiCpuMillicores", 500, 100, 16000),
        db_instances=_int(values, "dbInstances", 3, 1, 9),
        db_storage_gb=_int(values, "dbStorageGb", 10, 1, 65536),
        backup_storage_gb=_int(values, "backupStorageGb", 20, 1, 65536),
        ingress_class_name=_optional(values, "ingressClassName", subdomain),
        tls_secret_name=_optional(values, "tlsSecretName", subdomain),
        storage_class_name=_optional(values, "storageClassName", subdomain),
        kubeconfig=_secret(values, "kubeconfig", _non_empty),
        await_ingress=_flag(values, "awaitIngress", True),
        monitoring_timeout_seconds=_int(values, "monitoringTimeoutSeconds", 900, 60, 7200),
        monitoring_atomic=_flag(values, "monitoringAtomic", True),
        install_cloudnativepg=_flag(values, "installCloudNativePG", True),
        install_prometheus_operator=install_prometheus_operator,
        monitoring_labels=_labels(values, "monitoringLabels"),
    )


_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KUBERNETES_LABEL = re.compile(
    rf"(?P<key>([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_LABEL_NAME})"
    rf"=(?P<value>({_LABEL_NAME})?)"
)
# The stack's own labels, which its selectors rely on.
_OWN_LABEL_PREFIX = "app.kubernetes.io/"


def _labels(values: Mapping[str, str], key: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in (p.strip() for p in values.get(key, "").split(",")):
        if not pair:
            continue
        match = _KUBERNETES_LABEL.fullmatch(pair)
        if match is None or match["key"].startswith(_OWN_LABEL_PREFIX):
            raise StackConfigError(
                key,
                "comma-separated Kubernetes labels name=value, such as "
                "release=kube-prometheus-stack (not app.kubernetes.io/..., which the stack sets)",
            )
        labels[match["key"]] = match["value"]
    return labels


def _flag(values: Mapping[str, str], key: str, default: bool) -> bool:
    raw = values.get(key, str(default)).lower()
    if raw not in ("true", "false"):
        raise StackConfigError(key, f"true or false (default {str(default).lower()})")
    return raw == "true"

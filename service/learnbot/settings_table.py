"""Every environment variable of learnbot's processes, each declared once with its parser,
default, secrecy, the processes that read it and the `learnbot:` key the stack sets it from.

learnbot.settings and learnbot.backup.settings read these; the Pulumi program's stack_config
reads the keys, adding the settings of the stack alone. The README documents each variable.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from croniter import croniter  # type: ignore[import-untyped]

from learnbot.setting import (
    Invalid,
    Setting,
    choice,
    declared,
    flag,
    host,
    matching,
    names,
    origins,
    rate,
    telegram_ids,
    text,
    whole,
)
from learnbot.storage import database_dialect

API = frozenset({"api"})
BACKUP = frozenset({"backup"})
BOTH = API | BACKUP
DOCTOR = frozenset({"doctor"})

DEFAULT_DATABASE_URL = "sqlite:///var/learnbot.db"
APP_ENVS = ("development", "production")
LOG_FORMATS = ("json", "console")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_SCHEDULE = "0 3 * * *"
DEFAULT_DRILL_SCHEDULE = "0 4 * * 0"
DEFAULT_FULL_SCHEDULE = "30 1 * * 0"
DEFAULT_DIFF_SCHEDULE = "30 1 * * 1-6"
DEFAULT_KEEP_FULL = 2
DEFAULT_BACKUP_METRICS_PORT = 9102
# S3 bucket naming rules, lower case only; dots allowed for older buckets.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
LABEL_RULE = "1 to 64 letters, digits and . _ : / + -"
_LABEL = r"[A-Za-z0-9._:/+-]{1,64}"
BOT_TOKEN_RULE = "a bot token as BotFather gives it: <bot id>:<secret>"  # noqa: S105
_BOT_TOKEN = r"[0-9]{1,20}:[A-Za-z0-9_-]{1,128}"  # noqa: S105 - a pattern
_SENTRY_DSN = (
    r"https?://[A-Za-z0-9]+(:[A-Za-z0-9]+)?@[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._-]+)*/[0-9]+"
)
METRICS_WRITER_PATTERN = r"[a-z0-9][a-z0-9-]{0,62}"


def database_url(raw: str) -> str:
    try:
        database_dialect(raw)
    except ValueError as error:
        # The dialect's message never repeats the URL, which may hold a password.
        raise Invalid(str(error)) from None
    return raw


redis_url = matching(r"rediss?://\S+", "a Redis URL: redis://host:6379/0 or rediss://...")


def is_cron_expression(expression: str) -> bool:
    """Five cron fields or an @ macro, as croniter reads them (it would also take seconds)."""
    fields_ok = expression.startswith("@") or len(expression.split()) == 5
    return fields_ok and bool(croniter.is_valid(expression))


def cron(example: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        expression = " ".join(raw.split())
        if not is_cron_expression(expression):
            raise Invalid(f"a cron expression such as '{example}'")
        return expression

    return parse


def s3_url(raw: str) -> str:
    """`s3://bucket` or `s3://bucket/prefix`."""
    parts = urlsplit(raw)
    prefix = parts.path.strip("/")
    if (
        parts.scheme != "s3"
        or not _BUCKET.fullmatch(parts.netloc)
        or parts.query
        or parts.fragment
        or "//" in prefix
    ):
        raise Invalid("s3://bucket or s3://bucket/prefix")
    return raw


def is_endpoint_url(raw: str) -> bool:
    """An S3-compatible store's address: http(s), a host, no credentials in it."""
    parts = urlsplit(raw)
    try:
        return (
            parts.scheme in ("http", "https")
            and bool(parts.hostname)
            and parts.username is None
            and (parts.port is None or parts.port > 0)
        )
    except ValueError:
        return False


def endpoint_url(raw: str) -> str:
    if not is_endpoint_url(raw):
        raise Invalid("an http(s) URL such as https://s3.eu-central-1.example.com")
    return raw


def service_url(raw: str) -> str:
    if not is_endpoint_url(raw):
        raise Invalid("an http(s) URL without credentials, such as http://127.0.0.1:8000")
    return raw


region = matching(r"[a-z0-9-]{1,32}", "an S3 region name such as eu-central-1")


def miniapp_url(raw: str) -> str:
    """The https URL Telegram opens: Telegram requires https and appends the launch data as the
    fragment, so the URL has none of its own; no credentials."""
    if not _is_miniapp_url(raw):
        raise Invalid(
            "an https URL without credentials or fragment, such as https://learnbot.example.com/app/"
        )
    return raw


def _is_miniapp_url(raw: str) -> bool:
    if not raw.isascii() or "#" in raw or any(character.isspace() for character in raw):
        return False
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and bool(parts.hostname)
        and port != 0
        and parts.username is None
        and parts.password is None
    )


def webhook_url(raw: str) -> str:
    """The public https URL Telegram posts updates to (Telegram requires https)."""
    if not _is_miniapp_url(raw):
        raise Invalid(
            "an https URL without credentials or fragment, such as "
            "https://learnbot.example.com/telegram/webhook"
        )
    return raw


def otlp_url(raw: str) -> str:
    if not is_endpoint_url(raw):
        raise Invalid(
            "an http(s) URL of an OTLP/HTTP collector, such as http://otel-collector:4318"
        )
    return raw


def ratio(raw: str) -> str:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise Invalid("a number from 0 to 1, the share of traces sampled")
    return raw


def _cron_in_stack(example: str) -> str:
    return f"a cron expression of five fields (minute hour day month weekday), such as '{example}'"


# The service (learnbot serve).
DATABASE_URL = Setting(
    "DATABASE_URL", database_url, DEFAULT_DATABASE_URL, secret=True, processes=BOTH | DOCTOR
)
TELEGRAM_BOT_TOKEN = Setting(
    "TELEGRAM_BOT_TOKEN",
    matching(_BOT_TOKEN, BOT_TOKEN_RULE),
    key="telegramBotToken",
    secret=True,
    processes=API,
)
TELEGRAM_BOT_ID = Setting(
    "TELEGRAM_BOT_ID", whole(1, 2**53 - 1), key="telegramBotId", processes=API
)
TELEGRAM_TEST_ENV = Setting("TELEGRAM_TEST_ENV", flag, False, processes=API)
ADMIN_TELEGRAM_IDS: Setting[frozenset[int]] = Setting(
    "ADMIN_TELEGRAM_IDS", telegram_ids, frozenset(), key="adminTelegramIds", processes=API
)
AUTH_MAX_AGE_SECONDS = Setting("AUTH_MAX_AGE_SECONDS", whole(1, 30 * 86400), 86400, processes=API)
HOST = Setting("HOST", host, "127.0.0.1", processes=API)
PORT = Setting("PORT", whole(1, 65535), 8000, processes=API)
WORKERS = Setting("WORKERS", whole(1, 64), 1, key="apiWorkers", stack_default=2, processes=API)
CORS_ORIGINS: Setting[tuple[str, ...]] = Setting(
    "CORS_ORIGINS", origins, (), key="corsOrigins", processes=API
)
LOG_LEVEL = Setting(
    "LOG_LEVEL", choice(LOG_LEVELS, fold_case=True), "INFO", key="logLevel", processes=BOTH
)
APP_ENV = Setting("APP_ENV", choice(APP_ENVS), "development", processes=BOTH)
DATABASE_POOL_SIZE = Setting(
    "DATABASE_POOL_SIZE", whole(1, 200), 10, key="databasePoolSize", processes=API
)
DATABASE_TIMEOUT_SECONDS = Setting("DATABASE_TIMEOUT_SECONDS", whole(1, 60), 3, processes=API)
# A returning user's unchanged sign-in writes only when last_seen_at is at least this old.
LAST_SEEN_INTERVAL_SECONDS = Setting(
    "LAST_SEEN_INTERVAL_SECONDS", whole(0, 86400), 300, processes=API
)
MIGRATIONS_WAIT_SECONDS = Setting("MIGRATIONS_WAIT_SECONDS", whole(0, 86400), 0, processes=API)
REQUEST_TIMEOUT_SECONDS = Setting("REQUEST_TIMEOUT_SECONDS", whole(1, 600), 60, processes=API)
RESPONSE_TIMEOUT_SECONDS = Setting("RESPONSE_TIMEOUT_SECONDS", whole(1, 600), 60, processes=API)
SHUTDOWN_GRACE_SECONDS = Setting("SHUTDOWN_GRACE_SECONDS", whole(2, 300), 8, processes=API)
LOG_FORMAT = Setting("LOG_FORMAT", choice(LOG_FORMATS), "json", processes=BOTH)
SENTRY_DSN = Setting(
    "SENTRY_DSN",
    matching(_SENTRY_DSN, "a DSN as Sentry shows it: https://<key>@<host>/<project id>"),
    key="sentryDsn",
    secret=True,
    processes=API,
)
# Unset, the process takes APP_ENV's value; the stack's containers run in production.
SENTRY_ENVIRONMENT = Setting(
    "SENTRY_ENVIRONMENT",
    matching(_LABEL, LABEL_RULE),
    key="sentryEnvironment",
    stack_default="production",
    processes=API,
)
APP_REVISION = Setting("APP_REVISION", matching(_LABEL, LABEL_RULE), "unknown", processes=API)
RATE_LIMIT_ENABLED = Setting("RATE_LIMIT_ENABLED", flag, True, processes=API)
RATE_LIMIT_ADDRESS = Setting("RATE_LIMIT_ADDRESS", rate, "300/minute", processes=API)
RATE_LIMIT_TELEGRAM_ID = Setting("RATE_LIMIT_TELEGRAM_ID", rate, "120/minute", processes=API)
RATE_LIMIT_STORAGE_URL = Setting("RATE_LIMIT_STORAGE_URL", redis_url, secret=True, processes=API)
PROXIES_COUNT = Setting("PROXIES_COUNT", whole(0, 5), 0, processes=API)
# Checked against the shipped locales, and each other, by learnbot.setting.locales.
SUPPORTED_LOCALES = Setting("SUPPORTED_LOCALES", names, key="supportedLocales", processes=API)
DEFAULT_LOCALE = Setting("DEFAULT_LOCALE", text, "en", key="defaultLocale", processes=API)
# The starter Mini App at /app/, and the URL Telegram opens (registered with BotFather).
MINIAPP_ENABLED = Setting("MINIAPP_ENABLED", flag, True, processes=API)
MINIAPP_URL = Setting("MINIAPP_URL", miniapp_url, key="miniAppUrl", processes=API)
# The bot: the secret Telegram sends with every webhook call, the public URL of the webhook
# (`learnbot bot setup` registers it) and the Bot API's address (a stand-in in the tests).
TELEGRAM_WEBHOOK_SECRET = Setting(
    "TELEGRAM_WEBHOOK_SECRET",
    matching(r"[A-Za-z0-9_-]{1,256}", "1 to 256 of A-Z a-z 0-9 _ - (Telegram's secret_token)"),
    key="telegramWebhookSecret",
    secret=True,
    processes=API,
)
TELEGRAM_WEBHOOK_URL = Setting(
    "TELEGRAM_WEBHOOK_URL", webhook_url, key="telegramWebhookUrl", processes=API
)
TELEGRAM_API_URL = Setting(
    "TELEGRAM_API_URL", endpoint_url, "https://api.telegram.org", processes=API
)
# Tracing (OpenTelemetry's own variables): on when an OTLP endpoint is set or
# OTEL_TRACES_EXPORTER=otlp, unless OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.
OTEL_SDK_DISABLED = Setting("OTEL_SDK_DISABLED", flag, False, processes=API)
OTEL_TRACES_EXPORTER = Setting("OTEL_TRACES_EXPORTER", choice(("otlp", "none")), processes=API)
OTEL_EXPORTER_OTLP_ENDPOINT = Setting(
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    otlp_url,
    key="otelExporterEndpoint",
    processes=API,
)
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = Setting(
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", otlp_url, processes=API
)
# The exporter speaks OTLP over HTTP with protobuf only; gRPC is refused rather than misread.
OTEL_EXPORTER_OTLP_PROTOCOL = Setting(
    "OTEL_EXPORTER_OTLP_PROTOCOL", choice(("http/protobuf",)), "http/protobuf", processes=API
)
OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = Setting(
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", choice(("http/protobuf",)), processes=API
)
OTEL_SERVICE_NAME = Setting(
    "OTEL_SERVICE_NAME", matching(_LABEL, LABEL_RULE), "learnbot", processes=API
)
# Read by the OpenTelemetry SDK; checked here so that a typo stops start-up.
OTEL_TRACES_SAMPLER = Setting(
    "OTEL_TRACES_SAMPLER",
    choice(
        (
            "always_on",
            "always_off",
            "traceidratio",
            "parentbased_always_on",
            "parentbased_always_off",
            "parentbased_traceidratio",
        )
    ),
    processes=API,
)
OTEL_TRACES_SAMPLER_ARG = Setting("OTEL_TRACES_SAMPLER_ARG", ratio, processes=API)
# Read by the metrics client library, not checked.
PROMETHEUS_MULTIPROC_DIR = Setting("PROMETHEUS_MULTIPROC_DIR", text, processes=BOTH)

# The backup job (learnbot backup).
BACKUP_DIR = Setting("BACKUP_DIR", Path, Path("var/backups"), processes=BACKUP)
BACKUP_SCHEDULE = Setting(
    "BACKUP_SCHEDULE",
    cron(DEFAULT_SCHEDULE),
    DEFAULT_SCHEDULE,
    key="backupSchedule",
    processes=BACKUP,
    stack_allowed=_cron_in_stack(DEFAULT_SCHEDULE),
)
BACKUP_DRILL_SCHEDULE = Setting(
    "BACKUP_DRILL_SCHEDULE",
    cron(DEFAULT_DRILL_SCHEDULE),
    DEFAULT_DRILL_SCHEDULE,
    key="backupDrillSchedule",
    processes=BACKUP,
    stack_allowed=_cron_in_stack(DEFAULT_DRILL_SCHEDULE),
)
# At least one daily backup, or pruning could remove the one just taken.
BACKUP_KEEP_DAILY = Setting(
    "BACKUP_KEEP_DAILY", whole(1, 3660), 7, key="backupKeepDaily", processes=BACKUP
)
BACKUP_KEEP_WEEKLY = Setting(
    "BACKUP_KEEP_WEEKLY", whole(0, 520), 4, key="backupKeepWeekly", processes=BACKUP
)
BACKUP_KEEP_MONTHLY = Setting(
    "BACKUP_KEEP_MONTHLY", whole(0, 1200), 6, key="backupKeepMonthly", processes=BACKUP
)
# Unset: all interfaces with APP_ENV=production (a container), else loopback.
BACKUP_METRICS_HOST = Setting("BACKUP_METRICS_HOST", host, processes=BACKUP)
BACKUP_METRICS_PORT = Setting(
    "BACKUP_METRICS_PORT", whole(1, 65535), DEFAULT_BACKUP_METRICS_PORT, processes=BACKUP
)
# Names the metric files a process writes in PROMETHEUS_MULTIPROC_DIR instead of its pid, for
# processes in separate containers, where pids repeat (each is 1), sharing that folder.
BACKUP_METRICS_WRITER = Setting(
    "BACKUP_METRICS_WRITER",
    matching(
        METRICS_WRITER_PATTERN,
        "1 to 63 lower-case letters, digits and -, one name per process writing at a time "
        "(unset: the process id)",
    ),
    processes=BACKUP,
)
BACKUP_S3_URL = Setting("BACKUP_S3_URL", s3_url, key="backupS3Url", processes=BACKUP)
BACKUP_S3_ENDPOINT_URL = Setting(
    "BACKUP_S3_ENDPOINT_URL",
    endpoint_url,
    key="backupS3EndpointUrl",
    processes=BACKUP,
    stack_allowed="an http(s) URL without credentials, such as https://s3.eu-central-1.example.com",
)
# Read by boto3, the S3 client the backup job uploads with.
AWS_DEFAULT_REGION = Setting("AWS_DEFAULT_REGION", region, key="backupS3Region", processes=BACKUP)
AWS_ACCESS_KEY_ID = Setting(
    "AWS_ACCESS_KEY_ID", text, key="backupS3AccessKeyId", secret=True, processes=BACKUP
)
AWS_SECRET_ACCESS_KEY = Setting(
    "AWS_SECRET_ACCESS_KEY", text, key="backupS3SecretAccessKey", secret=True, processes=BACKUP
)
# `learnbot doctor`: where it finds the API and Prometheus (its flags take precedence).
DOCTOR_API_URL = Setting("DOCTOR_API_URL", service_url, "http://127.0.0.1:8000", processes=DOCTOR)
DOCTOR_PROMETHEUS_URL = Setting("DOCTOR_PROMETHEUS_URL", service_url, processes=DOCTOR)

# Physical backups with WAL archiving (pgBackRest), for point-in-time recovery.
PHYSICAL_BACKUP_REPOSITORY = Setting("PHYSICAL_BACKUP_REPOSITORY", Path, processes=BACKUP)
PHYSICAL_BACKUP_STANZA = Setting(
    "PHYSICAL_BACKUP_STANZA",
    matching(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}", "1 to 63 letters, digits, _ and -"),
    "learnbot",
    processes=BACKUP,
)
PHYSICAL_BACKUP_CONFIG = Setting(
    "PHYSICAL_BACKUP_CONFIG", Path, Path("var/pgbackrest/pgbackrest.conf"), processes=BACKUP
)
PHYSICAL_BACKUP_CIPHER_PASSPHRASE = Setting(
    "PHYSICAL_BACKUP_CIPHER_PASSPHRASE",
    matching(r"[!-~]{20,1024}", "20 to 1024 printable ASCII characters without spaces"),
    key="backupCipherPassphrase",
    secret=True,
    processes=BACKUP,
    targets=frozenset({"docker"}),
)
# The passphrase read from a file (a volume of its own on Docker), instead of the variable.
PHYSICAL_BACKUP_CIPHER_PASSPHRASE_FILE = Setting(
    "PHYSICAL_BACKUP_CIPHER_PASSPHRASE_FILE", Path, processes=BACKUP
)
# The Docker stack's backup job runs pgBackRest (on Kubernetes, CloudNativePG backs up).
PHYSICAL_BACKUP_KEEP_FULL = Setting(
    "PHYSICAL_BACKUP_KEEP_FULL",
    whole(1, 100),
    DEFAULT_KEEP_FULL,
    key="physicalBackupKeepFull",
    processes=BACKUP,
    targets=frozenset({"docker"}),
)
PHYSICAL_BACKUP_FULL_SCHEDULE = Setting(
    "PHYSICAL_BACKUP_FULL_SCHEDULE",
    cron(DEFAULT_FULL_SCHEDULE),
    DEFAULT_FULL_SCHEDULE,
    key="physicalBackupFullSchedule",
    processes=BACKUP,
    targets=frozenset({"docker"}),
    stack_allowed=_cron_in_stack(DEFAULT_FULL_SCHEDULE),
)
PHYSICAL_BACKUP_DIFF_SCHEDULE = Setting(
    "PHYSICAL_BACKUP_DIFF_SCHEDULE",
    cron(DEFAULT_DIFF_SCHEDULE),
    DEFAULT_DIFF_SCHEDULE,
    key="physicalBackupDiffSchedule",
    processes=BACKUP,
    targets=frozenset({"docker"}),
    stack_allowed=_cron_in_stack(DEFAULT_DIFF_SCHEDULE),
)
# Where the backed-up server's files and socket are: pgBackRest reads the data directory itself.
PHYSICAL_BACKUP_PG_DATA = Setting(
    "PHYSICAL_BACKUP_PG_DATA", Path, Path("/var/lib/postgresql/data"), processes=BACKUP
)
PHYSICAL_BACKUP_PG_SOCKET_DIR = Setting(
    "PHYSICAL_BACKUP_PG_SOCKET_DIR", Path, Path("/var/run/postgresql"), processes=BACKUP
)
PHYSICAL_BACKUP_PG_PORT = Setting(
    "PHYSICAL_BACKUP_PG_PORT", whole(1, 65535), 5432, processes=BACKUP
)
PHYSICAL_BACKUP_PG_USER = Setting(
    "PHYSICAL_BACKUP_PG_USER",
    matching(r"[A-Za-z_][A-Za-z0-9_]{0,62}", "a PostgreSQL role name: letters, digits and _"),
    "postgres",
    processes=BACKUP,
)

SETTINGS = declared(globals())

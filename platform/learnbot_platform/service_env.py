"""The environment variables the stack gives the service's containers (see the README's
Configuration table and service/learnbot/backup/settings.py); secrets are kept apart so the
stack can hand them to Pulumi as secrets."""

from __future__ import annotations

from urllib.parse import quote

from learnbot_platform.stack_config import Secret, StackConfig

API_PORT = 8000
BACKUP_METRICS_PORT = 9102
BACKUP_DIR = "/var/lib/learnbot/backups"
DATABASE_USER = "learnbot"
DATABASE_NAME = "learnbot"
POSTGRES_PORT = 5432
# The official PostgreSQL image's data folder, and its Unix socket's, where local connections
# are trusted.
POSTGRES_DATA_DIR = "/var/lib/postgresql/data"
POSTGRES_SOCKET_DIR = "/var/run/postgresql"
# Docker: the pgBackRest repository's volume, and the generated passphrase's, where both the
# database image and the service image mount them.
PGBACKREST_REPOSITORY = "/var/lib/pgbackrest"
PGBACKREST_KEY_FILE = "/var/lib/learnbot/pgbackrest-key/passphrase"
PGBACKREST_STANZA = "learnbot"
# pgBackRest's configuration, at the same path in the database's containers (uploaded, without
# the passphrase) and the backup job's (written by the job): the restore_command a restore
# writes names it, so a server started on restored data in the database's image finds it.
PGBACKREST_CONFIG = "/etc/pgbackrest/learnbot.conf"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - inside a container, reachable on the stack's network only
REDIS_PORT = 6379
# The rate-limit counters' Redis: nothing goes to disk, and the least used go first when full.
RATE_LIMIT_STORE_COMMAND = (
    "redis-server",
    "--save",
    "",
    "--appendonly",
    "no",
    "--maxmemory",
    "48mb",
    "--maxmemory-policy",
    "allkeys-lru",
)


def rate_limit_storage_url(host: str) -> str:
    return f"redis://{host}:{REDIS_PORT}/0"


def database_url(host: str, password: str) -> str:
    return (
        f"postgresql://{DATABASE_USER}:{quote(password, safe='')}@{host}:{POSTGRES_PORT}/"
        f"{DATABASE_NAME}"
    )


def api_environment(config: StackConfig) -> dict[str, str]:
    env = {
        "APP_ENV": "production",
        "HOST": ALL_INTERFACES,
        "PORT": str(API_PORT),
        "WORKERS": str(config.api_workers),
        "LOG_LEVEL": config.log_level,
        "LOG_FORMAT": "json",
        "ADMIN_TELEGRAM_IDS": ",".join(str(i) for i in config.admin_telegram_ids),
        "SUPPORTED_LOCALES": ",".join(config.supported_locales),
        "DEFAULT_LOCALE": config.default_locale,
        "CORS_ORIGINS": ",".join(config.cors_origins),
        "DATABASE_POOL_SIZE": str(config.database_pool_size),
        # The stack's nginx adds X-Forwarded-For, and so may proxies in front of it.
        "PROXIES_COUNT": str(1 + config.proxies_in_front),
        "SENTRY_ENVIRONMENT": config.sentry_environment,
        "APP_REVISION": config.api_image_tag,
        "MINIAPP_URL": config.miniapp_url or "",
        "TELEGRAM_WEBHOOK_URL": config.telegram_webhook_url or "",
        "OTEL_EXPORTER_OTLP_ENDPOINT": config.otel_exporter_endpoint or "",
    }
    if config.telegram_bot_id is not None:
        env["TELEGRAM_BOT_ID"] = str(config.telegram_bot_id)
    env.update(config.oauth.plain)
    return {name: value for name, value in env.items() if value}


def api_secret_environment(config: StackConfig) -> dict[str, Secret]:
    secrets = {
        "TELEGRAM_BOT_TOKEN": config.telegram_bot_token,
        "SENTRY_DSN": config.sentry_dsn,
        "TELEGRAM_WEBHOOK_SECRET": config.telegram_webhook_secret,
        **{name: Secret(value) for name, value in config.oauth.secret.items()},
    }
    return {name: value for name, value in secrets.items() if value is not None}


def backup_environment(config: StackConfig) -> dict[str, str]:
    backup = config.backup
    env = {
        "APP_ENV": "production",
        "LOG_LEVEL": config.log_level,
        "LOG_FORMAT": "json",
        "BACKUP_DIR": BACKUP_DIR,
        "BACKUP_SCHEDULE": backup.schedule,
        "BACKUP_DRILL_SCHEDULE": backup.drill_schedule,
        "BACKUP_KEEP_DAILY": str(backup.keep_daily),
        "BACKUP_KEEP_WEEKLY": str(backup.keep_weekly),
        "BACKUP_KEEP_MONTHLY": str(backup.keep_monthly),
        "BACKUP_METRICS_HOST": ALL_INTERFACES,
        "BACKUP_METRICS_PORT": str(BACKUP_METRICS_PORT),
        "BACKUP_S3_URL": backup.s3_url or "",
        "BACKUP_S3_ENDPOINT_URL": backup.s3_endpoint_url or "",
        "AWS_DEFAULT_REGION": backup.s3_region or "",
    }
    return {name: value for name, value in env.items() if value}


def physical_backup_environment(config: StackConfig) -> dict[str, str]:
    """Docker: pgBackRest's repository on its volume, the server's data and socket mounted."""
    env = {
        "PHYSICAL_BACKUP_REPOSITORY": PGBACKREST_REPOSITORY,
        "PHYSICAL_BACKUP_STANZA": PGBACKREST_STANZA,
        "PHYSICAL_BACKUP_CONFIG": PGBACKREST_CONFIG,
        "PHYSICAL_BACKUP_PG_DATA": POSTGRES_DATA_DIR,
        "PHYSICAL_BACKUP_PG_SOCKET_DIR": POSTGRES_SOCKET_DIR,
        "PHYSICAL_BACKUP_PG_PORT": str(POSTGRES_PORT),
        # The image's only superuser; the socket trusts it.
        "PHYSICAL_BACKUP_PG_USER": DATABASE_USER,
        "PHYSICAL_BACKUP_FULL_SCHEDULE": config.backup.physical_full_schedule,
        "PHYSICAL_BACKUP_DIFF_SCHEDULE": config.backup.physical_diff_schedule,
        "PHYSICAL_BACKUP_KEEP_FULL": str(config.backup.physical_keep_full),
    }
    if config.backup.cipher_passphrase is None:
        env["PHYSICAL_BACKUP_CIPHER_PASSPHRASE_FILE"] = PGBACKREST_KEY_FILE
    return env


def backup_secret_environment(config: StackConfig) -> dict[str, Secret]:
    secrets = {
        "AWS_ACCESS_KEY_ID": config.backup.s3_access_key_id,
        "AWS_SECRET_ACCESS_KEY": config.backup.s3_secret_access_key,
        "PHYSICAL_BACKUP_CIPHER_PASSPHRASE": config.backup.cipher_passphrase,
    }
    return {name: value for name, value in secrets.items() if value is not None}

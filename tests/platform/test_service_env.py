"""learnbot_platform.service_env: the environment the stack gives the service's containers is one
the service itself accepts, for every setting the stack takes."""

from __future__ import annotations

import re
from pathlib import Path

from learnbot import settings_table as table
from learnbot.backup.settings import BackupSettings
from learnbot.oauth import settings as oauth_settings
from learnbot.settings import ConfigError, Settings
from learnbot_platform.repository import shipped_locales
from learnbot_platform.service_env import (
    BACKUP_DIR,
    api_environment,
    api_secret_environment,
    backup_environment,
    backup_secret_environment,
    database_url,
    physical_backup_environment,
)
from learnbot_platform.stack_config import StackConfig, StackConfigError, load_stack_config

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456789:AAsecret-token-value_0123456789"


def config(**settings: str) -> StackConfig:
    return load_stack_config(
        {"telegramBotToken": TOKEN, **settings},
        shipped_locales=shipped_locales(),
        default_api_image_tag="0.1.0",
    )


def api_env(stack: StackConfig) -> dict[str, str]:
    secrets = {name: value.value for name, value in api_secret_environment(stack).items()}
    return {
        **api_environment(stack),
        **secrets,
        "DATABASE_URL": database_url("learnbot-postgres", "p@ss/word:%"),
        # Added by the Api component, which runs the Redis.
        "RATE_LIMIT_STORAGE_URL": "redis://learnbot-redis:6379/0",
    }


def test_the_service_accepts_the_api_environment() -> None:
    stack = config(
        adminTelegramIds="222,111",
        supportedLocales="en,ru,pt_BR",
        defaultLocale="ru",
        corsOrigins="https://app.example.com",
        logLevel="debug",
        sentryDsn="https://abc123@o1.ingest.sentry.io/42",
        sentryEnvironment="staging",
        apiWorkers="3",
        databasePoolSize="7",
        apiImageTag="2025.01.3",
        proxiesInFront="1",
        otelExporterEndpoint="http://otel-collector:4318",
    )
    settings = Settings.from_env(api_env(stack))
    assert settings.app_env == "production"
    assert (settings.host, settings.port, settings.workers) == ("0.0.0.0", 8000, 3)
    assert settings.telegram_bot_token == TOKEN
    assert settings.admin_telegram_ids == frozenset({111, 222})
    assert settings.supported_locales == ("en", "ru", "pt_BR")
    assert settings.default_locale == "ru"
    assert settings.cors_origins == ("https://app.example.com",)
    assert settings.log_level == "DEBUG"
    assert settings.sentry_dsn == "https://abc123@o1.ingest.sentry.io/42"
    assert settings.sentry_environment == "staging"
    assert settings.database_pool_size == 7
    assert settings.revision == "2025.01.3"
    assert settings.proxies_count == 2
    assert settings.rate_limit_storage_url == "redis://learnbot-redis:6379/0"
    assert settings.database_url.startswith("postgresql://learnbot:p%40ss%2Fword%3A%25@")
    assert settings.traces_endpoint == "http://otel-collector:4318/v1/traces"


def test_the_service_accepts_the_defaults_and_a_bot_id_without_token() -> None:
    stack = load_stack_config(
        {"telegramBotId": "123456789"},
        shipped_locales=shipped_locales(),
        default_api_image_tag="0.1.0",
    )
    settings = Settings.from_env(api_env(stack))
    assert settings.telegram_bot_token is None
    assert settings.telegram_bot_id == 123456789
    assert settings.admin_telegram_ids == frozenset()
    assert settings.proxies_count == 1


def test_the_backup_job_accepts_its_environment() -> None:
    stack = config(
        backupSchedule="15 1 * * *",
        backupDrillSchedule="@weekly",
        backupKeepDaily="10",
        backupKeepWeekly="0",
        backupKeepMonthly="12",
        backupS3Url="s3://learnbot-backups/prod",
        backupS3EndpointUrl="https://s3.eu-central-1.example.com",
        backupS3Region="eu-central-1",
        backupS3AccessKeyId="AKIA",
        backupS3SecretAccessKey="secret",
    )
    secrets = {name: v.value for name, v in backup_secret_environment(stack).items()}
    env = {
        **backup_environment(stack),
        **secrets,
        "DATABASE_URL": database_url("learnbot-postgres", "pw"),
    }
    settings = BackupSettings.from_env(env)
    assert settings.backup_dir == Path(BACKUP_DIR)
    assert (settings.schedule, settings.drill_schedule) == ("15 1 * * *", "@weekly")
    retention = settings.retention
    assert (retention.daily, retention.weekly, retention.monthly) == (10, 0, 12)
    assert (settings.metrics_host, settings.metrics_port) == ("0.0.0.0", 9102)
    assert settings.s3 is not None
    assert (settings.s3.bucket, settings.s3.prefix) == ("learnbot-backups", "prod")
    assert settings.s3_endpoint_url == "https://s3.eu-central-1.example.com"
    assert secrets == {"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "secret"}


def documented_variables() -> set[str]:
    """The variables named in the first column of the README's tables."""
    readme = (ROOT / "README.md").read_text()
    first_cells = re.findall(r"^\| (`[A-Z][^|]*`) \|", readme, flags=re.MULTILINE)
    return {name for cell in first_cells for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)}


def test_every_variable_is_one_the_service_documents() -> None:
    documented = documented_variables()
    declared = {row.variable for row in table.SETTINGS}
    stack = config(
        sentryDsn="https://abc123@o1.ingest.sentry.io/42",
        telegramBotId="1",
        backupS3Url="s3://bucket-1",
        backupS3AccessKeyId="AKIA",
        backupS3SecretAccessKey="secret",
    )
    passed = [
        *api_environment(stack),
        *api_secret_environment(stack),
        *backup_environment(stack),
        *backup_secret_environment(stack),
    ]
    assert set(passed) <= declared
    # The AWS_* variables are boto3's own, documented as such.
    assert {name for name in declared if name and not name.startswith("AWS_")} <= documented


def test_every_variable_the_readme_documents_is_declared() -> None:
    # Account linking's variables, some named by provider id, are read by learnbot.oauth.settings.
    declared = {row.variable for row in table.SETTINGS} | set(oauth_settings.VARIABLES)
    assert documented_variables() <= declared


# Values to probe each setting the stack hands to a container with: ordinary ones and the edges
# where two sets of rules could disagree (userinfo in a URL, a zero port, case, spaces, Unicode).
CANDIDATES: dict[str, tuple[str, ...]] = {
    "adminTelegramIds": (
        "1",
        "111,222",
        " 1 , 2 ",
        "1,,2",
        "0",
        "-1",
        "9007199254740991",
        "\uff11",
    ),
    "supportedLocales": ("en", "en,ru", "pt_BR,en", "EN", "en, ru", "xx"),
    "defaultLocale": ("en", "ru", "pt_BR", "pt-BR", "EN"),
    "corsOrigins": (
        "*",
        "https://app.example.com",
        "https://a.example.com,https://b.example.com",
        "http://localhost:5173",
        "https://app.example.com/",
        "https://user@app.example.com",
        "https://app.example.com:0",
    ),
    "logLevel": ("debug", "INFO", "warning", "trace"),
    "sentryDsn": (
        "https://abc123@o1.ingest.sentry.io/42",
        "https://o1.ingest.sentry.io/42",
        "http://key@sentry.local:9000/1",
    ),
    "telegramWebhookSecret": ("s3cret", "a" * 256, "a" * 257, "a b", "\u00e9"),
    "telegramWebhookUrl": (
        "https://bot.example.com/telegram/webhook",
        "http://bot.example.com/telegram/webhook",
        "https://user@bot.example.com/telegram/webhook",
        "https://bot.example.com/telegram/webhook#x",
    ),
    "miniAppUrl": (
        "https://learnbot.example.com/app/",
        "http://learnbot.example.com/app/",
        "https://user@learnbot.example.com/app/",
        "https://learnbot.example.com/app/#x",
        "learnbot.example.com/app/",
    ),
    "otelExporterEndpoint": (
        "http://otel-collector:4318",
        "https://otlp.example.com/otlp/",
        "http://otel-collector:0",
        "http://user:secret@otel-collector:4318",
        "otel-collector:4318",
        "grpc://otel-collector:4317",
    ),
    "sentryEnvironment": ("production", "staging-2", "a b"),
    "apiWorkers": ("1", "4", "0", "64"),
    "databasePoolSize": ("1", "10", "0", "45"),
    "apiImageTag": ("0.1.0", "2025.01.3", "v1_rc-2", "a" * 64),
    "proxiesInFront": ("0", "1", "3", "-1"),
    "telegramBotId": ("1", "123456789", "0"),
    "telegramBotToken": (TOKEN, "1:a", "123:abc def", "\uff11:a", "123:" + "a" * 129),
    "backupSchedule": ("0 3 * * *", "@daily", "*/15 * * * *", "61 * * * *"),
    "backupDrillSchedule": ("0 4 * * 0", "@weekly"),
    "backupKeepDaily": ("0", "7", "365"),
    "backupKeepWeekly": ("0", "4"),
    "backupKeepMonthly": ("0", "6"),
    "backupS3Url": ("s3://bucket-1", "s3://learnbot-backups/prod", "s3://Bucket", "s3://b/a//b"),
    "backupS3EndpointUrl": (
        "https://s3.eu-central-1.example.com",
        "http://minio:9000",
        "https://key@s3.example.com",
        "https://key:secret@s3.example.com",
        "https://s3.example.com:0",
        "ftp://s3.example.com",
    ),
    "backupS3Region": ("eu-central-1", "us-east-1", "EU", "eu central"),
    "backupCipherPassphrase": ("p" * 20, "p" * 1024, "p" * 19, "pass phrase " * 4, "\u00e9" * 30),
    "physicalBackupFullSchedule": ("30 1 * * 0", "@weekly", "0 2 * * 7", "61 1 * * 0", "weekly"),
    "physicalBackupDiffSchedule": ("30 1 * * 1-6", "0 */6 * * *", "* * *", ""),
    "physicalBackupKeepFull": ("1", "2", "100", "0", "101", "two"),
}
# The S3 credentials go to boto3 as they are: any text.
CANDIDATES["backupS3AccessKeyId"] = ("AKIA", "a b", "\u00e9")
CANDIDATES["backupS3SecretAccessKey"] = ("secret", "s/+=")
NEEDS = {
    "telegramWebhookUrl": {"telegramWebhookSecret": "s3cret"},
    "backupS3AccessKeyId": {"backupS3Url": "s3://bucket-1", "backupS3SecretAccessKey": "s"},
    "backupS3SecretAccessKey": {"backupS3Url": "s3://bucket-1", "backupS3AccessKeyId": "AK"},
    "backupS3EndpointUrl": {"backupS3Url": "s3://bucket-1"},
    "backupS3Region": {"backupS3Url": "s3://bucket-1"},
}


def processes_accept(stack: StackConfig) -> None:
    Settings.from_env(api_env(stack))
    secrets = {name: v.value for name, v in backup_secret_environment(stack).items()}
    physical = physical_backup_environment(stack)
    # The generated passphrase's file is made by the stack's own container.
    physical.pop("PHYSICAL_BACKUP_CIPHER_PASSPHRASE_FILE", None)
    physical.setdefault("PHYSICAL_BACKUP_CIPHER_PASSPHRASE", "g" * 64)
    BackupSettings.from_env(
        {
            **backup_environment(stack),
            **physical,
            **secrets,
            "DATABASE_URL": database_url("learnbot-postgres", "pw"),
        }
    )


def test_every_value_the_stack_accepts_the_processes_accept() -> None:
    """A value `pulumi up` lets through must not stop a container at its start."""
    accepted = 0
    for key, values in CANDIDATES.items():
        for value in values:
            try:
                stack = config(**NEEDS.get(key, {}), **{key: value})
            except StackConfigError:
                continue
            accepted += 1
            try:
                processes_accept(stack)
            except ConfigError as error:
                raise AssertionError(
                    f"learnbot:{key}={value!r}: the stack takes it, {error}"
                ) from None
    assert accepted > len(CANDIDATES)


def test_every_setting_the_stack_hands_a_container_is_probed() -> None:
    assert {row.key for row in table.SETTINGS if row.key is not None} <= set(CANDIDATES)


def test_the_docker_stack_hands_the_physical_backup_settings_to_the_backup_job() -> None:
    defaults = physical_backup_environment(config())
    assert defaults["PHYSICAL_BACKUP_FULL_SCHEDULE"] == "30 1 * * 0"
    assert defaults["PHYSICAL_BACKUP_DIFF_SCHEDULE"] == "30 1 * * 1-6"
    assert defaults["PHYSICAL_BACKUP_KEEP_FULL"] == "2"
    chosen = physical_backup_environment(
        config(
            physicalBackupFullSchedule="0 3 * * sat",
            physicalBackupDiffSchedule="0 */6 * * *",
            physicalBackupKeepFull="4",
        )
    )
    assert chosen["PHYSICAL_BACKUP_FULL_SCHEDULE"] == "0 3 * * sat"
    assert chosen["PHYSICAL_BACKUP_DIFF_SCHEDULE"] == "0 */6 * * *"
    assert chosen["PHYSICAL_BACKUP_KEEP_FULL"] == "4"

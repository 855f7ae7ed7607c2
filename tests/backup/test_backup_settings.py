from __future__ import annotations

from pathlib import Path

import pytest

from learnbot.backup.retention import RetentionPolicy
from learnbot.backup.settings import BackupSettings, S3Location
from learnbot.settings import ConfigError

DATABASE_URL = "postgresql://learnbot:secret@db:5432/learnbot"


def test_defaults() -> None:
    settings = BackupSettings.from_env({"DATABASE_URL": DATABASE_URL})

    assert settings.database_url == DATABASE_URL
    assert settings.backup_dir == Path("var/backups")
    assert settings.schedule == "0 3 * * *"
    assert settings.drill_schedule == "0 4 * * 0"
    assert settings.retention == RetentionPolicy(daily=7, weekly=4, monthly=6)
    assert (settings.metrics_host, settings.metrics_port) == ("127.0.0.1", 9102)
    assert settings.s3 is None
    assert settings.s3_endpoint_url is None


def test_every_setting_from_the_environment() -> None:
    settings = BackupSettings.from_env(
        {
            "DATABASE_URL": DATABASE_URL,
            "BACKUP_DIR": "/srv/backups",
            "BACKUP_SCHEDULE": "30  1 * * *",
            "BACKUP_DRILL_SCHEDULE": "@weekly",
            "BACKUP_KEEP_DAILY": "14",
            "BACKUP_KEEP_WEEKLY": "0",
            "BACKUP_KEEP_MONTHLY": "12",
            "BACKUP_METRICS_HOST": "10.0.0.5",
            "BACKUP_METRICS_PORT": "9200",
            "BACKUP_S3_URL": "s3://learnbot-backups/prod/nightly/",
            "BACKUP_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        }
    )

    assert settings.backup_dir == Path("/srv/backups")
    assert (settings.schedule, settings.drill_schedule) == ("30 1 * * *", "@weekly")
    assert settings.retention == RetentionPolicy(daily=14, weekly=0, monthly=12)
    assert (settings.metrics_host, settings.metrics_port) == ("10.0.0.5", 9200)
    assert settings.s3 == S3Location("learnbot-backups", "prod/nightly")
    assert settings.s3.key("a.dump") == "prod/nightly/a.dump"
    assert settings.s3_endpoint_url == "http://127.0.0.1:9000"


def test_metrics_listen_on_all_interfaces_in_production_only() -> None:
    production = BackupSettings.from_env({"APP_ENV": "production"})
    development = BackupSettings.from_env({"APP_ENV": "development"})

    assert production.metrics_host == "0.0.0.0"
    assert development.metrics_host == "127.0.0.1"


def test_commands_that_back_up_need_a_database_url() -> None:
    settings = BackupSettings.from_env({})

    assert settings.database_url is None
    with pytest.raises(ConfigError) as raised:
        settings.require_database_url("'backup run'")

    assert str(raised.value) == "DATABASE_URL: a postgresql:// URL; 'backup run' needs it"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "BACKUP_SCHEDULE",
            "every night",
            "BACKUP_SCHEDULE: a cron expression such as '0 3 * * *'",
        ),
        ("BACKUP_SCHEDULE", "61 3 * * *", "BACKUP_SCHEDULE: a cron expression such as '0 3 * * *'"),
        (
            "BACKUP_SCHEDULE",
            "0 0 3 * * *",
            "BACKUP_SCHEDULE: a cron expression such as '0 3 * * *'",
        ),
        (
            "BACKUP_DRILL_SCHEDULE",
            "0 4 * * 8",
            "BACKUP_DRILL_SCHEDULE: a cron expression such as '0 4 * * 0'",
        ),
        ("BACKUP_KEEP_DAILY", "0", "BACKUP_KEEP_DAILY: a whole number from 1 to 3660"),
        ("BACKUP_KEEP_WEEKLY", "-1", "BACKUP_KEEP_WEEKLY: a whole number from 0 to 520"),
        ("BACKUP_KEEP_MONTHLY", "six", "BACKUP_KEEP_MONTHLY: a whole number from 0 to 1200"),
        ("BACKUP_METRICS_PORT", "70000", "BACKUP_METRICS_PORT: a whole number from 1 to 65535"),
        (
            "BACKUP_METRICS_HOST",
            "bad host!",
            "BACKUP_METRICS_HOST: an IP address (0.0.0.0 for all) or a host name",
        ),
        (
            "BACKUP_S3_URL",
            "https://bucket/prefix",
            "BACKUP_S3_URL: s3://bucket or s3://bucket/prefix",
        ),
        ("BACKUP_S3_URL", "s3://Upper_Case/x", "BACKUP_S3_URL: s3://bucket or s3://bucket/prefix"),
        (
            "BACKUP_S3_ENDPOINT_URL",
            "ftp://minio:9000",
            "BACKUP_S3_ENDPOINT_URL: an http(s) URL such as https://s3.eu-central-1.example.com",
        ),
        ("APP_ENV", "staging", "APP_ENV: one of development, production"),
    ],
)
def test_invalid_settings_name_the_variable_and_what_is_allowed(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        BackupSettings.from_env({variable: value})

    assert str(raised.value) == message
    assert raised.value.variable == variable


@pytest.mark.parametrize(
    "url", ["sqlite:///var/learnbot.db", "mysql://learnbot:hunter2-secret@db/learnbot"]
)
def test_a_database_url_other_than_postgresql_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^DATABASE_URL: a postgresql://") as raised:
        BackupSettings.from_env({"DATABASE_URL": url})

    assert "hunter2" not in str(raised.value)
    assert "var/learnbot.db" not in str(raised.value)

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


def test_physical_backups_are_off_without_a_repository() -> None:
    settings = BackupSettings.from_env({"DATABASE_URL": DATABASE_URL})

    assert settings.physical is None
    assert (settings.full_schedule, settings.diff_schedule) == ("30 1 * * 0", "30 1 * * 1-6")


def test_every_physical_backup_setting_from_the_environment() -> None:
    passphrase = "p" * 40
    settings = BackupSettings.from_env(
        {
            "APP_ENV": "production",
            "PHYSICAL_BACKUP_REPOSITORY": "/srv/pgbackrest",
            "PHYSICAL_BACKUP_STANZA": "main-db",
            "PHYSICAL_BACKUP_CONFIG": "/etc/learnbot/pgbackrest.conf",
            "PHYSICAL_BACKUP_CIPHER_PASSPHRASE": passphrase,
            "PHYSICAL_BACKUP_KEEP_FULL": "4",
            "PHYSICAL_BACKUP_FULL_SCHEDULE": "0 2 * * 6",
            "PHYSICAL_BACKUP_DIFF_SCHEDULE": "@daily",
            "PHYSICAL_BACKUP_PG_DATA": "/pgdata",
            "PHYSICAL_BACKUP_PG_SOCKET_DIR": "/run/pg",
            "PHYSICAL_BACKUP_PG_PORT": "5433",
            "PHYSICAL_BACKUP_PG_USER": "learnbot",
            "TELEGRAM_BOT_ID": "1",
        }
    )

    repository = settings.require_repository("the test")
    assert repository.path == Path("/srv/pgbackrest")
    assert repository.stanza == "main-db"
    assert repository.config_path == Path("/etc/learnbot/pgbackrest.conf")
    assert repository.cipher_passphrase == passphrase
    assert repository.keep_full == 4
    assert (settings.full_schedule, settings.diff_schedule) == ("0 2 * * 6", "@daily")
    assert (repository.pg_data, repository.pg_socket_dir) == (Path("/pgdata"), Path("/run/pg"))
    assert (repository.pg_port, repository.pg_user) == (5433, "learnbot")
    assert passphrase not in repr(settings)


def test_a_production_repository_must_be_encrypted() -> None:
    with pytest.raises(ConfigError) as raised:
        BackupSettings.from_env(
            {"APP_ENV": "production", "PHYSICAL_BACKUP_REPOSITORY": "/srv/pgbackrest"}
        )

    assert raised.value.variable == "PHYSICAL_BACKUP_CIPHER_PASSPHRASE"
    assert "production repositories are encrypted" in str(raised.value)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PHYSICAL_BACKUP_STANZA", "a b", "1 to 63 letters, digits, _ and -"),
        ("PHYSICAL_BACKUP_CIPHER_PASSPHRASE", "short", "20 to 1024 printable ASCII characters"),
        ("PHYSICAL_BACKUP_KEEP_FULL", "0", "a whole number from 1 to 100"),
        ("PHYSICAL_BACKUP_FULL_SCHEDULE", "weekly", "a cron expression such as '30 1 * * 0'"),
        ("PHYSICAL_BACKUP_DIFF_SCHEDULE", "0 25 * * *", "such as '30 1 * * 1-6'"),
        ("PHYSICAL_BACKUP_PG_PORT", "0", "a whole number from 1 to 65535"),
        ("PHYSICAL_BACKUP_PG_USER", "bad-role", "a PostgreSQL role name"),
    ],
)
def test_invalid_physical_backup_settings_name_the_variable(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        BackupSettings.from_env({"PHYSICAL_BACKUP_REPOSITORY": "/srv/r", variable: value})

    assert raised.value.variable == variable
    assert message in str(raised.value)
    if "PASSPHRASE" in variable:
        assert value not in str(raised.value)


def test_the_passphrase_can_come_from_a_file(tmp_path: Path) -> None:
    passphrase = "k" * 64
    key = tmp_path / "passphrase"
    key.write_text(passphrase + "\n")
    settings = BackupSettings.from_env(
        {
            "APP_ENV": "production",
            "PHYSICAL_BACKUP_REPOSITORY": "/srv/pgbackrest",
            "PHYSICAL_BACKUP_CIPHER_PASSPHRASE_FILE": str(key),
            "TELEGRAM_BOT_ID": "1",
        }
    )

    assert settings.require_repository("the test").cipher_passphrase == passphrase
    assert passphrase not in repr(settings)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "a readable file holding the cipher passphrase"),
        ("short", "a file holding 20 to 1024 printable ASCII characters"),
        ("", "a file holding 20 to 1024 printable ASCII characters"),
    ],
)
def test_a_passphrase_file_that_cannot_be_used_names_its_variable(
    tmp_path: Path, content: str | None, message: str
) -> None:
    key = tmp_path / "passphrase"
    if content is not None:
        key.write_text(content)
    with pytest.raises(ConfigError) as raised:
        BackupSettings.from_env(
            {
                "PHYSICAL_BACKUP_REPOSITORY": "/srv/r",
                "PHYSICAL_BACKUP_CIPHER_PASSPHRASE_FILE": str(key),
            }
        )

    assert raised.value.variable == "PHYSICAL_BACKUP_CIPHER_PASSPHRASE_FILE"
    assert message in str(raised.value)
    assert content is None or content == "" or content not in str(raised.value)


def test_the_passphrase_and_its_file_are_not_both_set(tmp_path: Path) -> None:
    key = tmp_path / "passphrase"
    key.write_text("k" * 32)
    with pytest.raises(ConfigError) as raised:
        BackupSettings.from_env(
            {
                "PHYSICAL_BACKUP_REPOSITORY": "/srv/r",
                "PHYSICAL_BACKUP_CIPHER_PASSPHRASE": "p" * 32,
                "PHYSICAL_BACKUP_CIPHER_PASSPHRASE_FILE": str(key),
            }
        )

    assert raised.value.variable == "PHYSICAL_BACKUP_CIPHER_PASSPHRASE_FILE"

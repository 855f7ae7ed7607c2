from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from learnbot import settings_table as table
from learnbot.backup.pgbackrest import Repository
from learnbot.backup.retention import RetentionPolicy
from learnbot.setting import ConfigError, Invalid, text_setting
from learnbot.settings_table import (
    DEFAULT_DIFF_SCHEDULE,
    DEFAULT_DRILL_SCHEDULE,
    DEFAULT_FULL_SCHEDULE,
    DEFAULT_SCHEDULE,
    METRICS_WRITER_PATTERN,
    is_cron_expression,
    is_endpoint_url,
)
from learnbot.storage import database_dialect

__all__ = ["BackupSettings", "S3Location", "is_cron_expression", "is_endpoint_url", "parse_s3_url"]

DEFAULT_BACKUP_DIR = Path("var/backups")
DEFAULT_METRICS_PORT = table.DEFAULT_BACKUP_METRICS_PORT
# A container's port is only reachable from outside on all interfaces; elsewhere, loopback only.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104
METRICS_WRITER_VARIABLE = str(table.BACKUP_METRICS_WRITER.variable)
METRICS_WRITER = re.compile(METRICS_WRITER_PATTERN)


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    prefix: str = ""

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def url(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.key(name)}"


@dataclass(frozen=True, slots=True)
class BackupSettings:
    database_url: str | None = None
    backup_dir: Path = DEFAULT_BACKUP_DIR
    schedule: str = DEFAULT_SCHEDULE
    drill_schedule: str = DEFAULT_DRILL_SCHEDULE
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = DEFAULT_METRICS_PORT
    s3: S3Location | None = None
    s3_endpoint_url: str | None = None
    metrics_writer: str | None = None
    # Physical backups with WAL archiving; None when PHYSICAL_BACKUP_REPOSITORY is unset.
    physical: Repository | None = None
    full_schedule: str = DEFAULT_FULL_SCHEDULE
    diff_schedule: str = DEFAULT_DIFF_SCHEDULE

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BackupSettings:
        production = table.APP_ENV.value_from_env(env) == "production"
        return cls(
            database_url=_database_url(env),
            backup_dir=table.BACKUP_DIR.value_from_env(env),
            schedule=table.BACKUP_SCHEDULE.value_from_env(env),
            drill_schedule=table.BACKUP_DRILL_SCHEDULE.value_from_env(env),
            retention=RetentionPolicy(
                daily=table.BACKUP_KEEP_DAILY.value_from_env(env),
                weekly=table.BACKUP_KEEP_WEEKLY.value_from_env(env),
                monthly=table.BACKUP_KEEP_MONTHLY.value_from_env(env),
            ),
            metrics_host=table.BACKUP_METRICS_HOST.from_env(env)
            or (ALL_INTERFACES if production else "127.0.0.1"),
            metrics_port=table.BACKUP_METRICS_PORT.value_from_env(env),
            s3=_s3_location(env),
            s3_endpoint_url=table.BACKUP_S3_ENDPOINT_URL.from_env(env),
            metrics_writer=table.BACKUP_METRICS_WRITER.from_env(env),
            physical=_repository(env),
            full_schedule=table.PHYSICAL_BACKUP_FULL_SCHEDULE.value_from_env(env),
            diff_schedule=table.PHYSICAL_BACKUP_DIFF_SCHEDULE.value_from_env(env),
        )

    def require_database_url(self, purpose: str) -> str:
        if self.database_url is None:
            raise ConfigError("DATABASE_URL", f"a postgresql:// URL; {purpose} needs it")
        return self.database_url

    def require_repository(self, purpose: str) -> Repository:
        if self.physical is None:
            raise ConfigError(
                str(table.PHYSICAL_BACKUP_REPOSITORY.variable),
                f"the pgBackRest repository's folder; {purpose} needs it",
            )
        return self.physical


def _database_url(env: Mapping[str, str]) -> str | None:
    url = text_setting(env, str(table.DATABASE_URL.variable))
    if url is None:
        return None
    try:
        dialect = database_dialect(url)
    except ValueError:
        dialect = None
    if dialect != "postgresql":
        # The URL may hold a password, so the message does not echo it.
        raise ConfigError(
            "DATABASE_URL",
            "a postgresql://user:password@host:port/database URL (backups use pg_dump)",
        )
    return url


def _repository(env: Mapping[str, str]) -> Repository | None:
    # Read whether or not a repository is set, so a bad value never waits to be noticed.
    passphrase = _cipher_passphrase(env)
    stanza = table.PHYSICAL_BACKUP_STANZA.value_from_env(env)
    config_path = table.PHYSICAL_BACKUP_CONFIG.value_from_env(env)
    keep_full = table.PHYSICAL_BACKUP_KEEP_FULL.value_from_env(env)
    pg_data = table.PHYSICAL_BACKUP_PG_DATA.value_from_env(env)
    pg_socket_dir = table.PHYSICAL_BACKUP_PG_SOCKET_DIR.value_from_env(env)
    pg_port = table.PHYSICAL_BACKUP_PG_PORT.value_from_env(env)
    pg_user = table.PHYSICAL_BACKUP_PG_USER.value_from_env(env)
    path = table.PHYSICAL_BACKUP_REPOSITORY.from_env(env)
    if path is None:
        return None
    if passphrase is None and table.APP_ENV.value_from_env(env) == "production":
        raise ConfigError(
            str(table.PHYSICAL_BACKUP_CIPHER_PASSPHRASE.variable),
            "the repository's cipher passphrase (20 to 1024 printable ASCII characters); "
            "production repositories are encrypted",
        )
    return Repository(
        path=path.absolute(),
        config_path=config_path.absolute(),
        stanza=stanza,
        cipher_passphrase=passphrase,
        keep_full=keep_full,
        pg_data=pg_data,
        pg_socket_dir=pg_socket_dir,
        pg_port=pg_port,
        pg_user=pg_user,
    )


def _cipher_passphrase(env: Mapping[str, str]) -> str | None:
    passphrase = table.PHYSICAL_BACKUP_CIPHER_PASSPHRASE.from_env(env)
    path = table.PHYSICAL_BACKUP_CIPHER_PASSPHRASE_FILE.from_env(env)
    if path is None:
        return passphrase
    variable = str(table.PHYSICAL_BACKUP_CIPHER_PASSPHRASE_FILE.variable)
    if passphrase is not None:
        raise ConfigError(
            variable, "unset it or PHYSICAL_BACKUP_CIPHER_PASSPHRASE: one of the two, not both"
        )
    try:
        content = path.read_text(encoding="ascii").strip()
        return table.PHYSICAL_BACKUP_CIPHER_PASSPHRASE.parse(content)
    except (OSError, UnicodeDecodeError):
        raise ConfigError(variable, "a readable file holding the cipher passphrase") from None
    except Invalid as refused:
        raise ConfigError(variable, f"a file holding {refused}") from None


def _s3_location(env: Mapping[str, str]) -> S3Location | None:
    url = table.BACKUP_S3_URL.from_env(env)
    return None if url is None else parse_s3_url(url)


def parse_s3_url(raw: str) -> S3Location:
    """`s3://bucket` or `s3://bucket/prefix`; ValueError for anything else."""
    parts = urlsplit(table.s3_url(raw))
    return S3Location(parts.netloc, parts.path.strip("/"))

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from croniter import croniter  # type: ignore[import-untyped]

from learnbot.backup.retention import RetentionPolicy
from learnbot.settings import (
    APP_ENVS,
    ConfigError,
    choice_setting,
    host_setting,
    int_setting,
    text_setting,
)
from learnbot.storage import database_dialect

DEFAULT_BACKUP_DIR = Path("var/backups")
DEFAULT_SCHEDULE = "0 3 * * *"
DEFAULT_DRILL_SCHEDULE = "0 4 * * 0"
DEFAULT_METRICS_PORT = 9102
# A container's port is only reachable from outside on all interfaces; elsewhere, loopback only.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104
# Names the metric files a process writes in PROMETHEUS_MULTIPROC_DIR instead of its pid, for
# processes in separate containers, where pids repeat (each is 1), sharing that folder.
METRICS_WRITER_VARIABLE = "BACKUP_METRICS_WRITER"
METRICS_WRITER = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
# S3 bucket naming rules, lower case only; dots allowed for older buckets.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


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

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BackupSettings:
        production = choice_setting(env, "APP_ENV", APP_ENVS, "development") == "production"
        return cls(
            database_url=_database_url(env),
            backup_dir=Path(text_setting(env, "BACKUP_DIR") or DEFAULT_BACKUP_DIR),
            schedule=_cron(env, "BACKUP_SCHEDULE", DEFAULT_SCHEDULE),
            drill_schedule=_cron(env, "BACKUP_DRILL_SCHEDULE", DEFAULT_DRILL_SCHEDULE),
            retention=RetentionPolicy(
                # At least one daily backup, or pruning could remove the one just taken.
                daily=int_setting(env, "BACKUP_KEEP_DAILY", 7, 1, 3660),
                weekly=int_setting(env, "BACKUP_KEEP_WEEKLY", 4, 0, 520),
                monthly=int_setting(env, "BACKUP_KEEP_MONTHLY", 6, 0, 1200),
            ),
            metrics_host=host_setting(
                env, "BACKUP_METRICS_HOST", ALL_INTERFACES if production else "127.0.0.1"
            ),
            metrics_port=int_setting(env, "BACKUP_METRICS_PORT", DEFAULT_METRICS_PORT, 1, 65535),
            s3=_s3_location(env),
            s3_endpoint_url=_endpoint_url(env),
            metrics_writer=_metrics_writer(env),
        )

    def require_database_url(self, purpose: str) -> str:
        if self.database_url is None:
            raise ConfigError("DATABASE_URL", f"a postgresql:// URL; {purpose} needs it")
        return self.database_url


def _database_url(env: Mapping[str, str]) -> str | None:
    url = text_setting(env, "DATABASE_URL")
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


def is_cron_expression(expression: str) -> bool:
    """Five cron fields or an @ macro, as croniter reads them (it would also take seconds)."""
    fields_ok = expression.startswith("@") or len(expression.split()) == 5
    return fields_ok and bool(croniter.is_valid(expression))


def parse_s3_url(raw: str) -> S3Location:
    """`s3://bucket` or `s3://bucket/prefix`; ValueError for anything else."""
    parts = urlsplit(raw)
    prefix = parts.path.strip("/")
    if (
        parts.scheme != "s3"
        or not _BUCKET.fullmatch(parts.netloc)
        or parts.query
        or parts.fragment
        or "//" in prefix
    ):
        raise ValueError("s3://bucket or s3://bucket/prefix")
    return S3Location(parts.netloc, prefix)


def _cron(env: Mapping[str, str], name: str, default: str) -> str:
    expression = " ".join((text_setting(env, name) or default).split())
    if not is_cron_expression(expression):
        raise ConfigError(name, f"a cron expression such as '{default}'")
    return expression


def _s3_location(env: Mapping[str, str]) -> S3Location | None:
    raw = text_setting(env, "BACKUP_S3_URL")
    if raw is None:
        return None
    try:
        return parse_s3_url(raw)
    except ValueError as error:
        raise ConfigError("BACKUP_S3_URL", str(error)) from None


def _endpoint_url(env: Mapping[str, str]) -> str | None:
    raw = text_setting(env, "BACKUP_S3_ENDPOINT_URL")
    if raw is None:
        return None
    if not is_endpoint_url(raw):
        raise ConfigError(
            "BACKUP_S3_ENDPOINT_URL", "an http(s) URL such as https://s3.eu-central-1.example.com"
        )
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


def _metrics_writer(env: Mapping[str, str]) -> str | None:
    writer = text_setting(env, METRICS_WRITER_VARIABLE)
    if writer is not None and not METRICS_WRITER.fullmatch(writer):
        raise ConfigError(
            METRICS_WRITER_VARIABLE,
            "1 to 63 lower-case letters, digits and -, one name per process writing at a time "
            "(unset: the process id)",
        )
    return writer

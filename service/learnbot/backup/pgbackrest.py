"""pgBackRest: its configuration rendered from the settings, and its commands run with it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

CIPHER_TYPE = "aes-256-cbc"
# pgBackRest's output can be long (a verify of many files); a message keeps its end.
_OUTPUT_KEPT = 4000


class PgBackRestFailed(RuntimeError):
    """A pgBackRest command that exited non-zero, or could not start."""


@dataclass(frozen=True, slots=True)
class Repository:
    """A pgBackRest repository and the PostgreSQL server whose backups and WAL it holds."""

    path: Path
    config_path: Path
    stanza: str = "learnbot"
    cipher_passphrase: str | None = field(default=None, repr=False)
    keep_full: int = 2
    pg_data: Path = Path("/var/lib/postgresql/data")
    pg_socket_dir: Path = Path("/var/run/postgresql")
    pg_port: int = 5432
    pg_user: str = "postgres"

    @property
    def encrypted(self) -> bool:
        return self.cipher_passphrase is not None

    def archive_command(self) -> str:
        """PostgreSQL's `archive_command` pushing each WAL segment into this repository."""
        return f"pgbackrest --config={self.config_path} --stanza={self.stanza} archive-push %p"


def render_config(repository: Repository) -> str:
    """pgbackrest.conf for the repository; it holds the cipher passphrase, so keep it private."""
    lines = [
        "[global]",
        f"repo1-path={repository.path}",
        "repo1-retention-full-type=count",
        f"repo1-retention-full={repository.keep_full}",
    ]
    if repository.cipher_passphrase is not None:
        lines += [
            f"repo1-cipher-type={CIPHER_TYPE}",
            f"repo1-cipher-pass={repository.cipher_passphrase}",
        ]
    lines += [
        # A checkpoint at once: a backup should not wait up to checkpoint_timeout to begin.
        "start-fast=y",
        "log-level-console=info",
        # The job's own log says what ran; pgBackRest's files would need a folder of their own.
        "log-level-file=off",
        "",
        f"[{repository.stanza}]",
        f"pg1-path={repository.pg_data}",
        f"pg1-socket-path={repository.pg_socket_dir}",
        f"pg1-port={repository.pg_port}",
        f"pg1-user={repository.pg_user}",
        "",
    ]
    return "\n".join(lines)


def write_config(repository: Repository) -> Path:
    """Writes the rendered configuration to its path, readable by its owner only."""
    path = repository.config_path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(render_config(repository))
    partial.replace(path)
    return path


def command_line(repository: Repository, *arguments: str) -> list[str]:
    return [
        "pgbackrest",
        f"--config={repository.config_path}",
        f"--stanza={repository.stanza}",
        *arguments,
    ]


def run(repository: Repository, *arguments: str, timeout: float | None = None) -> str:
    """Runs a pgBackRest command with the repository's configuration; its output on success."""
    command = command_line(repository, *arguments)
    if shutil.which(command[0]) is None:
        raise PgBackRestFailed("pgbackrest is not installed (Debian's package `pgbackrest`)")
    try:
        result = subprocess.run(  # noqa: S603 - a fixed program, arguments of our own
            command, capture_output=True, text=True, check=False, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise PgBackRestFailed(f"pgbackrest {arguments[0]} took over {timeout} s") from None
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-_OUTPUT_KEPT:]
        raise PgBackRestFailed(
            f"pgbackrest {arguments[0]} exited {result.returncode}: {output or 'no output'}"
        )
    return result.stdout


def newest_backup_finished_at(repository: Repository) -> datetime | None:
    """When the newest backup in the repository finished; None when it holds none."""
    stanzas = json.loads(run(repository, "info", "--output=json"))
    backups: Sequence[dict[str, dict[str, int]]] = stanzas[0].get("backup", []) if stanzas else []
    if not backups:
        return None
    return datetime.fromtimestamp(backups[-1]["timestamp"]["stop"], UTC)

"""WAL archiving on Docker: the database image with pgBackRest, the configuration and commands
of its containers, and the passphrase they hand pgBackRest from a file, never on a command line
or in Pulumi's state."""

from __future__ import annotations

import shlex
from pathlib import Path, PurePosixPath

from learnbot.backup import pgbackrest
from learnbot.backup.pgbackrest import Repository
from learnbot_platform.service_env import (
    DATABASE_NAME,
    DATABASE_USER,
    PGBACKREST_CONFIG,
    PGBACKREST_KEY_FILE,
    PGBACKREST_REPOSITORY,
    PGBACKREST_STANZA,
    POSTGRES_DATA_DIR,
    POSTGRES_PORT,
    POSTGRES_SOCKET_DIR,
)
from learnbot_platform.stack_config import POSTGRES_MAX_CONNECTIONS

PASSPHRASE_SECRET_FILE = "/run/secrets/pgbackrest-cipher-passphrase"  # noqa: S105 - a path
PGBACKREST_KEY_DIR = str(PurePosixPath(PGBACKREST_KEY_FILE).parent)
# The official image's postgres user, who owns the data files pgBackRest reads.
POSTGRES_UID = 999
IMAGE_FOLDER = Path(__file__).resolve().parent / "postgres"


def pgbackrest_repository() -> Repository:
    """The repository as the database's containers see it."""
    return Repository(
        path=Path(PGBACKREST_REPOSITORY),
        config_path=Path(PGBACKREST_CONFIG),
        stanza=PGBACKREST_STANZA,
        pg_data=Path(POSTGRES_DATA_DIR),
        pg_socket_dir=Path(POSTGRES_SOCKET_DIR),
        pg_port=POSTGRES_PORT,
        pg_user=DATABASE_USER,
    )


def server_command(archive_timeout_seconds: int) -> list[str]:
    archive_command = pgbackrest_repository().archive_command()
    return [
        "postgres",
        *("-c", f"max_connections={POSTGRES_MAX_CONNECTIONS}"),
        *("-c", "archive_mode=on"),
        *("-c", f"archive_command={archive_command}"),
        *("-c", f"archive_timeout={archive_timeout_seconds}"),
    ]


def with_passphrase(passphrase_file: str, then: str, *arguments: str) -> list[str]:
    """A shell that waits for the passphrase's file, hands it to pgBackRest in its environment
    (never on a command line), then runs `then` with the arguments as "$@"."""
    script = (
        f"until [ -s {passphrase_file} ]; do sleep 1; done; "
        f'PGBACKREST_REPO1_CIPHER_PASS="$(cat {passphrase_file})"; '
        f"export PGBACKREST_REPO1_CIPHER_PASS; {then}"
    )
    return ["sh", "-c", script, "sh", *arguments]


def stanza_create_script() -> str:
    repository = pgbackrest_repository()
    target = f"-h {POSTGRES_SOCKET_DIR} -U {DATABASE_USER} -d {DATABASE_NAME}"
    create = shlex.join(pgbackrest.command_line(repository, "stanza-create"))
    return f"until pg_isready -q {target}; do sleep 1; done; exec {create}"


def generate_key_command() -> list[str]:
    """Writes a random passphrase into the key's volume, unless one is there already."""
    key = PGBACKREST_KEY_FILE
    return [
        "sh",
        "-c",
        f"umask 077; [ -s {key} ] || {{ tr -dc A-Za-z0-9 </dev/urandom | head -c 64 > {key}.new "
        f"&& mv {key}.new {key}; }}",
    ]

"""The Docker stack's pgBackRest configuration on a real cluster: the files and commands the
program gives the database's containers (the configuration, the generated passphrase, the
stanza's creation, archive_command) run against a cluster of the test's own, with its paths in
place of the containers'; `pgbackrest check` passes, and the backup job, configured as the stack
configures it, backs up and verifies the same encrypted repository."""

from __future__ import annotations

import os
import pwd
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from learnbot.backup.pgbackrest import CIPHER_TYPE, render_config
from learnbot_platform.docker.archiving import (
    generate_key_command,
    pgbackrest_repository,
    server_command,
    stanza_create_script,
    with_passphrase,
)
from learnbot_platform.service_env import (
    PGBACKREST_CONFIG,
    PGBACKREST_KEY_FILE,
    PGBACKREST_REPOSITORY,
    POSTGRES_DATA_DIR,
    POSTGRES_PORT,
    POSTGRES_SOCKET_DIR,
    physical_backup_environment,
)
from learnbot_platform.stack_config import load_stack_config
from postgres_cluster import PrivateCluster, private_cluster
from wal_archiving import ArchivingCluster, _run_pgbackrest_as_cluster_owner, require_pgbackrest


class Localized:
    """The containers' paths and port, as the test's cluster has them."""

    def __init__(self, cluster: PrivateCluster) -> None:
        base = cluster.base
        self.paths = {
            PGBACKREST_CONFIG: str(base / "pgbackrest" / "learnbot.conf"),
            PGBACKREST_KEY_FILE: str(base / "key" / "passphrase"),
            PGBACKREST_REPOSITORY: str(base / "repository"),
            POSTGRES_DATA_DIR: str(cluster.data),
            POSTGRES_SOCKET_DIR: str(base),
            f"pg1-port={POSTGRES_PORT}": f"pg1-port={cluster.port}",
        }
        self.run_as = cluster.run_as
        self.port = cluster.port

    def __call__(self, text: str) -> str:
        for container_path, local in self.paths.items():
            text = text.replace(container_path, local)
        return text

    def shell(self, command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        """A container's `sh -c ...` as the cluster's owner (postgres, 999, in the containers)."""
        local = [self(part) for part in command]
        return subprocess.run(
            [*self.run_as, "env", *(f"{k}={v}" for k, v in env.items()), *local],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )


@pytest.fixture
def owner_path(tmp_path: Path) -> Iterator[None]:
    """pgBackRest, which the job runs, as the cluster's owner when the tests run as root."""
    before = os.environ["PATH"]
    if os.geteuid() == 0:
        os.environ["PATH"] = _run_pgbackrest_as_cluster_owner(tmp_path / "bin")
    try:
        yield
    finally:
        os.environ["PATH"] = before


def make_owned_folders(localized: Localized, *paths: str) -> None:
    for path in paths:
        folder = Path(localized(path)).parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if localized.run_as:
            os.chown(folder, *_postgres_ids())


def _postgres_ids() -> tuple[int, int]:
    account = pwd.getpwnam("postgres")
    return account.pw_uid, account.pw_gid


def test_the_stacks_configuration_archives_and_the_job_backs_up_and_verifies(
    owner_path: None,
) -> None:
    require_pgbackrest()
    stack = load_stack_config(
        {"telegramBotToken": "1:a"}, shipped_locales=("en",), default_api_image_tag="0.1.0"
    )
    with private_cluster() as cluster:
        localized = Localized(cluster)
        make_owned_folders(localized, PGBACKREST_CONFIG, PGBACKREST_KEY_FILE, PGBACKREST_REPOSITORY)
        with psycopg.connect(cluster.url, autocommit=True) as connection:
            # The official image's only superuser and database, which the stack's pgBackRest uses.
            connection.execute("CREATE ROLE learnbot LOGIN SUPERUSER")
            connection.execute("CREATE DATABASE learnbot OWNER learnbot")
        config = Path(localized(PGBACKREST_CONFIG))
        config.write_text(localized(render_config(pgbackrest_repository())))
        cipher = {"PGBACKREST_REPO1_CIPHER_TYPE": CIPHER_TYPE}

        # The key container, twice: the second run keeps the passphrase the first wrote.
        for _ in range(2):
            generated = localized.shell(generate_key_command(), {})
            assert generated.returncode == 0, generated.stderr
        passphrase = Path(localized(PGBACKREST_KEY_FILE)).read_text()
        assert len(passphrase) == 64

        # The server, started with the passphrase in its environment as the wrapper gives it.
        os.environ.update(cipher, PGBACKREST_REPO1_CIPHER_PASS=passphrase)
        try:
            settings = dict(part.split("=", 1) for part in server_command(10)[2::2])
            cluster.configure(
                **{
                    name: localized(value)
                    for name, value in settings.items()
                    if name != "max_connections"
                }
            )
        finally:
            for name in ("PGBACKREST_REPO1_CIPHER_TYPE", "PGBACKREST_REPO1_CIPHER_PASS"):
                del os.environ[name]
        stanza_script = stanza_create_script().replace(
            f"-h {POSTGRES_SOCKET_DIR}", f"-h {POSTGRES_SOCKET_DIR} -p {cluster.port}"
        )
        created = localized.shell(with_passphrase(PGBACKREST_KEY_FILE, stanza_script), cipher)
        assert created.returncode == 0, created.stdout + created.stderr

        check_script = f"exec pgbackrest --config={PGBACKREST_CONFIG} --stanza=learnbot check"
        checked = localized.shell(with_passphrase(PGBACKREST_KEY_FILE, check_script), cipher)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "check command end: completed successfully" in checked.stdout

        # The backup job, with the environment the stack gives it and the passphrase's file.
        job_env = {
            name: localized(value) for name, value in physical_backup_environment(stack).items()
        }
        # Its own copy, as in its own container: the database's has no passphrase to overwrite.
        job_env["PHYSICAL_BACKUP_CONFIG"] = str(cluster.base / "job" / "pgbackrest.conf")
        job = ArchivingCluster(cluster, {**job_env, "PHYSICAL_BACKUP_PG_PORT": str(cluster.port)})
        assert job.learnbot_backup("pitr-backup", "--type", "full") == 0
        assert job.learnbot_backup("pitr-verify") == 0
        repository = Path(localized(PGBACKREST_REPOSITORY))
        assert (repository / "archive" / "learnbot" / "archive.info").exists()

"""A PostgreSQL cluster of the tests' own archiving its WAL into a pgBackRest repository, with
the configuration `learnbot backup` generates, and `learnbot backup` run against it."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from learnbot.backup.commands import main
from learnbot.backup.settings import BackupSettings
from postgres_cluster import PrivateCluster, private_cluster

RECOVERY_SECONDS = 60
PASSPHRASE = "correct-horse-battery-staple-0123456789"


@dataclass
class ArchivingCluster:
    cluster: PrivateCluster
    env: dict[str, str]

    @property
    def settings(self) -> BackupSettings:
        return BackupSettings.from_env(self.env)

    @property
    def repository_path(self) -> Path:
        return Path(self.env["PHYSICAL_BACKUP_REPOSITORY"])

    def learnbot_backup(self, *arguments: str) -> int:
        """`learnbot backup ...` in this process, with the cluster's environment."""
        with pytest.MonkeyPatch.context() as patch:
            for name in [name for name in os.environ if name.startswith("PHYSICAL_BACKUP_")]:
                patch.delenv(name)
            for name, value in self.env.items():
                patch.setenv(name, value)
            return main(["backup", *arguments])

    def pgbackrest(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        repository = self.settings.require_repository("the test")
        return subprocess.run(
            [
                "pgbackrest",
                f"--config={repository.config_path}",
                f"--stanza={repository.stanza}",
                *arguments,
            ],
            capture_output=True,
            text=True,
            check=False,
        )

    @contextmanager
    def restored_server(self, data: Path) -> Iterator[PrivateCluster]:
        """A server on a restored data directory, once it has replayed the WAL and promoted:
        it answers read-only queries while it still replays, which would see too few rows."""
        restored = self.cluster.beside(data, archive_mode="off")
        restored.start()
        try:
            deadline = time.monotonic() + RECOVERY_SECONDS
            while _in_recovery(restored.url):
                assert time.monotonic() < deadline, restored.log_text()
                time.sleep(0.2)
            yield restored
        finally:
            restored.stop()

    def empty_directory(self, name: str) -> Path:
        """A new folder the cluster's owner may restore into."""
        path = self.cluster.base / name
        path.mkdir(mode=0o700)
        if self.cluster.run_as:
            shutil.chown(path, "postgres", "postgres")
        return path


def _in_recovery(url: str) -> bool:
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT pg_is_in_recovery()").fetchone()
    return bool(row and row[0])


def require_pgbackrest() -> None:
    if shutil.which("pgbackrest") is None:
        pytest.skip("pgBackRest is needed: `pgbackrest` is not on PATH (Debian's pgbackrest)")


@contextmanager
def archiving_cluster(
    stanza: str,
    wrapper_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    passphrase: str | None = PASSPHRASE,
    **server: str,
) -> Iterator[ArchivingCluster]:
    require_pgbackrest()
    with private_cluster() as cluster:
        if cluster.run_as:
            monkeypatch.setenv("PATH", _run_pgbackrest_as_cluster_owner(wrapper_dir))
        env = {
            "PHYSICAL_BACKUP_REPOSITORY": str(cluster.base / "repository"),
            "PHYSICAL_BACKUP_CONFIG": str(cluster.base / "pgbackrest" / "pgbackrest.conf"),
            "PHYSICAL_BACKUP_STANZA": stanza,
            "PHYSICAL_BACKUP_PG_DATA": str(cluster.data),
            "PHYSICAL_BACKUP_PG_SOCKET_DIR": str(cluster.base),
            "PHYSICAL_BACKUP_PG_PORT": str(cluster.port),
            "PHYSICAL_BACKUP_PG_USER": "postgres",
        }
        if passphrase is not None:
            env["PHYSICAL_BACKUP_CIPHER_PASSPHRASE"] = passphrase
        archiving = ArchivingCluster(cluster, env)
        repository = archiving.settings.require_repository("the test")
        cluster.configure(archive_mode="on", archive_command=repository.archive_command(), **server)
        yield archiving


def _run_pgbackrest_as_cluster_owner(wrapper_dir: Path) -> str:
    """Running as root, the tests' cluster belongs to `postgres`: pgBackRest runs as that user,
    as it does in the database's container, reading the configuration the job writes."""
    real = shutil.which("pgbackrest")
    wrapper = wrapper_dir / "pgbackrest"
    wrapper_dir.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(
        "#!/bin/sh\n"
        'for argument in "$@"; do case "$argument" in\n'
        '  --config=*) chown -R postgres: "$(dirname "${argument#--config=}")" ;;\n'
        "esac; done\n"
        f'exec runuser -u postgres -- {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    return f"{wrapper_dir}{os.pathsep}{os.environ['PATH']}"

"""A PostgreSQL cluster of the tests' own, started from the installed server binaries."""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest


class PrivateCluster:
    """A PostgreSQL cluster of the tests' own, on a free port, which they may stop and start."""

    def __init__(
        self, bin_dir: Path, base: Path, run_as: list[str], data: Path | None = None
    ) -> None:
        """Runs initdb in `base`, or, given `data`, runs a data directory made elsewhere."""
        self.base = base
        self.data = base / "data" if data is None else data
        self.run_as = run_as
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._bin_dir = bin_dir
        self._pg_ctl = [*run_as, str(bin_dir / "pg_ctl"), f"--pgdata={self.data}"]
        self._options = f"-p {self.port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._log = self.data.parent / f"{self.data.name}.log"
        if data is not None:
            return
        _run(
            [
                *run_as,
                str(bin_dir / "initdb"),
                f"--pgdata={self.data}",
                "--username=postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )

    def start(self) -> None:
        _run([*self._pg_ctl, "-o", self._options, f"--log={self._log}", "--wait", "start"])

    def stop(self) -> None:
        _run([*self._pg_ctl, "--mode=immediate", "--wait", "stop"])

    def configure(self, **settings: str) -> None:
        """Sets server settings in postgresql.conf and restarts, for those that need it."""
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = '{value}'\n" for name, value in settings.items())
        self.stop()
        self.start()

    def beside(self, data: Path, **settings: str) -> PrivateCluster:
        """Another server, on a port of its own, for a data directory made elsewhere (restored)."""
        other = PrivateCluster(self._bin_dir, self.base, self.run_as, data)
        other._options += "".join(f" -c {name}={value}" for name, value in settings.items())
        return other

    def log_text(self) -> str:
        return self._log.read_text(errors="replace") if self._log.exists() else ""

    def freeze(self) -> None:
        """Stops every server process in place: to a client, a partition or a stalled disk."""
        self._signal_all(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal_all(signal.SIGCONT)

    def _signal_all(self, signum: signal.Signals) -> None:
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(
            ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False
        ).stdout.split()
        for pid in (postmaster, *map(int, children)):
            with suppress(ProcessLookupError):
                os.kill(pid, signum)


@contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL is needed: nothing answers at 127.0.0.1:5432, TEST_DATABASE_URL is "
            "unset, and initdb/pg_ctl are neither on PATH nor in /usr/lib/postgresql/*/bin"
        )
    base = Path(tempfile.mkdtemp(prefix="learnbot-pg-"))
    try:
        cluster = PrivateCluster(bin_dir, base, _unprivileged_prefix(base))
        cluster.start()
        try:
            yield cluster
        finally:
            with suppress(RuntimeError):  # a test may have left it stopped
                cluster.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _postgres_bin_dir() -> Path | None:
    on_path = shutil.which("initdb")
    if on_path is not None and shutil.which("pg_ctl") is not None:
        return Path(on_path).parent
    installed = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    return installed[-1].parent if installed else None


def _unprivileged_prefix(base: Path) -> list[str]:
    # initdb refuses to run as root, so the cluster belongs to the postgres system user.
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        account = None
    if runuser is None or account is None:
        pytest.skip(
            "PostgreSQL is needed: running as root, initdb needs the `postgres` system user "
            "and `runuser`, and one of them is missing"
        )
    os.chown(base, account.pw_uid, account.pw_gid)
    return [runuser, "-u", "postgres", "--"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed: {result.stderr or result.stdout}")

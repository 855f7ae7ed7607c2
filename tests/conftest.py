from __future__ import annotations

import os
import pwd
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from learnbot.storage import UserStore, open_store

LOCAL_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _ci_failure(reason: object) -> str:
    return f"skipped under CI=true, where every test must run: {reason}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if _in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = _ci_failure(reason)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    if _in_ci() and report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = _ci_failure(reason)
    return report


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A server where tests may create and drop databases."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        yield configured
    elif _answers(LOCAL_SERVER_URL):
        yield LOCAL_SERVER_URL
    else:
        yield from throwaway_postgres_server()


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A fresh, empty database on the server, dropped afterwards."""
    name = f"learnbot_test_{secrets.token_hex(6)}"
    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlsplit(server_url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    with scratch_database(postgres_server_url) as url:
        yield url


@pytest.fixture(scope="module")
def module_postgres_url(postgres_server_url: str) -> Iterator[str]:
    with scratch_database(postgres_server_url) as url:
        yield url


@pytest.fixture(scope="session")
def session_postgres_url(postgres_server_url: str) -> Iterator[str]:
    with scratch_database(postgres_server_url) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/learnbot.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    # Looked up by name so that SQLite tests never need a PostgreSQL server.
    fixture = {"sqlite": "sqlite_url", "postgresql": "postgres_url"}[request.param]
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[UserStore]:
    opened = open_store(database_url, pool_size=5)
    await opened.open()
    try:
        await opened.migrate()
        yield opened
    finally:
        await opened.close()


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def throwaway_postgres_server() -> Iterator[str]:
    """Runs a private cluster on a free port from the installed server binaries."""
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL is needed: nothing answers at 127.0.0.1:5432, TEST_DATABASE_URL is "
            "unset, and initdb/pg_ctl are neither on PATH nor in /usr/lib/postgresql/*/bin"
        )
    base = Path(tempfile.mkdtemp(prefix="learnbot-pg-"))
    try:
        run_as = _unprivileged_prefix(base)
        data = base / "data"
        port = _free_port()
        _run(
            [
                *run_as,
                str(bin_dir / "initdb"),
                f"--pgdata={data}",
                "--username=postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        pg_ctl = [*run_as, str(bin_dir / "pg_ctl"), f"--pgdata={data}"]
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        _run([*pg_ctl, "-o", options, f"--log={base / 'server.log'}", "--wait", "start"])
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            _run([*pg_ctl, "--mode=immediate", "--wait", "stop"])
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

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from learnbot.storage import UserStore, open_store
from postgres_cluster import private_cluster
from service_process import STARTED_PROCESS_GROUPS, live_processes_in_groups

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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fails the run when a `learnbot serve` it started, or a worker of one, still runs."""
    left_behind = live_processes_in_groups(STARTED_PROCESS_GROUPS)
    if not left_behind:
        return
    for group in STARTED_PROCESS_GROUPS:
        with suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"learnbot serve processes left running (now killed): {left_behind}", red=True
        )


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
    with private_cluster() as cluster:
        yield cluster.url

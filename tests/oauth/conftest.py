from __future__ import annotations

from collections.abc import Iterator

import pytest

from github_standin import GitHubStandIn, github_standin
from linking_service import (
    ACCOUNTS,
    CLIENT_SECRET,
    GITHUB_CLIENT_ID,
    GITHUB_USERS,
    RETURN_URL,
    LinkingService,
    linking_service,
    oauth_env,
    oidc_clients,
)
from oidc_provider import OpenIdProvider, openid_provider
from service_process import free_port

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def linking_ports() -> dict[str, int]:
    """The ports of the linking services, chosen first: the provider must know their callbacks.
    One per back end, and one for a service that sends the browser to OAUTH_RETURN_URL."""
    return {name: free_port() for name in (*BACKENDS, "returning")}


@pytest.fixture(scope="session")
def op(
    tmp_path_factory: pytest.TempPathFactory, linking_ports: dict[str, int]
) -> Iterator[OpenIdProvider]:
    urls = [f"http://127.0.0.1:{port}" for port in linking_ports.values()]
    with openid_provider(tmp_path_factory.mktemp("op"), oidc_clients(urls), ACCOUNTS) as started:
        yield started


@pytest.fixture(scope="session")
def github() -> Iterator[GitHubStandIn]:
    with github_standin(GITHUB_CLIENT_ID, CLIENT_SECRET, GITHUB_USERS) as standin:
        yield standin


@pytest.fixture(scope="session", params=BACKENDS)
def linking(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    op: OpenIdProvider,
    github: GitHubStandIn,
    linking_ports: dict[str, int],
) -> Iterator[LinkingService]:
    """learnbot linking through the OpenID provider and the GitHub stand-in, on each back end."""
    workdir = tmp_path_factory.mktemp(f"linking-{request.param}")
    if request.param == "sqlite":
        database_url = f"sqlite:///{workdir}/learnbot.db"
    else:
        database_url = request.getfixturevalue("session_postgres_url")
    port = linking_ports[request.param]
    env = oauth_env(op.issuer, github, f"http://127.0.0.1:{port}")
    with linking_service(database_url, env, port, workdir / "server.log") as service:
        yield service


@pytest.fixture(scope="module")
def returning(
    tmp_path_factory: pytest.TempPathFactory,
    op: OpenIdProvider,
    linking_ports: dict[str, int],
) -> Iterator[LinkingService]:
    """A service with OAUTH_RETURN_URL, on SQLite."""
    workdir = tmp_path_factory.mktemp("returning")
    port = linking_ports["returning"]
    env = oauth_env(op.issuer, None, f"http://127.0.0.1:{port}", OAUTH_RETURN_URL=RETURN_URL)
    with linking_service(
        f"sqlite:///{workdir}/learnbot.db", env, port, workdir / "server.log"
    ) as service:
        yield service

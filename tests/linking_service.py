"""`learnbot serve` configured to link accounts through a real OpenID provider and the GitHub
stand-in, with what the account-linking tests do with it."""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg

from browser import Browser
from github_standin import GitHubStandIn, GitHubUser
from service_process import Server, server_env, start_server

CLIENT_SECRET = "learnbot-test-client-secret-6f1d0c"
GITHUB_CLIENT_ID = "Iv1.learnbot-test"
# The OpenID provider's clients, one per provider id of learnbot: `op` as the provider issues
# its ID tokens, the others with the ID token changed on its way (tests/oidc/provider/server.mjs).
ID_TOKEN_CHANGES = {
    "op": None,
    "forged": "forged",
    "altered": "altered",
    "expired": "expired",
    "audience": "audience",
    "nonce": "nonce",
    "issuer": "issuer",
}
ACCOUNTS = {
    "alice": {"name": "Alice Liddell", "preferred_username": "alice"},
    "bob": {"name": "Bob", "preferred_username": "bob"},
    # NFD (a combining accent), markup, and control characters.
    "mallory": {"name": " <b>Malle\u0301ry</b>\n\tM. ", "preferred_username": "mallory"},
    # A name PostgreSQL cannot store: the next claim is taken.
    "nul": {"name": "N\u0000L", "preferred_username": "nul-user"},
    "nameless": {},
}
# The Mini App a service of the tests sends the browser back to.
RETURN_URL = "https://app.example.com/miniapp?from=bot#/accounts"
GITHUB_USERS = [GitHubUser(583231, "octocat", "The Octocat"), GitHubUser(9919, "hubot")]


def login(account: str) -> str:
    """A new subject at the OpenID provider with the claims of `account`."""
    return f"{account}+{secrets.token_hex(6)}"


def client_id(provider: str) -> str:
    return f"learnbot-{provider}"


def callback_url(service_url: str, provider: str) -> str:
    return f"{service_url}/auth/oauth/{provider}/callback"


def oidc_clients(service_urls: list[str]) -> list[dict[str, object]]:
    return [
        {
            "client_id": client_id(provider),
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [callback_url(url, provider) for url in service_urls],
            **({"id_token": change} if change else {}),
        }
        for provider, change in ID_TOKEN_CHANGES.items()
    ]


def oauth_env(
    issuer: str, github: GitHubStandIn | None, service_url: str, **extra: str
) -> dict[str, str]:
    """OAUTH_* for every provider id of ID_TOKEN_CHANGES at `issuer`, and `gh` at the stand-in."""
    env = {"OAUTH_REDIRECT_BASE_URL": service_url}
    ids = list(ID_TOKEN_CHANGES)
    for provider in ids:
        prefix = f"OAUTH_{provider.upper()}_"
        env.update(
            {
                prefix + "ISSUER": issuer,
                prefix + "CLIENT_ID": client_id(provider),
                prefix + "CLIENT_SECRET": CLIENT_SECRET,
                prefix + "NAME": provider.capitalize(),
            }
        )
    if github is not None:
        ids.append("gh")
        env.update(
            {
                "OAUTH_GH_KIND": "github",
                "OAUTH_GH_NAME": "GitHub",
                "OAUTH_GH_CLIENT_ID": github.client_id,
                "OAUTH_GH_CLIENT_SECRET": github.client_secret,
                "OAUTH_GH_WEB_URL": github.url,
                "OAUTH_GH_API_URL": github.api_url,
            }
        )
    return {"OAUTH_PROVIDERS": ",".join(ids), **env, **extra}


@dataclass
class LinkingService:
    server: Server
    database_url: str

    @property
    def url(self) -> str:
        return self.server.url

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def authorize(self, provider: str, headers: Mapping[str, str]) -> str:
        """The authorization URL of a new link of `provider` by the signed-in user."""
        with self.client() as http:
            response = http.post(f"/me/accounts/{provider}/authorize", headers=headers)
        assert response.status_code == 200, response.text
        url: str = response.json()["authorization_url"]
        return url

    def sign_in(self, authorization_url: str, login: str, *, cancel: bool = False) -> str:
        """The callback URL the provider sends the browser to, not yet requested."""
        with Browser() as browser:
            return browser.sign_in(authorization_url, login=login, back_to=self.url, cancel=cancel)

    def get(self, url: str, **headers: str) -> httpx.Response:
        """A request to the service by full URL, as the browser makes the callback; header
        names as keywords (accept_language=...)."""
        with self.client() as http:
            return http.get(
                url.removeprefix(self.url),
                headers={name.replace("_", "-"): value for name, value in headers.items()},
            )

    def link(self, provider: str, headers: Mapping[str, str], login: str) -> httpx.Response:
        """The whole flow: authorize, sign in and consent at the provider, the callback."""
        return self.get(self.sign_in(self.authorize(provider, headers), login))

    def accounts(self, headers: Mapping[str, str]) -> list[dict[str, Any]]:
        with self.client() as http:
            response = http.get("/me", headers=headers)
        assert response.status_code == 200, response.text
        accounts: list[dict[str, Any]] = response.json()["accounts"]
        return accounts

    def metric(self, provider: str, outcome: str) -> float:
        with self.client() as http:
            text = http.get("/metrics").text
        pattern = (
            rf'^account_links_total\{{(?=[^}}]*outcome="{outcome}")'
            rf'(?=[^}}]*provider="{provider}")[^}}]*\}} (\S+)$'
        )
        found = re.search(pattern, text, flags=re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    def sql(self, query: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """A statement on the service's database; `%s` placeholders on both back ends."""
        if self.database_url.startswith("sqlite:///"):
            connection = sqlite3.connect(Path(self.database_url.removeprefix("sqlite:///")))
            try:
                with connection:
                    rows = connection.execute(query.replace("%s", "?"), params).fetchall()
            finally:
                connection.close()
            return rows
        with psycopg.connect(self.database_url, autocommit=True) as postgres:
            cursor = postgres.execute(query.encode(), params)
            return cursor.fetchall() if cursor.description else []


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


@contextmanager
def linking_service(
    database_url: str, env: Mapping[str, str], port: int, log_path: Path
) -> Iterator[LinkingService]:
    server = start_server(
        server_env(database_url, PORT=str(port), LOG_LEVEL="DEBUG", **env), log_path
    )
    try:
        yield LinkingService(server, database_url)
    finally:
        server.stop()

"""A provider that refuses connections, or accepts them and answers nothing: authorize and the
callback answer 503 `provider-unavailable` within the deadline of a database call
(DATABASE_TIMEOUT_SECONDS), never 500 and never a hang; once the provider answers again, links
work again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from linking_service import (
    ACCOUNTS,
    CLIENT_SECRET,
    LinkingService,
    linking_service,
    login,
    oauth_env,
    oidc_clients,
)
from oidc_provider import OpenIdProvider, openid_provider
from service_process import free_port, new_telegram_id, tma

pytestmark = pytest.mark.slow

DEADLINE_SECONDS = 2
# The deadline, and what a request costs around it on a busy two-core machine.
BOUND_SECONDS = DEADLINE_SECONDS + 1.5


@pytest.fixture
def outage(tmp_path: Path) -> Iterator[tuple[OpenIdProvider, LinkingService]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with openid_provider(tmp_path, oidc_clients([url]), ACCOUNTS) as provider:
        env = oauth_env(provider.issuer, None, url, DATABASE_TIMEOUT_SECONDS=str(DEADLINE_SECONDS))
        env["OAUTH_PROVIDERS"] += ",down"
        env.update(
            OAUTH_DOWN_ISSUER=f"http://127.0.0.1:{free_port()}",
            OAUTH_DOWN_CLIENT_ID="learnbot",
            OAUTH_DOWN_CLIENT_SECRET=CLIENT_SECRET,
        )
        with linking_service(
            f"sqlite:///{tmp_path}/learnbot.db", env, port, tmp_path / "server.log"
        ) as service:
            yield provider, service


def timed_post(service: LinkingService, path: str) -> tuple[float, int, dict[str, object], str]:
    with service.client() as http:
        started = time.monotonic()
        response = http.post(path, headers=tma(new_telegram_id()))
        return (
            time.monotonic() - started,
            response.status_code,
            response.json(),
            response.headers.get("retry-after", ""),
        )


def test_a_provider_refusing_connections_is_unavailable(
    outage: tuple[OpenIdProvider, LinkingService],
) -> None:
    _, service = outage

    seconds, status, body, retry_after = timed_post(service, "/me/accounts/down/authorize")

    assert (status, body["type"]) == (503, "urn:learnbot:problem:provider-unavailable")
    assert retry_after == "5"
    assert seconds < BOUND_SECONDS
    assert service.metric("down", "unavailable") == 1


def test_a_provider_that_answers_nothing_is_unavailable_within_the_deadline(
    outage: tuple[OpenIdProvider, LinkingService],
) -> None:
    provider, service = outage
    headers = tma(new_telegram_id())
    callback = service.sign_in(service.authorize("op", headers), login("alice"))

    provider.freeze()
    try:
        started = time.monotonic()
        at_callback = service.get(callback)
        callback_seconds = time.monotonic() - started
        # `nonce` shares the issuer; its discovery document is not cached yet.
        authorize_seconds, status, body, _ = timed_post(service, "/me/accounts/nonce/authorize")
    finally:
        provider.thaw()

    assert at_callback.status_code == 503, at_callback.text
    assert at_callback.json()["type"] == "urn:learnbot:problem:provider-unavailable"
    assert at_callback.headers["retry-after"] == "5"
    assert callback_seconds < BOUND_SECONDS
    assert (status, body["type"]) == (503, "urn:learnbot:problem:provider-unavailable")
    assert authorize_seconds < BOUND_SECONDS
    assert service.metric("op", "unavailable") == 1
    # The provider answers again: so does linking.
    assert service.link("op", headers, login("alice")).status_code == 201
    assert "Traceback" not in service.server.log()

"""The calls the service makes, traced: to an account provider (the GitHub stand-in, which
records the `traceparent` it receives) and to the Bot API (its stand-in), from a real
`learnbot serve` to a real OTLP/HTTP receiver."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot_api_standin import bot_api_standin, start_update
from github_standin import GitHubStandIn, GitHubUser, github_standin
from linking_service import CLIENT_SECRET, GITHUB_CLIENT_ID, linking_service
from otlp_receiver import ReceivedSpan, otlp_receiver
from service_process import BOT_TOKEN, free_port, new_telegram_id, server_env, start_server, tma

QUICK_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "100"}
WEBHOOK_SECRET = "webhook-secret_for-the-tracing-test-0123"


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    users = [GitHubUser(583231, "octocat", "The Octocat")]
    with github_standin(GITHUB_CLIENT_ID, CLIENT_SECRET, users) as standin:
        yield standin


def children_of(spans: list[ReceivedSpan], parent: ReceivedSpan) -> list[ReceivedSpan]:
    return [s for s in spans if s.parent_span_id == parent.span_id]


def test_calls_to_a_provider_are_client_spans_that_pass_the_trace_on(
    github: GitHubStandIn, tmp_path: Path
) -> None:
    port = free_port()
    with otlp_receiver() as receiver:
        env = {
            "OAUTH_PROVIDERS": "gh",
            "OAUTH_REDIRECT_BASE_URL": f"http://127.0.0.1:{port}",
            "OAUTH_GH_KIND": "github",
            "OAUTH_GH_CLIENT_ID": github.client_id,
            "OAUTH_GH_CLIENT_SECRET": github.client_secret,
            "OAUTH_GH_WEB_URL": github.url,
            "OAUTH_GH_API_URL": github.api_url,
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            **QUICK_EXPORT,
        }
        database_url = f"sqlite:///{tmp_path}/learnbot.db"
        with linking_service(database_url, env, port, tmp_path / "server.log") as service:
            callback = service.sign_in(service.authorize("gh", tma(new_telegram_id())), "octocat")
            linked = service.get(callback)
            assert linked.status_code == 201, linked.text
            spans = receiver.wait_for(
                lambda spans: any(
                    s.kind == "SPAN_KIND_SERVER"
                    and s.name.startswith("GET /auth/oauth/")
                    and len(children_of(spans, s)) >= 2
                    for s in spans
                )
            )

    request = next(s for s in spans if s.name.startswith("GET /auth/oauth/"))
    calls = [s for s in children_of(spans, request) if "learnbot.oauth.provider" in s.attributes]
    # The token request, then the user's (the store's calls are children too).
    token, user = sorted(calls, key=lambda s: s.name, reverse=True)
    assert {token.kind, user.kind} == {"SPAN_KIND_CLIENT"}
    host = github.url.removeprefix("http://")
    assert token.name == "POST"
    assert token.attributes == {
        "http.request.method": "POST",
        "server.address": "127.0.0.1",
        "server.port": int(host.rsplit(":", 1)[1]),
        "url.full": f"{github.url}/login/oauth/access_token",
        "learnbot.oauth.provider": "gh",
        "http.response.status_code": 200,
    }
    assert user.name == "GET"
    assert user.attributes["url.full"] == f"{github.api_url}/user"
    assert user.attributes["http.response.status_code"] == 200
    # The provider received each call's own span as its parent, in the request's trace, sampled.
    received = [header.split("-") for header in github.traceparents[-2:] if header]
    assert [fields[:3] for fields in received] == [
        ["00", request.trace_id, token.span_id],
        ["00", request.trace_id, user.span_id],
    ]
    assert all(int(fields[3], 16) & 1 for fields in received)


def test_bot_api_calls_are_client_spans_without_the_token(tmp_path: Path) -> None:
    update = start_update(new_telegram_id(), secrets.randbelow(2**40), int(time.time()))
    with bot_api_standin() as standin, otlp_receiver() as receiver:
        env = server_env(
            f"sqlite:///{tmp_path}/learnbot.db",
            TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
            TELEGRAM_API_URL=standin.url,
            MINIAPP_URL="https://learnbot.example.com/app/",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
            **QUICK_EXPORT,
        )
        server = start_server(env, tmp_path / "server.log")
        try:
            answered = httpx.post(
                server.url + "/telegram/webhook",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
                timeout=30,
            )
            assert answered.status_code == 200, answered.text
            spans = receiver.wait_for(
                lambda spans: any(s.name == "telegram sendMessage" for s in spans)
            )
        finally:
            server.stop()

    webhook = next(s for s in spans if s.name == "POST /telegram/webhook")
    (sent,) = [s for s in children_of(spans, webhook) if s.name == "telegram sendMessage"]
    assert sent.kind == "SPAN_KIND_CLIENT"
    assert sent.trace_id == webhook.trace_id
    assert sent.attributes == {
        "http.request.method": "POST",
        "server.address": "127.0.0.1",
        "server.port": int(standin.url.rsplit(":", 1)[1].rstrip("/")),
        "learnbot.telegram.method": "sendMessage",
    }
    secret = BOT_TOKEN.split(":", 1)[1]
    assert all(secret not in str(s.attributes) and secret not in s.name for s in spans)

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from learnbot.observability.logs import (
    SECRET_PATTERNS,
    accept_request_id,
    log_timestamp,
    scrub,
)
from service_process import BOT_TOKEN, init_data, new_telegram_id, server_env, start_server


def test_a_sign_in_flow_logs_request_ids_and_no_secret(tmp_path: Path) -> None:
    server = start_server(server_env(f"sqlite:///{tmp_path}/logs.db"), tmp_path / "server.log")
    telegram_id = new_telegram_id()
    raw = init_data(telegram_id, first_name="Анна", username="anna")
    fields = dict(parse_qsl(raw))
    secrets_sent = [BOT_TOKEN, raw, fields["hash"], fields["user"]]
    forged = raw.replace("anna", "mallory")
    answered: dict[str, tuple[str, int]] = {}
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            # Each request: method, path, httpx's keywords, the caller's request id.
            calls: list[tuple[str, str, dict[str, Any], str | None]] = [
                ("POST", "/auth/telegram", {"json": {"init_data": raw}}, "caller-id-1"),
                ("GET", "/me", {"headers": {"Authorization": f"tma {raw}"}}, None),
                (
                    "POST",
                    "/me/accounts",
                    {
                        "headers": {"Authorization": f"tma {raw}"},
                        "json": {"provider": "github", "external_id": "anna-gh"},
                    },
                    "bad id with spaces",
                ),
                ("POST", "/auth/telegram", {"json": {"init_data": forged}}, None),
                ("GET", "/me", {"headers": {"Authorization": f"tma {forged}"}}, None),
            ]
            for method, path, kwargs, caller_id in calls:
                headers = dict(kwargs.pop("headers", {}))
                if caller_id:
                    headers["X-Request-ID"] = caller_id
                response = http.request(method, path, headers=headers, **kwargs)
                request_id = response.headers["x-request-id"]
                answered[request_id] = (path, response.status_code)
    finally:
        server.stop()

    assert "caller-id-1" in answered
    assert "bad id with spaces" not in answered
    assert all(re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", rid) for rid in answered)

    log_text = server.log()
    for secret in secrets_sent:
        assert secret not in log_text
    lines = [json.loads(line) for line in log_text.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("logger") == "learnbot.access"]
    for request_id, (path, status) in answered.items():
        matching = [line for line in access if line.get("request_id") == request_id]
        assert len(matching) == 1, request_id
        line = matching[0]
        assert line["route"] == path
        assert line["status"] == status
        assert line["level"] == "INFO"
        assert {"timestamp", "method", "duration_ms"} <= set(line)
    signed_in = [line for line in access if line["status"] == 200 and line["route"] == "/me"]
    assert signed_in[0]["telegram_id"] == telegram_id

    events = [line for line in lines if line.get("message") == "signed in"]
    assert len(events) == 1
    assert events[0]["request_id"] == "caller-id-1"
    assert events[0]["telegram_id"] == telegram_id


def test_console_format_is_readable(tmp_path: Path) -> None:
    env = server_env(f"sqlite:///{tmp_path}/c.db", LOG_FORMAT="console")
    server = start_server(env, tmp_path / "server.log")
    try:
        httpx.get(server.url + "/ready", headers={"X-Request-ID": "console-check"})
    finally:
        server.stop()
    line = next(x for x in server.log().splitlines() if "console-check" in x)
    assert not line.startswith("{")
    assert "learnbot.access" in line
    assert "route=/ready" in line
    assert "status=200" in line


@pytest.mark.parametrize(
    "text",
    [
        f"token {BOT_TOKEN} leaked",
        "Authorization: tma query_id=AAH&user=%7B%7D&auth_date=1&hash=abc",
        "hash=" + "a" * 64,
        'signature": "' + "B" * 86,
        "postgresql://learnbot:hunter2@db:5432/learnbot",
        "auth_date=1700000000&hash=00",
        "GET /auth/oauth/gh/callback?code=Zq1secret&state=Zq2secret",
        '{"access_token": "Zq3secret", "id_token": "Zq4secret", "token_type": "Bearer"}',
        "code_verifier=Zq5secret&client_secret=Zq6secret",
        "the token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.Zq7secret-signature",
        "Bearer gho_Zq8secret0123456789abcdef",
    ],
)
def test_scrub_removes_secret_shapes(text: str) -> None:
    scrubbed = scrub(text)
    for secret in (BOT_TOKEN, "hunter2", "a" * 64, "B" * 86, "user=%7B%7D", "auth_date=17", "Zq"):
        assert secret not in scrubbed


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        ("abc-123", True),
        ("9f1c2a3b.4d:5e_6", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("", False),
        ("has space", False),
        ("new\nline", False),
        ("ünïcode", False),
    ],
)
def test_request_ids_from_callers_are_validated(header: str, kept: bool) -> None:
    assert (accept_request_id(header) == header) is kept
    assert re.fullmatch(r"[0-9a-f]{32}", accept_request_id(None))


def scrub_with_every_pattern(text: str) -> str:
    for pattern, replacement in SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@given(
    st.text(
        alphabet=st.sampled_from(list("0123456789:=%3DdTtMmAa_-&\"' /@hashuserpwdeyJ.gho")),
        max_size=80,
    )
    | st.text(max_size=80)
)
def test_the_quick_look_before_scrubbing_never_skips_a_secret(text: str) -> None:
    assert scrub(text) == scrub_with_every_pattern(text)


def test_scrubbing_leaves_plain_messages_alone() -> None:
    assert scrub("request") == "request"
    assert scrub("signed in") == "signed in"


@given(
    st.one_of(
        st.floats(min_value=0, max_value=4e9),
        # Near the end of a second, where rounding to microseconds carries into the next one.
        st.integers(0, 4 * 10**9).map(lambda second: second + 0.9999995),
    )
)
def test_a_log_timestamp_is_the_utc_time_to_the_millisecond_as_datetime_writes_it(
    created: float,
) -> None:
    expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    assert log_timestamp(created) == expected
    # The cached second is not reused for another one.
    assert log_timestamp(created + 1.0) == datetime.fromtimestamp(created + 1.0, UTC).isoformat(
        timespec="milliseconds"
    )

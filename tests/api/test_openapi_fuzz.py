"""Schemathesis against the service's own OpenAPI document: no 5xx, answers as documented."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot_api_standin import bot_api_standin
from service_process import ADMIN_ID, free_port, init_data, server_env, start_server

FUZZ_WEBHOOK_SECRET = "fuzz-webhook-secret"
# A GitHub-kind provider, so that authorize answers: its URL needs no call to the provider.
# No state the fuzzer sends is one the service issued, so the callback never calls it either.
OAUTH_ENV = {
    "OAUTH_PROVIDERS": "github",
    "OAUTH_GITHUB_KIND": "github",
    "OAUTH_GITHUB_CLIENT_ID": "Iv1.fuzz",
    "OAUTH_GITHUB_CLIENT_SECRET": "fuzz-secret",
    "OAUTH_REDIRECT_BASE_URL": "http://127.0.0.1:8000",
}
# As in production, POST /me/accounts refuses client-supplied links (403): stateful testing
# would otherwise take a provider linked that way for one configured (the authorize path's),
# and call its 404 a created resource not found. The development path's body parsing is held
# to the rules by test_hostile_input.py and test_unicode_properties.py.


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_every_operation_holds_to_its_schema(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    url = (
        f"sqlite:///{tmp_path}/fuzz.db"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    st = Path(sys.executable).parent / "st"
    if not st.exists() and shutil.which("st") is None:
        pytest.skip("schemathesis is not installed: pip install -e '.[dev]'")
    # The webhook's updates are answered through a local stand-in for the Bot API.
    standin_context = bot_api_standin()
    standin = standin_context.__enter__()
    closed = f"http://127.0.0.1:{free_port()}"
    env = server_env(
        url,
        TELEGRAM_WEBHOOK_SECRET=FUZZ_WEBHOOK_SECRET,
        TELEGRAM_API_URL=standin.url,
        OAUTH_GITHUB_WEB_URL=closed,
        OAUTH_GITHUB_API_URL=closed,
        **OAUTH_ENV,
    )
    server = start_server(env, tmp_path / "server.log")
    try:
        result = subprocess.run(
            [
                str(st),
                "run",
                f"{server.url}/openapi.json",
                "--checks=all",
                "--max-examples=25",
                "--max-time=40",
                "--seed=20261129",
                "--request-timeout=10",
                "--max-response-time=5",
                "--no-color",
                # Signed in as an administrator, so that every operation is reached.
                f"--header=Authorization: tma {init_data(ADMIN_ID)}",
                f"--header=X-Telegram-Bot-Api-Secret-Token: {FUZZ_WEBHOOK_SECRET}",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    finally:
        server.stop()
        standin_context.__exit__(None, None, None)
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    assert "17/17" in result.stdout, report
    assert "Traceback" not in server.log()

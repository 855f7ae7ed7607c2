"""`learnbot bot setup` and `learnbot bot status` against the Bot API stand-in."""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from bot.conftest import MINIAPP_URL, WEBHOOK_SECRET, WEBHOOK_URL
from bot_api_standin import BotApiStandIn
from learnbot.bot import updates
from learnbot.cli import main
from learnbot.i18n.catalogs import load_catalog
from service_process import server_env


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


def run_bot(command: str, standin: BotApiStandIn, tmp_path: Path, **env: str) -> Done:
    """`learnbot bot <command>` in this process (the command line's main), with this
    environment; the subprocess would only add the interpreter's start-up."""
    settings = {
        "TELEGRAM_API_URL": standin.url,
        "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TELEGRAM_WEBHOOK_URL": WEBHOOK_URL,
        "MINIAPP_URL": MINIAPP_URL,
        **env,
    }
    environment = server_env(f"sqlite:///{tmp_path}/learnbot.db", **settings)
    out, err = io.StringIO(), io.StringIO()
    with (
        mock.patch.dict(os.environ, environment, clear=True),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = main(["bot", command])
    return Done(code, out.getvalue(), err.getvalue())


def test_setup_registers_the_webhook_commands_and_menu_button(
    standin: BotApiStandIn, tmp_path: Path
) -> None:
    standin.retry_after("setMyCommands", 1)
    done = run_bot("setup", standin, tmp_path)
    assert done.returncode == 0, done.stderr

    assert [c.method for c in standin.calls] == [
        "setWebhook",
        # The first was answered 429 with retry_after 1, and sent again a second later.
        *["setMyCommands"] * 8,
        "setChatMenuButton",
    ]
    refused, retried = standin.calls_of("setMyCommands")[:2]
    assert retried.at - refused.at >= 1.0
    assert retried.params == refused.params
    (webhook,) = standin.calls_of("setWebhook")
    assert webhook.params["url"] == WEBHOOK_URL
    assert webhook.params["secret_token"] == WEBHOOK_SECRET
    assert webhook.params["allowed_updates"] == ["message", "callback_query"]
    commands = {
        c.params.get("language_code"): c.params["commands"]
        for c in standin.calls_of("setMyCommands")
    }
    assert set(commands) == {None, "de", "en", "es", "pt", "ru", "uk"}
    assert commands["ru"][0] == {
        "command": "start",
        "description": load_catalog("ru").gettext(updates.OPEN_APP),
    }
    assert commands["pt"][1]["description"] == load_catalog("pt_BR").gettext("Change the language")
    (menu,) = standin.calls_of("setChatMenuButton")
    assert menu.params["menu_button"] == {
        "type": "web_app",
        "text": "Open the app",
        "web_app": {"url": MINIAPP_URL},
    }
    assert WEBHOOK_SECRET not in done.stdout + done.stderr


def test_setup_needs_the_url_and_reports_a_refusal(standin: BotApiStandIn, tmp_path: Path) -> None:
    standin.clear()
    done = run_bot("setup", standin, tmp_path, TELEGRAM_WEBHOOK_URL="")
    assert done.returncode == 2
    assert "TELEGRAM_WEBHOOK_URL" in done.stderr
    assert standin.calls == []

    standin.fail(
        "setWebhook", 400, "Bad Request: bad webhook: HTTPS url must be provided for webhook"
    )
    done = run_bot("setup", standin, tmp_path)
    assert done.returncode == 1
    assert "setWebhook" in done.stderr


def test_status_prints_the_webhook_info(standin: BotApiStandIn, tmp_path: Path) -> None:
    standin.clear()
    done = run_bot("status", standin, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "pending updates: 3" in done.stdout
    assert "Wrong response from the webhook: 503 Service Unavailable" in done.stdout

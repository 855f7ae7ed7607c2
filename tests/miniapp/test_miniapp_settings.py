"""The Mini App's settings, and the command that prints a link to open it in a desktop browser."""

from __future__ import annotations

import subprocess
import sys
import time
from urllib.parse import parse_qsl, urlsplit

import pytest

from learnbot.auth import verify_init_data
from learnbot.settings import ConfigError, Settings
from service_process import BOT_TOKEN


def test_the_miniapp_settings() -> None:
    defaults = Settings.from_env({})
    assert defaults.miniapp_enabled is True
    assert defaults.miniapp_url is None
    chosen = Settings.from_env(
        {"MINIAPP_ENABLED": "false", "MINIAPP_URL": "https://learnbot.example.com/app/"}
    )
    assert chosen.miniapp_enabled is False
    assert chosen.miniapp_url == "https://learnbot.example.com/app/"


@pytest.mark.parametrize(
    "url",
    [
        "http://learnbot.example.com/app/",
        "https://learnbot.example.com/app/#start",
        "https://user:secret@learnbot.example.com/app/",
        "https://learnbot.example.com:0/app/",
        "https:///app/",
        "https://learnbot.example.com/a b/",
        "learnbot.example.com/app/",
    ],
)
def test_miniapp_url_must_be_what_telegram_opens(url: str) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"MINIAPP_URL": url})
    assert error.value.variable == "MINIAPP_URL"
    assert "an https URL" in str(error.value)
    assert "secret" not in str(error.value)


def learnbot(*args: str, **env_values: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "learnbot", *args],
        env={"PATH": "/usr/bin:/bin", "TELEGRAM_BOT_TOKEN": BOT_TOKEN, **env_values},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_development_link_signs_in_on_this_server() -> None:
    result = learnbot(
        "sign-init-data", "--user-id", "42", "--app-link", HOST="0.0.0.0", PORT="8123"
    )
    assert result.returncode == 0, result.stderr
    link = urlsplit(result.stdout.strip())
    assert (link.scheme, link.netloc, link.path) == ("http", "127.0.0.1:8123", "/app/dev.html")
    launch = dict(parse_qsl(link.fragment))
    assert launch["tgWebAppVersion"] == "6.0"
    verified = verify_init_data(
        launch["tgWebAppData"], bot_token=BOT_TOKEN, bot_id=None, max_age=60, now=time.time()
    )
    assert verified.profile.telegram_id == 42


def test_the_development_link_is_refused_in_production() -> None:
    result = learnbot("sign-init-data", "--user-id", "42", "--app-link", APP_ENV="production")
    assert result.returncode == 2
    assert "/app/dev.html is served in development only" in result.stderr
    assert result.stdout == ""

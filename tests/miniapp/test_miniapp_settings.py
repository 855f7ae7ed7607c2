"""The Mini App's settings."""

from __future__ import annotations

import pytest

from learnbot.settings import ConfigError, Settings


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

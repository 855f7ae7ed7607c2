"""`learnbot bot setup` and `learnbot bot status`: the bot's registration with Telegram."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiogram.methods import GetWebhookInfo, SetChatMenuButton, SetMyCommands, SetWebhook
from aiogram.types import BotCommand, MenuButtonWebApp, WebAppInfo

from learnbot.bot.client import BotClient
from learnbot.bot.updates import COMMANDS, OPEN_APP
from learnbot.i18n.catalogs import LocaleCatalog, load_catalogs
from learnbot.setting import ConfigError
from learnbot.settings import Settings

# The updates the bot acts on; Telegram sends no others.
ALLOWED_UPDATES = ("message", "callback_query")


def _client(settings: Settings) -> BotClient:
    if settings.telegram_bot_token is None or settings.uses_development_token:
        raise ConfigError("TELEGRAM_BOT_TOKEN", "the bot's token, for the Bot API")
    return BotClient(settings.telegram_bot_token, settings.telegram_api_url)


def setup(settings: Settings, say: Callable[[str], None] = print) -> None:
    if settings.telegram_webhook_url is None:
        raise ConfigError("TELEGRAM_WEBHOOK_URL", "the public https URL of /telegram/webhook")
    if settings.telegram_webhook_secret is None:
        raise ConfigError("TELEGRAM_WEBHOOK_SECRET", "the secret Telegram sends with updates")
    client = _client(settings)
    asyncio.run(_setup(settings, client, say))


async def _setup(settings: Settings, client: BotClient, say: Callable[[str], None]) -> None:
    assert settings.telegram_webhook_url is not None
    catalogs = load_catalogs(settings.supported_locales)
    try:
        await client.call(
            SetWebhook(
                url=settings.telegram_webhook_url,
                secret_token=settings.telegram_webhook_secret,
                allowed_updates=list(ALLOWED_UPDATES),
            )
        )
        say(f"webhook: {settings.telegram_webhook_url}")
        # The default locale's descriptions for every language, then one set per language.
        await client.call(SetMyCommands(commands=_commands(catalogs[settings.default_locale])))
        languages = {
            locale.split("_")[0]: locale for locale in reversed(settings.supported_locales)
        }
        for language, locale in sorted(languages.items()):
            await client.call(
                SetMyCommands(commands=_commands(catalogs[locale]), language_code=language)
            )
        say("commands: " + ", ".join(sorted(languages)))
        if settings.miniapp_url is not None:
            text = catalogs[settings.default_locale].gettext(OPEN_APP)
            button = MenuButtonWebApp(text=text, web_app=WebAppInfo(url=settings.miniapp_url))
            await client.call(SetChatMenuButton(menu_button=button))
            say(f"menu button: {settings.miniapp_url}")
        else:
            say("menu button: not set (MINIAPP_URL is not set)")
    finally:
        await client.close()


def _commands(catalog: LocaleCatalog) -> list[BotCommand]:
    return [
        BotCommand(command=name, description=catalog.gettext(description))
        for name, description in COMMANDS
    ]


def status(settings: Settings, say: Callable[[str], None] = print) -> None:
    asyncio.run(_status(_client(settings), say))


async def _status(client: BotClient, say: Callable[[str], None]) -> None:
    try:
        info = await client.call(GetWebhookInfo())
    finally:
        await client.close()
    say(f"url: {info.url or '(none)'}")
    say(f"pending updates: {info.pending_update_count}")
    if info.last_error_date is not None:
        say(f"last error: {info.last_error_date.isoformat()} {info.last_error_message or ''}")
    else:
        say("last error: none")
    if info.allowed_updates is not None:
        say("allowed updates: " + ", ".join(info.allowed_updates))

"""What the bot does with one update that the webhook received."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from aiogram.methods import AnswerCallbackQuery, SendMessage
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
    WebAppInfo,
)
from aiogram.types import User as TelegramUser
from pydantic import ValidationError

from learnbot.bot.client import BotApiFailed, BotClient
from learnbot.i18n.catalogs import LocaleCatalog
from learnbot.i18n.markers import N_
from learnbot.i18n.negotiation import negotiate_locale
from learnbot.observability.metrics import BOT_UPDATES
from learnbot.observability.timed_store import TimedStore
from learnbot.settings import Settings
from learnbot.storage import StorageError, TelegramProfile, User
from learnbot.text import is_json_text

log = logging.getLogger("learnbot.bot")

# A deep link's start parameter, as Telegram allows it (t.me/<bot>?start=<payload>).
START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
LOCALE_CALLBACK = "locale:"
MAX_UPDATE_ID = 2**53 - 1

WELCOME = N_("Hello, %(name)s! Tap the button below to open the app.")
WELCOME_NO_APP = N_("Hello, %(name)s! Welcome to the learning bot.")
OPEN_APP = N_("Open the app")
CHOOSE_LANGUAGE = N_("Choose your language:")
LANGUAGE_SET = N_("Language set: %(language)s.")
HELP = N_("/start opens the app, /language changes the language, /help shows this message.")
FALLBACK = N_("I understand /start, /language and /help.")
BLOCKED = N_("This Telegram account is blocked from the service.")
# The commands' descriptions in the chat's menu (learnbot bot setup).
COMMANDS = (
    ("start", N_("Open the app")),
    ("language", N_("Change the language")),
    ("help", N_("What the bot does")),
)


@dataclass(frozen=True)
class Bot:
    """What handling an update needs: one per worker."""

    settings: Settings
    catalogs: Mapping[str, LocaleCatalog]
    store: TimedStore
    client: BotClient


class Malformed(Exception):
    """An update without the shape the Bot API documents."""


def parse_update(body: bytes) -> Update:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise Malformed from None
    if not isinstance(data, dict) or not is_json_text(data):
        raise Malformed
    update_id = data.get("update_id")
    if isinstance(update_id, bool) or not isinstance(update_id, int):
        raise Malformed
    if not 0 <= update_id <= MAX_UPDATE_ID:
        raise Malformed
    try:
        update = Update.model_validate(data)
    except (ValidationError, ValueError, TypeError, RecursionError):
        raise Malformed from None
    if not _ids_in_range(update):
        raise Malformed
    return update


def _ids_in_range(update: Update) -> bool:
    """Telegram's user and chat ids fit in 52 bits; anything else is not from Telegram."""
    ids: list[int] = []
    if update.message is not None:
        ids.append(update.message.chat.id)
        if update.message.from_user is not None:
            ids.append(update.message.from_user.id)
    if update.callback_query is not None:
        ids.append(update.callback_query.from_user.id)
    return all(0 < abs(value) <= MAX_UPDATE_ID for value in ids)


async def handle_body(bot: Bot, body: bytes) -> tuple[str, str]:
    """Acts on one update; returns its (type, outcome), also counted in bot_updates_total.

    StorageError propagates when the update could not be recorded (Telegram redelivers it)."""
    try:
        update = parse_update(body)
    except Malformed:
        BOT_UPDATES.labels("unknown", "malformed").inc()
        return "unknown", "malformed"
    kind = update_type(update)
    if kind == "other":
        outcome = "ignored"
    elif not await bot.store.record_update(update.update_id, datetime.now(UTC)):
        outcome = "duplicate"
    else:
        try:
            outcome = await _act(bot, update, kind)
        except (BotApiFailed, StorageError) as error:
            log.warning("bot update failed", extra={"update_type": kind, "error": str(error)})
            outcome = "failed"
    BOT_UPDATES.labels(kind, outcome).inc()
    return kind, outcome


def update_type(update: Update) -> str:
    message = update.message
    if message is not None:
        if message.chat.type != "private" or message.from_user is None:
            return "other"
        command = _command(message.text)
        return command[0] if command and command[0] in ("start", "language", "help") else "text"
    if update.callback_query is not None:
        return "callback"
    return "other"


def _command(text: str | None) -> tuple[str, str] | None:
    if not text or not text.startswith("/"):
        return None
    head, _, rest = text[1:].partition(" ")
    return head.split("@", 1)[0].lower(), rest.strip()


async def _act(bot: Bot, update: Update, kind: str) -> str:
    if kind == "callback":
        assert update.callback_query is not None
        return await _callback(bot, update.callback_query)
    message = update.message
    assert message is not None
    assert message.from_user is not None
    sender = message.from_user
    if kind == "start":
        signed = await bot.store.upsert_user(_profile(sender), datetime.now(UTC))
        user: User | None = signed.user
    else:
        user = await bot.store.get_user(sender.id)
    catalog = _catalog(bot, user, sender)
    if user is not None and user.is_blocked:
        await _send(bot, message.chat.id, catalog.gettext(BLOCKED))
        return "blocked"
    if kind == "start":
        assert user is not None
        _, payload = _command(message.text) or ("", "")
        if user.source is None and START_PAYLOAD.fullmatch(payload):
            await bot.store.set_source(user.id, payload)
        await _welcome(bot, message.chat.id, catalog, user.first_name)
    elif kind == "language":
        await _send(bot, message.chat.id, catalog.gettext(CHOOSE_LANGUAGE), _language_keyboard(bot))
    elif kind == "help":
        await _send(bot, message.chat.id, catalog.gettext(HELP))
    else:
        await _send(bot, message.chat.id, catalog.gettext(FALLBACK))
    return "ok"


async def _callback(bot: Bot, query: CallbackQuery) -> str:
    sender = query.from_user
    data = query.data or ""
    locale = data.removeprefix(LOCALE_CALLBACK) if data.startswith(LOCALE_CALLBACK) else None
    if locale not in bot.settings.supported_locales:
        await bot.client.call(AnswerCallbackQuery(callback_query_id=query.id))
        return "ignored"
    assert locale is not None
    user = (await bot.store.upsert_user(_profile(sender), datetime.now(UTC))).user
    if user.is_blocked:
        catalog = _catalog(bot, user, sender)
        await bot.client.call(
            AnswerCallbackQuery(callback_query_id=query.id, text=catalog.gettext(BLOCKED))
        )
        return "blocked"
    await bot.store.set_locale(user.id, locale)
    catalog = bot.catalogs[locale]
    text = catalog.gettext(LANGUAGE_SET) % {"language": catalog.native_name}
    await bot.client.call(AnswerCallbackQuery(callback_query_id=query.id, text=text))
    await _send(bot, sender.id, text)
    return "ok"


async def _welcome(bot: Bot, chat_id: int, catalog: LocaleCatalog, name: str) -> None:
    url = bot.settings.miniapp_url
    if url is None:
        await _send(bot, chat_id, catalog.gettext(WELCOME_NO_APP) % {"name": name})
        return
    button = InlineKeyboardButton(text=catalog.gettext(OPEN_APP), web_app=WebAppInfo(url=url))
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[button]])
    await _send(bot, chat_id, catalog.gettext(WELCOME) % {"name": name}, keyboard)


def _language_keyboard(bot: Bot) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(
                text=bot.catalogs[locale].native_name, callback_data=LOCALE_CALLBACK + locale
            )
        ]
        for locale in bot.settings.supported_locales
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def _send(
    bot: Bot, chat_id: int, text: str, keyboard: InlineKeyboardMarkup | None = None
) -> None:
    await bot.client.call(SendMessage(chat_id=chat_id, text=text, reply_markup=keyboard))


def _catalog(bot: Bot, user: User | None, sender: TelegramUser) -> LocaleCatalog:
    settings = bot.settings
    locale = negotiate_locale(
        query=None,
        saved=user.locale if user else None,
        telegram=sender.language_code,
        accept=(),
        supported=settings.supported_locales,
        default=settings.default_locale,
    )
    return bot.catalogs[locale]


def _profile(sender: TelegramUser) -> TelegramProfile:
    return TelegramProfile(
        telegram_id=sender.id,
        first_name=sender.first_name,
        last_name=sender.last_name,
        username=sender.username,
        language_code=sender.language_code,
        is_premium=bool(sender.is_premium),
    )

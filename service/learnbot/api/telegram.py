"""POST /telegram/webhook: the updates Telegram sends the bot."""

from __future__ import annotations

import hmac

from sanic import Blueprint
from sanic.response import HTTPResponse, json
from sanic_ext import openapi

from learnbot.api import schemas
from learnbot.api.problems import WebhookRejected
from learnbot.context import AppRequest
from learnbot.i18n.markers import N_
from learnbot.observability.metrics import BOT_UPDATES

bp = Blueprint("telegram")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name


@bp.post("/telegram/webhook")
@openapi.definition(
    summary="Telegram bot updates",
    description="Telegram posts the bot's updates here (setWebhook), with the secret token in "
    f"`{SECRET_HEADER}`. Every update Telegram sends is answered 200, one without the Bot "
    "API's shape too (and counted, not acted on); an `update_id` seen before is not acted on "
    "again.",
    body=schemas.BOT_UPDATE,
    parameter=schemas.WEBHOOK_SECRET_HEADER,
    response=schemas.responses(200, schemas.WEBHOOK_ANSWER, 401, 413, 503),
)
async def webhook(request: AppRequest) -> HTTPResponse:
    settings = request.app.ctx.settings
    bot = request.app.ctx.resources.bot
    given = request.headers.get(SECRET_HEADER)
    expected = settings.telegram_webhook_secret
    if bot is None or expected is None:
        BOT_UPDATES.labels("unknown", "unauthorized").inc()
        raise WebhookRejected(
            N_("This deployment has no bot: set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET.")
        )
    # Compared in constant time, as bytes: a header may hold any character.
    if given is None or not hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode()
    ):
        BOT_UPDATES.labels("unknown", "unauthorized").inc()
        raise WebhookRejected(N_("The secret token is missing or wrong."))
    # Imported once the bot is known to exist: see open_bot.
    from learnbot.bot.updates import handle_body

    await handle_body(bot, request.body)
    return json({"ok": True})

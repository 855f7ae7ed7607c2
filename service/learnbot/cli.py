from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import logging.config
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from learnbot.auth import sign_init_data
from learnbot.backup.arguments import add_backup_commands
from learnbot.doctor import add_doctor_command
from learnbot.observability.logs import logging_config
from learnbot.observability.metrics import MULTIPROC_DIR_VARIABLE, reset_multiproc_dir
from learnbot.settings import ConfigError, Settings
from learnbot.storage import StorageError, UserStore, open_store

if TYPE_CHECKING:
    from learnbot.context import App

log = logging.getLogger("learnbot")


def app_from_environment() -> App:
    """The factory each Sanic worker process calls; it reads the same environment."""
    from learnbot.app import create_app

    return create_app(Settings.from_env(os.environ))


def _configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings.log_level, settings.log_format))


def _prepare_metrics_dir() -> None:
    """Workers share one PROMETHEUS_MULTIPROC_DIR, emptied before they start."""
    configured = os.environ.get(MULTIPROC_DIR_VARIABLE)
    if configured:
        reset_multiproc_dir(Path(configured))
        return
    # Workers are spawned, so they inherit this and import prometheus_client after it is set.
    private = tempfile.mkdtemp(prefix="learnbot-metrics-")
    os.environ[MULTIPROC_DIR_VARIABLE] = private
    log.warning(
        "%s is not set: worker metrics are collected in %s", MULTIPROC_DIR_VARIABLE, private
    )


@asynccontextmanager
async def _opened_store(settings: Settings) -> AsyncIterator[UserStore]:
    store = open_store(settings.database_url, timeout=settings.database_timeout_seconds)
    try:
        await store.open()
        yield store
    finally:
        await store.close()


async def _migrate(settings: Settings) -> list[int]:
    async with _opened_store(settings) as store:
        return await store.migrate()


def migrate(settings: Settings) -> None:
    applied = asyncio.run(_migrate(settings))
    if applied:
        log.info("applied migrations %s", ", ".join(str(v) for v in applied))
    else:
        log.info("database schema is current")


async def _schema_is_current(settings: Settings) -> bool:
    """Whether the schema has every migration this release knows (or a later one's)."""
    try:
        async with _opened_store(settings) as store:
            state = await store.migration_state()
    except StorageError:
        return False
    return state.applied >= state.latest


def wait_for_schema(settings: Settings) -> None:
    """Listens only once the migrations are applied: a proxy that sends requests to every
    listening replica must not reach new code on an old schema."""
    deadline = time.monotonic() + settings.migrations_wait_seconds
    while not asyncio.run(_schema_is_current(settings)):
        if time.monotonic() >= deadline:
            raise StorageError(
                f"the schema was not current after MIGRATIONS_WAIT_SECONDS="
                f"{settings.migrations_wait_seconds}: run 'learnbot migrate'"
            )
        log.info("waiting for the database schema to be current ('learnbot migrate')")
        time.sleep(1)


def serve(settings: Settings) -> None:
    from sanic import Sanic
    from sanic.worker.loader import AppLoader

    from learnbot.shutdown import bound_sanic_processes

    if settings.uses_development_token:
        log.warning(
            "TELEGRAM_BOT_TOKEN is not set: signing in with the fixed development token "
            "(development only; 'learnbot sign-init-data' signs with it)"
        )
    if settings.app_env == "development":
        migrate(settings)
    elif settings.migrations_wait_seconds:
        wait_for_schema(settings)
    _prepare_metrics_dir()
    loader = AppLoader(factory=app_from_environment)
    app = loader.load()
    app.prepare(
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,
        motd=False,
    )
    log.info(
        "serving on http://%s:%d with %d worker(s)", settings.host, settings.port, settings.workers
    )
    _log_miniapp(settings)
    bound_sanic_processes(settings.shutdown_grace_seconds)
    try:
        Sanic.serve(primary=app, app_loader=loader)
    except KeyboardInterrupt:
        # SIGINT before Sanic's own stop handlers were installed: nothing was serving yet.
        log.info("stopped while starting")


def _log_miniapp(settings: Settings) -> None:
    if not settings.miniapp_enabled:
        return
    if settings.miniapp_url:
        log.info("the Mini App is served at /app/; Telegram opens %s", settings.miniapp_url)
    else:
        log.info("the Mini App is served at /app/; set MINIAPP_URL to the URL Telegram opens")
    if settings.app_env == "development":
        log.info("to open it in a desktop browser: learnbot sign-init-data --user-id 42 --app-link")


def print_init_data(settings: Settings, args: argparse.Namespace) -> None:
    if settings.telegram_bot_token is None:
        raise ConfigError("TELEGRAM_BOT_TOKEN", "needed to sign init data")
    if args.app_link:
        _check_development_page(settings)
    user: dict[str, object] = {"id": args.user_id, "first_name": args.first_name}
    if args.last_name:
        user["last_name"] = args.last_name
    if args.username:
        user["username"] = args.username
    user["language_code"] = args.lang
    signed = sign_init_data(
        settings.telegram_bot_token,
        user,
        auth_date=int(time.time()),
        query_id=f"learnbot-cli-{args.user_id}",
    )
    print(development_app_link(settings, signed) if args.app_link else signed)


def _check_development_page(settings: Settings) -> None:
    if settings.app_env != "development" or not settings.miniapp_enabled:
        raise ConfigError(
            "APP_ENV",
            "development, with MINIAPP_ENABLED, for --app-link: /app/dev.html is served in "
            "development only",
        )


def development_app_link(settings: Settings, init_data: str) -> str:
    """/app/dev.html of this service with the launch parameters in the fragment, as Telegram
    hands them to a Mini App (the version a browser outside Telegram reports)."""
    host = settings.host
    with contextlib.suppress(ValueError):
        address = ipaddress.ip_address(host)
        # Listening on every interface: the link goes to this machine's loopback.
        host = "127.0.0.1" if address.is_unspecified else host
        host = f"[{host}]" if ":" in host else host
    launch = {"tgWebAppData": init_data, "tgWebAppVersion": "6.0", "tgWebAppPlatform": "unknown"}
    fragment = "&".join(f"{key}={quote(value, safe='')}" for key, value in launch.items())
    return f"http://{host}:{settings.port}/app/dev.html#{fragment}"


def _bot_command(settings: Settings, command: str) -> int:
    from learnbot.bot.client import BotApiFailed
    from learnbot.bot.setup import setup, status

    try:
        (setup if command == "setup" else status)(settings)
    except BotApiFailed as error:
        print(f"learnbot: the Bot API refused: {error}", file=sys.stderr)
        return 1
    return 0


def _telegram_id(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < 2**53:
        raise argparse.ArgumentTypeError("a Telegram user id: a whole number from 1 to 2^53-1")
    return int(raw)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="learnbot", description="Back end of a Telegram learning bot's Mini App."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="migrate (in development) and serve the HTTP API")
    commands.add_parser("migrate", help="apply pending database migrations")
    sign = commands.add_parser(
        "sign-init-data", help="print Mini App init data signed with the configured bot token"
    )
    sign.add_argument("--user-id", type=_telegram_id, required=True)
    sign.add_argument("--first-name", default="Ann")
    sign.add_argument("--last-name")
    sign.add_argument("--username")
    sign.add_argument("--lang", default="en", help="the user's Telegram language_code")
    sign.add_argument(
        "--app-link",
        action="store_true",
        help="print a link that opens the Mini App signed in, in a desktop browser "
        "(development: /app/dev.html)",
    )
    bot = commands.add_parser("bot", help="the Telegram bot's registration with Telegram")
    bot_commands = bot.add_subparsers(dest="bot_command", required=True)
    bot_commands.add_parser(
        "setup",
        help="register the webhook (TELEGRAM_WEBHOOK_URL, TELEGRAM_WEBHOOK_SECRET), the "
        "commands in every supported locale and the Mini App menu button (MINIAPP_URL)",
    )
    bot_commands.add_parser("status", help="print Telegram's getWebhookInfo")
    add_backup_commands(commands)
    add_doctor_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "doctor":
        # It reads what runs and needs none of the service's settings.
        from learnbot.doctor import main as doctor_main

        return doctor_main(args, os.environ)
    if args.command == "backup":
        # The backup job has settings of its own and needs no bot token.
        from learnbot.backup.commands import main as backup_main

        return backup_main(sys.argv[1:] if argv is None else argv)
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as error:
        print(f"learnbot: invalid configuration: {error}", file=sys.stderr)
        return 2
    _configure_logging(settings)
    try:
        if args.command == "serve":
            serve(settings)
        elif args.command == "migrate":
            migrate(settings)
        elif args.command == "bot":
            return _bot_command(settings, args.bot_command)
        else:
            print_init_data(settings, args)
    except ConfigError as error:
        print(f"learnbot: invalid configuration: {error}", file=sys.stderr)
        return 2
    except StorageError as error:
        print(f"learnbot: database unavailable: {error}", file=sys.stderr)
        return 1
    return 0

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from limits import parse

from learnbot.i18n.catalogs import SOURCE_LOCALE, shipped_locales
from learnbot.oauth.settings import OAuthSettings, oauth_settings
from learnbot.observability.logs import LogFormat
from learnbot.storage import database_dialect

AppEnv = Literal["development", "production"]

DEFAULT_DATABASE_URL = "sqlite:///var/learnbot.db"
# Bot id 1 does not exist on Telegram, so nothing signed with this token is valid there.
DEVELOPMENT_BOT_TOKEN = "1:learnbot-development-token-do-not-use-in-production"  # noqa: S105
APP_ENVS = ("development", "production")
LOG_FORMATS = ("json", "console")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_BOT_TOKEN = re.compile(r"^[0-9]{1,20}:[A-Za-z0-9_-]{1,128}$")
_LABEL = re.compile(r"[A-Za-z0-9._:/+-]{1,64}")
_SENTRY_DSN = re.compile(
    r"https?://[A-Za-z0-9]+(:[A-Za-z0-9]+)?@[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._-]+)*/[0-9]+"
)
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?$")


class ConfigError(ValueError):
    """A setting that stops start-up; the message names the variable and what is allowed."""

    def __init__(self, variable: str, allowed: str) -> None:
        super().__init__(f"{variable}: {allowed}")
        self.variable = variable


@dataclass(frozen=True, slots=True)
class Settings:
    # Secrets stay out of repr(), so a logged Settings never carries them.
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)
    telegram_bot_token: str | None = field(default=None, repr=False)
    telegram_bot_id: int | None = None
    telegram_test_env: bool = False
    admin_telegram_ids: frozenset[int] = field(default_factory=frozenset)
    auth_max_age_seconds: int = 86400
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    cors_origins: tuple[str, ...] = ()
    log_level: str = "INFO"
    app_env: AppEnv = "development"
    database_pool_size: int = 10
    database_timeout_seconds: float = 3.0
    migrations_wait_seconds: int = 0
    request_timeout_seconds: int = 60
    response_timeout_seconds: int = 60
    shutdown_grace_seconds: int = 8
    uses_development_token: bool = False
    log_format: LogFormat = "json"
    sentry_dsn: str | None = field(default=None, repr=False)
    sentry_environment: str = "development"
    revision: str = "unknown"
    rate_limit_enabled: bool = True
    rate_limit_address: str = "300/minute"
    rate_limit_telegram_id: str = "120/minute"
    rate_limit_storage_url: str | None = field(default=None, repr=False)
    proxies_count: int = 0
    default_locale: str = "en"
    supported_locales: tuple[str, ...] = ("en",)
    oauth: OAuthSettings = field(default_factory=OAuthSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        app_env: AppEnv = (
            "production"
            if choice_setting(env, "APP_ENV", APP_ENVS, "development") == "production"
            else "development"
        )
        token = _bot_token(env)
        bot_id = optional_int_setting(env, "TELEGRAM_BOT_ID", 1, 2**53 - 1)
        uses_development_token = False
        if token is None and bot_id is None:
            if app_env == "production":
                raise ConfigError(
                    "TELEGRAM_BOT_TOKEN",
                    "required when APP_ENV=production (or set TELEGRAM_BOT_ID to verify "
                    "sign-ins with Telegram's public key instead)",
                )
            token, uses_development_token = DEVELOPMENT_BOT_TOKEN, True
        return cls(
            database_url=_database_url(env),
            telegram_bot_token=token,
            telegram_bot_id=bot_id,
            telegram_test_env=flag_setting(env, "TELEGRAM_TEST_ENV"),
            admin_telegram_ids=_telegram_ids(env, "ADMIN_TELEGRAM_IDS"),
            auth_max_age_seconds=int_setting(env, "AUTH_MAX_AGE_SECONDS", 86400, 1, 30 * 86400),
            host=host_setting(env, "HOST", "127.0.0.1"),
            port=int_setting(env, "PORT", 8000, 1, 65535),
            workers=int_setting(env, "WORKERS", 1, 1, 64),
            cors_origins=_origins(env),
            log_level=choice_setting(env, "LOG_LEVEL", LOG_LEVELS, "INFO", fold_case=True),
            app_env=app_env,
            database_pool_size=int_setting(env, "DATABASE_POOL_SIZE", 10, 1, 200),
            database_timeout_seconds=float(int_setting(env, "DATABASE_TIMEOUT_SECONDS", 3, 1, 60)),
            migrations_wait_seconds=int_setting(env, "MIGRATIONS_WAIT_SECONDS", 0, 0, 86400),
            request_timeout_seconds=int_setting(env, "REQUEST_TIMEOUT_SECONDS", 60, 1, 600),
            response_timeout_seconds=int_setting(env, "RESPONSE_TIMEOUT_SECONDS", 60, 1, 600),
            shutdown_grace_seconds=int_setting(env, "SHUTDOWN_GRACE_SECONDS", 8, 2, 300),
            uses_development_token=uses_development_token,
            log_format="console"
            if choice_setting(env, "LOG_FORMAT", LOG_FORMATS, "json") == "console"
            else "json",
            sentry_dsn=_sentry_dsn(env),
            sentry_environment=_label(env, "SENTRY_ENVIRONMENT", app_env),
            revision=_label(env, "APP_REVISION", "unknown"),
            rate_limit_enabled=flag_setting(env, "RATE_LIMIT_ENABLED", default=True),
            rate_limit_address=_rate(env, "RATE_LIMIT_ADDRESS", "300/minute"),
            rate_limit_telegram_id=_rate(env, "RATE_LIMIT_TELEGRAM_ID", "120/minute"),
            rate_limit_storage_url=_redis_url(env, "RATE_LIMIT_STORAGE_URL"),
            proxies_count=int_setting(env, "PROXIES_COUNT", 0, 0, 5),
            oauth=oauth_settings(env),
            **_locales(env),
        )


def text_setting(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def int_setting(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    value = optional_int_setting(env, name, low, high)
    return default if value is None else value


def optional_int_setting(env: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    raw = text_setting(env, name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise ConfigError(name, f"a whole number from {low} to {high}")
    return int(raw)


def choice_setting(
    env: Mapping[str, str],
    name: str,
    allowed: tuple[str, ...],
    default: str,
    *,
    fold_case: bool = False,
) -> str:
    raw = text_setting(env, name) or default
    value = raw.upper() if fold_case else raw
    if value not in allowed:
        raise ConfigError(name, "one of " + ", ".join(allowed))
    return value


def flag_setting(env: Mapping[str, str], name: str, *, default: bool = False) -> bool:
    raw = (text_setting(env, name) or ("1" if default else "0")).lower()
    if raw not in ("0", "1", "true", "false"):
        raise ConfigError(name, "1 or 0 (true or false)")
    return raw in ("1", "true")


def _bot_token(env: Mapping[str, str]) -> str | None:
    token = text_setting(env, "TELEGRAM_BOT_TOKEN")
    if token is not None and not _BOT_TOKEN.fullmatch(token):
        # The message must not echo the value: it is a secret.
        raise ConfigError("TELEGRAM_BOT_TOKEN", "a token as BotFather gives it: <bot id>:<secret>")
    return token


def _sentry_dsn(env: Mapping[str, str]) -> str | None:
    dsn = text_setting(env, "SENTRY_DSN")
    if dsn is not None and not _SENTRY_DSN.fullmatch(dsn):
        raise ConfigError(
            "SENTRY_DSN", "a DSN as Sentry shows it: https://<key>@<host>/<project id>"
        )
    return dsn


def _label(env: Mapping[str, str], name: str, default: str) -> str:
    value = text_setting(env, name) or default
    if not _LABEL.fullmatch(value):
        raise ConfigError(name, "1 to 64 letters, digits and . _ : / + -")
    return value


def _rate(env: Mapping[str, str], name: str, default: str) -> str:
    value = text_setting(env, name) or default
    try:
        parse(value)
    except ValueError:
        raise ConfigError(name, "a rate such as 300/minute, 10/second or 1000/hour") from None
    return value


def _redis_url(env: Mapping[str, str], name: str) -> str | None:
    value = text_setting(env, name)
    if value is not None and not re.fullmatch(r"rediss?://\S+", value):
        raise ConfigError(name, "a Redis URL: redis://host:6379/0 or rediss://...")
    return value


def _locales(env: Mapping[str, str]) -> dict[str, Any]:
    shipped = shipped_locales()
    allowed = "shipped locales: " + ", ".join(shipped)
    raw = text_setting(env, "SUPPORTED_LOCALES")
    supported = (
        tuple(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip())) if raw else shipped
    )
    if not supported or any(locale not in shipped for locale in supported):
        raise ConfigError("SUPPORTED_LOCALES", "comma-separated " + allowed)
    default = text_setting(env, "DEFAULT_LOCALE") or SOURCE_LOCALE
    if default not in shipped:
        raise ConfigError("DEFAULT_LOCALE", "one of the " + allowed)
    if default not in supported:
        raise ConfigError("DEFAULT_LOCALE", "one of SUPPORTED_LOCALES: " + ", ".join(supported))
    return {"default_locale": default, "supported_locales": supported}


def _database_url(env: Mapping[str, str]) -> str:
    url = text_setting(env, "DATABASE_URL") or DEFAULT_DATABASE_URL
    try:
        database_dialect(url)
    except ValueError as error:
        raise ConfigError("DATABASE_URL", str(error)) from None
    return url


def _telegram_ids(env: Mapping[str, str], name: str) -> frozenset[int]:
    raw = text_setting(env, name) or ""
    ids: set[int] = set()
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        if not part.isascii() or not part.isdigit() or not 0 < int(part) < 2**53:
            raise ConfigError(name, "comma-separated Telegram user ids (positive whole numbers)")
        ids.add(int(part))
    return frozenset(ids)


def host_setting(env: Mapping[str, str], name: str, default: str) -> str:
    host = text_setting(env, name) or default
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME.fullmatch(host):
            raise ConfigError(name, "an IP address (0.0.0.0 for all) or a host name") from None
    return host


def _origins(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = text_setting(env, "CORS_ORIGINS") or ""
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    if origins == ("*",):
        return origins
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise ConfigError(
                "CORS_ORIGINS",
                "* or comma-separated origins such as https://app.example.com",
            )
    return origins

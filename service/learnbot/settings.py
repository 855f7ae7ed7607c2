from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from learnbot import settings_table as table
from learnbot.i18n.catalogs import shipped_locales
from learnbot.oauth.settings import OAuthSettings, oauth_settings
from learnbot.observability.logs import LogFormat
from learnbot.setting import ConfigError, LocaleInvalid, locales
from learnbot.settings_table import APP_ENVS, DEFAULT_DATABASE_URL, LOG_FORMATS, LOG_LEVELS

__all__ = [
    "APP_ENVS",
    "DEFAULT_DATABASE_URL",
    "DEVELOPMENT_BOT_TOKEN",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "ConfigError",
    "Settings",
]

AppEnv = Literal["development", "production"]

# Bot id 1 does not exist on Telegram, so nothing signed with this token is valid there.
DEVELOPMENT_BOT_TOKEN = "1:learnbot-development-token-do-not-use-in-production"  # noqa: S105


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
    last_seen_interval_seconds: int = 300
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
    miniapp_enabled: bool = True
    miniapp_url: str | None = None
    telegram_webhook_secret: str | None = field(default=None, repr=False)
    telegram_webhook_url: str | None = None
    telegram_api_url: str = "https://api.telegram.org"
    oauth: OAuthSettings = field(default_factory=OAuthSettings)
    # Where spans go (the full /v1/traces URL); None: tracing is off.
    traces_endpoint: str | None = None
    service_name: str = "learnbot"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        app_env: AppEnv = (
            "production" if table.APP_ENV.value_from_env(env) == "production" else "development"
        )
        token, uses_development_token = _bot_token(env, app_env)
        return cls(
            database_url=table.DATABASE_URL.value_from_env(env),
            telegram_bot_token=token,
            telegram_bot_id=table.TELEGRAM_BOT_ID.from_env(env),
            telegram_test_env=table.TELEGRAM_TEST_ENV.value_from_env(env),
            admin_telegram_ids=table.ADMIN_TELEGRAM_IDS.value_from_env(env),
            auth_max_age_seconds=table.AUTH_MAX_AGE_SECONDS.value_from_env(env),
            host=table.HOST.value_from_env(env),
            port=table.PORT.value_from_env(env),
            workers=table.WORKERS.value_from_env(env),
            cors_origins=table.CORS_ORIGINS.value_from_env(env),
            log_level=table.LOG_LEVEL.value_from_env(env),
            app_env=app_env,
            database_pool_size=table.DATABASE_POOL_SIZE.value_from_env(env),
            database_timeout_seconds=float(table.DATABASE_TIMEOUT_SECONDS.value_from_env(env)),
            last_seen_interval_seconds=table.LAST_SEEN_INTERVAL_SECONDS.value_from_env(env),
            migrations_wait_seconds=table.MIGRATIONS_WAIT_SECONDS.value_from_env(env),
            request_timeout_seconds=table.REQUEST_TIMEOUT_SECONDS.value_from_env(env),
            response_timeout_seconds=table.RESPONSE_TIMEOUT_SECONDS.value_from_env(env),
            shutdown_grace_seconds=table.SHUTDOWN_GRACE_SECONDS.value_from_env(env),
            uses_development_token=uses_development_token,
            log_format="console" if table.LOG_FORMAT.value_from_env(env) == "console" else "json",
            sentry_dsn=table.SENTRY_DSN.from_env(env),
            sentry_environment=table.SENTRY_ENVIRONMENT.from_env(env) or app_env,
            revision=table.APP_REVISION.value_from_env(env),
            rate_limit_enabled=table.RATE_LIMIT_ENABLED.value_from_env(env),
            rate_limit_address=table.RATE_LIMIT_ADDRESS.value_from_env(env),
            rate_limit_telegram_id=table.RATE_LIMIT_TELEGRAM_ID.value_from_env(env),
            rate_limit_storage_url=table.RATE_LIMIT_STORAGE_URL.from_env(env),
            proxies_count=table.PROXIES_COUNT.value_from_env(env),
            miniapp_enabled=table.MINIAPP_ENABLED.value_from_env(env),
            miniapp_url=table.MINIAPP_URL.from_env(env),
            telegram_webhook_secret=table.TELEGRAM_WEBHOOK_SECRET.from_env(env),
            telegram_webhook_url=table.TELEGRAM_WEBHOOK_URL.from_env(env),
            telegram_api_url=table.TELEGRAM_API_URL.value_from_env(env),
            oauth=oauth_settings(env),
            traces_endpoint=_traces_endpoint(env),
            service_name=table.OTEL_SERVICE_NAME.value_from_env(env),
            **_locales(env),
        )


def _bot_token(env: Mapping[str, str], app_env: AppEnv) -> tuple[str | None, bool]:
    """The bot token, and whether it is the development one (no token, no bot id, not in
    production)."""
    token = table.TELEGRAM_BOT_TOKEN.from_env(env)
    if token is not None or table.TELEGRAM_BOT_ID.from_env(env) is not None:
        return token, False
    if app_env == "production":
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN",
            "required when APP_ENV=production (or set TELEGRAM_BOT_ID to verify "
            "sign-ins with Telegram's public key instead)",
        )
    return DEVELOPMENT_BOT_TOKEN, True


# OTLP/HTTP's default collector and its traces path, as OpenTelemetry specifies them.
DEFAULT_OTLP_ENDPOINT = "http://localhost:4318"
TRACES_PATH = "v1/traces"


def _traces_endpoint(env: Mapping[str, str]) -> str | None:
    """Tracing is off unless switched on: an endpoint set, or OTEL_TRACES_EXPORTER=otlp (then
    to the default collector); OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn it off.
    Every variable is checked either way."""
    disabled = table.OTEL_SDK_DISABLED.value_from_env(env)
    exporter = table.OTEL_TRACES_EXPORTER.from_env(env)
    traces = table.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT.from_env(env)
    base = table.OTEL_EXPORTER_OTLP_ENDPOINT.from_env(env)
    for row in (
        table.OTEL_EXPORTER_OTLP_PROTOCOL,
        table.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
        table.OTEL_TRACES_SAMPLER,
        table.OTEL_TRACES_SAMPLER_ARG,
    ):
        row.from_env(env)
    if disabled or exporter == "none" or (exporter is None and traces is None and base is None):
        return None
    # The signal's own endpoint is used as it is; the general one gets the signal's path.
    return traces or f"{(base or DEFAULT_OTLP_ENDPOINT).rstrip('/')}/{TRACES_PATH}"


def _locales(env: Mapping[str, str]) -> dict[str, Any]:
    supported = table.SUPPORTED_LOCALES.from_env(env)
    default = table.DEFAULT_LOCALE.value_from_env(env)
    try:
        chosen, default = locales(
            supported, default, shipped_locales(), supported_name="SUPPORTED_LOCALES"
        )
    except LocaleInvalid as refused:
        row = table.SUPPORTED_LOCALES if refused.setting == "supported" else table.DEFAULT_LOCALE
        raise ConfigError(str(row.variable), str(refused)) from None
    return {"default_locale": default, "supported_locales": chosen}

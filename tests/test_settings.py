from __future__ import annotations

import pytest

from learnbot.settings import DEVELOPMENT_BOT_TOKEN, ConfigError, Settings

TOKEN = "123456:AAabc-def_ghi"


def test_defaults_for_a_laptop() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///var/learnbot.db"
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.workers == 1
    assert settings.app_env == "development"
    assert settings.auth_max_age_seconds == 86400
    assert settings.telegram_bot_token == DEVELOPMENT_BOT_TOKEN
    assert settings.uses_development_token is True
    assert settings.admin_telegram_ids == frozenset()
    assert settings.cors_origins == ()
    assert settings.log_format == "json"
    assert settings.sentry_dsn is None
    assert settings.sentry_environment == "development"
    assert settings.rate_limit_enabled is True
    assert settings.rate_limit_storage_url is None
    assert settings.database_timeout_seconds == 3.0
    assert settings.request_timeout_seconds == 60
    assert settings.response_timeout_seconds == 60
    assert settings.shutdown_grace_seconds == 8


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://learnbot:pw@db:5432/learnbot",
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_BOT_ID": "123456",
            "TELEGRAM_TEST_ENV": "1",
            "ADMIN_TELEGRAM_IDS": " 1, 22 ,333,",
            "AUTH_MAX_AGE_SECONDS": "3600",
            "HOST": "0.0.0.0",
            "PORT": "9000",
            "WORKERS": "4",
            "CORS_ORIGINS": "https://app.example.com, http://localhost:5173/",
            "LOG_LEVEL": "debug",
            "APP_ENV": "production",
            "DATABASE_POOL_SIZE": "20",
            "DATABASE_TIMEOUT_SECONDS": "3",
            "LOG_FORMAT": "console",
            "SENTRY_DSN": "https://abc123@o1.ingest.sentry.io/42",
            "SENTRY_ENVIRONMENT": "staging",
            "APP_REVISION": "1a2b3c4",
            "RATE_LIMIT_ENABLED": "false",
            "RATE_LIMIT_ADDRESS": "10/second",
            "RATE_LIMIT_TELEGRAM_ID": "1000/hour",
            "RATE_LIMIT_STORAGE_URL": "redis://:s3cret@cache:6379/1",
            "PROXIES_COUNT": "1",
            "REQUEST_TIMEOUT_SECONDS": "5",
            "RESPONSE_TIMEOUT_SECONDS": "7",
            "SHUTDOWN_GRACE_SECONDS": "25",
        }
    )
    assert settings.database_url == "postgresql://learnbot:pw@db:5432/learnbot"
    assert settings.telegram_bot_token == TOKEN
    assert settings.telegram_bot_id == 123456
    assert settings.telegram_test_env is True
    assert settings.admin_telegram_ids == frozenset({1, 22, 333})
    assert settings.auth_max_age_seconds == 3600
    assert (settings.host, settings.port, settings.workers) == ("0.0.0.0", 9000, 4)
    assert settings.cors_origins == ("https://app.example.com", "http://localhost:5173")
    assert settings.log_level == "DEBUG"
    assert settings.app_env == "production"
    assert settings.database_pool_size == 20
    assert settings.database_timeout_seconds == 3.0
    assert settings.uses_development_token is False
    assert settings.log_format == "console"
    assert settings.sentry_dsn == "https://abc123@o1.ingest.sentry.io/42"
    assert settings.sentry_environment == "staging"
    assert settings.revision == "1a2b3c4"
    assert settings.rate_limit_enabled is False
    assert (settings.rate_limit_address, settings.rate_limit_telegram_id) == (
        "10/second",
        "1000/hour",
    )
    assert settings.rate_limit_storage_url == "redis://:s3cret@cache:6379/1"
    assert settings.proxies_count == 1
    assert settings.request_timeout_seconds == 5
    assert settings.response_timeout_seconds == 7
    assert settings.shutdown_grace_seconds == 25
    for secret in ("abc123", "pw@db", TOKEN, "s3cret"):
        assert secret not in repr(settings)


def test_production_needs_a_token_or_a_bot_id() -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"APP_ENV": "production"})
    assert error.value.variable == "TELEGRAM_BOT_TOKEN"
    assert "TELEGRAM_BOT_ID" in str(error.value)
    bot_id_only = Settings.from_env({"APP_ENV": "production", "TELEGRAM_BOT_ID": "42"})
    assert bot_id_only.telegram_bot_token is None
    assert bot_id_only.telegram_bot_id == 42


@pytest.mark.parametrize(
    ("variable", "value", "allowed"),
    [
        ("PORT", "0", "1 to 65535"),
        ("PORT", "80a", "1 to 65535"),
        ("PORT", "70000", "1 to 65535"),
        ("WORKERS", "-1", "1 to 64"),
        ("AUTH_MAX_AGE_SECONDS", "0", "1 to"),
        ("APP_ENV", "staging", "development, production"),
        ("LOG_LEVEL", "LOUD", "DEBUG, INFO"),
        ("DATABASE_URL", "mysql://x", "sqlite:///"),
        ("DATABASE_URL", "postgresql://u@db/x?connect_timeout=5", "allowed keys: sslmode"),
        ("ADMIN_TELEGRAM_IDS", "1,abc", "comma-separated"),
        ("ADMIN_TELEGRAM_IDS", "-5", "comma-separated"),
        ("TELEGRAM_BOT_ID", "bot", "whole number"),
        ("TELEGRAM_TEST_ENV", "yes", "1 or 0"),
        ("HOST", "bad host!", "IP address"),
        ("CORS_ORIGINS", "app.example.com", "https://"),
        ("DATABASE_POOL_SIZE", "0", "1 to 200"),
        ("LOG_FORMAT", "xml", "json, console"),
        ("SENTRY_DSN", "not-a-dsn", "https://<key>@<host>/<project id>"),
        ("SENTRY_ENVIRONMENT", "has space", "letters, digits"),
        ("APP_REVISION", "x" * 65, "1 to 64"),
        ("RATE_LIMIT_ADDRESS", "lots", "a rate such as 300/minute"),
        ("RATE_LIMIT_TELEGRAM_ID", "5 per fortnight", "a rate such as 300/minute"),
        ("RATE_LIMIT_ENABLED", "maybe", "1 or 0"),
        ("RATE_LIMIT_STORAGE_URL", "memcached://x", "a Redis URL"),
        ("PROXIES_COUNT", "9", "0 to 5"),
        ("REQUEST_TIMEOUT_SECONDS", "0", "1 to 600"),
        ("RESPONSE_TIMEOUT_SECONDS", "1.5", "1 to 600"),
        ("SHUTDOWN_GRACE_SECONDS", "1", "2 to 300"),
        ("DEFAULT_LOCALE", "fr", "shipped locales: de, en, es, pt_BR, ru, uk"),
        ("SUPPORTED_LOCALES", "en,fr", "shipped locales: de, en, es, pt_BR, ru, uk"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318", "an http(s) URL of an OTLP/HTTP"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://user@collector:4318", "an http(s) URL"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "grpc://collector:4317", "an http(s) URL"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json", "http/protobuf"),
        ("OTEL_TRACES_EXPORTER", "jaeger", "otlp, none"),
        ("OTEL_SDK_DISABLED", "yes", "1 or 0"),
        ("OTEL_SERVICE_NAME", "learn bot", "letters, digits"),
        ("OTEL_TRACES_SAMPLER", "ratio", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "1.5", "a number from 0 to 1"),
        ("OTEL_TRACES_SAMPLER_ARG", "nan", "a number from 0 to 1"),
    ],
)
def test_bad_values_name_the_variable_and_what_is_allowed(
    variable: str, value: str, allowed: str
) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env({variable: value})
    assert error.value.variable == variable
    assert str(error.value).startswith(f"{variable}: ")
    assert allowed in str(error.value)


@pytest.mark.parametrize(
    ("env", "endpoint"),
    [
        ({}, None),
        ({"OTEL_TRACES_SAMPLER": "always_on", "OTEL_SERVICE_NAME": "api"}, None),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
            "http://collector:4318/v1/traces",
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c.example.com/otlp/"},
            "https://c.example.com/otlp/v1/traces",
        ),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/traces"}, "http://c:4318/traces"),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://general:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:4318/v1/traces",
            },
            "http://traces:4318/v1/traces",
        ),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, "http://localhost:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, None),
    ],
)
def test_tracing_is_off_unless_the_otel_variables_switch_it_on(
    env: dict[str, str], endpoint: str | None
) -> None:
    assert Settings.from_env(env).traces_endpoint == endpoint


def test_the_service_name_of_traces_defaults_to_learnbot() -> None:
    assert Settings.from_env({}).service_name == "learnbot"
    assert Settings.from_env({"OTEL_SERVICE_NAME": "learnbot-eu"}).service_name == "learnbot-eu"


def test_a_bad_token_is_refused_without_echoing_it() -> None:
    secret = "not a token but a secret"
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"TELEGRAM_BOT_TOKEN": secret})
    assert error.value.variable == "TELEGRAM_BOT_TOKEN"
    assert secret not in str(error.value)


def test_a_bad_database_url_is_refused_without_echoing_it() -> None:
    url = "mysql://user:hunter2@db/x"
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"DATABASE_URL": url})
    assert "hunter2" not in str(error.value)


def test_locales_default_to_every_shipped_one() -> None:
    settings = Settings.from_env({})
    assert settings.default_locale == "en"
    assert set(settings.supported_locales) == {"en", "ru", "uk", "es", "de", "pt_BR"}


def test_supported_locales_can_be_narrowed() -> None:
    settings = Settings.from_env({"SUPPORTED_LOCALES": "ru, de", "DEFAULT_LOCALE": "ru"})
    assert settings.supported_locales == ("ru", "de")
    assert settings.default_locale == "ru"


def test_the_default_locale_must_be_supported() -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"SUPPORTED_LOCALES": "ru,de"})
    assert error.value.variable == "DEFAULT_LOCALE"
    assert "SUPPORTED_LOCALES: ru, de" in str(error.value)

"""learnbot_platform.oauth_providers: account linking's providers as Pulumi settings become the
OAUTH_* variables the API starts with, client secrets apart, and a provider the service would
refuse is refused by the stack with the key (or the path into it) that holds it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from learnbot.settings import Settings
from learnbot_platform.repository import shipped_locales
from learnbot_platform.service_env import api_environment, api_secret_environment, database_url
from learnbot_platform.stack_config import StackConfig, StackConfigError, load_stack_config

TOKEN = "123456789:AAsecret-token-value_0123456789"
GITHUB_SECRET = "github-client-secret-4c2d"
GOOGLE_SECRET = "google-client-secret-8e1f"
PROVIDERS: list[dict[str, Any]] = [
    {"id": "github", "kind": "github", "name": "GitHub", "clientId": "Iv1.0123456789abcdef"},
    {
        "id": "google",
        "issuer": "https://accounts.google.com",
        "clientId": "123-abc.apps.googleusercontent.com",
        "scopes": ["openid", "profile", "email"],
    },
]
SECRETS = {"github": GITHUB_SECRET, "google": GOOGLE_SECRET}
ON_KUBERNETES = {
    "target": "kubernetes",
    "host": "api.example.com",
    "apiImageRepository": "ghcr.io/example/learnbot",
}


def load(providers: object = PROVIDERS, secrets: object = SECRETS, **settings: str) -> StackConfig:
    raw = {"telegramBotToken": TOKEN, **settings}
    if providers is not None:
        raw["oauthProviders"] = json.dumps(providers)
    if secrets is not None:
        raw["oauthClientSecrets"] = json.dumps(secrets)
    return load_stack_config(raw, shipped_locales=shipped_locales(), default_api_image_tag="1")


def refusal(*args: object, **settings: str) -> StackConfigError:
    with pytest.raises(StackConfigError) as error:
        load(*args, **settings)
    assert GITHUB_SECRET not in str(error.value)
    assert GOOGLE_SECRET not in str(error.value)
    return error.value


def service_settings(stack: StackConfig) -> Settings:
    secrets = {name: value.value for name, value in api_secret_environment(stack).items()}
    return Settings.from_env(
        {
            **api_environment(stack),
            **secrets,
            "DATABASE_URL": database_url("learnbot-postgres", "pw"),
            "RATE_LIMIT_STORAGE_URL": "redis://learnbot-redis:6379/0",
        }
    )


def test_the_providers_reach_the_api_with_their_secrets_apart() -> None:
    stack = load(oauthRedirectBaseUrl="https://api.example.com", oauthReturnUrl="https://t.me/b/a")
    plain = api_environment(stack)
    assert plain["OAUTH_PROVIDERS"] == "github,google"
    assert plain["OAUTH_GOOGLE_SCOPES"] == "openid profile email"
    assert not any(GITHUB_SECRET in v or GOOGLE_SECRET in v for v in plain.values())
    secret = {name: value.value for name, value in api_secret_environment(stack).items()}
    assert secret["OAUTH_GITHUB_CLIENT_SECRET"] == GITHUB_SECRET
    assert secret["OAUTH_GOOGLE_CLIENT_SECRET"] == GOOGLE_SECRET

    oauth = service_settings(stack).oauth
    github, google = oauth.providers
    assert (github.id, github.kind, github.name, github.client_id) == (
        "github",
        "github",
        "GitHub",
        "Iv1.0123456789abcdef",
    )
    assert github.client_secret == GITHUB_SECRET
    assert (google.kind, google.issuer, google.scopes) == (
        "oidc",
        "https://accounts.google.com",
        ("openid", "profile", "email"),
    )
    assert oauth.callback_url("google") == "https://api.example.com/auth/oauth/google/callback"
    assert oauth.return_url == "https://t.me/b/a"


def test_without_providers_the_api_gets_no_oauth_variable() -> None:
    stack = load(providers=None, secrets=None)
    assert not [name for name in api_environment(stack) if name.startswith("OAUTH_")]
    assert not [name for name in api_secret_environment(stack) if name.startswith("OAUTH_")]
    assert service_settings(stack).oauth.providers == ()


def test_on_kubernetes_the_callback_is_on_the_public_host_by_default() -> None:
    stack = load(**ON_KUBERNETES)
    assert api_environment(stack)["OAUTH_REDIRECT_BASE_URL"] == "https://api.example.com"
    stack = load(**ON_KUBERNETES, oauthRedirectBaseUrl="https://learn.example.com/api")
    assert service_settings(stack).oauth.callback_url("github") == (
        "https://learn.example.com/api/auth/oauth/github/callback"
    )


def test_a_client_secret_in_the_plain_list_is_refused_without_repeating_it() -> None:
    providers = [{**PROVIDERS[0], "clientSecret": GITHUB_SECRET}]
    error = refusal(providers, {}, oauthRedirectBaseUrl="https://api.example.com")
    assert error.key == "oauthProviders[0].clientSecret"
    assert "pulumi config set --secret --path 'learnbot:oauthClientSecrets.github'" in str(error)


@pytest.mark.parametrize(
    ("providers", "secrets", "settings", "key", "allowed"),
    [
        ("github", SECRETS, {}, "oauthProviders", "a list of providers"),
        ([["github"]], {}, {}, "oauthProviders[0]", "a list of providers"),
        ([{"kind": "github", "clientId": "x"}], {}, {}, "oauthProviders[0].id", "required"),
        ([{**PROVIDERS[0], "id": "Git Hub"}], {}, {}, "oauthProviders[0].id", "lower-case"),
        ([PROVIDERS[0], PROVIDERS[0]], SECRETS, {}, "oauthProviders[1].id", "each provider id"),
        ([{**PROVIDERS[0], "clientID": "x"}], {}, {}, "oauthProviders[0].clientID", "known: id"),
        ([{**PROVIDERS[0], "clientId": 12}], {}, {}, "oauthProviders[0].clientId", "text"),
        (PROVIDERS, SECRETS, {}, "oauthRedirectBaseUrl", "required with"),
        (PROVIDERS, [GITHUB_SECRET], {}, "oauthClientSecrets", "an object of client secrets"),
        (PROVIDERS, {**SECRETS, "gitlab": "x"}, {}, "oauthClientSecrets.gitlab", "not a provider"),
        (None, {"github": GITHUB_SECRET}, {}, "oauthClientSecrets.github", "known: none"),
        (None, None, {"oauthStateTtlSeconds": "600"}, "oauthStateTtlSeconds", "set only with"),
    ],
)
def test_a_refusal_names_the_key_or_the_path_into_it(
    providers: object, secrets: object, settings: dict[str, str], key: str, allowed: str
) -> None:
    error = refusal(providers, secrets, **settings)
    assert (error.key, str(error).startswith(f"learnbot:{key}: ")) == (key, True)
    assert allowed in str(error)


# What the service itself refuses, reported by the stack under the key the value came from.
BASE = "https://api.example.com"


@pytest.mark.parametrize(
    ("providers", "secrets", "settings", "key", "allowed"),
    [
        (PROVIDERS, {"google": GOOGLE_SECRET}, {}, "oauthClientSecrets.github", "--secret --path"),
        (
            [{**PROVIDERS[1], "issuer": "http://accounts.example.com"}],
            {"google": GOOGLE_SECRET},
            {},
            "oauthProviders[0].issuer",
            "an https:// URL",
        ),
        ([{"id": "corp", "clientId": "x"}], {"corp": "s"}, {}, "oauthProviders[0].issuer", "req"),
        (
            [{**PROVIDERS[1], "scopes": "profile"}],
            {"google": "s"},
            {},
            "oauthProviders[0].scopes",
            "openid",
        ),
        (
            [{**PROVIDERS[0], "kind": "gitlab"}],
            {"github": "s"},
            {},
            "oauthProviders[0].kind",
            "oidc",
        ),
        (
            [{**PROVIDERS[0], "clientId": "a b"}],
            {"github": "s"},
            {},
            "oauthProviders[0].clientId",
            "printable ASCII",
        ),
        (PROVIDERS, {"github": "a b", "google": "s"}, {}, "oauthClientSecrets.github", "printable"),
        (PROVIDERS, SECRETS, {"oauthRedirectBaseUrl": "ftp://x"}, "oauthRedirectBaseUrl", "https"),
        (PROVIDERS, SECRETS, {"oauthReturnUrl": "t.me/b"}, "oauthReturnUrl", "https"),
        (PROVIDERS, SECRETS, {"oauthStateTtlSeconds": "5"}, "oauthStateTtlSeconds", "60 to 3600"),
    ],
)
def test_what_the_service_refuses_is_refused_under_its_key(
    providers: object, secrets: object, settings: dict[str, str], key: str, allowed: str
) -> None:
    settings = {"oauthRedirectBaseUrl": BASE, **settings}
    error = refusal(providers, secrets, **settings)
    assert (error.key, str(error).startswith(f"learnbot:{key}: ")) == (key, True)
    assert allowed in str(error)
    assert "OAUTH_" not in str(error)

"""OAUTH_* settings: read at start, each refusal naming its variable, never a secret."""

from __future__ import annotations

import pytest

from learnbot.oauth.settings import OAuthSettings, ProviderSettings, oauth_settings
from learnbot.settings import ConfigError, Settings

SECRET = "s3cret-value-never-echoed"
BASE = {
    "OAUTH_PROVIDERS": "google, gh",
    "OAUTH_REDIRECT_BASE_URL": "https://api.example.com/",
    "OAUTH_GOOGLE_ISSUER": "https://accounts.google.com",
    "OAUTH_GOOGLE_CLIENT_ID": "123.apps.googleusercontent.com",
    "OAUTH_GOOGLE_CLIENT_SECRET": SECRET,
    "OAUTH_GH_KIND": "github",
    "OAUTH_GH_CLIENT_ID": "Iv1.abc",
    "OAUTH_GH_CLIENT_SECRET": SECRET,
}


def refusal(env: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        oauth_settings(env)
    assert SECRET not in str(caught.value)
    return caught.value


def test_no_provider_by_default() -> None:
    assert Settings.from_env({}).oauth == OAuthSettings()
    assert OAuthSettings().allow_unverified_links is False


def test_providers_are_read() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "OAUTH_GOOGLE_NAME": "Google",
            "OAUTH_GOOGLE_SCOPES": "openid, email  profile",
            "OAUTH_GH_WEB_URL": "https://ghe.example.com/",
            "OAUTH_GH_API_URL": "https://ghe.example.com/api/v3",
            "OAUTH_RETURN_URL": "https://app.example.com/?x=1#/accounts",
            "OAUTH_STATE_TTL_SECONDS": "300",
        }
    ).oauth

    google, github = settings.providers
    assert google == ProviderSettings(
        id="google",
        kind="oidc",
        name="Google",
        client_id="123.apps.googleusercontent.com",
        client_secret=SECRET,
        scopes=("openid", "email", "profile"),
        issuer="https://accounts.google.com",
    )
    assert (github.kind, github.name, github.scopes, github.issuer) == ("github", "gh", (), None)
    assert (github.web_url, github.api_url) == (
        "https://ghe.example.com",
        "https://ghe.example.com/api/v3",
    )
    assert settings.callback_url("gh") == "https://api.example.com/auth/oauth/gh/callback"
    assert settings.return_url == "https://app.example.com/?x=1#/accounts"
    assert settings.state_ttl_seconds == 300
    assert settings.provider("google") is google
    assert settings.provider("nope") is None
    assert SECRET not in repr(settings)


def test_defaults_of_a_provider() -> None:
    settings = oauth_settings(BASE)
    google, github = settings.providers
    assert google.scopes == ("openid", "profile")
    assert (github.web_url, github.api_url) == ("https://github.com", "https://api.github.com")
    assert settings.state_ttl_seconds == 600
    assert settings.return_url is None


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"OAUTH_PROVIDERS": "Google"}, "OAUTH_PROVIDERS"),
        ({"OAUTH_PROVIDERS": "a-b"}, "OAUTH_PROVIDERS"),
        ({"OAUTH_PROVIDERS": "gh,gh"}, "OAUTH_PROVIDERS"),
        ({"OAUTH_PROVIDERS": "x" * 33}, "OAUTH_PROVIDERS"),
        ({"OAUTH_REDIRECT_BASE_URL": ""}, "OAUTH_REDIRECT_BASE_URL"),
        ({"OAUTH_REDIRECT_BASE_URL": "http://api.example.com"}, "OAUTH_REDIRECT_BASE_URL"),
        ({"OAUTH_REDIRECT_BASE_URL": "https://api.example.com/?a=1"}, "OAUTH_REDIRECT_BASE_URL"),
        ({"OAUTH_REDIRECT_BASE_URL": "https://u:p@api.example.com"}, "OAUTH_REDIRECT_BASE_URL"),
        ({"OAUTH_REDIRECT_BASE_URL": "https://api.example.com:0"}, "OAUTH_REDIRECT_BASE_URL"),
        ({"OAUTH_REDIRECT_BASE_URL": "ftp://api.example.com"}, "OAUTH_REDIRECT_BASE_URL"),
        ({"OAUTH_RETURN_URL": "javascript:alert(1)"}, "OAUTH_RETURN_URL"),
        ({"OAUTH_RETURN_URL": "https://app.example.com/a b"}, "OAUTH_RETURN_URL"),
        ({"OAUTH_GOOGLE_ISSUER": ""}, "OAUTH_GOOGLE_ISSUER"),
        ({"OAUTH_GOOGLE_ISSUER": "accounts.google.com"}, "OAUTH_GOOGLE_ISSUER"),
        ({"OAUTH_GOOGLE_CLIENT_ID": ""}, "OAUTH_GOOGLE_CLIENT_ID"),
        ({"OAUTH_GOOGLE_CLIENT_SECRET": ""}, "OAUTH_GOOGLE_CLIENT_SECRET"),
        ({"OAUTH_GOOGLE_CLIENT_SECRET": SECRET + " \u00e9"}, "OAUTH_GOOGLE_CLIENT_SECRET"),
        ({"OAUTH_GOOGLE_SCOPES": "email profile"}, "OAUTH_GOOGLE_SCOPES"),
        ({"OAUTH_GOOGLE_SCOPES": 'openid "x"'}, "OAUTH_GOOGLE_SCOPES"),
        ({"OAUTH_GOOGLE_KIND": "saml"}, "OAUTH_GOOGLE_KIND"),
        ({"OAUTH_GOOGLE_WEB_URL": "https://github.com"}, "OAUTH_GOOGLE_WEB_URL"),
        ({"OAUTH_GOOGLE_NAME": "a\nb"}, "OAUTH_GOOGLE_NAME"),
        ({"OAUTH_GH_ISSUER": "https://github.com"}, "OAUTH_GH_ISSUER"),
        ({"OAUTH_GH_API_URL": "http://api.github.com"}, "OAUTH_GH_API_URL"),
        ({"OAUTH_GITHUB_CLIENT_ID": "x"}, "OAUTH_GITHUB_CLIENT_ID"),
        ({"OAUTH_GOOGLE_CLIENTID": "x"}, "OAUTH_GOOGLE_CLIENTID"),
        ({"OAUTH_STATE_TTL_SECONDS": "59"}, "OAUTH_STATE_TTL_SECONDS"),
        ({"OAUTH_STATE_TTL_SECONDS": "3601"}, "OAUTH_STATE_TTL_SECONDS"),
        ({"OAUTH_ALLOW_UNVERIFIED_LINKS": "yes"}, "OAUTH_ALLOW_UNVERIFIED_LINKS"),
    ],
)
def test_a_bad_value_names_its_variable(changes: dict[str, str], variable: str) -> None:
    assert refusal({**BASE, **changes}).variable == variable


def test_http_is_allowed_on_loopback_addresses_only() -> None:
    for host in ("127.0.0.1:8000", "localhost", "[::1]:8080"):
        oauth_settings({**BASE, "OAUTH_GOOGLE_ISSUER": f"http://{host}"})
    assert refusal({**BASE, "OAUTH_GOOGLE_ISSUER": "http://10.0.0.1"}).variable == (
        "OAUTH_GOOGLE_ISSUER"
    )


def test_unverified_links_are_for_development_only() -> None:
    assert oauth_settings({"OAUTH_ALLOW_UNVERIFIED_LINKS": "1"}).allow_unverified_links
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(
            {
                "APP_ENV": "production",
                "TELEGRAM_BOT_ID": "1",
                "OAUTH_ALLOW_UNVERIFIED_LINKS": "true",
            }
        )
    assert caught.value.variable == "OAUTH_ALLOW_UNVERIFIED_LINKS"


def test_the_redirect_base_url_is_needed_only_with_providers() -> None:
    assert oauth_settings({"OAUTH_REDIRECT_BASE_URL": "https://api.example.com"}).providers == ()
    without = {k: v for k, v in BASE.items() if k != "OAUTH_REDIRECT_BASE_URL"}
    assert refusal(without).variable == "OAUTH_REDIRECT_BASE_URL"

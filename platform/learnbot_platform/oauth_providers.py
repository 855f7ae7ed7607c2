"""Account linking's providers as the stack takes them, turned into the service's `OAUTH_*`
variables and checked by the service's own reader, so a stack that deploys is one the API starts.

`learnbot:oauthProviders` is a list of objects (plain: ids, client ids, issuers); the client
secrets are `learnbot:oauthClientSecrets`, a secret object keyed by provider id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from learnbot.oauth.settings import PROVIDER_ID, oauth_settings
from learnbot.setting import ConfigError

PROVIDERS_KEY = "oauthProviders"
CLIENT_SECRETS_KEY = "oauthClientSecrets"
REDIRECT_BASE_URL_KEY = "oauthRedirectBaseUrl"
RETURN_URL_KEY = "oauthReturnUrl"
STATE_TTL_KEY = "oauthStateTtlSeconds"
# The fields of one provider and the OAUTH_<ID>_ variable each becomes.
FIELDS = {
    "kind": "KIND",
    "name": "NAME",
    "issuer": "ISSUER",
    "clientId": "CLIENT_ID",
    "scopes": "SCOPES",
    "webUrl": "WEB_URL",
    "apiUrl": "API_URL",
}
_KEY_OF_VARIABLE = {
    "OAUTH_PROVIDERS": PROVIDERS_KEY,
    "OAUTH_REDIRECT_BASE_URL": REDIRECT_BASE_URL_KEY,
    "OAUTH_RETURN_URL": RETURN_URL_KEY,
    "OAUTH_STATE_TTL_SECONDS": STATE_TTL_KEY,
}
_SET_SECRET = "set with `pulumi config set --secret --path 'learnbot:oauthClientSecrets.{id}'`"  # noqa: S105 - an instruction
_PROVIDERS_RULE = (
    "a list of providers, each an object with id, clientId and issuer (OpenID Connect) or "
    "kind: github, and optionally name, scopes, webUrl, apiUrl (see the README)"
)


class OAuthKeyError(ValueError):
    """A refused OAuth setting: `key` is the `learnbot:` key or a path into it."""

    def __init__(self, key: str, allowed: str) -> None:
        super().__init__(f"{key}: {allowed}")
        self.key = key
        self.allowed = allowed


@dataclass(frozen=True, slots=True)
class OAuthEnvironment:
    """The API's account-linking variables; `secret` holds the client secrets."""

    plain: Mapping[str, str] = field(default_factory=dict)
    secret: Mapping[str, str] = field(default_factory=dict, repr=False)


def oauth_environment(
    providers_json: str | None,
    client_secrets_json: str | None,
    *,
    redirect_base_url: str | None,
    return_url: str | None,
    state_ttl_seconds: str | None,
) -> OAuthEnvironment:
    """The variables for the API, or OAuthKeyError naming the key that the service refuses."""
    providers = _providers(providers_json)
    secrets = _client_secrets(client_secrets_json, [entry["id"] for entry in providers])
    if not providers:
        unused = (
            (REDIRECT_BASE_URL_KEY, redirect_base_url),
            (RETURN_URL_KEY, return_url),
            (STATE_TTL_KEY, state_ttl_seconds),
        )
        for key, value in unused:
            if value is not None:
                raise OAuthKeyError(key, f"set only with learnbot:{PROVIDERS_KEY}")
        return OAuthEnvironment()
    plain = {
        "OAUTH_PROVIDERS": ",".join(entry["id"] for entry in providers),
        "OAUTH_REDIRECT_BASE_URL": redirect_base_url or "",
        "OAUTH_RETURN_URL": return_url or "",
        "OAUTH_STATE_TTL_SECONDS": state_ttl_seconds or "",
    }
    for entry in providers:
        prefix = f"OAUTH_{entry['id'].upper()}_"
        for name, suffix in FIELDS.items():
            if name in entry:
                plain[prefix + suffix] = entry[name]
    secret = {
        f"OAUTH_{provider_id.upper()}_CLIENT_SECRET": value
        for provider_id, value in secrets.items()
    }
    environment = OAuthEnvironment({k: v for k, v in plain.items() if v}, secret)
    _check_with_the_service(environment, [entry["id"] for entry in providers])
    return environment


def _providers(raw: str | None) -> list[dict[str, str]]:
    if raw is None:
        return []
    try:
        items = json.loads(raw)
    except ValueError:
        items = None
    if not isinstance(items, list):
        raise OAuthKeyError(PROVIDERS_KEY, _PROVIDERS_RULE)
    providers = [_provider(index, item) for index, item in enumerate(items)]
    ids = [entry["id"] for entry in providers]
    for index, provider_id in enumerate(ids):
        if provider_id in ids[:index]:
            raise OAuthKeyError(f"{PROVIDERS_KEY}[{index}].id", "each provider id once")
    return providers


def _provider(index: int, item: Any) -> dict[str, str]:
    where = f"{PROVIDERS_KEY}[{index}]"
    if not isinstance(item, dict):
        raise OAuthKeyError(where, _PROVIDERS_RULE)
    if "clientSecret" in item:
        provider_id = item.get("id") if isinstance(item.get("id"), str) else "<id>"
        raise OAuthKeyError(
            f"{where}.clientSecret",
            f"not here, where it would be plain text: the client secret is "
            f"learnbot:{CLIENT_SECRETS_KEY}.{provider_id}, " + _SET_SECRET.format(id=provider_id),
        )
    unknown = sorted(set(item) - {"id", *FIELDS})
    if unknown:
        raise OAuthKeyError(
            f"{where}.{unknown[0]}", "not a provider field; known: id, " + ", ".join(FIELDS)
        )
    provider_id = item.get("id")
    if not isinstance(provider_id, str) or not PROVIDER_ID.fullmatch(provider_id):
        raise OAuthKeyError(
            f"{where}.id",
            "required: 1 to 32 lower-case letters, digits and _ (starting with a letter or "
            "digit), the provider of the account links",
        )
    entry = {"id": provider_id}
    for name in FIELDS:
        value = item.get(name)
        if name == "scopes" and isinstance(value, list) and all(isinstance(s, str) for s in value):
            value = " ".join(value)
        if value is None:
            continue
        if not isinstance(value, str):
            kind = "text or a list of text" if name == "scopes" else "text"
            raise OAuthKeyError(f"{where}.{name}", kind)
        entry[name] = value.strip()
    return entry


def _client_secrets(raw: str | None, ids: list[str]) -> dict[str, str]:
    if raw is None:
        return {}
    try:
        secrets = json.loads(raw)
    except ValueError:
        secrets = None
    if not isinstance(secrets, dict) or not all(isinstance(v, str) for v in secrets.values()):
        # The value is a secret: the message describes it and never repeats it.
        raise OAuthKeyError(
            CLIENT_SECRETS_KEY,
            "an object of client secrets by provider id, " + _SET_SECRET.format(id="<id>"),
        )
    for provider_id in secrets:
        if provider_id not in ids:
            raise OAuthKeyError(
                f"{CLIENT_SECRETS_KEY}.{provider_id}",
                f"not a provider of learnbot:{PROVIDERS_KEY} (known: {', '.join(ids) or 'none'})",
            )
    return {provider_id: value.strip() for provider_id, value in secrets.items()}


def _check_with_the_service(environment: OAuthEnvironment, ids: list[str]) -> None:
    try:
        oauth_settings({**environment.plain, **environment.secret, "APP_ENV": "production"})
    except ConfigError as refused:
        key, allowed = _key_of(refused.variable, ids), str(refused).partition(": ")[2]
        if refused.variable.endswith("_CLIENT_SECRET"):
            allowed += ", " + _SET_SECRET.format(id=key.rpartition(".")[2])
        for variable, other in _KEY_OF_VARIABLE.items():
            allowed = allowed.replace(variable, f"learnbot:{other}")
        raise OAuthKeyError(key, allowed) from None


def _key_of(variable: str, ids: list[str]) -> str:
    """The key, or the path into it, that the service's variable was made from."""
    if variable in _KEY_OF_VARIABLE:
        return _KEY_OF_VARIABLE[variable]
    for index, provider_id in enumerate(ids):
        prefix = f"OAUTH_{provider_id.upper()}_"
        if variable == prefix + "CLIENT_SECRET":
            return f"{CLIENT_SECRETS_KEY}.{provider_id}"
        for name, suffix in FIELDS.items():
            if variable == prefix + suffix:
                return f"{PROVIDERS_KEY}[{index}].{name}"
    return PROVIDERS_KEY

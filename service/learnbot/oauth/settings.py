"""The OAuth 2.0 and OpenID Connect providers accounts are linked through, from the environment.

`OAUTH_PROVIDERS` names the providers; each reads `OAUTH_<ID>_...` variables. Every value is
checked at start, and a refusal names the variable without repeating a secret.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias
from urllib.parse import urlsplit

from learnbot.setting import ConfigError, text_setting

ProviderKind = Literal["oidc", "github"]
# Reads one variable: its value with surrounding white space removed, None when unset or empty.
_Text: TypeAlias = Callable[[str], "str | None"]
PROVIDER_KINDS: tuple[ProviderKind, ...] = ("oidc", "github")

DEFAULT_STATE_TTL_SECONDS = 600
GITHUB_WEB_URL = "https://github.com"
GITHUB_API_URL = "https://api.github.com"
DEFAULT_SCOPES: dict[ProviderKind, tuple[str, ...]] = {
    "oidc": ("openid", "profile"),
    # A GitHub user token with no scope reads the public profile, which holds the user id.
    "github": (),
}
CALLBACK_PATH = "/auth/oauth/{provider}/callback"

# An id is the `provider` of a link and, upper-cased, part of its variables' names.
PROVIDER_ID = re.compile(r"[a-z0-9][a-z0-9_]{0,31}")
# RFC 6749's client id and secret characters (VSCHAR), without the space.
_CLIENT_CREDENTIAL = re.compile(r"[\x21-\x7e]{1,512}")
# RFC 6749's scope-token.
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
_PROVIDER_SUFFIXES = (
    "KIND",
    "NAME",
    "ISSUER",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "SCOPES",
    "WEB_URL",
    "API_URL",
)
VARIABLES = (
    "OAUTH_PROVIDERS",
    "OAUTH_REDIRECT_BASE_URL",
    "OAUTH_RETURN_URL",
    "OAUTH_STATE_TTL_SECONDS",
    "OAUTH_ALLOW_UNVERIFIED_LINKS",
)
_URL_RULE = "an https:// URL (http:// only on a loopback address), without query or fragment"


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    id: str
    kind: ProviderKind
    name: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...]
    # OpenID Connect: the issuer whose discovery document names the endpoints.
    issuer: str | None = None
    # GitHub: where its web pages (authorize, access_token) and its REST API answer.
    web_url: str = GITHUB_WEB_URL
    api_url: str = GITHUB_API_URL


@dataclass(frozen=True, slots=True)
class OAuthSettings:
    providers: tuple[ProviderSettings, ...] = ()
    redirect_base_url: str | None = None
    return_url: str | None = None
    state_ttl_seconds: int = DEFAULT_STATE_TTL_SECONDS
    # Development only: POST /me/accounts stores a client-supplied link, marked unverified.
    allow_unverified_links: bool = False

    def provider(self, provider_id: str) -> ProviderSettings | None:
        return next((p for p in self.providers if p.id == provider_id), None)

    def callback_url(self, provider_id: str) -> str:
        if self.redirect_base_url is None:
            raise RuntimeError("no OAUTH_REDIRECT_BASE_URL: no provider is configured")
        return self.redirect_base_url + CALLBACK_PATH.format(provider=provider_id)


class _Refused(Exception):
    def __init__(self, variable: str, allowed: str) -> None:
        super().__init__(variable)
        self.variable = variable
        self.allowed = allowed


def oauth_settings(env: Mapping[str, str]) -> OAuthSettings:
    """The OAuth settings in `env`; raises learnbot.settings.ConfigError naming a bad one."""

    def text(name: str) -> str | None:
        return text_setting(env, name)

    try:
        return _read(env, text)
    except _Refused as refused:
        raise ConfigError(refused.variable, refused.allowed) from None


def _read(env: Mapping[str, str], text: _Text) -> OAuthSettings:
    ids = _provider_ids(text("OAUTH_PROVIDERS"))
    _refuse_unknown_variables(env, ids)
    providers = tuple(_provider(provider_id, text) for provider_id in ids)
    redirect_base_url = _url(text, "OAUTH_REDIRECT_BASE_URL")
    if providers and redirect_base_url is None:
        raise _Refused(
            "OAUTH_REDIRECT_BASE_URL",
            "required with OAUTH_PROVIDERS: the service's public URL, such as "
            "https://api.example.com, where providers send the browser back",
        )
    allow_unverified = _flag(text, "OAUTH_ALLOW_UNVERIFIED_LINKS")
    if allow_unverified and text("APP_ENV") == "production":
        raise _Refused(
            "OAUTH_ALLOW_UNVERIFIED_LINKS", "0 with APP_ENV=production (development only)"
        )
    return OAuthSettings(
        providers=providers,
        redirect_base_url=None if redirect_base_url is None else redirect_base_url.rstrip("/"),
        return_url=_url(text, "OAUTH_RETURN_URL", page=True),
        state_ttl_seconds=_state_ttl(text, "OAUTH_STATE_TTL_SECONDS", 60, 3600),
        allow_unverified_links=allow_unverified,
    )


def _provider_ids(raw: str | None) -> tuple[str, ...]:
    ids = tuple(part.strip() for part in (raw or "").split(",") if part.strip())
    for provider_id in ids:
        if not PROVIDER_ID.fullmatch(provider_id):
            raise _Refused(
                "OAUTH_PROVIDERS",
                "comma-separated provider ids, each 1 to 32 lower-case letters, digits and _ "
                "(starting with a letter or digit)",
            )
    if len(set(ids)) != len(ids):
        raise _Refused("OAUTH_PROVIDERS", "each provider id once")
    return ids


def _refuse_unknown_variables(env: Mapping[str, str], ids: tuple[str, ...]) -> None:
    """A misspelt variable (OAUTH_GITHUB_CLIENTID) would otherwise be ignored in silence."""
    known = set(VARIABLES) | {
        f"{_prefix(provider_id)}{suffix}" for provider_id in ids for suffix in _PROVIDER_SUFFIXES
    }
    for name in sorted(env):
        if name.startswith("OAUTH_") and name not in known and env[name].strip():
            raise _Refused(
                name,
                "not a learnbot setting: provider variables are OAUTH_<ID>_ followed by "
                + ", ".join(_PROVIDER_SUFFIXES)
                + ", for an <ID> listed in OAUTH_PROVIDERS",
            )


def _prefix(provider_id: str) -> str:
    return f"OAUTH_{provider_id.upper()}_"


def _provider(provider_id: str, text: _Text) -> ProviderSettings:
    prefix = _prefix(provider_id)
    kind_name = text(prefix + "KIND") or "oidc"
    if kind_name not in PROVIDER_KINDS:
        raise _Refused(prefix + "KIND", "oidc (OpenID Connect, the default) or github")
    kind: ProviderKind = "github" if kind_name == "github" else "oidc"
    issuer = _url(text, prefix + "ISSUER")
    if kind == "oidc" and issuer is None:
        raise _Refused(
            prefix + "ISSUER",
            "required for an OpenID Connect provider: its issuer URL, such as "
            "https://accounts.google.com",
        )
    if kind == "github" and issuer is not None:
        raise _Refused(prefix + "ISSUER", "unset for a github provider (it has no issuer)")
    if kind == "oidc":
        for suffix in ("WEB_URL", "API_URL"):
            if text(prefix + suffix) is not None:
                raise _Refused(prefix + suffix, "unset for an OpenID Connect provider")
    return ProviderSettings(
        id=provider_id,
        kind=kind,
        name=_name(text, prefix + "NAME", provider_id),
        client_id=_credential(text, prefix + "CLIENT_ID", "the client id the provider issued"),
        client_secret=_credential(
            text, prefix + "CLIENT_SECRET", "the client secret the provider issued"
        ),
        scopes=_scopes(text, prefix + "SCOPES", kind),
        issuer=issuer,
        web_url=(_url(text, prefix + "WEB_URL") or GITHUB_WEB_URL).rstrip("/"),
        api_url=(_url(text, prefix + "API_URL") or GITHUB_API_URL).rstrip("/"),
    )


def _credential(text: _Text, name: str, what: str) -> str:
    value = text(name)
    if value is None or not _CLIENT_CREDENTIAL.fullmatch(value):
        # The value may be a secret: the message describes it and never repeats it.
        raise _Refused(name, f"required: {what}, 1 to 512 printable ASCII characters")
    return value


def _scopes(text: _Text, name: str, kind: ProviderKind) -> tuple[str, ...]:
    raw = text(name)
    if raw is None:
        return DEFAULT_SCOPES[kind]
    scopes = tuple(dict.fromkeys(s for s in re.split(r"[\s,]+", raw) if s))
    if not all(_SCOPE.fullmatch(scope) for scope in scopes):
        raise _Refused(name, "scopes separated by spaces or commas, such as: openid profile")
    if kind == "oidc" and "openid" not in scopes:
        raise _Refused(name, "the scopes of an OpenID Connect provider, including openid")
    return scopes


def _name(text: _Text, name: str, default: str) -> str:
    value = text(name) or default
    if not _NAME.fullmatch(value):
        raise _Refused(name, "1 to 64 printable characters: the name users see")
    return value


def _url(text: _Text, name: str, *, page: bool = False) -> str | None:
    """An endpoint's URL; with `page`, a web page's, which may have a query and a fragment."""
    value = text(name)
    if value is None:
        return None
    if not secure_url(value, page=page):
        raise _Refused(
            name, _URL_RULE.replace(", without query or fragment", "") if page else _URL_RULE
        )
    return value


def secure_url(value: object, *, page: bool = False) -> bool:
    """Whether `value` is an https:// URL, or http:// on a loopback address, with a host, no
    credentials, no white space or control characters, and (unless `page`) no query or
    fragment. A provider's discovery document is held to the same rule."""
    if not isinstance(value, str) or re.search(r"[\s\x00-\x1f\x7f]", value):
        return False
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return False
    return (
        port_ok
        and parts.hostname is not None
        and "@" not in parts.netloc
        and (page or not (parts.query or parts.fragment))
        and (parts.scheme == "https" or (parts.scheme == "http" and _loopback(parts.hostname)))
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _state_ttl(text: _Text, name: str, low: int, high: int) -> int:
    raw = text(name)
    if raw is None:
        return DEFAULT_STATE_TTL_SECONDS
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise _Refused(name, f"a whole number from {low} to {high}")
    return int(raw)


def _flag(text: _Text, name: str) -> bool:
    raw = (text(name) or "0").lower()
    if raw not in ("0", "1", "true", "false"):
        raise _Refused(name, "1 or 0 (true or false)")
    return raw in ("1", "true")

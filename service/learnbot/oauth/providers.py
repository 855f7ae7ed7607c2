"""The providers' side of linking: Authlib speaks OAuth 2.0 (the authorization URL with its
PKCE S256 challenge, the code exchange), joserfc verifies ID tokens, Authlib checks their
OpenID Connect claims.

A provider is a party on the network: whatever it answers is checked before it is used, every
call ends within the deadline, and no code, token, state or verifier leaves this module in an
exception's message.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx2
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import KeySet
from opentelemetry import trace

from learnbot.oauth.identity import Identity, display_name, subject_of
from learnbot.oauth.settings import OAuthSettings, ProviderSettings, secure_url
from learnbot.observability.tracing import (
    client_span,
    end_client_span,
    inject_trace_context,
    server_attributes,
)

# Discovery documents, key sets, token and user-info answers are a few KiB.
MAX_DOCUMENT_BYTES = 256 * 1024
METADATA_SECONDS = 3600.0
# How far the provider's clock may be off ours when `exp` and `iat` are checked.
CLOCK_SKEW_SECONDS = 60
# Asymmetric signatures only: no `none`, and no HMAC keyed with the client secret.
SIGNING_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
# A provider's error code, as it may appear in a reason (RFC 6749's error characters).
ERROR_CODE = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}")
_CODE_REJECTED = frozenset({"invalid_grant", "bad_verification_code"})
# The ID token's claims whose check failed, by the name a problem document gives the check.
_CLAIM_CHECKS = {
    "iss": "issuer",
    "aud": "audience",
    "azp": "audience",
    "nonce": "nonce",
    "sub": "subject",
    "exp": "expired",
    "iat": "issued_at",
    "nbf": "issued_at",
    "at_hash": "access_token_hash",
}


class LinkFailure(Exception):
    """A provider's part of a link that proves nothing. `outcome` is its account_links_total
    label; `reason` says what failed, in words that hold no secret."""

    outcome: ClassVar[str] = "provider_error"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProviderUnavailable(LinkFailure):
    """Unreachable, too slow for the deadline, or answering 5xx."""

    outcome = "unavailable"


class ProviderError(LinkFailure):
    """An answer the protocol does not allow, or an error the provider reports."""

    outcome = "provider_error"


class CodeRejected(LinkFailure):
    """The token endpoint refused the code: used, expired, or its PKCE verifier did not match."""

    outcome = "code_rejected"


class IdTokenRejected(LinkFailure):
    """The ID token failed a check; `reason` names it (signature, expired, audience, ...)."""

    outcome = "id_token_rejected"


@dataclass(frozen=True, slots=True)
class Authorization:
    """Where to send the user, and what the callback needs to finish."""

    url: str = field(repr=False)
    state: str = field(repr=False)
    code_verifier: str = field(repr=False)
    nonce: str | None = field(repr=False)


def state_hash(state: str) -> str:
    """The key a pending authorization is stored under: a read of the table gives no state."""
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()


class BoundedTransport(httpx2.AsyncBaseTransport):
    """Ends every answer whose body grows past `limit` bytes, whether or not it says its length:
    a provider's token response, documents and user info are read into memory."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, limit: int) -> None:
        self._inner = inner
        self._limit = limit

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > self._limit:
            await response.aclose()
            raise ProviderError(f"an answer over {self._limit} bytes")
        return httpx2.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_BoundedStream(response.stream, self._limit),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class TracedTransport(httpx2.AsyncBaseTransport):
    """A client span per request to the provider, a child of the request's span, and the W3C
    `traceparent` header, so a provider that traces continues the trace."""

    def __init__(
        self, inner: httpx2.AsyncBaseTransport, tracer: trace.Tracer, provider_id: str
    ) -> None:
        self._inner = inner
        self._tracer = tracer
        self._provider_id = provider_id

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        attributes: dict[str, str | int] = {
            "http.request.method": request.method,
            **server_attributes(url.scheme, url.host, url.port),
            # Without the query, which may carry what a provider's endpoint takes.
            "url.full": f"{url.scheme}://{url.netloc.decode('ascii')}"
            + url.raw_path.split(b"?", 1)[0].decode("ascii"),
            "learnbot.oauth.provider": self._provider_id,
        }
        with client_span(self._tracer, request.method, attributes) as span:
            inject_trace_context(request.headers)
            response = await self._inner.handle_async_request(request)
            end_client_span(span, response.status_code)
            return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _BoundedStream(httpx2.AsyncByteStream):
    def __init__(self, stream: httpx2.SyncByteStream | httpx2.AsyncByteStream, limit: int) -> None:
        assert isinstance(stream, httpx2.AsyncByteStream)
        self._stream = stream
        self._limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        received = 0
        async for chunk in self._stream:
            received += len(chunk)
            if received > self._limit:
                raise ProviderError(f"an answer over {self._limit} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


class ProviderClient(ABC):
    """One provider's protocol, for one worker. The Authlib client is shared by the worker's
    requests: it is never given a token to keep (each call passes its own), so concurrent
    links cannot see each other's."""

    token_endpoint_auth_method: ClassVar[str]
    uses_nonce: ClassVar[bool]

    def __init__(
        self,
        settings: ProviderSettings,
        callback_url: str,
        deadline: float,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self.settings = settings
        self.deadline = deadline
        transport: httpx2.AsyncBaseTransport = BoundedTransport(
            httpx2.AsyncHTTPTransport(), MAX_DOCUMENT_BYTES
        )
        if tracer is not None:
            transport = TracedTransport(transport, tracer, settings.id)
        self._http = AsyncOAuth2Client(
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            token_endpoint_auth_method=self.token_endpoint_auth_method,
            scope=" ".join(settings.scopes) or None,
            redirect_uri=callback_url,
            code_challenge_method="S256",
            timeout=deadline,
            follow_redirects=False,
            transport=transport,
        )
        self._prepare()

    def _prepare(self) -> None:  # noqa: B027 - a hook that GitHub's client does not need
        """What a kind of provider sets up beside the HTTP client."""

    async def aclose(self) -> None:
        await self._http.aclose()

    async def begin(self) -> Authorization:
        """A new authorization: its URL at the provider, with a fresh state, PKCE verifier and
        (OpenID Connect) nonce."""
        async with self._within_deadline():
            endpoint = await self._authorization_endpoint()
        state = generate_token(43)
        verifier = generate_token(64)
        nonce = generate_token(32) if self.uses_nonce else None
        extra = {} if nonce is None else {"nonce": nonce}
        url, _ = self._http.create_authorization_url(
            endpoint, state=state, code_verifier=verifier, **extra
        )
        return Authorization(url=url, state=state, code_verifier=verifier, nonce=nonce)

    async def finish(
        self, code: str, code_verifier: str, nonce: str | None, response_issuer: str | None
    ) -> Identity:
        """The identity the provider proves for this code, within the deadline."""
        async with self._within_deadline():
            return await self._identity(code, code_verifier, nonce, response_issuer)

    @abstractmethod
    async def _authorization_endpoint(self) -> str: ...

    @abstractmethod
    async def _identity(
        self, code: str, code_verifier: str, nonce: str | None, response_issuer: str | None
    ) -> Identity: ...

    async def _exchange(
        self, token_endpoint: str, code: str, code_verifier: str
    ) -> Mapping[str, Any]:
        token: Mapping[str, Any] = await self._http.fetch_token(
            token_endpoint,
            grant_type="authorization_code",
            code=code,
            code_verifier=code_verifier,
        )
        return token

    async def _get_json(
        self, url: str, *, access_token: str | None = None, accept: str = "application/json"
    ) -> dict[str, Any]:
        headers = {"Accept": accept}
        if access_token is not None:
            headers["Authorization"] = f"Bearer {access_token}"
        async with self._http.stream("GET", url, withhold_token=True, headers=headers) as response:
            if response.status_code >= 500:
                raise ProviderUnavailable(f"HTTP {response.status_code}")
            if response.status_code != 200:
                raise ProviderError(f"HTTP {response.status_code}")
            body = await response.aread()
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise ProviderError("an answer that is not JSON") from None
        if not isinstance(document, dict):
            raise ProviderError("an answer that is not a JSON object")
        return document

    @asynccontextmanager
    async def _within_deadline(self) -> AsyncIterator[None]:
        """Maps what can go wrong on the network to LinkFailure, and keeps the deadline."""
        try:
            async with asyncio.timeout(self.deadline):
                yield
        except TimeoutError:
            raise ProviderUnavailable(f"no answer within {self.deadline:g} s") from None
        except httpx2.TimeoutException:
            raise ProviderUnavailable(f"no answer within {self.deadline:g} s") from None
        except httpx2.HTTPStatusError as error:
            status = error.response.status_code
            failure = ProviderUnavailable if status >= 500 else ProviderError
            raise failure(f"HTTP {status}") from None
        except httpx2.HTTPError as error:
            raise ProviderUnavailable(type(error).__name__) from None
        except OAuthError as error:
            code = str(error.error)
            if code in _CODE_REJECTED:
                raise CodeRejected(code) from None
            raise ProviderError(code if ERROR_CODE.fullmatch(code) else "an error") from None
        except ValueError:
            # Authlib's answer to a token response that is not a JSON object.
            raise ProviderError("a token response that is not a JSON object") from None


class OpenIdConnectClient(ProviderClient):
    """Any OpenID Connect provider, from its issuer's discovery document."""

    token_endpoint_auth_method = "client_secret_basic"  # noqa: S105 - a method's name
    uses_nonce = True

    def _prepare(self) -> None:
        assert self.settings.issuer is not None
        self.issuer = self.settings.issuer
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._lock = asyncio.Lock()

    async def metadata(self) -> dict[str, Any]:
        """The discovery document, fetched at most once an hour (concurrent callers share one
        fetch), held to OpenID Connect Discovery: its issuer is exactly the configured one."""
        if self._fresh():
            assert self._metadata is not None
            return self._metadata
        async with self._lock:
            if self._fresh():
                assert self._metadata is not None
                return self._metadata
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            document = await self._get_json(url)
            if document.get("issuer") != self.issuer:
                raise ProviderError("a discovery document of another issuer")
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not secure_url(document.get(name)):
                    raise ProviderError(f"a discovery document without a usable {name}")
            if "userinfo_endpoint" in document and not secure_url(document["userinfo_endpoint"]):
                raise ProviderError("a discovery document with an unusable userinfo_endpoint")
            self._metadata, self._metadata_at, self._keys = document, time.monotonic(), None
            return document

    def _fresh(self) -> bool:
        return (
            self._metadata is not None and time.monotonic() - self._metadata_at < METADATA_SECONDS
        )

    async def _authorization_endpoint(self) -> str:
        endpoint: str = (await self.metadata())["authorization_endpoint"]
        return endpoint

    async def _identity(
        self, code: str, code_verifier: str, nonce: str | None, response_issuer: str | None
    ) -> Identity:
        metadata = await self.metadata()
        self._check_response_issuer(metadata, response_issuer)
        token = await self._exchange(metadata["token_endpoint"], code, code_verifier)
        id_token, access_token = token.get("id_token"), token.get("access_token")
        if not isinstance(id_token, str):
            raise ProviderError("a token response without an ID token")
        if not isinstance(access_token, str):
            access_token = None
        claims = await self._verified_claims(id_token, nonce, access_token, metadata)
        subject = subject_of(claims.get("sub"))
        if subject is None:
            raise IdTokenRejected("subject")
        name = _claimed_name(claims)
        userinfo = metadata.get("userinfo_endpoint")
        if name is None and access_token is not None and isinstance(userinfo, str):
            info = await self._get_json(userinfo, access_token=access_token)
            # OpenID Connect Core 5.3.4: user info of another subject must not be used.
            if info.get("sub") != claims.get("sub"):
                raise ProviderError("user info of another subject")
            name = _claimed_name(info)
        return Identity(subject=subject, display_name=name)

    def _check_response_issuer(self, metadata: Mapping[str, Any], issuer: str | None) -> None:
        """RFC 9207: the callback's `iss` names the provider that answered (mix-up defence)."""
        if issuer is None and metadata.get("authorization_response_iss_parameter_supported"):
            raise ProviderError("a callback without the iss parameter its provider promises")
        if issuer is not None and issuer != self.issuer:
            raise ProviderError("a callback from another issuer")

    async def _verified_claims(
        self,
        id_token: str,
        nonce: str | None,
        access_token: str | None,
        metadata: Mapping[str, Any],
    ) -> CodeIDToken:
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in offered if isinstance(a, str) and a in SIGNING_ALGORITHMS]
        for refresh in (False, True):
            keys = await self._key_set(refresh=refresh)
            try:
                token = jwt.decode(id_token, keys, algorithms=algorithms)
            except InvalidKeyIdError:
                # Keys rotate: a key id not in the cached set sends for the set again, once.
                if refresh:
                    raise IdTokenRejected("signature") from None
                continue
            except BadSignatureError:
                raise IdTokenRejected("signature") from None
            except UnsupportedAlgorithmError:
                raise IdTokenRejected("algorithm") from None
            except (JoseError, ValueError, TypeError):
                raise IdTokenRejected("format") from None
            return self._checked(token, nonce, access_token)
        raise AssertionError("unreachable")

    def _checked(
        self, token: jwt.Token, nonce: str | None, access_token: str | None
    ) -> CodeIDToken:
        claims = CodeIDToken(
            token.claims,
            token.header,
            {
                "iss": {"essential": True, "value": self.issuer},
                "aud": {"essential": True, "value": self.settings.client_id},
                "sub": {"essential": True},
            },
            {"nonce": nonce, "client_id": self.settings.client_id, "access_token": access_token},
        )
        try:
            claims.validate(leeway=CLOCK_SKEW_SECONDS)
        except ExpiredTokenError:
            raise IdTokenRejected("expired") from None
        except ClaimError as error:
            raise IdTokenRejected(_CLAIM_CHECKS.get(error.claim, "claims")) from None
        return claims

    async def _key_set(self, *, refresh: bool) -> KeySet:
        if self._keys is None or refresh:
            metadata = await self.metadata()
            document = await self._get_json(metadata["jwks_uri"])
            try:
                self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
            except (JoseError, ValueError, KeyError, TypeError):
                raise ProviderError("a key set joserfc cannot read") from None
        return self._keys


class GitHubClient(ProviderClient):
    """GitHub's OAuth apps: no ID token; the user's numeric id, read from its REST API with the
    access token, is the subject."""

    token_endpoint_auth_method = "client_secret_post"  # noqa: S105 - a method's name
    uses_nonce = False

    async def _authorization_endpoint(self) -> str:
        return f"{self.settings.web_url}/login/oauth/authorize"

    async def _identity(
        self, code: str, code_verifier: str, nonce: str | None, response_issuer: str | None
    ) -> Identity:
        token = await self._exchange(
            f"{self.settings.web_url}/login/oauth/access_token", code, code_verifier
        )
        access_token = token.get("access_token")
        if not isinstance(access_token, str):
            raise ProviderError("a token response without an access token")
        user = await self._get_json(
            f"{self.settings.api_url}/user",
            access_token=access_token,
            accept="application/vnd.github+json",
        )
        user_id = user.get("id")
        subject = subject_of(user_id) if isinstance(user_id, int) else None
        if subject is None:
            raise ProviderError("a user without a numeric id")
        return Identity(subject=subject, display_name=display_name(user.get("login")))


def _claimed_name(claims: Mapping[str, Any]) -> str | None:
    return display_name(
        claims.get("name"), claims.get("preferred_username"), claims.get("nickname")
    )


class Providers:
    """Every configured provider's client, for one worker."""

    def __init__(
        self, settings: OAuthSettings, deadline: float, tracer: trace.Tracer | None = None
    ) -> None:
        self._clients: dict[str, ProviderClient] = {}
        for provider in settings.providers:
            kind = GitHubClient if provider.kind == "github" else OpenIdConnectClient
            self._clients[provider.id] = kind(
                provider, settings.callback_url(provider.id), deadline, tracer
            )

    def get(self, provider_id: str) -> ProviderClient | None:
        return self._clients.get(provider_id)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()

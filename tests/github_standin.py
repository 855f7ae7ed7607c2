"""A stand-in for GitHub in the tests: a local server that speaks GitHub's documented OAuth app
endpoints (https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps)
and the one REST endpoint learnbot reads, `GET /user`, under `/api` (as GitHub Enterprise
Server serves its API under `/api/v3`). It is not GitHub: it holds its users in memory and
signs them in with a form that takes any password.

- `GET /login/oauth/authorize`: `client_id`, `redirect_uri`, `scope`, `state`,
  `code_challenge`, `code_challenge_method` (S256); a sign-in and authorize form, and a cancel
  link that sends the browser back with `error=access_denied` as GitHub does.
- `POST /login/oauth/access_token`: `client_id`, `client_secret`, `code`, `redirect_uri`,
  `code_verifier`; JSON with `Accept: application/json`, else a form. A refused code is
  `error=bad_verification_code` with status 200, as GitHub answers.
- `GET /api/user` with `Authorization: Bearer <token>` (or `token <token>`).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from local_http import local_http_server

ERROR_URI = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"


@dataclass
class GitHubUser:
    id: int
    login: str
    name: str | None = None


@dataclass
class _Grant:
    login: str
    redirect_uri: str
    code_challenge: str


@dataclass
class GitHubStandIn:
    client_id: str
    client_secret: str
    users: dict[str, GitHubUser]
    url: str = ""
    codes: dict[str, _Grant] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    # The W3C `traceparent` header of each token and API request, in order (None without one).
    traceparents: list[str | None] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def api_url(self) -> str:
        return self.url + "/api"


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class _Handler(BaseHTTPRequestHandler):
    standin: GitHubStandIn

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read what they need from the stand-in's records."""

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        params = dict(parse_qsl(query))
        if path == "/login/oauth/authorize":
            self._authorize_page(params)
        elif path == "/login/oauth/authorize/cancel":
            self._redirect(
                params["redirect_uri"],
                {
                    "error": "access_denied",
                    "error_description": "The user has denied your application access.",
                    "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied",
                    "state": params.get("state", ""),
                },
            )
        elif path == "/api/user":
            self._user()
        else:
            self._send(404, {"message": "Not Found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        params = dict(parse_qsl(self.rfile.read(length).decode()))
        if self.path == "/login/oauth/authorize":
            self._authorized(params)
        elif self.path == "/login/oauth/access_token":
            self._access_token(params)
        else:
            self._send(404, {"message": "Not Found"})

    def _authorize_page(self, params: dict[str, str]) -> None:
        standin = self.standin
        if params.get("client_id") != standin.client_id:
            self._send(404, {"message": "Not Found"})
            return
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            self._send(400, {"message": "this stand-in expects a PKCE S256 challenge"})
            return
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        cancel = "/login/oauth/authorize/cancel?" + urlencode(
            {"redirect_uri": params["redirect_uri"], "state": params.get("state", "")}
        )
        page = (
            f'<form method="post" action="/login/oauth/authorize">{hidden}'
            '<input type="text" name="login"><input type="password" name="password">'
            '<button type="submit">Authorize</button></form>'
            f'<a href="{html.escape(cancel)}">Cancel</a>'
        )
        self._send_text(200, page, "text/html")

    def _authorized(self, params: dict[str, str]) -> None:
        standin = self.standin
        if params.get("login") not in standin.users:
            self._send_text(200, "Incorrect username or password.", "text/html")
            return
        code = secrets.token_hex(10)
        with standin.lock:
            standin.codes[code] = _Grant(
                params["login"], params["redirect_uri"], params["code_challenge"]
            )
        self._redirect(params["redirect_uri"], {"code": code, "state": params.get("state", "")})

    def _access_token(self, params: dict[str, str]) -> None:
        standin = self.standin
        with standin.lock:
            standin.token_requests.append(params)
            standin.traceparents.append(self.headers.get("traceparent"))
            grant = standin.codes.pop(params.get("code", ""), None)
        if (
            params.get("client_id") != standin.client_id
            or params.get("client_secret") != standin.client_secret
        ):
            self._token_answer({"error": "incorrect_client_credentials"})
            return
        if (
            grant is None
            or grant.redirect_uri != params.get("redirect_uri")
            or grant.code_challenge != _challenge(params.get("code_verifier", ""))
        ):
            self._token_answer(
                {
                    "error": "bad_verification_code",
                    "error_description": "The code passed is incorrect or expired.",
                    "error_uri": ERROR_URI,
                }
            )
            return
        token = "gho_" + secrets.token_hex(18)
        with standin.lock:
            standin.tokens[token] = grant.login
        self._token_answer({"access_token": token, "token_type": "bearer", "scope": ""})

    def _token_answer(self, answer: dict[str, str]) -> None:
        if "application/json" in self.headers.get("accept", ""):
            self._send(200, answer)
        else:
            self._send_text(200, urlencode(answer), "application/x-www-form-urlencoded")

    def _user(self) -> None:
        with self.standin.lock:
            self.standin.traceparents.append(self.headers.get("traceparent"))
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        login = self.standin.tokens.get(token) if scheme.lower() in ("bearer", "token") else None
        if login is None:
            self._send(401, {"message": "Requires authentication"})
            return
        user = self.standin.users[login]
        self._send(200, {"login": user.login, "id": user.id, "name": user.name, "type": "User"})

    def _redirect(self, target: str, params: dict[str, str]) -> None:
        separator = "&" if urlsplit(target).query else "?"
        self.send_response(302)
        self.send_header("Location", target + separator + urlencode(params))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: int, body: object) -> None:
        self._send_text(status, json.dumps(body), "application/json; charset=utf-8")

    def _send_text(self, status: int, text: str, content_type: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def github_standin(
    client_id: str, client_secret: str, users: list[GitHubUser]
) -> Iterator[GitHubStandIn]:
    """The stand-in on a free port of 127.0.0.1, in a thread, stopped afterwards."""
    standin = GitHubStandIn(client_id, client_secret, {u.login: u for u in users})
    handler = type("Handler", (_Handler,), {"standin": standin})
    with local_http_server(handler) as url:
        standin.url = url
        yield standin

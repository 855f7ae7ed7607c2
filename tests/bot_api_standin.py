"""A local stand-in for Telegram's Bot API server (Telegram is unreachable from the tests).

It speaks the methods learnbot calls, at `/bot<token>/<method>`, records every call, and
answers as https://core.telegram.org/bots/api documents: `{"ok": true, "result": ...}`, or an
error `{"ok": false, "error_code", "description"}`, with `parameters.retry_after` for 429.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

from local_http import local_http_server
from service_process import BOT_TOKEN


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float


@dataclass
class BotApiStandIn:
    url: str = ""
    calls: list[Call] = field(default_factory=list)
    # Method name -> error answers (status, body) to give before answering normally.
    failures: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    webhook: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls_of(self, method: str) -> list[Call]:
        with self.lock:
            return [call for call in self.calls if call.method == method]

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()
            self.failures.clear()

    def retry_after(self, method: str, seconds: int) -> None:
        self.fail(method, 429, f"Too Many Requests: retry after {seconds}", retry_after=seconds)

    def fail(self, method: str, code: int, description: str, **parameters: int) -> None:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        with self.lock:
            self.failures.setdefault(method, []).append((code, body))

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.calls.append(Call(method, params, time.monotonic()))
            pending = self.failures.get(method)
            if pending:
                return pending.pop(0)
        return 200, {"ok": True, "result": self._result(method, params)}

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "sendMessage":
            chat_id = int(params["chat_id"])
            return {
                "message_id": len(self.calls),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                "text": params.get("text", ""),
            }
        if method == "setWebhook":
            self.webhook = {
                "url": params.get("url", ""),
                "allowed_updates": params.get("allowed_updates"),
            }
            return True
        if method == "getWebhookInfo":
            return {
                "url": self.webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": 3,
                "last_error_date": 1_700_000_000,
                "last_error_message": "Wrong response from the webhook: 503 Service Unavailable",
                "allowed_updates": self.webhook.get("allowed_updates") or [],
            }
        return True


def _params(content_type: str, body: bytes) -> dict[str, Any]:
    """aiogram sends form fields, JSON-encoding the ones that are objects or arrays."""
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        fields = {
            str(part.get_param("name", header="content-disposition")): part.get_content()
            for part in message.iter_parts()
        }
    elif content_type.startswith("application/json"):
        fields = json.loads(body or b"{}")
    else:
        fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
    return {key: _decoded(value) for key, value in fields.items()}


def _decoded(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        return json.loads(value)
    return value


@contextmanager
def bot_api_standin() -> Iterator[BotApiStandIn]:
    standin = BotApiStandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = self.rfile.read(length)
            prefix = f"/bot{BOT_TOKEN}/"
            if not self.path.startswith(prefix):
                status, answer = (
                    401,
                    {"ok": False, "error_code": 401, "description": "Unauthorized"},
                )
            else:
                method = self.path.removeprefix(prefix)
                params = _params(self.headers.get("content-type", ""), body)
                status, answer = standin.answer(method, params)
            encoded = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(encoded)))
            self.end_headers()
            self.wfile.write(encoded)

        do_GET = do_POST

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with local_http_server(Handler) as url:
        standin.url = url
        yield standin


def start_update(telegram_id: int, update_id: int = 1, date: int = 1_700_000_000) -> dict[str, Any]:
    """The update Telegram sends when a user sends /start in a private chat."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": date,
            "chat": {"id": telegram_id, "type": "private", "first_name": "Ann"},
            "from": {"id": telegram_id, "is_bot": False, "first_name": "Ann"},
            "text": "/start",
        },
    }

"""Starting `learnbot serve` as a real process, and signing requests for it."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

from learnbot.auth import sign_init_data

BOT_TOKEN = "123456789:AAtest-token-for-the-learnbot-suite_0123456"
ADMIN_ID = 900_000_001
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    log_path: Path
    backend: str = ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def server_env(database_url: str, **overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("TELEGRAM_", "ADMIN_", "DATABASE_", "APP_", "CORS_", "WORKERS", "RATE_LIMIT_")
        )
    }
    env.update(
        DATABASE_URL=database_url,
        TELEGRAM_BOT_TOKEN=BOT_TOKEN,
        ADMIN_TELEGRAM_IDS=str(ADMIN_ID),
        APP_ENV="development",
        HOST="127.0.0.1",
        PORT=str(free_port()),
        WORKERS="1",
        LOG_LEVEL="INFO",
        # The suite sends far more than a user would; tests of the limits set their own.
        RATE_LIMIT_ADDRESS="1000000/minute",
        RATE_LIMIT_TELEGRAM_ID="1000000/minute",
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v != ""}


def start_server(
    env: Mapping[str, str],
    log_path: Path,
    *,
    timeout: float = 30,
    python: str | Path = sys.executable,
) -> Server:
    """Starts `learnbot serve` as its own process and waits until /health answers."""
    env = {"PROMETHEUS_MULTIPROC_DIR": str(log_path.parent / "metrics"), **env}
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [str(python), "-m", "learnbot", "serve"],
            env=env,
            cwd=log_path.parent,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
        )
    server = Server(process, f"http://127.0.0.1:{env['PORT']}", log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"learnbot serve exited {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(server.url + "/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"learnbot serve did not answer in {timeout} s:\n{server.log()}")


def new_telegram_id() -> int:
    return secrets.randbelow(2**52 - 10**9) + 10**9


def init_data(
    telegram_id: int,
    *,
    first_name: str = "Ann",
    token: str = BOT_TOKEN,
    auth_date: int | None = None,
    **user: object,
) -> str:
    return sign_init_data(
        token,
        {"id": telegram_id, "first_name": first_name, **user},
        auth_date=int(time.time()) if auth_date is None else auth_date,
        query_id="AAHdF6IQAAAAAN0XohDhrOrc",
    )


def tma(telegram_id: int, **user: object) -> dict[str, str]:
    return {"Authorization": "tma " + init_data(telegram_id, **user)}


def telegram_hash(secret: bytes, fields: Mapping[str, object]) -> str:
    """hex HMAC-SHA256 over Telegram's data-check-string (`key=value`, sorted, joined by `\n`,
    without `hash`). Text UTF-8 cannot encode (a lone surrogate) is signed as its surrogatepass
    bytes, so that a test can sign any string."""
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")
    return hmac.new(secret, check.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def signed_init_data(user_json: str, *, token: str = BOT_TOKEN, **fields: str) -> str:
    """Init data signed as Telegram specifies, with the `user` JSON exactly as given (escapes
    such as `\\ud800` included) and any other fields."""
    signed = {"user": user_json, "auth_date": str(int(time.time())), **fields}
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    signed["hash"] = telegram_hash(secret, signed)
    return "&".join(f"{_percent(key)}={_percent(value)}" for key, value in signed.items())


def signed_widget(fields: Mapping[str, object], *, token: str = BOT_TOKEN) -> dict[str, object]:
    """Login Widget fields with the hash Telegram would add."""
    return {**fields, "hash": telegram_hash(hashlib.sha256(token.encode()).digest(), fields)}


def send_json(
    client: httpx.Client,
    method: str,
    path: str,
    body: object,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """A request with a JSON body that may hold any string: a lone surrogate is sent as the
    escape `\\ud800`, which httpx's own JSON encoder refuses."""
    return client.request(
        method,
        path,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )


def _percent(text: str) -> str:
    return quote(text, safe="", errors="surrogatepass")

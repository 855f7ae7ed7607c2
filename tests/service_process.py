"""Starting `learnbot serve` as a real process, and signing requests for it."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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
                self.kill_process_group()
                self.process.wait()

    def kill_process_group(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        # Reaped here, so that no Popen is collected while its process still runs.
        self.process.wait(timeout=10)

    def process_group(self) -> list[int]:
        """The live (not zombie) processes of the service: the main process and its workers."""
        return live_processes_in_groups({self.process.pid})

    def wait_until_workers_ready(self, workers: int, timeout: float = 60) -> None:
        """Until every worker has logged Sanic's `Worker ready`: /health answers as soon as the
        first one does, while the others may still be starting."""
        deadline = time.monotonic() + timeout
        while self.log().count('"Worker ready [') < workers:
            if time.monotonic() > deadline:
                raise AssertionError(f"{workers} workers not ready in {timeout} s:\n{self.log()}")
            time.sleep(0.1)

    def wait_until_gone(self, timeout: float) -> float:
        """Seconds until no process of the service is left; AssertionError after timeout."""
        started = time.monotonic()
        while self.process.poll() is None or self.process_group():
            if time.monotonic() - started > timeout:
                raise AssertionError(f"still running after {timeout} s: {self.process_group()}")
            time.sleep(0.05)
        return time.monotonic() - started


# Process group ids of every `learnbot serve` the suite started, checked at its end.
STARTED_PROCESS_GROUPS: set[int] = set()


def live_processes_in_groups(groups: set[int]) -> list[int]:
    listing = subprocess.run(
        ["ps", "-A", "-o", "pid=,pgid=,stat="], capture_output=True, text=True, check=True
    ).stdout
    live = []
    for line in listing.splitlines():
        pid, pgid, state = line.split()[:3]
        if int(pgid) in groups and not state.startswith("Z"):
            live.append(int(pid))
    return live


def server_env(database_url: str, **overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            (
                "TELEGRAM_",
                "ADMIN_",
                "DATABASE_",
                "APP_",
                "CORS_",
                "WORKERS",
                "RATE_LIMIT_",
                "OAUTH_",
                "OTEL_",
            )
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


def launch_server(
    env: Mapping[str, str], log_path: Path, *, python: str | Path = sys.executable
) -> Server:
    """Starts `learnbot serve` in a process group of its own, without waiting for it."""
    env = {"PROMETHEUS_MULTIPROC_DIR": str(log_path.parent / "metrics"), **env}
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [str(python), "-m", "learnbot", "serve"],
            env=env,
            cwd=log_path.parent,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    STARTED_PROCESS_GROUPS.add(process.pid)
    return Server(process, f"http://127.0.0.1:{env['PORT']}", log_path)


def start_server(
    env: Mapping[str, str],
    log_path: Path,
    *,
    timeout: float = 90,
    python: str | Path = sys.executable,
) -> Server:
    """Starts `learnbot serve` as its own process and waits until /health answers. A start
    imports the whole service twice (main process and worker), seconds of CPU each; with the
    suite on several processes of a two-core machine, one can take well over 30 s."""
    server = launch_server(env, log_path, python=python)
    process = server.process
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


def tma(telegram_id: int, *, first_name: str = "Ann", **user: object) -> dict[str, str]:
    signed = init_data(telegram_id, first_name=first_name, token=BOT_TOKEN, auth_date=None, **user)
    return {"Authorization": "tma " + signed}


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


@dataclass
class Answer:
    telegram_id: int
    status: int
    content_type: str
    retry_after: str | None
    started: float
    seconds: float


def sign_in_traffic(url: str, stop: threading.Event, answers: list[Answer]) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        while not stop.is_set():
            telegram_id = new_telegram_id()
            started = time.monotonic()
            response = http.post("/auth/telegram", json={"init_data": init_data(telegram_id)})
            answers.append(
                Answer(
                    telegram_id,
                    response.status_code,
                    response.headers.get("content-type", ""),
                    response.headers.get("retry-after"),
                    started,
                    time.monotonic() - started,
                )
            )
            time.sleep(0.02)


def assert_recovered_within(seconds: float, answers: list[Answer], back_at: float) -> None:
    """Sign-ins succeed again within `seconds` of the dependency coming back, and stay so."""
    recovered = [a for a in answers if a.status == 200 and a.started > back_at]
    assert recovered, "no sign-in succeeded after the dependency came back"
    first_success = min(a.started + a.seconds for a in recovered) - back_at
    assert first_success < seconds, f"recovered {first_success:.1f} s after it came back"
    late = [a for a in answers if a.started > back_at + seconds]
    assert late
    assert all(a.status == 200 for a in late)


@contextmanager
def steady_sign_ins(url: str, clients: int = 4) -> Iterator[list[Answer]]:
    """Sign-ins from a few clients, one after another each, until the block ends."""
    answers: list[Answer] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=sign_in_traffic, args=(url, stop, answers)) for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    try:
        yield answers
    finally:
        stop.set()
        for thread in threads:
            thread.join()


@dataclass
class PartialRequest:
    """An HTTP/1.1 request of which only the head and part of the body have been sent."""

    connection: socket.socket
    rest: bytes

    def finish(self) -> tuple[int, dict[str, str], bytes]:
        self.connection.sendall(self.rest)
        return self.answer()

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        received = b""
        with self.connection:
            while chunk := self.connection.recv(65536):
                received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in header_lines)
        return int(status_line.split()[1]), headers, body


def begin_sign_in(url: str, sent: int, *, timeout: float = 30) -> PartialRequest:
    """Sends the head of a sign-in and the first `sent` bytes of its body."""
    body = json.dumps({"init_data": init_data(new_telegram_id())}).encode()
    port = int(url.rsplit(":", 1)[1])
    connection = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    head = (
        "POST /auth/telegram HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    connection.sendall(head.encode() + body[:sent])
    return PartialRequest(connection, body[sent:])

"""The servers under load: `learnbot serve` started exactly as users start it, and the bare
Sanic reference app; each its own process group, stopped with SIGINT like a terminal would."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEARNBOT = ROOT / ".venv" / "bin" / "learnbot"
HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 20.0

# Every variable learnbot reads, so a caller's own configuration cannot leak into the run.
_LEARNBOT_VARIABLES = re.compile(
    r"(DATABASE_|TELEGRAM_|ADMIN_|AUTH_|CORS_|LOG_|APP_|SENTRY_|RATE_LIMIT_|PROXIES_|OTEL_"
    r"|DEFAULT_LOCALE|SUPPORTED_LOCALES|HOST$|PORT$|WORKERS$|PROMETHEUS_MULTIPROC_DIR$)"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            # The workers are in the server's own process group, started for this run.
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def learnbot_env(
    *, database_url: str, bot_token: str, metrics_dir: Path, log_level: str, workers: int
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not _LEARNBOT_VARIABLES.match(k)}
    env.update(
        WORKERS=str(workers),
        HOST=HOST,
        PORT=str(free_port()),
        DATABASE_URL=database_url,
        TELEGRAM_BOT_TOKEN=bot_token,
        APP_ENV="development",
        LOG_LEVEL=log_level,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        # One client address sends everything; the limits would answer 429 within a second.
        RATE_LIMIT_ENABLED="false",
    )
    return env


def start_learnbot(name: str, env: Mapping[str, str], workdir: Path) -> Service:
    service = _start(name, [str(LEARNBOT), "serve"], env, workdir)
    wait_until_ok(service, "/ready")
    return service


def start_reference(workdir: Path, workers: int) -> Service:
    env = {
        **os.environ,
        "HOST": HOST,
        "PORT": str(free_port()),
        "WORKERS": str(workers),
        "PYTHONPATH": str(ROOT),
    }
    service = _start("reference", [sys.executable, "-m", "bench.reference_app"], env, workdir)
    wait_until_ok(service, "/health")
    return service


def start_lean_sign_in(
    workdir: Path, workers: int, database_url: str, bot_token: str, driver: str
) -> Service:
    env = {
        **{k: v for k, v in os.environ.items() if not _LEARNBOT_VARIABLES.match(k)},
        "HOST": HOST,
        "PORT": str(free_port()),
        "WORKERS": str(workers),
        "DATABASE_URL": database_url,
        "TELEGRAM_BOT_TOKEN": bot_token,
        "LEAN_DRIVER": driver,
        "PYTHONPATH": str(ROOT),
    }
    service = _start(
        f"lean-sign-in-{driver}", [sys.executable, "-m", "bench.lean_sign_in"], env, workdir
    )
    wait_until_ok(service, "/health")
    return service


def _start(name: str, command: list[str], env: Mapping[str, str], workdir: Path) -> Service:
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own commands
            command,
            env=dict(env),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Service(name, process, int(env["PORT"]), log_path)


def wait_until_ok(service: Service, path: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(
                f"{service.name} exited with {service.process.returncode}:\n{service.log_tail()}"
            )
        try:
            with urllib.request.urlopen(service.url + path, timeout=10) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    service.stop()
    raise RuntimeError(f"{service.name} did not answer {path} in time:\n{service.log_tail()}")


_SAMPLE = re.compile(r"^([a-z_]+)\{([^}]*)\} ([0-9.e+-]+)$")


def metric_totals(service: Service) -> dict[str, float]:
    """`auth_sign_ins_total` by kind, HTTP answers outside 2xx, and of those the 499s (a
    request its client gave up on, as wrk does at its stop), summed over the workers."""
    with urllib.request.urlopen(service.url + "/metrics", timeout=5) as response:  # noqa: S310
        text = response.read().decode()
    totals = {"new": 0.0, "returning": 0.0, "non_2xx": 0.0, "abandoned": 0.0}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None:
            continue
        name, labels, value = match.groups()
        if name == "auth_sign_ins_total":
            kind = re.search(r'kind="([a-z]+)"', labels)
            if kind is not None and kind.group(1) in totals:
                totals[kind.group(1)] += float(value)
        elif name == "http_requests_total" and not re.search(r'status="2\d\d"', labels):
            totals["non_2xx"] += float(value)
            if 'status="499"' in labels:
                totals["abandoned"] += float(value)
    return totals

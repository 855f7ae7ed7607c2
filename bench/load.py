"""The loads the benchmark applies, and wrk (or, where wrk is missing, the Python client)
applying them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench import http_load
from bench.measurement import Measurement
from bench.services import HOST

WRK_SCRIPTS = Path(__file__).resolve().parent / "wrk"


@dataclass(frozen=True, slots=True)
class Load:
    method: str
    path: str
    script: str  # in bench/wrk/
    users: Path | None = None  # prefix of the per-thread init data files


def health() -> Load:
    return Load("GET", "/health", "get.lua")


def sign_in(users: Path) -> Load:
    return Load("POST", "/auth/telegram", "sign_in.lua", users)


def me(users: Path) -> Load:
    return Load("GET", "/me", "me.lua", users)


@dataclass(frozen=True, slots=True)
class Settings:
    duration: float
    threads: int
    connections: int
    wrk: str | None  # the wrk binary; None: the Python client stands in


def find_or_install_wrk() -> tuple[str | None, str]:
    """wrk's path (installing Debian's package as root where it is missing), and what happened."""
    found = shutil.which("wrk")
    if found:
        return found, f"wrk: {found}"
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        print("wrk is missing: installing Debian's package with apt-get", flush=True)
        if subprocess.run(install, env=env, check=False).returncode != 0:  # noqa: S603
            subprocess.run(["apt-get", "update", "-q"], env=env, check=False)  # noqa: S607
            subprocess.run(install, env=env, check=False)  # noqa: S603
        found = shutil.which("wrk")
        if found:
            return found, f"wrk: {found} (installed with apt-get)"
    return None, (
        "wrk is missing and could not be installed (that needs root and apt-get; "
        "`sudo apt-get install -y wrk` does it). FALLING BACK to the Python closed-loop client "
        "(bench/http_load.py): it shares the 2 cores with the server and saturates first, so "
        "requests/s are far below what wrk measures and not comparable with the README's table."
    )


def run(load: Load, port: int, settings: Settings, workdir: Path) -> Measurement:
    if settings.wrk is None:
        return _run_python(load, port, settings)
    return _run_wrk(load, port, settings, settings.wrk, workdir)


def _run_wrk(load: Load, port: int, settings: Settings, wrk: str, workdir: Path) -> Measurement:
    result_path = workdir / "wrk-result.json"
    result_path.unlink(missing_ok=True)
    env = {
        **os.environ,
        "BENCH_RESULT": str(result_path),
        "BENCH_USERS": str(load.users or ""),
    }
    command = [
        wrk,
        f"-t{settings.threads}",
        f"-c{settings.connections}",
        f"-d{settings.duration:g}s",
        "-s",
        str(WRK_SCRIPTS / load.script),
        f"http://{HOST}:{port}{load.path}",
    ]
    completed = subprocess.run(  # noqa: S603
        command, env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0 or not result_path.exists():
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stdout}{completed.stderr}")
    result = json.loads(result_path.read_text())
    errors = result["errors"]
    return Measurement(
        requests=result["requests"],
        seconds=result["duration_us"] / 1e6,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        errors=sum(errors.values()),
        generator="wrk",
        # wrk's "status" counts answers >= 400; "timeout" those not answered within 2 s.
        error_kinds=", ".join(f"{count} {kind}" for kind, count in errors.items() if count),
    )


def python_requests(load: Load, port: int, threads: int) -> list[bytes]:
    """The raw requests wrk's Lua scripts send, for the Python clients."""
    host = f"{HOST}:{port}"
    if load.users is None:
        return [http_load.http_request(load.method, load.path, host)]
    lines: list[str] = []
    for thread in range(threads):
        lines += Path(f"{load.users}.{thread}").read_text().split()
    if load.method == "POST":
        return [
            http_load.http_request(
                "POST",
                load.path,
                host,
                {"Content-Type": "application/json"},
                json.dumps({"init_data": line}, separators=(",", ":")),
            )
            for line in lines
        ]
    return [
        http_load.http_request(load.method, load.path, host, {"Authorization": f"tma {line}"})
        for line in lines
    ]


def _run_python(load: Load, port: int, settings: Settings) -> Measurement:
    return http_load.closed_loop(
        HOST,
        port,
        python_requests(load, port, settings.threads),
        duration=settings.duration,
        connections=settings.connections,
    )

from __future__ import annotations

import random
import string
from pathlib import Path

import httpx

from learnbot.observability.logs import loggable
from learnbot.observability.requests import method_label
from service_process import server_env, start_server

LONG_METHODS = 300
METHOD_LENGTH = 4000


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.iterdir())


def random_method() -> str:
    return "".join(random.choices(string.ascii_uppercase, k=METHOD_LENGTH))


def test_unknown_methods_leave_metrics_and_logs_bounded(sqlite_url: str, tmp_path: Path) -> None:
    server = start_server(server_env(sqlite_url), tmp_path / "server.log", timeout=120)
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            client.request("BREW", "/health")
            before = len(client.get("/metrics").content)
            folder_before = folder_bytes(tmp_path / "metrics")
            sent = [random_method() for _ in range(LONG_METHODS)]
            for method in sent:
                assert client.request(method, "/health").status_code == 405
            exposition = client.get("/metrics").text
    finally:
        server.stop()
    # One series for every unknown method: the first request made it, the rest add nothing.
    assert len(exposition.encode()) - before < 4096
    assert folder_bytes(tmp_path / "metrics") - folder_before < 1024 * 1024
    assert 'method="other"' in exposition
    assert all(method not in exposition for method in sent)
    log = server.log()
    assert all(len(line) < 2048 for line in log.splitlines())
    assert all(method[:64] not in log for method in sent)


def test_method_labels() -> None:
    assert [method_label(m) for m in ("GET", "HEAD", "POST", "DELETE", "OPTIONS")] == [
        "GET",
        "HEAD",
        "POST",
        "DELETE",
        "OPTIONS",
    ]
    assert {method_label(m) for m in ("get", "BREW", "NONE", "G" * 4000, "\x1b[31m")} == {"other"}


def test_loggable_text_is_bounded_and_escaped() -> None:
    assert loggable("/me/accounts") == "/me/accounts"
    assert loggable("/a\nb\x1b[31m\ud800") == "/a\\nb\\x1b[31m\\ud800"
    long = loggable("/" + "x" * 10_000)
    assert len(long) <= 256
    assert long.endswith("...")

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from learnbot.auth import verify_init_data
from learnbot.settings import DEVELOPMENT_BOT_TOKEN
from service_process import BOT_TOKEN, launch_server, server_env, start_server


def learnbot(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "learnbot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def clean_env(**values: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "ADMIN_", "DATABASE_", "APP_"))
    }
    env.update(values)
    return env


def test_sign_init_data_signs_with_the_configured_token(tmp_path: Path) -> None:
    result = learnbot(
        "sign-init-data",
        "--user-id",
        "42",
        "--lang",
        "ru",
        "--first-name",
        "Анна",
        env=clean_env(TELEGRAM_BOT_TOKEN=BOT_TOKEN),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    raw = result.stdout.strip()
    verified = verify_init_data(raw, bot_token=BOT_TOKEN, bot_id=None, max_age=60, now=time.time())
    assert verified.profile.telegram_id == 42
    assert verified.profile.first_name == "Анна"
    assert verified.profile.language_code == "ru"


def test_sign_init_data_uses_the_development_token_by_default(tmp_path: Path) -> None:
    result = learnbot("sign-init-data", "--user-id", "7", env=clean_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    verify_init_data(
        result.stdout.strip(),
        bot_token=DEVELOPMENT_BOT_TOKEN,
        bot_id=None,
        max_age=60,
        now=time.time(),
    )


def test_sign_init_data_refuses_a_bad_user_id(tmp_path: Path) -> None:
    result = learnbot("sign-init-data", "--user-id", "abc", env=clean_env(), cwd=tmp_path)
    assert result.returncode == 2
    assert "--user-id" in result.stderr


def test_bad_configuration_stops_start_up_naming_the_variable(tmp_path: Path) -> None:
    result = learnbot("serve", env=clean_env(PORT="http"), cwd=tmp_path)
    assert result.returncode == 2
    assert "PORT: a whole number from 1 to 65535" in result.stderr


def test_production_without_token_or_bot_id_stops(tmp_path: Path) -> None:
    result = learnbot("serve", env=clean_env(APP_ENV="production"), cwd=tmp_path)
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in result.stderr


def test_migrate_then_serve_in_production(tmp_path: Path, database_url: str) -> None:
    env = server_env(database_url, APP_ENV="production")
    migrated = learnbot("migrate", env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    server = start_server(env, tmp_path / "server.log")
    try:
        assert httpx.get(server.url + "/ready").status_code == 200
    finally:
        server.stop()


def test_production_without_migrations_is_not_ready(tmp_path: Path, database_url: str) -> None:
    server = start_server(server_env(database_url, APP_ENV="production"), tmp_path / "s.log")
    try:
        response = httpx.get(server.url + "/ready")
        assert response.status_code == 503
        assert "learnbot migrate" in response.json()["detail"]
        assert response.headers["retry-after"] == "5"
    finally:
        server.stop()


def test_development_start_up_says_it_uses_the_development_token(tmp_path: Path) -> None:
    env = server_env(f"sqlite:///{tmp_path}/dev.db", TELEGRAM_BOT_TOKEN="")
    server = start_server(env, tmp_path / "server.log")
    try:
        assert httpx.get(server.url + "/ready").status_code == 200
    finally:
        server.stop()
    assert "development token" in server.log()
    assert DEVELOPMENT_BOT_TOKEN not in server.log()


def test_serves_with_several_workers(tmp_path: Path) -> None:
    env = server_env(f"sqlite:///{tmp_path}/w.db", WORKERS="2")
    server = start_server(env, tmp_path / "server.log")
    try:
        for _ in range(10):
            assert httpx.get(server.url + "/ready").status_code == 200
    finally:
        server.stop()


@pytest.mark.slow
def test_production_waits_to_listen_until_the_schema_is_current(
    tmp_path: Path, database_url: str
) -> None:
    # A replica of a rolling deploy: it listens only once `learnbot migrate` has run elsewhere.
    env = server_env(database_url, APP_ENV="production", MIGRATIONS_WAIT_SECONDS="120")
    server = launch_server(env, tmp_path / "s.log")
    process = server.process
    url = server.url + "/ready"
    try:
        time.sleep(3)
        assert process.poll() is None, server.log()
        try:
            httpx.get(url, timeout=1)
            raise AssertionError("listened before the migrations were applied")
        except httpx.TransportError:
            pass
        migrated = learnbot("migrate", env=env, cwd=tmp_path)
        assert migrated.returncode == 0, migrated.stderr
        deadline = time.monotonic() + 30
        while True:
            try:
                assert httpx.get(url, timeout=1).status_code == 200
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, server.log()
                time.sleep(0.2)
    finally:
        server.stop()


def test_production_gives_up_waiting_for_the_schema_with_a_message(
    tmp_path: Path, sqlite_url: str
) -> None:
    env = server_env(sqlite_url, APP_ENV="production", MIGRATIONS_WAIT_SECONDS="1")
    result = learnbot("serve", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "MIGRATIONS_WAIT_SECONDS=1" in result.stderr
    assert "learnbot migrate" in result.stderr


def test_migrations_wait_seconds_is_checked() -> None:
    from learnbot.settings import ConfigError, Settings

    with pytest.raises(ConfigError, match="MIGRATIONS_WAIT_SECONDS"):
        Settings.from_env({"MIGRATIONS_WAIT_SECONDS": "-1"})

"""Running `learnbot backup …` as a real process or in this one, and seeding its database."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from learnbot.backup.arguments import add_backup_commands
from learnbot.backup.commands import run_backup_command
from learnbot.storage import TelegramProfile, open_store

# The console entry point, without depending on cli.py's wiring of the `backup` group.
ENTRY = [
    sys.executable,
    "-c",
    "import sys; from learnbot.backup.commands import main; sys.exit(main())",
]
# Once a year: a scheduled run never falls inside a test.
FAR_AWAY = "0 0 1 1 *"
T0 = datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def backup_env(
    backup_dir: Path, database_url: str | None = None, **overrides: str
) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BACKUP_", "DATABASE_", "APP_", "AWS_", "PROMETHEUS_", "LOG_"))
    }
    env.update(BACKUP_DIR=str(backup_dir), LOG_FORMAT="console", LOG_LEVEL="INFO")
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    env.update(overrides)
    return env


def learnbot_backup(
    *args: str, env: Mapping[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ENTRY, "backup", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def backup_in_process(*args: str) -> int:
    """The command as cli.py will run it, reading this process's environment."""
    parser = argparse.ArgumentParser(prog="learnbot")
    add_backup_commands(parser.add_subparsers(dest="command", required=True))
    return run_backup_command(parser.parse_args(["backup", *args]))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def database_url_named(server_url: str, name: str) -> str:
    return server_url.rsplit("/", 1)[0] + "/" + name


def create_database(server_url: str, name: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url_named(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def seed(database_url: str, users: int = 5) -> None:
    """Migrates the database and signs users in, and links accounts, through the store."""
    asyncio.run(_seed(database_url, users))


async def _seed(database_url: str, users: int) -> None:
    store = open_store(database_url, pool_size=2)
    await store.open()
    try:
        await store.migrate()
        for n in range(users):
            profile = TelegramProfile(
                telegram_id=1_000_000 + n,
                first_name=["Ada", "Борис", "李", "O'Brien", "Zoë\ttab"][n % 5],
                last_name=None if n % 2 else f"Last {n}",
                username=f"user_{n}" if n % 3 else None,
                language_code=["en", "ru", "zh-hans", None][n % 4],
                is_premium=n % 2 == 0,
                photo_url=f"https://t.me/i/{n}.jpg" if n % 4 == 0 else None,
            )
            sign_in = await store.upsert_user(profile, T0 + timedelta(minutes=n))
            if n % 2 == 0:
                await store.link_account(
                    sign_in.user.id, "github", f"gh-{n}", f"GitHub {n}", T0 + timedelta(hours=n)
                )
            if n % 3 == 0:
                await store.link_account(sign_in.user.id, "google", f"g-{n}", None, T0)
        await store.set_blocked(1_000_000, True)
    finally:
        await store.close()


def table_rows(database_url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table in schema public, in a stable order."""
    with psycopg.connect(database_url) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        return {
            table: sorted(
                connection.execute(
                    sql.SQL("SELECT * FROM {}").format(sql.Identifier("public", table))
                ).fetchall(),
                key=repr,
            )
            for table in tables
        }


def scrape(url: str) -> dict[str, float]:
    text = httpx.get(url, timeout=2).text
    return {
        match[1]: float(match[2])
        for match in re.finditer(r"^((?:physical_)?backup_[a-z_]+) (\S+)$", text, re.MULTILINE)
    }


def wait_for_metrics(
    process: subprocess.Popen[str], url: str, ready: str, log: Path
) -> dict[str, float]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            samples = scrape(url)
            if samples.get(ready, 0) > 0:
                return samples
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"no {ready} on {url}:\n{log.read_text()}")


def stop(process: subprocess.Popen[str], log: Path, said: str = "backup job stopped") -> None:
    process.send_signal(signal.SIGTERM)
    try:
        assert process.wait(timeout=15) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert said in log.read_text()


def start_job(env: dict[str, str], log: Path, action: str = "run") -> subprocess.Popen[str]:
    with log.open("w") as output:
        return subprocess.Popen(
            [*ENTRY, "backup", action], env=env, stdout=output, stderr=subprocess.STDOUT, text=True
        )

from __future__ import annotations

import re
import secrets
import shlex
import subprocess
from pathlib import Path

import psycopg
import pytest

from backup_process import (
    ENTRY,
    backup_env,
    create_database,
    database_url_named,
    drop_database,
    learnbot_backup,
    table_rows,
)
from learnbot.backup.catalog import list_backups
from learnbot.storage.migrations import latest_version

RUNBOOK = Path(__file__).resolve().parents[2] / "runbooks/procedures/restore-from-backup.md"
IN_THE_BACKUP_CONTAINER = ["docker", "exec", "$PREFIX-backup", "learnbot", "backup"]
# What the runbook tells an operator to run, in its order; this test runs each of them.
RUNBOOK_COMMANDS = [
    'docker exec "$PREFIX-backup" learnbot backup list',
    'docker exec "$PREFIX-backup" learnbot backup verify',
    'psql "$ADMIN_DATABASE_URL" -c "CREATE DATABASE $RESTORE_DATABASE OWNER $DATABASE_USER"',
    'docker exec "$PREFIX-backup" learnbot backup restore '
    '"$BACKUP_FILE" --target "$TARGET_DATABASE_URL"',
    "psql \"$TARGET_DATABASE_URL\" -c 'SELECT max(version) FROM schema_migrations'",
    'psql "$TARGET_DATABASE_URL" '
    "-c 'SELECT count(*), max(created_at), max(last_seen_at) FROM users'",
    "psql \"$TARGET_DATABASE_URL\" -c 'SELECT count(*) FROM linked_accounts'",
]


def runbook_commands() -> list[str]:
    """The runbook's `learnbot backup` and `psql` commands, from its ```sh blocks."""
    blocks = re.findall(r"```sh\n(.*?)```", RUNBOOK.read_text(encoding="utf-8"), re.DOTALL)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            command = line.split("  #", 1)[0].strip()
            if command.startswith("psql ") or (
                command.startswith("docker ")
                and shlex.split(command)[: len(IN_THE_BACKUP_CONTAINER)] == IN_THE_BACKUP_CONTAINER
            ):
                commands.append(command)
    return commands


def run_runbook_command(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    words = shlex.split(command)
    if words[: len(IN_THE_BACKUP_CONTAINER)] == IN_THE_BACKUP_CONTAINER:
        # The test has no container: it runs the same `learnbot backup` arguments here.
        words = [*ENTRY, "backup", *words[len(IN_THE_BACKUP_CONTAINER) :]]
    words = [re.sub(r"\$\{?([A-Z_]+)\}?", lambda match: env[match[1]], word) for word in words]
    return subprocess.run(words, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_the_runbook_lists_the_commands_this_test_runs() -> None:
    assert runbook_commands() == RUNBOOK_COMMANDS


@pytest.mark.slow
def test_restore_by_the_runbook_gives_identical_rows_in_every_table(
    seeded_url: str, postgres_server_url: str, backup_dir: Path
) -> None:
    env = backup_env(backup_dir, seeded_url)
    result = learnbot_backup("run", "--once", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    [backup] = list_backups(backup_dir)
    restore_database = f"learnbot_test_restored_{secrets.token_hex(4)}"
    env |= {
        "BACKUP_FILE": backup.name,
        "ADMIN_DATABASE_URL": postgres_server_url,
        "RESTORE_DATABASE": restore_database,
        "DATABASE_USER": "postgres",
        "TARGET_DATABASE_URL": database_url_named(postgres_server_url, restore_database),
    }
    outputs = []
    try:
        for command in RUNBOOK_COMMANDS:
            result = run_runbook_command(command, env)
            assert result.returncode == 0, f"{command}:\n{result.stdout}{result.stderr}"
            outputs.append(result.stdout)

        assert table_rows(env["TARGET_DATABASE_URL"]) == table_rows(seeded_url)
        assert backup.name in outputs[0]
        assert f"ok      {backup.name}" in outputs[1]
        assert (
            f"database schema is current (migration {latest_version('postgresql')})" in (outputs[3])
        )
        assert re.search(r"^\s+5$", outputs[6], re.MULTILINE)

        # Run again, the same restore meets a database that now holds tables.
        again = run_runbook_command(RUNBOOK_COMMANDS[3], env)
        assert again.returncode == 1
        assert "refused" in again.stderr
        assert "--force" in again.stderr
    finally:
        drop_database(postgres_server_url, restore_database)


def test_restore_refuses_a_non_empty_target_without_force(
    seeded_url: str, postgres_server_url: str, backup_dir: Path
) -> None:
    env = backup_env(backup_dir, seeded_url)
    assert learnbot_backup("run", "--once", env=env).returncode == 0
    [backup] = list_backups(backup_dir)
    name = f"learnbot_test_target_{secrets.token_hex(4)}"
    target = create_database(postgres_server_url, name)
    try:
        with psycopg.connect(target, autocommit=True) as connection:
            connection.execute("CREATE TABLE notes (id int PRIMARY KEY, body text)")
            connection.execute("INSERT INTO notes VALUES (1, 'keep me')")

        refused = learnbot_backup("restore", backup.name, "--target", target, env=env)

        assert refused.returncode == 1
        assert "already has 1 table(s) in schema public" in refused.stderr
        with psycopg.connect(target) as connection:
            assert connection.execute("SELECT to_regclass('users')").fetchone() == (None,)

        forced = learnbot_backup("restore", backup.name, "--target", target, "--force", env=env)

        assert forced.returncode == 0, forced.stderr
        restored = table_rows(target)
        assert restored.pop("notes") == [(1, "keep me")]
        assert restored == table_rows(seeded_url)
    finally:
        drop_database(postgres_server_url, name)


def test_force_replaces_what_the_backup_holds(
    seeded_url: str, postgres_server_url: str, backup_dir: Path
) -> None:
    env = backup_env(backup_dir, seeded_url)
    assert learnbot_backup("run", "--once", env=env).returncode == 0
    [backup] = list_backups(backup_dir)
    original = table_rows(seeded_url)
    with psycopg.connect(seeded_url, autocommit=True) as connection:
        connection.execute("UPDATE users SET first_name = 'Changed after the backup'")
        connection.execute("DELETE FROM linked_accounts")

    forced = learnbot_backup(
        "restore", str(backup.path), "--target", seeded_url, "--force", env=env
    )

    assert forced.returncode == 0, forced.stderr
    assert table_rows(seeded_url) == original


def test_restore_of_a_missing_file_fails(backup_dir: Path, postgres_url: str) -> None:
    result = learnbot_backup(
        "restore", "learnbot-nothing.dump", "--target", postgres_url, env=backup_env(backup_dir)
    )

    assert result.returncode == 1
    assert "no backup file" in result.stderr


def test_restore_takes_only_a_postgresql_target_and_does_not_echo_it(backup_dir: Path) -> None:
    result = learnbot_backup(
        "restore", "x.dump", "--target", "mysql://u:hunter2@db/x", env=backup_env(backup_dir)
    )

    assert result.returncode == 2
    assert "a postgresql://user:password@host:port/database URL" in result.stderr
    assert "hunter2" not in result.stderr
